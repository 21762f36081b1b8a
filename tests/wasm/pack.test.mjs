// Cortex Lens model files (.clm) and the committed broken-model corpus in the wasm module under node: the same
// loader as natively (read_model_file), reached through the page's bindings; and the broken .keras files through
// the page's Keras path (fflate + jsfive in web/lib/keras-archive.js, then loadKeras).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { readKerasArchive } from '../../web/lib/keras-archive.js';
import { loadCortexLens, repoRoot } from './module.mjs';

const cl = await loadCortexLens();
const demoDir = path.join(repoRoot, 'models/demo');
const badDir = path.join(repoRoot, 'tests/bad_models');
const demoBytes = new Uint8Array(fs.readFileSync(path.join(demoDir, 'demo_dot_detector.clm')));
const CHANNEL_MEANS = [116.222, 109.27, 100.381];

// (112, 112, 3) recentred: a disc of `contrast` (added to the mean grey) of `radius` pixels at (cx, cy).
function dotImage(cx, cy, radius, contrast) {
  const x = new Float32Array(112 * 112 * 3);
  for (let h = 0; h < 112; ++h)
    for (let w = 0; w < 112; ++w) {
      const inside = Math.min(Math.max(radius + 0.5 - Math.hypot(w - cx, h - cy), 0), 1);
      for (let c = 0; c < 3; ++c) x[(h * 112 + w) * 3 + c] = inside * contrast;
    }
  return x;
}

// The test-vector input of models/FORMAT.md, written from the spec: xorshift32 from the seed, top byte = pixel.
function testVectorInput(seed, means) {
  const x = new Float32Array(112 * 112 * 3);
  let s = seed >>> 0;
  for (let i = 0; i < x.length; ++i) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    x[i] = Math.fround((s >>> 24) - Math.fround(means[i % 3]));
  }
  return x;
}

function withModel(model, fn) {
  try {
    return fn(model);
  } finally {
    model.delete();
  }
}

test('the committed demo model loads, is int8, and prefers a centred bright dot', () => {
  withModel(cl.loadModelFile(demoBytes), (model) => {
    const info = model.info();
    assert.equal(info.name, 'demo_dot_detector');
    assert.equal(info.layers.length, 10);
    assert.equal(cl.modelPrecision(model), 'int8');
    const dot = cl.predictWithPrecision(model, dotImage(55.5, 55.5, 2, 120), 'int8')[0];
    const grey = cl.predictWithPrecision(model, new Float32Array(112 * 112 * 3), 'int8')[0];
    const offCentre = cl.predictWithPrecision(model, dotImage(15, 15, 2, 120), 'int8')[0];
    assert.ok(dot > 2 * Math.max(grey, offCentre, 0.1), `dot ${dot}, grey ${grey}, off-centre ${offCentre}`);
    const asFloat = cl.predictWithPrecision(model, dotImage(55.5, 55.5, 2, 120), 'float')[0];
    assert.ok(Math.abs(asFloat - dot) < 0.05 * Math.abs(dot), `float ${asFloat} vs int8 ${dot}`);
    const acts = cl.activationsWithPrecision(model, dotImage(55.5, 55.5, 2, 120), 'int8');
    assert.equal(acts.length, 10);
    assert.deepEqual(acts[0].shape, [112, 112, 2]);
    assert.equal(acts.at(-1).data[0], dot);
    assert.throws(
      () => cl.predictWithPrecision(model, new Float32Array(37632), 'int4'),
      /precision 'int4', expected 'int8' or 'float'/,
    );
  });
});

test("int8 predictions reuse the model's plan: the same bits on every call, whatever ran before", () => {
  const meta = cl.inspectModelFile(demoBytes);
  const vector = testVectorInput(meta.testVector.seed, CHANNEL_MEANS);
  withModel(cl.loadModelFile(demoBytes), (model) => {
    // inspectModelFile's outputs come from a fresh plan inside read_model_file; this model keeps one across calls.
    const first = cl.predictWithPrecision(model, vector, 'int8');
    assert.deepEqual(Array.from(first), Array.from(meta.testOutputs));
    for (const x of [dotImage(55.5, 55.5, 2, 120), new Float32Array(112 * 112 * 3).fill(1e6), dotImage(15, 15, 3, -80)])
      cl.predictWithPrecision(model, x, 'int8');
    const acts = cl.activationsWithPrecision(model, vector, 'int8');
    assert.deepEqual(Array.from(acts.at(-1).data), Array.from(meta.testOutputs));
    assert.deepEqual(Array.from(cl.predictWithPrecision(model, vector, 'int8')), Array.from(meta.testOutputs));
    const bad = new Float32Array(112 * 112 * 3);
    bad[5] = NaN;
    assert.throws(() => cl.predictWithPrecision(model, bad, 'int8'), /input value 5 is nan, expected a finite number/);
  });
});

test("models taking turns (the population view): each gives its file's test outputs, and a deleted model is forgotten", () => {
  const meta = cl.inspectModelFile(demoBytes);
  const vector = testVectorInput(meta.testVector.seed, CHANNEL_MEANS);
  const dot = dotImage(55.5, 55.5, 2, 120);
  // Only the model that ran last keeps its activation buffers; the others rebuild theirs, zeroed, on their turn.
  const models = [cl.loadModelFile(demoBytes), cl.loadModelFile(demoBytes), cl.loadModelFile(demoBytes)];
  try {
    const dotResponse = cl.predictWithPrecision(models[0], dot, 'int8')[0];
    for (let round = 0; round < 3; ++round) {
      for (const model of models) {
        assert.deepEqual(Array.from(cl.predictWithPrecision(model, vector, 'int8')), Array.from(meta.testOutputs));
        assert.equal(cl.predictWithPrecision(model, dot, 'int8')[0], dotResponse);
      }
    }
    models.pop().delete(); // the last to run: the module must not touch it again
    for (const model of models)
      assert.deepEqual(Array.from(cl.predictWithPrecision(model, vector, 'int8')), Array.from(meta.testOutputs));
  } finally {
    for (const model of models) model.delete();
  }
});

test('inspectModelFile reports the metadata and the test vector the load ran', () => {
  const meta = cl.inspectModelFile(demoBytes);
  assert.equal(meta.precision, 'int8');
  assert.equal(meta.version, 1);
  assert.match(meta.source, /constructed by models\/demo_model.cpp/);
  assert.deepEqual(Array.from(meta.channelMeans), CHANNEL_MEANS.map(Math.fround));
  assert.equal(meta.testVector.expected.length, 1);
  assert.ok(Math.abs(meta.testOutputs[0] - meta.testVector.expected[0]) <= meta.testVector.tolerance[0]);
});

test("the demo .keras (read by the page's JS) equals the float model the .clm test vector was computed from", async () => {
  const archive = await readKerasArchive(
    new Uint8Array(fs.readFileSync(path.join(demoDir, 'demo_dot_detector.keras'))),
  );
  const meta = cl.inspectModelFile(demoBytes);
  withModel(cl.loadKeras(archive.configText, archive.tensors, 'demo_dot_detector'), (model) => {
    assert.equal(model.info().params, 1985);
    // The input is regenerated here from the formula in models/FORMAT.md, independently of the C++ code.
    const out = model.predict(testVectorInput(meta.testVector.seed, CHANNEL_MEANS))[0];
    const expected = meta.testVector.expected[0];
    assert.ok(Math.abs(out - expected) <= 1e-4 * Math.max(1, Math.abs(expected)), `${out} vs ${expected}`);
  });
});

test('corrupt model files are refused with an Error, never a crash, and the module keeps working', () => {
  const refuse = (bytes, pattern) => assert.throws(() => cl.loadModelFile(bytes), pattern);
  refuse(new Uint8Array(0), /magic is '' \(the file has only 0 bytes\), expected 'CLENSMDL'/);
  refuse(new Uint8Array([1, 2, 3]), /expected 'CLENSMDL'/);
  refuse(demoBytes.slice(0, 12), /flags needs 4 bytes but only 0 remain/);
  refuse(demoBytes.slice(0, 20), /expected at least 24 \(header and checksum; file truncated\?\)/);
  const version = demoBytes.slice();
  version[8] = 2;
  refuse(version, /header, offset 8: version is 2, expected 1/);
  // Every truncation and every flipped byte (one in 7, to keep the test fast) is refused.
  for (let size = 0; size < demoBytes.length; size += 1) {
    assert.throws(() => cl.loadModelFile(demoBytes.slice(0, size)), Error, `truncated to ${size}`);
  }
  for (let i = 0; i < demoBytes.length; i += 7) {
    const bad = demoBytes.slice();
    bad[i] ^= 0x10;
    assert.throws(() => cl.loadModelFile(bad), Error, `byte ${i} changed`);
  }
  assert.throws(() => cl.loadModelFile(null), /model file bytes must be a typed array/);
  withModel(cl.loadModelFile(demoBytes), (model) => assert.equal(model.info().name, 'demo_dot_detector'));
});

test('the committed broken .clm files give the documented messages', () => {
  const expectations = {
    'bad_magic.clm': /header, offset 0: magic is 'XLENSMDL', expected 'CLENSMDL'/,
    'truncated.clm':
      /section 10 of 12 'LAYR', offset \d+: length is \d+ bytes but only \d+ remain before the checksum \(file truncated\?\)/,
    'checksum_mismatch.clm':
      /checksum, offset \d+: the file stores CRC-32 0x[0-9a-f]{8} but bytes 0\.\.\d+ have CRC-32 0x[0-9a-f]{8} \(the file is corrupt\)/,
    'test_vector_mismatch.clm':
      /test vector: output 0 \('output0'\) is -?[\d.]+, file expects [\d.]+ \(tolerance [\d.]+\)/,
  };
  for (const [file, pattern] of Object.entries(expectations))
    assert.throws(() => cl.loadModelFile(new Uint8Array(fs.readFileSync(path.join(badDir, file)))), pattern, file);
});

test("the committed broken .keras files are refused by the page's reader or the importer, with the reason", async () => {
  const expectations = {
    'truncated_zip.keras': /cannot read the \.keras zip archive|not a \.keras file/,
    'not_a_zip.keras': /not a \.keras file: expected a zip archive/,
    'missing_weights.keras': /missing model\.weights\.h5/,
    'missing_variable.keras': /weight 'layers\/conv2d\/vars\/0' \(kernel, expected shape \(5,5,3,2\)\) is missing/,
    'wrong_shape.keras': /has shape \(5,5,3,3\) with 225 values, expected \(5,5,3,2\)/,
    'nan_weights.keras': /holds nan at index 7, expected finite numbers/,
    'unknown_layer.keras': /layer type "LayerNormalization" is not supported/,
  };
  for (const [file, pattern] of Object.entries(expectations)) {
    const bytes = new Uint8Array(fs.readFileSync(path.join(badDir, file)));
    await assert.rejects(
      async () => {
        const archive = await readKerasArchive(bytes);
        cl.loadKeras(archive.configText, archive.tensors, file.replace(/\.keras$/, '')).delete();
      },
      pattern,
      file,
    );
  }
});

test("weights files that crash Debian's libhdf5 are refused by the page's reader with a message", async () => {
  // tests/hostile_hdf5/README.md: found by fuzzing the native door; zipped here as the page would receive them.
  const { zipSync } = await import('fflate');
  const dir = path.join(repoRoot, 'tests/hostile_hdf5');
  const config = fs.readFileSync(path.join(dir, 'config.json'));
  const hostile = fs.readdirSync(dir).filter((f) => f.endsWith('.weights.h5') || f.endsWith('.keras'));
  assert.ok(hostile.length >= 3);
  for (const file of hostile) {
    const bytes = new Uint8Array(fs.readFileSync(path.join(dir, file)));
    const keras = file.endsWith('.keras')
      ? bytes
      : zipSync({ 'config.json': new Uint8Array(config), 'model.weights.h5': bytes });
    await assert.rejects(
      () => readKerasArchive(keras),
      // "... is damaged or uses an HDF5 feature this reader lacks", or the dataset it cannot read and why
      (e) => {
        assert.match(
          e.message,
          /model\.weights\.h5 \(inside the \.keras archive\)(: cannot (read|open) .*'layers\/| is damaged)/,
        );
        // A failure inside the reader's code is named as damage to the file, not only in JavaScript's words.
        if (/is not iterable|Cannot read propert/.test(e.message))
          assert.match(e.message, /HDF5 structure there is damaged/);
        return true;
      },
      file,
    );
  }
});
