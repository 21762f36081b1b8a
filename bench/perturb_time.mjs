// Time of a 100-step smallest-change run (core/.../perturbation.hpp) in the wasm module under node, with and without
// keeping the shared model's other neurons: `node bench/perturb_time.mjs [MODEL_KEY] [--steps 100] [--epsilon 4]`.
// Reports wall time and this process's CPU time (on a shared machine the CPU time is what the run would take alone).
import fs from 'node:fs';
import os from 'node:os';
import { readKerasArchive } from '../web/lib/keras-archive.js';
import { loadCortexLens, modelPath, hasData, noDataReason } from '../tests/wasm/module.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const key =
  args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--')) ?? 'compact_model_190923_neuron0';
const steps = Number(option('--steps', '100'));
const epsilon = Number(option('--epsilon', '4'));
if (!hasData) {
  console.error(noDataReason);
  process.exit(1);
}

const cl = await loadCortexLens();
const load = async (k) => {
  const archive = await readKerasArchive(new Uint8Array(fs.readFileSync(modelPath(k))));
  return cl.loadKeras(archive.configText, archive.tensors, k);
};
const model = await load(key);
const shared = await load('shared_compact_model_100filters');
// A textured 8-bit image (the time does not depend on the content beyond where the run stops early).
const pixels = new Uint8Array(112 * 112 * 3);
for (let i = 0; i < pixels.length; ++i) pixels[i] = (i * 2654435761) >>> 24;
console.log(
  `# ${key}, epsilon ${epsilon}, ${steps} steps, load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} on ${os.cpus().length} cores`,
);
for (const keep of [false, true]) {
  const options = { epsilon, steps, ...(keep ? { penalty: 1, exclude: 0 } : {}) };
  const run = keep ? new cl.Perturbation(model, pixels, options, shared) : new cl.Perturbation(model, pixels, options);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (!run.done()) run.advance(10);
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0).user / 1e6;
  console.log(
    `wasm ${keep ? 'keeping the others (shared_100)' : 'one neuron'}: ${run.step()} steps, ${wall.toFixed(2)} s wall, ` +
      `${cpu.toFixed(2)} s CPU (${((1000 * cpu) / Math.max(1, run.step())).toFixed(1)} ms per step); response ` +
      `${run.startResponse().toFixed(4)} -> ${run.bestResponse().toFixed(4)}`,
  );
  run.delete();
}
model.delete();
shared.delete();
