// Feature visualization in the wasm module: synthesis gives the native CLI's image for the same seed (pixel for
// pixel), runs in chunks, and the maps, ablation and weights agree with the model's own predictions.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { readKerasArchive } from '../../web/lib/keras-archive.js';
import { loadCortexLens, goldenPattern, modelPath, hasData, noDataReason, repoRoot } from './module.mjs';

const cl = await loadCortexLens();
// The native CLI to compare with: CORTEXLENS_CLI, else the release build's.
const cliPath = process.env.CORTEXLENS_CLI ?? path.join(repoRoot, 'build/release/native/cortexlens');
const hasCli = fs.existsSync(cliPath);

async function loadModel(key) {
  const archive = await readKerasArchive(new Uint8Array(fs.readFileSync(modelPath(key))));
  return cl.loadKeras(archive.configText, archive.tensors, key);
}

function withModel(key, fn) {
  return async () => {
    const model = await loadModel(key);
    try {
      await fn(model);
    } finally {
      model.delete();
    }
  };
}

const neuron0 = 'compact_model_190923_neuron0';

for (const recipe of ['authors', 'fourier']) {
  test(
    `${recipe} synthesis gives the native CLI's image for the same seed`,
    { skip: (!hasData && noDataReason) || (!hasCli && `native CLI not found at ${cliPath} (set CORTEXLENS_CLI)`) },
    withModel(neuron0, async (model) => {
      const steps = recipe === 'authors' ? 100 : 60;
      const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cl-synth-')), 'synth.png');
      const printed = execFileSync(
        cliPath,
        // sse: the native path whose float arithmetic is the wasm module's, bit for bit.
        [
          'synth',
          '--isa',
          'sse',
          modelPath(neuron0),
          '--steps',
          String(steps),
          '--seed',
          '7',
          '--recipe',
          recipe,
          '-o',
          out,
        ],
        { encoding: 'utf8' },
      );
      const nativeResponse = Number(/^response: (\S+)/m.exec(printed)[1]);
      const native = cl.decodeImage(new Uint8Array(fs.readFileSync(out)));

      const synth = new cl.Synthesis(model, { recipe, steps, seed: 7 });
      const start = performance.now();
      while (!synth.done()) synth.advance(10);
      const ms = performance.now() - start;
      const pixels = synth.bestImage();
      const response = synth.bestResponse();
      synth.delete();
      console.log(
        `# wasm ${recipe}: ${steps} steps in ${(ms / 1000).toFixed(2)} s (${(ms / steps).toFixed(1)} ms per step); ` +
          `response ${response.toPrecision(7)}, native ${nativeResponse}`,
      );
      assert.equal(native.width, 112);
      assert.equal(pixels.length, native.pixels.length);
      let differing = 0;
      for (let i = 0; i < pixels.length; ++i) differing += pixels[i] !== native.pixels[i];
      assert.equal(differing, 0, `${differing} of ${pixels.length} pixel values differ from the native CLI's PNG`);
      assert.ok(
        Math.abs(response - nativeResponse) <= 1e-6 * Math.max(1, Math.abs(nativeResponse)),
        `wasm response ${response} vs native ${nativeResponse}`,
      );
    }),
  );
}

test(
  'synthesis in chunks equals one run, raises the response, and minimizing lowers it',
  { skip: !hasData && noDataReason },
  withModel(neuron0, async (model) => {
    const base = model.predict(goldenPattern())[0];
    const chunked = new cl.Synthesis(model, { steps: 30, seed: 3 });
    const progress = [];
    while (!chunked.done()) {
      chunked.advance(7);
      progress.push(chunked.step());
    }
    assert.deepEqual(progress, [7, 14, 21, 28, 30]);
    const whole = new cl.Synthesis(model, { steps: 30, seed: 3 });
    whole.advance(1000);
    assert.deepEqual(chunked.bestImage(), whole.bestImage());
    assert.equal(chunked.trace().length, 30);
    // The reported best response is the best input's response.
    assert.ok(Math.abs(model.predict(chunked.bestInput())[0] - chunked.bestResponse()) < 1e-4);
    assert.ok(chunked.bestResponse() > base);
    const down = new cl.Synthesis(model, { steps: 30, seed: 3, minimize: true });
    down.advance(30);
    assert.ok(down.bestResponse() < chunked.bestResponse());
    assert.ok(down.bestResponse() < base);
    for (const s of [chunked, whole, down]) s.delete();
  }),
);

test(
  'gradient, saliency and readout maps agree with predictions',
  { skip: !hasData && noDataReason },
  withModel(neuron0, async (model) => {
    const x = goldenPattern();
    const out = model.predict(x)[0];
    const g = cl.inputGradient(model, x, { layer: -1, channel: 0 });
    assert.ok(Math.abs(g.value - out) < 1e-5);
    assert.equal(g.gradient.length, 112 * 112 * 3);
    // A small step along the gradient raises the response by about |g|^2 * step (piecewise linear model).
    let norm2 = 0;
    for (const v of g.gradient) norm2 += v * v;
    const eps = 1e-3 / Math.sqrt(norm2);
    const moved = x.map((v, i) => v + eps * g.gradient[i]);
    const predicted = out + eps * norm2;
    assert.ok(Math.abs(model.predict(moved)[0] - predicted) < 0.05 * eps * norm2 + 1e-5);

    const sal = cl.saliency(model, x, { channel: 0 });
    assert.deepEqual(sal.shape, [112, 112, 1]);
    let expected = 0,
      got = 0;
    for (let p = 0; p < 112 * 112; ++p) {
      for (let c = 0; c < 3; ++c) expected += g.gradient[p * 3 + c] * x[p * 3 + c];
      got += sal.data[p];
    }
    assert.ok(Math.abs(got - expected) < 1e-3 * Math.max(1, Math.abs(expected)));

    const readout = cl.readoutMap(model, x, 0);
    assert.deepEqual(readout.shape, [28, 28, 1]);
    const sum = readout.data.reduce((a, b) => a + b, readout.bias);
    assert.ok(Math.abs(sum - out) < 1e-3, `readout map sums to ${sum}, prediction ${out}`);

    const occ = cl.occlusion(model, x, { channel: 0 }, { patch: 28, stride: 28 });
    assert.equal(occ.rows, 4);
    assert.equal(occ.drops.length, 16);
    assert.ok(Math.abs(occ.baseline - out) < 1e-5);
  }),
);

test(
  'ablation switches channels off in a copy; weights are exposed per layer',
  { skip: !hasData && noDataReason },
  withModel(neuron0, async (model) => {
    const x = goldenPattern();
    const out = model.predict(x)[0];
    const w0 = cl.layerWeights(model, 0);
    assert.equal(w0.kind, 'conv2d');
    assert.deepEqual(w0.shape, [5, 5, 3, 48]);
    assert.equal(w0.weights.length, 5 * 5 * 3 * 48);
    const info = model.info();
    const last = info.layers.length - 1;
    const readout = cl.layerWeights(model, last);
    assert.equal(readout.kind, 'dense');
    // Every channel of the layer feeding the readout off: only the readout bias is left.
    const feeding = info.layers[last - 1].output[2];
    const all = Array.from({ length: feeding }, (_, channel) => ({ layer: last - 1, channel, scale: 0 }));
    const dark = cl.ablate(model, all);
    assert.ok(Math.abs(dark.predict(x)[0] - readout.bias[0]) < 1e-5);
    dark.delete();
    const one = cl.ablate(model, [{ layer: 0, channel: 5, scale: 0 }]);
    const acts = one.activations(x)[0];
    for (let p = 0; p < 112 * 112; p += 97) assert.equal(acts.data[p * 48 + 5], 0);
    one.delete();
    assert.equal(model.predict(x)[0], out); // the original is untouched
    assert.throws(() => cl.ablate(model, [{ layer: 0, channel: 48, scale: 0 }]), /channel 48 .* out of range/);
    assert.throws(() => cl.layerWeights(model, 99), /layer 99 out of range/);
  }),
);

test(
  'block images add blocks that raise the response',
  { skip: !hasData && noDataReason },
  withModel(neuron0, async (model) => {
    const blocks = new cl.BlockImage(model, { blocks: 3, candidates: 4 });
    let previous = blocks.startResponse();
    while (!blocks.done()) {
      if (blocks.advance(1) === 0) break;
      const added = blocks.blocks().at(-1);
      assert.ok(added.response > previous, `block ${blocks.blockCount()}: ${added.response} after ${previous}`);
      previous = added.response;
    }
    assert.ok(blocks.blockCount() >= 1);
    assert.ok(Math.abs(model.predict(blocks.input())[0] - blocks.response()) < 1e-4);
    assert.equal(blocks.image().length, 112 * 112 * 3);
    blocks.delete();
  }),
);

test(
  "bad visualization requests become JS Errors with the core's message",
  { skip: !hasData && noDataReason },
  withModel(neuron0, async (model) => {
    assert.throws(() => new cl.Synthesis(model, { recipe: 'dream' }), /recipe 'dream', expected authors or fourier/);
    assert.throws(() => new cl.Synthesis(model, { steps: 0 }), /steps 0 out of range/);
    assert.throws(() => new cl.Synthesis(model, { selector: { layer: 40 } }), /selector layer 40 out of range/);
    assert.throws(() => cl.inputGradient(model, new Float32Array(5), {}), /input has 5 values/);
    assert.throws(() => cl.inputGradient(model, goldenPattern(), { channel: 1.5 }), /channel must be an integer/);
    // The module keeps working.
    assert.equal(cl.inputGradient(model, goldenPattern(), {}).gradient.length, 112 * 112 * 3);
  }),
);
