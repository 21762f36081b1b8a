// Worker-side handlers of the "Tuning" view (parametric probes), registered by the page's worker (web/src/worker.js).
// Each is (payload, progress, context) -> result | {result, transfer}; context = {cortexLens, ensureModel}.
// The drawing and the passes are the core's (cortexlens/probes.hpp), the same as `cortexlens probe`.

// Points per wasm call: a progress message between calls lets the page show how far a long sweep (the shared
// model over 144 stimuli, ~seconds) has come, at the cost of one runner set-up per chunk.
const CHUNK = 36;

export const probeHandlers = {
  // {} -> [{name, parameters: [{name, unit, low, high, initial, integer, about}]}]
  async probeFamilies(_payload, _progress, context) {
    const cl = await context.cortexLens();
    return cl.probeFamilies();
  },

  // {family, values: {name: number}} -> {pixels: Uint8Array (112, 112, 3)}
  async probeDraw({ family, values }, _progress, context) {
    const cl = await context.cortexLens();
    const pixels = cl.drawProbe(family, values || {});
    return { result: { pixels }, transfer: [pixels.buffer] };
  },

  // {key, url?, family, fixed: {name: number}, axes: [{name, values}], stimuli?: boolean, range?: [begin, end]}
  //   -> {points, outputs, begin, end, responses: Float32Array ((end - begin) x outputs), precision, ms,
  //       stimuli?: Uint8Array ((end - begin) x 112 x 112 x 3), values?: number[][] (each point's parameters)}
  // `range` (default: every point) lets WorkerPool.probeSweep share one sweep between workers; `points` is always
  // the whole sweep's size. The model runs at its file's precision (an int8 .clm: the integer kernels, as
  // `cortexlens probe`'s default). Progress {done, total} (points of this range) after each chunk.
  async probeSweep({ key, url, family, fixed, axes, stimuli = false, range }, progress, context) {
    const cl = await context.cortexLens();
    const entry = await context.ensureModel({ key, url });
    const precision = entry.precision === 'int8' ? 'int8' : 'float';
    const t0 = performance.now();
    // An empty first range reads the sweep's size (and checks the family, values and axes).
    const { points, outputs } = cl.probeSweep(entry.model, precision, family, fixed || {}, axes, 0, 0, false);
    const [first, last] = range || [0, points];
    if (!(Number.isInteger(first) && Number.isInteger(last) && first >= 0 && first <= last && last <= points))
      throw new Error(`sweep range ${first}..${last}: expected a range within 0..${points}`);
    const side = 112 * 112 * 3;
    const responses = new Float32Array((last - first) * outputs);
    const all = stimuli ? new Uint8Array((last - first) * side) : null;
    const values = [];
    for (let begin = first; begin < last; begin += CHUNK) {
      if (begin > first) progress({ done: begin - first, total: last - first });
      const end = Math.min(last, begin + CHUNK);
      const chunk = cl.probeSweep(entry.model, precision, family, fixed || {}, axes, begin, end, stimuli);
      responses.set(chunk.responses, (begin - first) * outputs);
      if (stimuli) {
        all.set(chunk.stimuli, (begin - first) * side);
        const count = chunk.values.length / (end - begin);
        for (let k = 0; k < end - begin; ++k)
          values.push(Array.from(chunk.values.subarray(k * count, (k + 1) * count)));
      }
    }
    const result = { points, outputs, begin: first, end: last, responses, precision, ms: performance.now() - t0 };
    const transfer = [responses.buffer];
    if (stimuli) {
      result.stimuli = all;
      result.values = values;
      transfer.push(all.buffer);
    }
    return { result, transfer };
  },
};
