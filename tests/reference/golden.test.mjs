// node --test tests/reference/
// 1. The TensorFlow.js reference reproduces golden_responses.json of the published data (skipped when absent).
// 2. readKerasArchive rejects bad files with messages that say what was found and what was expected.
// 3. The reference's own "same" padding matches a naive convolution (runs without the data).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync, strToU8 } from 'fflate';
import { readKerasArchive, readWeightsH5 } from '../../web/lib/keras-archive.js';
import { buildTfjsModel, predict } from './tfjs-model.mjs';
import { dataDirectory, decodeJpegRecentred, hasData, patternInput, readZipEntries } from './inputs.mjs';

const DATA = dataDirectory();
const SKIP_NO_DATA = hasData() ? false : `published data not found at ${DATA} (set CORTEXLENS_DATA_DIR)`;
if (SKIP_NO_DATA) console.log(`golden tests skipped: ${SKIP_NO_DATA}`);

// Golden values are rounded to 6 decimals; float32 summation order differs between engines by a few 1e-6.
const TOLERANCE = 1e-5;
const PER_IMAGE = 112 * 112 * 3;

function modelPath(goldenKey) {
  const name = goldenKey.split(' ')[0];
  return name.startsWith('shared_')
    ? path.join(DATA, 'shared_compact_models/from_ensemble_model', `${name}.keras`)
    : path.join(DATA, 'compact_models', `${name}.keras`);
}

// "shared_compact_model_100filters (outputs 0, 36, 218)" -> [0, 36, 218]; a per-neuron model has one output.
function outputIndices(goldenKey) {
  const m = goldenKey.match(/\(outputs ([\d, ]+)\)/);
  return m ? m[1].split(',').map(Number) : [0];
}

async function loadModel(file) {
  const archive = await readKerasArchive(new Uint8Array(fs.readFileSync(file)));
  return buildTfjsModel(archive.configText, archive.tensors);
}

function maxAbsDiff(got, expected) {
  return Math.max(...got.map((v, i) => Math.abs(v - expected[i])));
}

test('golden pattern and image responses', { skip: SKIP_NO_DATA }, async (t) => {
  const golden = JSON.parse(fs.readFileSync(path.join(DATA, 'golden_responses.json'), 'utf8'));
  const images = readZipEntries(path.join(DATA, 'sessions/images_190923.zip'), golden.images);
  const inputs = new Float32Array((1 + images.length) * PER_IMAGE);
  inputs.set(patternInput(), 0);
  for (const [i, jpg] of images.entries()) inputs.set(decodeJpegRecentred(jpg), (1 + i) * PER_IMAGE);

  for (const [key, expectedPattern] of Object.entries(golden.pattern.responses)) {
    await t.test(key, async () => {
      const model = await loadModel(modelPath(key));
      const out = await predict(model, inputs);
      const perOutput = out.length / (1 + images.length);
      const pick = (row) => outputIndices(key).map((k) => out[row * perOutput + k]);
      const patternDiff = maxAbsDiff(pick(0), [expectedPattern].flat());
      assert.ok(
        patternDiff <= TOLERANCE,
        `pattern: got ${pick(0)}, golden ${expectedPattern} (max diff ${patternDiff})`,
      );
      golden.responses[key].forEach((expected, i) => {
        const diff = maxAbsDiff(pick(1 + i), [expected].flat());
        assert.ok(diff <= TOLERANCE, `${golden.images[i]}: got ${pick(1 + i)}, golden ${expected} (max diff ${diff})`);
      });
      model.dispose();
    });
  }
});

test('readKerasArchive reads a published model', { skip: SKIP_NO_DATA }, async () => {
  const file = path.join(DATA, 'compact_models/compact_model_190923_neuron0.keras');
  const { configText, metadataText, tensors } = await readKerasArchive(new Uint8Array(fs.readFileSync(file)));
  assert.equal(JSON.parse(configText).class_name, 'Functional');
  assert.match(metadataText, /keras_version/);
  assert.ok(tensors.every((t) => t.name.startsWith('layers/') && t.data instanceof Float32Array));
  const kernel = tensors.find((t) => t.name === 'layers/conv2d/vars/0');
  assert.deepEqual(kernel.shape.slice(0, 3), [5, 5, 3]);
  assert.equal(
    kernel.data.length,
    kernel.shape.reduce((a, d) => a * d, 1),
  );
  // Dropping a variable must fail loudly in the reference, not run with a default initialiser.
  await assert.rejects(
    buildTfjsModel(
      configText,
      tensors.filter((t) => t.name !== 'layers/dense/vars/1'),
    ),
    /layers\/dense\/vars\/1/,
  );
});

// --- bad files -------------------------------------------------------------------------------------------------

const CONFIG = strToU8('{"class_name": "Functional", "config": {"layers": []}}');
const NOT_HDF5 = strToU8('this is not an HDF5 file at all');

test('garbage bytes are not a zip', async () => {
  const garbage = new Uint8Array(1000).map((_, i) => (i * 7919) % 251);
  await assert.rejects(readKerasArchive(garbage), /not a \.keras file: expected a zip archive.*found 00 8a 19/);
  await assert.rejects(readKerasArchive(new Uint8Array(0)), /\(empty file\)/);
  await assert.rejects(readKerasArchive([1, 2, 3]), TypeError);
});

test('a bare HDF5 file given as .keras says so', async () => {
  const h5Signature = new Uint8Array([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]);
  await assert.rejects(readKerasArchive(h5Signature), /this is an HDF5 file/);
});

test('truncated zip', async () => {
  const zip = zipSync({ 'config.json': CONFIG, 'model.weights.h5': new Uint8Array(4096).fill(7) });
  const truncated = zip.subarray(0, Math.floor(zip.length / 2));
  await assert.rejects(readKerasArchive(truncated), /truncated or not a zip/);
});

test('zip without model.weights.h5', async () => {
  const zip = zipSync({ 'config.json': CONFIG, 'metadata.json': strToU8('{}') });
  await assert.rejects(readKerasArchive(zip), (e) => {
    assert.match(e.message, /missing model\.weights\.h5/);
    assert.match(e.message, /found config\.json, metadata\.json/);
    return true;
  });
});

test('model.weights.h5 that is not HDF5', async () => {
  const zip = zipSync({ 'config.json': CONFIG, 'model.weights.h5': NOT_HDF5 });
  await assert.rejects(readKerasArchive(zip), /model\.weights\.h5 .*is not HDF5: expected the signature 89 48 44 46/);
  await assert.rejects(readWeightsH5(zip), /this is a zip/);
});

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures'); // made by make_fixtures.py

test('readWeightsH5 reads float32 and float64 variables and skips optimizer/', async () => {
  const tensors = await readWeightsH5(new Uint8Array(fs.readFileSync(path.join(FIXTURES, 'tiny-dense.weights.h5'))));
  assert.deepEqual(
    tensors.map((t) => [t.name, t.shape]),
    [
      ['layers/dense/vars/0', [3, 2]],
      ['layers/dense/vars/1', [2]],
    ],
  );
  assert.deepEqual(Array.from(tensors[0].data), [0, 0.25, 0.5, 0.75, 1, 1.25]);
  assert.deepEqual(Array.from(tensors[1].data), [0.5, -1.25]);
  assert.ok(tensors[1].data instanceof Float32Array);
});

test('a variable that is not float is refused', async () => {
  const bytes = new Uint8Array(fs.readFileSync(path.join(FIXTURES, 'int-variable.weights.h5')));
  await assert.rejects(readWeightsH5(bytes), /dataset 'layers\/dense\/vars\/0' has type "<i4"; expected float32/);
  const zip = zipSync({ 'config.json': CONFIG, 'model.weights.h5': bytes });
  await assert.rejects(readKerasArchive(zip), /inside the \.keras archive.*has type "<i4"/);
});

test('declared uncompressed sizes are checked before inflating', async () => {
  const zip = zipSync({ 'config.json': CONFIG, 'model.weights.h5': NOT_HDF5 });
  // Central directory record: signature 50 4b 01 02, uncompressed size at +24, file name at +46.
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  let patched = 0;
  for (let o = 0; o + 46 < zip.length; ++o) {
    if (view.getUint32(o, true) !== 0x02014b50) continue;
    const nameLength = view.getUint16(o + 28, true);
    const name = new TextDecoder().decode(zip.subarray(o + 46, o + 46 + nameLength));
    if (name === 'model.weights.h5') {
      view.setUint32(o + 24, 0x7ffffff0, true); // claims 2 GB
      ++patched;
    }
  }
  assert.equal(patched, 1);
  await assert.rejects(readKerasArchive(zip), /model\.weights\.h5 declares 2048\.0 MB uncompressed.*64\.0 MB limit/);
});

// --- the reference's own semantics, without the data --------------------------------------------------------------

test('reference Conv2D "same" stride 2 pads 1 before and 2 after (TF semantics)', async () => {
  // (8, 8, 1) input, 5x5 kernel, stride 2 -> (4, 4, 1); total padding (4-1)*2+5-8 = 3: top/left 1, bottom/right 2.
  const config = {
    class_name: 'Functional',
    config: {
      layers: [
        { class_name: 'InputLayer', config: { name: 'in', batch_shape: [null, 8, 8, 1] }, inbound_nodes: [] },
        {
          class_name: 'Conv2D',
          config: {
            name: 'c',
            filters: 1,
            kernel_size: [5, 5],
            strides: [2, 2],
            padding: 'same',
            use_bias: true,
            activation: 'linear',
          },
          inbound_nodes: [
            { args: [{ class_name: '__keras_tensor__', config: { keras_history: ['in', 0, 0] } }], kwargs: {} },
          ],
        },
      ],
      input_layers: [['in', 0, 0]],
      output_layers: [['c', 0, 0]],
    },
  };
  const kernel = Float32Array.from({ length: 25 }, (_, i) => (i % 7) - 3); // (5, 5, 1, 1)
  const input = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
  const tensors = [
    { name: 'layers/conv2d/vars/0', shape: [5, 5, 1, 1], data: kernel },
    { name: 'layers/conv2d/vars/1', shape: [1], data: Float32Array.of(0.5) },
  ];
  const model = await buildTfjsModel(JSON.stringify(config), tensors);
  const got = await predict(model, input);
  // Naive reference in double, also checking the reference itself (and not only our engine later).
  const expected = [];
  for (let oy = 0; oy < 4; ++oy) {
    for (let ox = 0; ox < 4; ++ox) {
      let s = 0.5;
      for (let ky = 0; ky < 5; ++ky) {
        for (let kx = 0; kx < 5; ++kx) {
          const iy = oy * 2 + ky - 1;
          const ix = ox * 2 + kx - 1;
          if (iy >= 0 && iy < 8 && ix >= 0 && ix < 8) s += input[iy * 8 + ix] * kernel[ky * 5 + kx];
        }
      }
      expected.push(s);
    }
  }
  assert.ok(maxAbsDiff(Array.from(got), expected) < 1e-5, `got ${Array.from(got)}, expected ${expected}`);
});
