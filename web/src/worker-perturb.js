// Worker-side handlers of the "Smallest change" view (web/src/views/perturb.js), registered by web/src/worker.js
// beside the page's own: (payload, progress, context) -> result | {result, transfer}.
//
// A perturbation is a *run* stepped through in chunks, like synthesis (PROTOCOL.md: why runs): perturbStart builds
// it, perturbAdvance runs some steps and reports, perturbStop frees it. The page cancels by not asking for the next
// chunk, so predictions and other requests interleave with a long run.
import { runTable } from './worker-runs.js';

// At most 4: each holds copies of its model(s) and a few 112x112 buffers. A run: {handle (Embind Perturbation), ms}.
const runs = runTable(4, 'perturbation run');

export const perturbHandlers = {
  // {key, url?, pixels: Uint8Array (112*112*3), options, others?: {key, url?}} -> {runId, steps, startResponse}
  //   options: {epsilon, minimize, steps, stepSize, seed, output, responseSpread, penalty, spread, exclude}
  async perturbStart({ key, url, pixels, options, others }, _progress, context) {
    const cl = await context.cortexLens();
    const { model } = await context.ensureModel({ key, url });
    const shared = others ? (await context.ensureModel(others)).model : null;
    if (!(pixels instanceof Uint8Array)) throw new Error('pixels must be a Uint8Array of 8-bit RGB');
    const t0 = performance.now();
    const handle = shared
      ? new cl.Perturbation(model, pixels, options || {}, shared)
      : new cl.Perturbation(model, pixels, options || {});
    const runId = runs.add({ handle, ms: performance.now() - t0 });
    return { runId, steps: handle.steps(), startResponse: handle.startResponse() };
  },

  // {runId, count} -> {step, steps, done, startResponse, bestResponse, othersChange, ms, current, best?, trace?}
  //   (best and trace once done; current: the iterate now, for the live view)
  async perturbAdvance({ runId, count = 10 }) {
    const run = runs.take(runId);
    const h = run.handle;
    const t0 = performance.now();
    h.advance(Math.max(1, Math.min(1000, count | 0)));
    run.ms += performance.now() - t0;
    const done = h.done();
    const out = {
      step: h.step(),
      steps: h.steps(),
      done,
      startResponse: h.startResponse(),
      bestResponse: h.bestResponse(),
      othersChange: h.bestOthersChange(),
      ms: run.ms,
      current: h.current(),
    };
    const transfer = [out.current.buffer];
    if (done) {
      out.best = h.best();
      out.trace = h.trace();
      transfer.push(out.best.buffer, out.trace.buffer);
    }
    return { result: out, transfer };
  },

  // {key, url?, pixels: Uint8Array (112*112*3)} -> {outputs: Float32Array}: the float model's outputs for an 8-bit
  // image (recentred in wasm), the measurement `cortexlens perturb` prints, whatever the precision of the file.
  async perturbMeasure({ key, url, pixels }, _progress, context) {
    const cl = await context.cortexLens();
    const { model } = await context.ensureModel({ key, url });
    const outputs = cl.floatOutputsOfPixels(model, pixels);
    return { result: { outputs }, transfer: [outputs.buffer] };
  },

  async perturbStop({ runId }) {
    return { stopped: runs.forget(runId) };
  },
};
