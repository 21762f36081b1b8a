// Time of preferred-image synthesis in the wasm module under node, and natively through the CLI, on the same model
// and seed: `node bench/synth_time.mjs [MODEL_KEY] [--steps 100,1000] [--recipe authors|fourier]`.
// Reports wall time and this process's CPU time (the machine may be shared), and checks that both give the same
// response. CORTEXLENS_WASM_DIR and CORTEXLENS_CLI choose the builds (default build/wasm, build/release).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readKerasArchive } from '../web/lib/keras-archive.js';
import { loadCortexLens, modelPath, repoRoot, hasData, noDataReason } from '../tests/wasm/module.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const key =
  args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--')) ?? 'compact_model_190923_neuron0';
const stepsList = option('--steps', '100,1000').split(',').map(Number);
const recipe = option('--recipe', 'authors');
const cli = process.env.CORTEXLENS_CLI ?? path.join(repoRoot, 'build/release/native/cortexlens');
if (!hasData) {
  console.error(noDataReason);
  process.exit(1);
}

const cl = await loadCortexLens();
const archive = await readKerasArchive(new Uint8Array(fs.readFileSync(modelPath(key))));
const model = cl.loadKeras(archive.configText, archive.tensors, key);
console.log(
  `# ${key}, ${recipe} recipe, seed 1, load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} on ${os.cpus().length} cores`,
);
for (const steps of stepsList) {
  const synth = new cl.Synthesis(model, { recipe, steps, seed: 1 });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  synth.advance(steps);
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0).user / 1e6;
  const response = synth.bestResponse();
  synth.delete();
  console.log(
    `wasm   ${steps} steps: ${wall.toFixed(2)} s wall, ${cpu.toFixed(2)} s CPU (${((1000 * cpu) / steps).toFixed(1)} ms per step); response ${response.toPrecision(7)}`,
  );
  if (fs.existsSync(cli)) {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cl-bench-')), 'synth.png');
    const t1 = performance.now();
    // /usr/bin/time reports the child's own CPU time, which a loaded machine does not inflate.
    const run = spawnSync(
      '/usr/bin/time',
      [
        '-f',
        'cpu %U',
        cli,
        'synth',
        modelPath(key),
        '--steps',
        String(steps),
        '--seed',
        '1',
        '--recipe',
        recipe,
        '-o',
        out,
      ],
      { encoding: 'utf8' },
    );
    const nativeWall = (performance.now() - t1) / 1000;
    const nativeResponse = Number(/^response: (\S+)/m.exec(run.stdout)[1]);
    const nativeCpu = Number(/cpu (\S+)/.exec(run.stderr)?.[1]);
    console.log(
      `native ${steps} steps: ${nativeWall.toFixed(2)} s wall, ${nativeCpu.toFixed(2)} s CPU (${((1000 * nativeCpu) / steps).toFixed(1)} ms per step, incl. model load); response ${nativeResponse.toPrecision(7)}` +
        (Math.abs(nativeResponse - response) <= 1e-6 * Math.max(1, Math.abs(response))
          ? ' (same as wasm)'
          : ' (DIFFERS from wasm)'),
    );
  }
}
model.delete();
