// The "Tuning" view's speed in headless Chromium on the built site: a 12 x 12 two-parameter grating sweep
// (orientation 0..165 by 15 x frequency 1..12 cycles/image) for one neuron's int8 model, and the same sweep for all
// 219 neurons through the 100-filter shared model. Prints, per repeat, the worker's compute time (drawing the
// stimuli + the passes) and the page's round trip (store change -> reply in the store, including the 144 stimuli
// the curve draws). Targets (issue 14): <= 0.5 s and <= 3 s.
//   node bench/tuning_bench.mjs [--repeats N]   (CORTEXLENS_SITE_DIR: the built site, default build/site)
import { startServer, launch, openPage, manifest } from '../tests/browser/harness.mjs';

const repeats = Number(process.argv[process.argv.indexOf('--repeats') + 1]) || 3;
const neuron = manifest.models.find((m) => m.kind === 'neuron');
const shared = manifest.models.find((m) => m.kind === 'shared');
if (!neuron || !shared) {
  console.error('the built site has no published models (build it with the data)');
  process.exit(1);
}
const server = await startServer();
const browser = await launch();
const { page } = await openPage(browser, server.origin, {
  hash: `view=tuning&neuron=${neuron.id}&probe=grating&vary=orientation=0:90:45`,
});
await page.waitForFunction(() => window.cortexLens.state.probeResult?.responses, null, { timeout: 60000 });

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
    `all neurons (${shared.id}, ${all.precision}, ${all.outputs} outputs): compute ${(all.compute / 1000).toFixed(3)} s, round trip ${(all.roundTrip / 1000).toFixed(3)} s (shares the worker with the one-neuron sweep of the same change)`,
  );
}
await browser.close();
server.server.close();
