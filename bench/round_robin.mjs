// What one worker of the population view does, without the page: every second per-neuron int8 model of a pack
// (the share of one of two workers, ~110), each predicting the same image in turn, a few rounds. Prints the time
// per round and per model, and one model called repeatedly for comparison.
//   node bench/round_robin.mjs [MODELS_DIR]   (default build/site/models; CORTEXLENS_WASM_DIR selects the module)
import fs from 'node:fs';
import path from 'node:path';
import { loadCortexLens, repoRoot } from '../tests/wasm/module.mjs';

const dir = process.argv[2] || path.join(repoRoot, 'build/site/models');
const files = fs
  .readdirSync(dir)
  .filter((f) => /^\d+_n\d+\.int8\.clm$/.test(f))
  .sort()
  .filter((_, i) => i % 2 === 0);
if (!files.length) throw new Error(`no per-neuron int8 files in ${dir} (build the site with the model packs first)`);
const cl = await loadCortexLens();
const models = files.map((f) => cl.loadModelFile(new Uint8Array(fs.readFileSync(path.join(dir, f)))));
const input = new Float32Array(112 * 112 * 3).map((_, i) => ((i * 7919) % 255) - 120);
for (let round = 0; round < 4; ++round) {
  const t0 = performance.now();
  for (const m of models) cl.predictWithPrecision(m, input, 'int8');
  const ms = performance.now() - t0;
  console.log(
    `round ${round}: ${models.length} models in ${ms.toFixed(0)} ms, ${(ms / models.length).toFixed(2)} ms per model`,
  );
}
const t0 = performance.now();
for (let i = 0; i < 50; ++i) cl.predictWithPrecision(models[0], input, 'int8');
console.log(`one model called 50 times: ${((performance.now() - t0) / 50).toFixed(2)} ms per call`);
for (const m of models) m.delete();
