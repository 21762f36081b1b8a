// Every published model (219 per-neuron, 8 shared), natively and in wasm, against TensorFlow.js on 24 test
// images (8 per session, spread over 601-1200): worst difference within 1e-4 of the response's spread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { compareModel, loadImages, nativeCli, publishedModels, writeTempJpegs } from './engine-vs-tfjs.mjs';
import { dataDirectory, hasData } from './inputs.mjs';
import { loadCortexLens } from '../wasm/module.mjs';

const skip = !hasData() && `published data not found at ${dataDirectory()} (set CORTEXLENS_DATA_DIR)`;
const NUMBERS = [601, 677, 753, 829, 905, 981, 1057, 1133];

test('all published models match TensorFlow.js within 1e-4 of the response spread (native and wasm)', {
  skip,
  timeout: 30 * 60 * 1000,
}, async (t) => {
  assert.ok(fs.existsSync(nativeCli), `native CLI not built at ${nativeCli}`);
  const cl = await loadCortexLens();
  const images = loadImages(cl, NUMBERS);
  const jpegPaths = writeTempJpegs(images);
  const models = publishedModels();
  assert.equal(models.length, 227);
  let worst = 0;
  for (const file of models) {
    const r = await compareModel(cl, file, images, jpegPaths);
    worst = Math.max(worst, r.wasm.worstRatio, r.native.worstRatio);
    assert.ok(
      r.wasm.worstRatio <= 1e-4,
      `${r.name}: wasm differs by ${r.wasm.worstAbs} (${r.wasm.worstRatio} of the spread)`,
    );
    assert.ok(
      r.native.worstRatio <= 1e-4,
      `${r.name}: native differs by ${r.native.worstAbs} (${r.native.worstRatio} of the spread)`,
    );
  }
  t.diagnostic(
    `worst |ours - tfjs| / spread over ${models.length} models x ${images.names.length} images: ${worst.toExponential(3)}`,
  );
});
