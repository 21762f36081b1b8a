// Two or more builds of the wasm module in one node process, taking turns on the work of one population-view
// worker: every second per-neuron int8 model of a pack (~110) on one input, through predictWithPrecision one model
// at a time ("each") and through one predictMany call ("many"). One process and alternating rounds, so the host's
// changing speed (it varies by up to ~1.6x here) falls on all builds alike. Prints min and median ms per model.
//   node bench/compare_builds.mjs WASM_DIR [WASM_DIR...]   (each holding cortexlens.{js,wasm}; ROUNDS=12 by default)
//   CORTEXLENS_MODELS_DIR: the pack (default build/site/models)
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { repoRoot } from '../tests/wasm/module.mjs';

const require = createRequire(import.meta.url);
const dirs = process.argv.slice(2).map((d) => path.resolve(d));
if (!dirs.length) throw new Error('usage: node bench/compare_builds.mjs WASM_DIR [WASM_DIR...]');
const modelsDir = path.resolve(process.env.CORTEXLENS_MODELS_DIR || path.join(repoRoot, 'build/site/models'));
const files = fs
  .readdirSync(modelsDir)
  .filter((f) => /^\d+_n\d+\.int8\.clm$/.test(f))
  .sort()
  .filter((_, i) => i % 2 === 0);
if (!files.length)
  throw new Error(`no per-neuron int8 files in ${modelsDir} (build the site with the model packs first)`);
const input = new Float32Array(112 * 112 * 3).map((_, i) => ((i * 7919) % 255) - 120);
const engines = [];
for (const dir of dirs) {
  const cl = await require(path.join(dir, 'cortexlens.js'))({
    wasmBinary: fs.readFileSync(path.join(dir, 'cortexlens.wasm')),
  });
  const models = files.map((f) => cl.loadModelFile(new Uint8Array(fs.readFileSync(path.join(modelsDir, f)))));
  engines.push({ dir, cl, models, each: [], many: [] });
}
const rounds = Number(process.env.ROUNDS || 12);
for (let round = 0; round < rounds; ++round) {
  for (const e of engines) {
    let t0 = performance.now();
    for (const m of e.models) e.cl.predictWithPrecision(m, input, 'int8');
    e.each.push((performance.now() - t0) / e.models.length);
    if (typeof e.cl.predictMany === 'function') {
      t0 = performance.now();
      e.cl.predictMany(e.models, input, 'int8');
      e.many.push((performance.now() - t0) / e.models.length);
    }
  }
}
const stat = (v) => {
  if (!v.length) return 'n/a';
  const s = v.slice(1).sort((a, b) => a - b); // the first round warms up
  return `min ${s[0].toFixed(3)} median ${s[s.length >> 1].toFixed(3)}`;
};
console.log(`# ${files.length} int8 models, ${rounds} rounds (the first left out), ms per model`);
for (const e of engines) console.log(`${e.dir}: each ${stat(e.each)} | many ${stat(e.many)}`);
for (const e of engines) for (const m of e.models) m.delete();
