// Worker-side handlers of the feature-visualization panels, registered by the page's worker (web/src/worker.js).
// Each is (payload, progress, context) -> result | {result, transfer}; context = {cortexLens, ensureModel,
// requireInput, fetchBytes}.
//
// Long jobs (synthesis, block images) are *runs* the page steps through: vizRunStart creates one and returns its id,
// vizRunAdvance does a chunk of steps and returns the current image, vizRunStop frees it. The page's worker handles
// one message at a time, so a cancel message could never interrupt a single long handler; with short chunks the
// page cancels by simply not asking for the next one, and other requests (predictions, maps) interleave.
import { runTable } from './worker-runs.js';

// At most 6: each run holds a copy of its model and a few 112x112 buffers. A run: {kind: 'synth' | 'blocks', handle
// (Embind object), started, ms}.
const runs = runTable(6, 'visualization run');

function copyOf(typed) {
  return typed.slice();
}

export const vizHandlers = {
  // {key, url?, kind: 'synth' | 'blocks', options} -> {runId, steps}
  //   synth options: {recipe: 'authors' | 'fourier', minimize, steps, seed, grayscale, selector: {layer, channel, y, x}}
  //   blocks options: {blocks, candidates, sizes, minimize, selector}
  async vizRunStart({ key, url, kind, options }, _progress, context) {
    const cl = await context.cortexLens();
    const { model } = await context.ensureModel({ key, url });
    let handle;
    if (kind === 'synth') handle = new cl.Synthesis(model, options || {});
    else if (kind === 'blocks') handle = new cl.BlockImage(model, options || {});
    else throw new Error(`unknown run kind ${JSON.stringify(kind)}; expected 'synth' or 'blocks'`);
    const runId = runs.add({ kind, handle, started: performance.now(), ms: 0 });
    return { runId, steps: kind === 'synth' ? handle.steps() : handle.maxBlocks() };
  },

  // {runId, count} -> synth: {step, steps, done, bestResponse, msPerStep, image (current RGB), best (RGB, when done)}
  //                   blocks: {step (blocks placed), steps, done, response, startResponse, image, blocks}
  async vizRunAdvance({ runId, count = 10, withBest = false }) {
    const run = runs.take(runId);
    const t0 = performance.now();
    const h = run.handle;
    if (run.kind === 'synth') {
      const ran = h.advance(Math.max(1, Math.min(1000, count | 0)));
      run.ms += performance.now() - t0;
      const done = h.done();
      const out = {
        step: h.step(),
        steps: h.steps(),
        done,
        ran,
        bestResponse: h.bestResponse(),
        msPerStep: run.ms / Math.max(1, h.step()),
        image: copyOf(h.currentImage()),
      };
      const transfer = [out.image.buffer];
      if (done || withBest) {
        out.best = copyOf(h.bestImage());
        out.bestInput = copyOf(h.bestInput());
        out.trace = copyOf(h.trace());
        transfer.push(out.best.buffer, out.bestInput.buffer, out.trace.buffer);
      }
      return { result: out, transfer };
    }
    const ran = h.advance(Math.max(1, Math.min(100, count | 0)));
    run.ms += performance.now() - t0;
    const out = {
      step: h.blockCount(),
      steps: h.maxBlocks(),
      done: h.done(),
      ran,
      response: h.response(),
      startResponse: h.startResponse(),
      image: copyOf(h.image()),
      input: copyOf(h.input()),
      blocks: h.blocks(),
      ms: run.ms,
    };
    return { result: out, transfer: [out.image.buffer, out.input.buffer] };
  },

  async vizRunStop({ runId }) {
    return { stopped: runs.forget(runId) };
  },

  // {key, url?, input, selector} -> {shape: [112, 112, 1], data: Float32Array, value}
  async vizSaliency({ key, url, input, selector }, _progress, context) {
    const cl = await context.cortexLens();
    const { model } = await context.ensureModel({ key, url });
    const map = cl.saliency(model, context.requireInput(input), selector || {});
    return { result: map, transfer: [map.data.buffer] };
  },

  // {key, url?, input, selector, patch?, stride?} -> {baseline, rows, cols, patch, stride, drops, perPixel}
  async vizOcclusion({ key, url, input, selector, patch = 16, stride = 8 }, _progress, context) {
    const cl = await context.cortexLens();
    const { model } = await context.ensureModel({ key, url });
    const map = cl.occlusion(model, context.requireInput(input), selector || {}, { patch, stride });
    return { result: map, transfer: [map.drops.buffer, map.perPixel.data.buffer] };
  },

  // {key, url?, input, output} -> {shape: [28, 28, 1], data, bias}
  async vizReadout({ key, url, input, output = 0 }, _progress, context) {
    const cl = await context.cortexLens();
    const { model } = await context.ensureModel({ key, url });
    const map = cl.readoutMap(model, context.requireInput(input), output);
    return { result: map, transfer: [map.data.buffer] };
  },

  // {key, url?} -> [{name, kind, activation, shape, input, output, weights, bias}] per executable layer
  async vizWeights({ key, url }, _progress, context) {
    const cl = await context.cortexLens();
    const { model, info } = await context.ensureModel({ key, url });
    const layers = info.layers.map((_, i) => cl.layerWeights(model, i));
    return { result: layers, transfer: layers.flatMap((l) => [l.weights.buffer, l.bias.buffer]) };
  },

  // {key, url?, input, ablations: [{layer, channel, scale}], inputs?: Float32Array[]}
  //   -> {outputs: Float32Array (for input), each?: number[] (output 0 for each of inputs)}
  async vizAblate({ key, url, input, ablations, inputs }, _progress, context) {
    const cl = await context.cortexLens();
    const { model } = await context.ensureModel({ key, url });
    const ablated = cl.ablate(model, ablations || []);
    try {
      const outputs = ablated.predict(context.requireInput(input));
      const each = Array.isArray(inputs) ? inputs.map((x) => ablated.predict(context.requireInput(x))[0]) : undefined;
      return { result: { outputs, each }, transfer: [outputs.buffer] };
    } finally {
      ablated.delete();
    }
  },
};
