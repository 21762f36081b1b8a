// The smallest change in the wasm module (the page's engine): a run within epsilon that raises and lowers the demo
// model's response, chunked runs equal whole runs, the float measurement of 8-bit pixels, and clear errors.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadCortexLens, repoRoot } from './module.mjs';

const cl = await loadCortexLens();
const demoBytes = new Uint8Array(fs.readFileSync(path.join(repoRoot, 'models/demo/demo_dot_detector.clm')));

// 8-bit RGB: a grey background with a soft bright dot off centre (the demo model responds a little to it).
function dotPixels() {
  const p = new Uint8Array(112 * 112 * 3);
  for (let y = 0; y < 112; ++y)
    for (let x = 0; x < 112; ++x)
      for (let c = 0; c < 3; ++c)
        p[(y * 112 + x) * 3 + c] = Math.hypot(x - 50, y - 60) < 4 ? 170 : 110 + 3 * c + ((x * 7 + y * 13) % 5);
  return p;
}

function runToEnd(model, pixels, options, chunk = 1000) {
  const run = new cl.Perturbation(model, pixels, options);
  try {
    while (!run.done()) run.advance(chunk);
    return { start: run.startResponse(), best: run.bestResponse(), image: run.best(), steps: run.step() };
  } finally {
    run.delete();
  }
}

test('a perturbation stays within epsilon and moves the response both ways', () => {
  const model = cl.loadModelFile(demoBytes);
  try {
    const pixels = dotPixels();
    for (const minimize of [false, true]) {
      const r = runToEnd(model, pixels, { epsilon: 3, steps: 30, minimize });
      let largest = 0;
      for (let i = 0; i < pixels.length; ++i) largest = Math.max(largest, Math.abs(r.image[i] - pixels[i]));
      assert.ok(largest <= 3 && largest >= 1, `largest change ${largest}`);
      assert.ok(minimize ? r.best < r.start : r.best > r.start, `${r.start} -> ${r.best}`);
      // The response reported is the float path's on the 8-bit image.
      assert.equal(Math.fround(r.best), cl.floatOutputsOfPixels(model, r.image)[0]);
      assert.equal(Math.fround(r.start), cl.floatOutputsOfPixels(model, pixels)[0]);
      // In chunks of 7 steps: the same image.
      assert.deepEqual(runToEnd(model, pixels, { epsilon: 3, steps: 30, minimize }, 7).image, r.image);
    }
  } finally {
    model.delete();
  }
});

test('bad perturbation arguments are refused with what was expected', () => {
  const model = cl.loadModelFile(demoBytes);
  try {
    const pixels = dotPixels();
    assert.throws(() => new cl.Perturbation(model, pixels, { epsilon: 0 }), /epsilon 0 out of range: expected 1..16/);
    assert.throws(() => new cl.Perturbation(model, pixels, { steps: 2.5 }), /steps must be an integer/);
    assert.throws(() => new cl.Perturbation(model, pixels.subarray(0, 100), {}), /expects 112x112/);
    assert.throws(() => new cl.Perturbation(model, pixels, { seed: -1 }), /seed must be an integer >= 0/);
    assert.throws(
      () => new cl.Perturbation(model, pixels, { penalty: 1, spread: [1, 2] }, model),
      /2 spreads given, model 'demo_dot_detector' has 1 outputs/,
    );
    assert.throws(() => cl.floatOutputsOfPixels(model, pixels.subarray(0, 9)), /9 bytes, expected 37632/);
  } finally {
    model.delete();
  }
});
