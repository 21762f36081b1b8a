#!/usr/bin/env node
// Reference responses of a .keras model, computed with TensorFlow.js (see tfjs-model.mjs). Prints JSON
// {"outputs": [[...], ...]} (one row per input image) on stdout; anything else goes to stderr.
//
//   node tests/reference/predict.mjs MODEL.keras --pattern
//   node tests/reference/predict.mjs MODEL.keras --input FILE.f32 --count N   (N x 112 x 112 x 3 float32 LE, recentred)
//   node tests/reference/predict.mjs MODEL.keras --jpeg A.jpg [--jpeg B.jpg ...]   (decoded with libjpeg-turbo, recentred)
// Add --timing to report build and per-image times on stderr.

import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { readKerasArchive } from '../../web/lib/keras-archive.js';
import { buildTfjsModel, initBackend, predict } from './tfjs-model.mjs';
import { IMAGE_SIZE, decodeJpegRecentred, patternInput } from './inputs.mjs';

const USAGE =
  'usage: predict.mjs MODEL.keras (--pattern | --input FILE.f32 --count N | --jpeg FILE.jpg ...) [--timing]';

function fail(message) {
  process.stderr.write(`predict.mjs: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function loadInputs(values) {
  const perImage = IMAGE_SIZE * IMAGE_SIZE * 3;
  const modes = [values.pattern, values.input !== undefined, values.jpeg !== undefined].filter(Boolean).length;
  if (modes !== 1) fail('give exactly one of --pattern, --input, --jpeg');
  if (values.pattern) return patternInput();
  if (values.jpeg) {
    const all = new Float32Array(values.jpeg.length * perImage);
    for (const [i, f] of values.jpeg.entries())
      all.set(decodeJpegRecentred(new Uint8Array(fs.readFileSync(f))), i * perImage);
    return all;
  }
  const count = Number(values.count);
  if (!Number.isSafeInteger(count) || count < 1) fail(`--count must be a positive integer, got ${values.count}`);
  const bytes = fs.readFileSync(values.input);
  if (bytes.length !== count * perImage * 4) {
    fail(`${values.input} has ${bytes.length} bytes; expected ${count} x 112 x 112 x 3 x 4 = ${count * perImage * 4}`);
  }
  // Copy so the floats are aligned and read little-endian whatever the host (DataView, not a Float32Array view).
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const x = new Float32Array(count * perImage);
  for (let i = 0; i < x.length; ++i) x[i] = view.getFloat32(i * 4, true);
  return x;
}

async function main() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        pattern: { type: 'boolean' },
        input: { type: 'string' },
        count: { type: 'string' },
        jpeg: { type: 'string', multiple: true },
        timing: { type: 'boolean' },
      },
    });
  } catch (e) {
    fail(e.message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) fail('give exactly one model file');
  const inputs = loadInputs(values);
  const n = inputs.length / (IMAGE_SIZE * IMAGE_SIZE * 3);

  const backend = await initBackend();
  const t0 = performance.now();
  const archive = await readKerasArchive(new Uint8Array(fs.readFileSync(positionals[0])));
  const model = await buildTfjsModel(archive.configText, archive.tensors);
  const t1 = performance.now();
  const out = await predict(model, inputs);
  const t2 = performance.now();
  const perOutput = out.length / n;
  const rows = [];
  for (let i = 0; i < n; ++i) rows.push(Array.from(out.subarray(i * perOutput, (i + 1) * perOutput)));
  process.stdout.write(`${JSON.stringify({ outputs: rows })}\n`);
  if (values.timing) {
    process.stderr.write(
      `backend ${backend}: read+build ${(t1 - t0).toFixed(0)} ms, ` +
        `predict ${n} image(s) ${(t2 - t1).toFixed(0)} ms (first call includes warm-up)\n`,
    );
  }
}

main().catch((e) => {
  process.stderr.write(`predict.mjs: ${e.message}\n`);
  process.exit(1);
});
