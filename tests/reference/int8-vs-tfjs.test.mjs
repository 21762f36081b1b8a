// Every int8 model file of the built packs (219 per-neuron + the shared 100-filter model, what the page fetches)
// against TensorFlow.js running the original float .keras model on 24 test images, natively and in wasm: within
// the stated tolerances (int8-vs-tfjs.mjs: MIN_R, MAX_RMS_OF_SPREAD), and wasm equal to native. Needs scripts/build_site.sh to have built
// the packs (build/site/models, or CORTEXLENS_PACKS_DIR); scripts/test.sh builds them before the node tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  MAX_RMS_OF_SPREAD,
  MAX_WASM_NATIVE_OF_SPREAD,
  MIN_R,
  compareInt8Model,
  packedInt8Models,
  packsDirectory,
  prepareImages,
} from './int8-vs-tfjs.mjs';
import { nativeCli } from './engine-vs-tfjs.mjs';
import { dataDirectory, hasData } from './inputs.mjs';

const models = hasData() ? packedInt8Models() : [];
const skip =
  (!hasData() && `published data not found at ${dataDirectory()} (set CORTEXLENS_DATA_DIR)`) ||
  (!models.length && `no int8 packs of published models in ${packsDirectory()} (run scripts/build_site.sh)`);

test('int8 model files stay within the stated tolerance of TensorFlow.js float (native and wasm)', {
  skip,
  timeout: 30 * 60 * 1000,
}, async (t) => {
  assert.ok(fs.existsSync(nativeCli), `native CLI not built at ${nativeCli}`);
  const { cl, images, jpegPaths } = await prepareImages();
  let minR = 1,
    rms = 0,
    worst = 0,
    wasmVsNative = 0,
    worstModel = '';
  for (const model of models) {
    const r = await compareInt8Model(cl, model, images, jpegPaths);
    assert.ok(
      r.minR >= MIN_R,
      `${r.name}: r(int8, tfjs float) ${r.minR.toFixed(5)} over ${images.names.length} images, expected >= ${MIN_R}`,
    );
    assert.ok(
      r.rmsOfSpread <= MAX_RMS_OF_SPREAD,
      `${r.name}: RMS |int8 - tfjs float| ${r.rmsOfSpread.toFixed(4)} of the response spread, expected <= ${MAX_RMS_OF_SPREAD}`,
    );
    assert.ok(
      r.wasmVsNative <= MAX_WASM_NATIVE_OF_SPREAD,
      `${r.name}: wasm and native int8 differ by ${r.wasmVsNative.toExponential(2)} of the spread, expected <= ${MAX_WASM_NATIVE_OF_SPREAD}`,
    );
    minR = Math.min(minR, r.minR);
    rms = Math.max(rms, r.rmsOfSpread);
    if (r.worstOfSpread > worst) [worst, worstModel] = [r.worstOfSpread, r.name];
    wasmVsNative = Math.max(wasmVsNative, r.wasmVsNative);
  }
  t.diagnostic(
    `${models.length} int8 files x ${images.names.length} images: min r ${minR.toFixed(5)}, largest RMS |int8 - tfjs| ` +
      `${rms.toFixed(4)} of the spread, largest single error ${worst.toFixed(4)} (${worstModel}), largest |wasm - native| ` +
      `${wasmVsNative.toExponential(2)} of the spread`,
  );
});
