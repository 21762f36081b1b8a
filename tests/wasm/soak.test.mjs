// The short soak of the wasm module (bench/soak-node.mjs has the long one and the reasons for the bounds): 20 models
// in both precisions, 400 predictions, 40 image changes and 4 synthesis runs in one module instance; no error, and
// the wasm heap and the JS heap (measured after a full collection) stay within their bounds after warm-up. Needs the
// site's models and gallery (scripts/build_site.sh).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { soak } from '../../bench/soak-node.mjs';
import { repoRoot } from './module.mjs';

// The JS heap is compared after full collections; node's test runner is not started with --expose-gc.
v8.setFlagsFromString('--expose-gc');
globalThis.gc ??= vm.runInNewContext('gc');

const siteDir = path.resolve(repoRoot, process.env.CORTEXLENS_SITE_DIR || 'build/site');
const skip = !fs.existsSync(path.join(siteDir, 'models/manifest.json')) && `no site at ${siteDir} (build_site.sh)`;

test('a short soak: no error, memory flat after warm-up', { skip }, async (t) => {
  const result = await soak({ models: 20, predictions: 400, images: 40, synth: 4, siteDir, log: () => {} });
  for (const s of result.samples)
    t.diagnostic(`op ${s.op}: wasm ${s.wasmMB.toFixed(1)} MB, JS heap ${s.jsHeapMB.toFixed(1)} MB`);
  assert.equal(result.done.predictions, 400);
  assert.equal(result.done.images, 40);
  assert.equal(result.done.synth, 4);
  assert.ok(
    result.withinBounds,
    `wasm +${result.wasmGrowthMB} MB, JS +${result.jsGrowthMB} MB after op ${result.warmUpOp}`,
  );
});
