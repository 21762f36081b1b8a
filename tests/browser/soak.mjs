// The page's soak: one page session runs 2,000 predictions across all the site's neuron models, 20 synthesis runs,
// 200 image changes and 50 tab switches, and records the memory every 100 operations: the main worker's wasm heap
// (the `memory` message of web/PROTOCOL.md; a wasm heap never shrinks, so its growth after warm-up is memory not
// given back) and the page's JS heap after a full collection (Chromium started with --expose-gc and
// --enable-precise-memory-info). Fails on any page error, any request to another origin, or growth past the bounds
// below. Long (about 10 minutes here), so not part of scripts/test.sh: run it with the site built with the data:
//   node tests/browser/soak.mjs [--predictions 2000] [--images 200] [--synth 20] [--tabs 50] [--synth-steps 100]
// and it prints the series. CORTEXLENS_SITE_DIR as for the other browser tests.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startServer, launch, openPage, foreignRequests, manifest, galleryIndex, siteDir } from './harness.mjs';

// Bounds on growth from the end of warm-up (every model loaded once, one synthesis run done) to the end; why these
// numbers: bench/README.md, "Soak".
const WASM_GROWTH_BOUND_MB = 16;
const JS_GROWTH_BOUND_MB = 16;

const { values } = parseArgs({
  options: {
    predictions: { type: 'string', default: '2000' },
    images: { type: 'string', default: '200' },
    synth: { type: 'string', default: '20' },
    tabs: { type: 'string', default: '50' },
    'synth-steps': { type: 'string', default: '100' },
  },
});
const want = {
  predictions: Number(values.predictions),
  images: Number(values.images),
  synth: Number(values.synth),
  tabs: Number(values.tabs),
};
const synthSteps = Number(values['synth-steps']);

const neurons = manifest.models.filter((m) => m.kind === 'neuron');
const pool = neurons.length ? neurons : manifest.models;
// The gallery images to switch between: each session's images spread over its numbers, and the page's own patterns.
const keys = [
  ...galleryIndex.sessions.flatMap(({ session, numbers: [first, last] }) =>
    Array.from({ length: 40 }, (_, k) => first + Math.floor((k * (last - first)) / 40))
      .filter((n) => fs.existsSync(path.join(siteDir, 'gallery', session, `image${String(n).padStart(4, '0')}.jpg`)))
      .map((n) => `${session}/${n}`),
  ),
  ...galleryIndex.own.map((o) => o.id),
];

const server = await startServer();
const browser = await launch({ args: ['--js-flags=--expose-gc', '--enable-precise-memory-info'] });
let exitCode = 0;
try {
  const { context, page, requests, errors } = await openPage(browser, server.origin, {
    hash: `neuron=${pool[0].id}&view=neuron`,
  });
  const waitForPrediction = (neuronId, before) =>
    page.waitForFunction(
      ([id, n]) => {
        const s = window.cortexLens.state;
        return (
          s.predictions > n &&
          s.resultsOf?.neuronId === id &&
          s.resultsOf.input === s.input &&
          Object.keys(s.results).length > 0
        );
      },
      [neuronId, before],
      { polling: 20, timeout: 60000 },
    );
  const predictions = () => page.evaluate(() => window.cortexLens.state.predictions);
  await waitForPrediction(pool[0].id, 0);

  const tabs = await page.$$eval('[role=tab]', (bs) => bs.map((b) => b.id.replace(/^tab-/, '')));
  // Views that start long computations of their own on showing (all 219 models, the recordings) are left out of
  // the switching: the soak is about one session's steady state, not the population view's pool.
  const calmTabs = tabs.filter(
    (t) => !['population', 'evidence', 'compression', 'tuning', 'path', 'perturb'].includes(t),
  );

  const samples = [];
  const done = { predictions: 0, images: 0, synth: 0, tabs: 0 };
  let ops = 0;
  const sample = async () => {
    const m = await page.evaluate(async () => {
      window.gc?.();
      const worker = await window.cortexLens.worker.request('memory');
      return { worker, jsHeap: performance.memory?.usedJSHeapSize ?? null };
    });
    const s = {
      op: ops,
      ...done,
      wasmMB: m.worker.wasmBytes / 2 ** 20,
      jsHeapMB: m.jsHeap / 2 ** 20,
      models: m.worker.models,
    };
    samples.push(s);
    console.log(
      `op ${String(ops).padStart(5)}: wasm ${s.wasmMB.toFixed(1)} MB, page JS heap ${s.jsHeapMB.toFixed(1)} MB, ` +
        `${s.models} models in the worker (${done.predictions} predictions, ${done.images} images, ` +
        `${done.synth} synthesis runs, ${done.tabs} tab switches)`,
    );
  };
  const op = async () => {
    ops += 1;
    if (ops % 100 === 0) await sample();
  };
  const showTab = async (id) => {
    await page.click(`#tab-${id}`);
    await page.waitForFunction((v) => window.cortexLens.state.view === v, id);
    done.tabs += 1;
    await op();
  };

  await sample();
  const started = Date.now();
  const total = want.predictions;
  const imageEvery = Math.max(1, Math.floor(total / Math.max(1, want.images)));
  const synthEvery = Math.max(1, Math.floor(total / Math.max(1, want.synth)));
  let next = 1;
  let warmUpOp = null;
  while (done.predictions < total) {
    if (done.images < want.images && done.predictions >= (done.images + 1) * imageEvery - imageEvery / 2) {
      const key = keys[done.images % keys.length];
      const n = await predictions();
      const neuronId = await page.evaluate(() => window.cortexLens.state.neuronId);
      await page.evaluate(
        (k) => window.cortexLens.store.set({ image: { source: 'gallery', key: k }, crop: null }),
        key,
      );
      await waitForPrediction(neuronId, n);
      done.images += 1;
      done.predictions += 1; // the new image's prediction
      await op();
      continue;
    }
    if (done.synth < want.synth && done.predictions >= (done.synth + 1) * synthEvery - synthEvery / 2) {
      await showTab('inside');
      await page.waitForSelector('#viz-synth-start', { timeout: 30000 });
      await page.fill('#viz-steps', String(synthSteps));
      await page.fill('#viz-seed', String(done.synth + 1));
      await page.click('#viz-synth-start');
      await page.waitForFunction(() => !document.getElementById('viz-synth-download').disabled, null, {
        polling: 100,
        timeout: 300000,
      });
      done.synth += 1;
      await op();
      // Tab switches beyond the two per synthesis run (to "inside" and back), spread evenly over the runs: the other
      // calm views, one after another.
      const spare = Math.max(0, want.tabs - 2 * want.synth);
      const extra = Math.floor((done.synth * spare) / want.synth) - Math.floor(((done.synth - 1) * spare) / want.synth);
      const others = calmTabs.filter((t) => t !== 'inside' && t !== 'neuron');
      for (let i = 0; i < extra; ++i) await showTab(others[(done.tabs + i) % others.length]);
      await showTab('neuron');
      continue;
    }
    const entry = pool[next++ % pool.length];
    const n = await predictions();
    await page.evaluate((id) => window.cortexLens.store.set({ neuronId: id }), entry.id);
    await waitForPrediction(entry.id, n);
    done.predictions += 1;
    await op();
    if (warmUpOp === null && done.predictions >= pool.length && done.synth >= 1) warmUpOp = ops;
  }
  if (ops % 100 !== 0) await sample();
  const seconds = (Date.now() - started) / 1000;

  const base = samples.find((s) => s.op >= (warmUpOp ?? ops)) ?? samples.at(-1);
  const last = samples.at(-1);
  const wasmGrowth = last.wasmMB - base.wasmMB;
  const jsGrowth = last.jsHeapMB - base.jsHeapMB;
  console.log(
    `${done.predictions} predictions, ${done.images} image changes, ${done.synth} synthesis runs ` +
      `(${synthSteps} steps), ${done.tabs} tab switches in ${seconds.toFixed(0)} s; after warm-up (op ${base.op}): ` +
      `wasm heap ${wasmGrowth >= 0 ? '+' : ''}${wasmGrowth.toFixed(1)} MB (bound ${WASM_GROWTH_BOUND_MB}), page JS ` +
      `heap ${jsGrowth >= 0 ? '+' : ''}${jsGrowth.toFixed(1)} MB (bound ${JS_GROWTH_BOUND_MB})`,
  );
  assert.deepEqual(errors, [], 'no page errors');
  assert.deepEqual(foreignRequests(requests, server.origin), []);
  assert.ok(wasmGrowth <= WASM_GROWTH_BOUND_MB, `wasm heap grew ${wasmGrowth.toFixed(1)} MB after warm-up`);
  assert.ok(jsGrowth <= JS_GROWTH_BOUND_MB, `page JS heap grew ${jsGrowth.toFixed(1)} MB after warm-up`);
  assert.equal(done.tabs, want.tabs, 'tab switches');
  await context.close();
} catch (e) {
  console.error(e);
  exitCode = 1;
} finally {
  await browser.close();
  server.server.close();
}
process.exit(exitCode);
