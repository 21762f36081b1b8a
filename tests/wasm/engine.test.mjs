// The wasm module under node: the same cases as the native Catch2 tests of published models, through the
// browser's path (fflate + jsfive read the .keras, the C++ importer maps it).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { readKerasArchive } from '../../web/lib/keras-archive.js';
import { loadCortexLens, goldenPattern, modelPath, dataDir, hasData, noDataReason } from './module.mjs';

const cl = await loadCortexLens();

async function loadModel(file) {
  const archive = await readKerasArchive(new Uint8Array(fs.readFileSync(file)));
  return cl.loadKeras(archive.configText, archive.tensors, path.basename(file).replace(/\.keras$/, ''));
}

test('published models reproduce the golden pattern responses in wasm', {
  skip: !hasData && noDataReason,
}, async () => {
  const golden = JSON.parse(fs.readFileSync(path.join(dataDir, 'golden_responses.json'), 'utf8'));
  const pattern = goldenPattern();
  for (const [key, expected] of Object.entries(golden.pattern.responses)) {
    const model = await loadModel(modelPath(key));
    try {
      const out = model.predict(pattern);
      const got = Array.isArray(expected) ? [out[0], out[36], out[218]] : [out[0]];
      const want = Array.isArray(expected) ? expected : [expected];
      for (const [i, v] of got.entries())
        assert.ok(Math.abs(v - want[i]) < 2e-5, `${key}[${i}]: ${v} vs golden ${want[i]}`);
    } finally {
      model.delete();
    }
  }
});

test("info reports the authors' parameter count and the layer chain", { skip: !hasData && noDataReason }, async () => {
  const model = await loadModel(modelPath('compact_model_190923_neuron0'));
  const info = model.info();
  model.delete();
  assert.equal(info.params, 12466);
  assert.equal(info.multiplyAdds, 59404464);
  assert.deepEqual(info.outputNames, ['190923_n0']);
  assert.deepEqual(info.input, [112, 112, 3]);
  assert.equal(info.sourceLayers.length, 18);
  assert.deepEqual(info.layers[1].padding, [1, 2, 1, 2]); // 112 -> 56 with k = 5: 1 before, 2 after
});

test('activations are returned for every layer, the last equal to the prediction', {
  skip: !hasData && noDataReason,
}, async () => {
  const model = await loadModel(modelPath('compact_model_190923_neuron0'));
  const pattern = goldenPattern();
  const acts = model.activations(pattern);
  const out = model.predict(pattern);
  model.delete();
  assert.equal(acts.length, 10);
  assert.deepEqual(acts[0].shape, [112, 112, 48]);
  assert.equal(acts[0].data.length, 112 * 112 * 48);
  assert.equal(acts.at(-1).data[0], out[0]);
});

test("core errors become JS Errors with the core's message", async () => {
  assert.throws(() => cl.loadKeras('{"class_name": ', [], 'broken'), /not valid JSON/);
  assert.throws(() => cl.loadKeras('{}', 'not an array', 'x'), /tensors must be an array/);
  assert.throws(() => cl.decodeImage(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])), Error);
  // The module keeps working after an error.
  const img = cl.cropToInput({ width: 2, height: 2, pixels: new Uint8Array(12).fill(200) }, null);
  assert.equal(img.input.length, 112 * 112 * 3);
  assert.ok(Math.abs(img.input[0] - (200 - 116.222)) < 1e-4);
});

test('a wrong-sized input is refused with both sizes named', { skip: !hasData && noDataReason }, async () => {
  const model = await loadModel(modelPath('compact_model_190923_neuron0'));
  assert.throws(() => model.predict(new Float32Array(10)), /input has 10 values.*expects 37632/);
  model.delete();
});
