// The "Tuning" view's speed in headless Chromium on the built site: a 12 x 12 two-parameter grating sweep
// (orientation 0..165 by 15 x frequency 1..12 cycles/image) for one neuron's int8 model, and the same sweep for all
// 219 neurons through the 100-filter shared model. Prints, per repeat, the compute time (the slowest of the pool's
// workers, each drawing and running its share of the stimuli) and the page's round trip (store change -> reply in
// the store, including the 144 stimuli the curve draws). Targets (issue 14): <= 0.5 s and <= 3 s.
//   node bench/tuning_bench.mjs [--repeats N] [--settle S]   (CORTEXLENS_SITE_DIR: the built site, default build/site;
//   CORTEXLENS_WASM_DIR: the module for the node part, default build/wasm/wasm)
import fs from 'node:fs';
import path from 'node:path';
import { startServer, launch, openPage, manifest, siteDir } from '../tests/browser/harness.mjs';
import { loadCortexLens } from '../tests/wasm/module.mjs';

const repeats = Number(process.argv[process.argv.indexOf('--repeats') + 1]) || 3;
const neuron = manifest.models.find((m) => m.kind === 'neuron');
const shared = manifest.models.find((m) => m.kind === 'shared');
if (!neuron || !shared) {
  console.error('the built site has no published models (build it with the data)');
  process.exit(1);
}
// The same sweeps in the same wasm module under node first, with this process's CPU time beside the wall time: on
// a machine shared with other jobs the wall time says more about the others than about the sweep.
const cl = await loadCortexLens();
const axes = [
  { name: 'orientation', values: Array.from({ length: 12 }, (_, i) => 15 * i) },
  { name: 'frequency', values: Array.from({ length: 12 }, (_, i) => i + 1) },
];
for (const entry of [neuron, shared]) {
  const model = cl.loadModelFile(new Uint8Array(fs.readFileSync(path.join(siteDir, 'models', entry.files.int8))));
  for (let i = 0; i < repeats; ++i) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const out = cl.probeSweep(model, 'int8', 'grating', { phase: i }, axes, 0, -1, entry === neuron);
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    console.log(
      `node, ${entry.id} (int8, ${out.outputs} outputs${entry === neuron ? ', stimuli kept' : ''}): wall ${(wall / 1000).toFixed(3)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(3)} s`,
    );
  }
  model.delete();
}

const server = await startServer();
const browser = await launch();
const { page } = await openPage(browser, server.origin, {
  hash: `view=tuning&neuron=${neuron.id}&probe=grating&vary=orientation=0:90:45`,
});
await page.waitForFunction(() => window.cortexLens.state.probeResult?.responses, null, { timeout: 60000 });
// A page that has just loaded is still busy for ~10-20 s on 2 cores (the service worker precaches the app shell and
// the int8 models, the pool's workers start): sweeps measured then share the cores with that. --settle S waits S
// seconds first (default 20; 0 measures the view right after load).
const settle = process.argv.includes('--settle') ? Number(process.argv[process.argv.indexOf('--settle') + 1]) : 20;
await page.waitForTimeout(settle * 1000);
console.log(`(measured ${settle} s after the page loaded)`);

// Sets the sweep (phase = a marker that makes each repeat a new request), waits for `key` to answer it;
// -> {roundTrip, compute (the worker's), points, outputs, precision}.
const run = (key, patch, phase) =>
  page.evaluate(
    async ([k, p, marker]) => {
      const { store } = window.cortexLens;
      const t0 = performance.now();
      store.set(p);
      for (;;) {
        const r = store.get(k);
        if (r?.request?.fixed.phase === marker && r.error) throw new Error(r.error);
        if (r?.request?.fixed.phase === marker && r.responses)
          return {
            roundTrip: performance.now() - t0,
            compute: r.ms,
            points: r.points,
            outputs: r.outputs,
            precision: r.precision,
          };
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    },
    [key, patch, phase],
  );

const sweep = (phase) => ({
  probeFamily: 'grating',
  probeVary: 'orientation=0:165:15',
  probeVary2: 'frequency=1:12:1',
  probeSet: `phase=${phase}`,
});
console.log(`12x12 grating sweep (144 stimuli), ${neuron.id} and ${shared.id}; ${repeats} repeats`);
for (let i = 0; i < repeats; ++i) {
  const one = await run('probeResult', sweep(i), i);
  console.log(
    `one neuron (${one.precision}, ${one.outputs} output): compute ${(one.compute / 1000).toFixed(3)} s, round trip ${(one.roundTrip / 1000).toFixed(3)} s`,
  );
}
await page.evaluate(() => window.cortexLens.store.set({ probeAll: true }));
for (let i = 0; i < repeats; ++i) {
  const all = await run('probePopulation', sweep(10 + i), 10 + i);
  console.log(
    `all neurons (${shared.id}, ${all.precision}, ${all.outputs} outputs): compute ${(all.compute / 1000).toFixed(3)} s, round trip ${(all.roundTrip / 1000).toFixed(3)} s (after the one-neuron sweep of the same change, in the same workers; compute = the slowest worker)`,
  );
}
await browser.close();
server.server.close();
