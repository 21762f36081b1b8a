// One neuron, all neurons, the model card, the reviewer evidence, your own model, links, CSV and offline use.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startServer,
  launch,
  openPage,
  foreignRequests,
  cliEvaluate,
  screenshot,
  siteDir,
  manifest,
  galleryIndex,
  cliAvailable,
  repoRoot,
} from './harness.mjs';
import { percentileOf } from '../../web/src/reference.js';

// Every test here needs at least one model (the demo model is committed; a build without it has nothing to run).
const noModel = manifest.models.length === 0 && 'the build has no model at all';
let server, browser, page, requests, errors;
before(async () => {
  if (noModel) return;
  server = await startServer();
  browser = await launch();
  ({ page, requests, errors } = await openPage(browser, server.origin, { width: 1280, height: 900 }));
  await page.waitForFunction(() => (window.cortexLens.state.predictions || 0) > 0, null, { timeout: 30000 });
});
after(async () => {
  if (noModel) return;
  assert.deepEqual(foreignRequests(requests, server.origin), [], 'no request may leave the origin');
  assert.deepEqual(
    errors.filter((e) => !/Failed to load resource.*(ERR_INTERNET_DISCONNECTED|404)/.test(e)),
    [],
  );
  await browser?.close();
  server?.server.close();
});

const neurons = manifest.models.filter((m) => m.kind === 'neuron');
const referenceOf = (m) => m.reference?.quantiles ?? null;
const predictions = () => page.evaluate(() => window.cortexLens.state.predictions || 0);
async function waitPrediction(n) {
  await page.waitForFunction((k) => (window.cortexLens.state.predictions || 0) > k, n, { timeout: 30000 });
}

test('neuron picker: search by session, open a neuron, see its percentile and the distribution', {
  skip: noModel || (neurons.length < 2 && 'needs published models'),
}, async () => {
  const target = neurons.find((m) => m.session !== neurons[0].session) || neurons[1];
  await page.fill('#neuron-search', `${target.session} n${target.neuron}`);
  const items = await page.$$eval('#neuron-list li[data-id]', (lis) => lis.map((li) => li.dataset.id));
  assert.ok(items.includes(target.id) && items.every((id) => id.startsWith(target.session)), `search gave ${items}`);
  const n = await predictions();
  await page.click(`#opt-${target.id}`);
  await waitPrediction(n);
  assert.equal(await page.textContent('#neuron-title'), `Neuron ${target.id}`);
  const shown = await page.evaluate(() => ({
    p: Number(document.getElementById('percentile').dataset.percentile),
    text: document.getElementById('percentile').textContent,
    precision: window.cortexLens.state.precision,
    results: window.cortexLens.state.results,
  }));
  if (referenceOf(target)) {
    const value = shown.results[shown.precision].outputs[0];
    const expected = percentileOf(value, referenceOf(target));
    assert.ok(Math.abs(shown.p - expected) < 1e-9);
    assert.match(shown.text, /^\d+(st|nd|rd|th)$/);
    // The distribution is drawn: some pixels of the histogram colour.
    const painted = await page.evaluate(() => {
      const c = document.getElementById('distribution');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let k = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] === 0x9f && d[i + 1] === 0xb8 && d[i + 2] === 0xd0) ++k;
      return k;
    });
    assert.ok(painted > 500, `histogram pixels: ${painted}`);
  } else {
    assert.match(await page.textContent('#percentile-text'), /no reference distribution/);
  }
  // Sorting by parameters puts the largest model first.
  await page.fill('#neuron-search', '');
  await page.selectOption('#neuron-sort', 'params');
  const first = await page.$eval('#neuron-list li[data-id]', (li) => li.dataset.id);
  assert.equal(first, [...neurons].sort((a, b) => b.params - a.params)[0].id);
  // Filtering by fidelity keeps exactly the neurons whose model reaches that r on held-out images.
  if (neurons.some((m) => m.fidelity?.floatVsRecordedR != null)) {
    await page.selectOption('#neuron-min-r', '0.7');
    const kept = await page.$$eval('#neuron-list li[data-id]', (lis) => lis.map((li) => li.dataset.id));
    assert.deepEqual(
      kept.sort(),
      neurons
        .filter((m) => m.fidelity?.floatVsRecordedR >= 0.7)
        .map((m) => m.id)
        .sort(),
    );
    await page.selectOption('#neuron-min-r', '');
  }
  await page.selectOption('#neuron-sort', 'id');
  // Keyboard: arrow down in the list opens the next neuron.
  const m = await predictions();
  await page.focus('#neuron-list');
  await page.keyboard.press('ArrowDown');
  await waitPrediction(m);
  assert.notEqual(await page.evaluate(() => window.cortexLens.state.neuronId), target.id);
  await page.click(`#opt-${target.id}`);
  await screenshot(page, 'desktop-neuron-picked');
});

test('float/int8 switch shows both and moves the marker', { skip: noModel }, async () => {
  const state = await page.evaluate(() => Object.keys(window.cortexLens.state.results));
  if (state.length === 1) {
    const missing = state[0] === 'int8' ? 'float' : 'int8';
    assert.equal(await page.textContent(`#raw-${missing}`), 'not in this build');
    assert.equal(await page.isDisabled(`input[value=${missing}]`), true);
    return;
  }
  const rawInt8 = Number(await page.textContent('#raw-int8'));
  const rawFloat = Number(await page.textContent('#raw-float'));
  assert.ok(Number.isFinite(rawInt8) && Number.isFinite(rawFloat));
  assert.ok(
    Math.abs(rawInt8 - rawFloat) < 0.1 * Math.max(1, Math.abs(rawFloat)),
    `int8 ${rawInt8} vs float ${rawFloat}`,
  );
  await page.check('input[value=float]');
  assert.equal(Number(await page.getAttribute('#distribution', 'data-value')).toFixed(5), rawFloat.toFixed(5));
  assert.equal(await page.getAttribute('#row-float', 'class'), 'current');
  await page.check('input[value=int8]');
  assert.equal(Number(await page.getAttribute('#distribution', 'data-value')).toFixed(5), rawInt8.toFixed(5));
});

test('all neurons: progressive, completes, click opens a neuron, CSV export', {
  skip: !neurons.length && 'needs published models',
}, async () => {
  await page.click('#tab-population');
  await page.waitForFunction(
    (count) => Number(document.getElementById('population-chart').dataset.count) === count,
    neurons.length,
    { polling: 50, timeout: 240000 },
  );
  const ms = await page.evaluate(() => window.cortexLens.timings.population);
  const workers = await page.evaluate(() => window.cortexLens.pool.workers.length);
  // The page runs each neuron's int8 file when the build has one (issue 6 asks for the int8 figure); printed, not asserted.
  const precision = neurons.every((m) => m.files?.int8)
    ? 'int8'
    : neurons.some((m) => m.files?.int8)
      ? 'int8/float'
      : 'float';
  console.log(
    `# population view: ${neurons.length} per-neuron models (${precision}) in ${ms.toFixed(0)} ms on ${workers} workers, first image (fetch + load + predict)`,
  );
  assert.equal(await page.evaluate(() => document.getElementById('population-progress').value), neurons.length);
  // The shared model answered first, for every neuron it has a reference for.
  const shared = manifest.models.find((m) => m.kind === 'shared');
  if (shared?.reference) {
    const t = await page.evaluate(() => window.cortexLens.timings);
    assert.ok(t.populationShared > 0 && t.populationShared < t.population, JSON.stringify(t));
    console.log(`# population view: shared-model estimate after ${t.populationShared.toFixed(0)} ms`);
  }
  await screenshot(page, 'desktop-population');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#population-csv')]);
  const csv = fs
    .readFileSync(await download.path(), 'utf8')
    .trim()
    .split('\n');
  assert.equal(csv[0], 'neuron,session,number,percentile,raw_output,model');
  assert.equal(csv.length, neurons.length + 1);
  // Next images (issue 6's figure): the pool's workers still hold their share of the models. Three of them, each
  // printed, and their median: one run on this shared 2-core machine varies by tens of percent.
  const sharedBefore = await page.evaluate(() => window.cortexLens.timings.populationShared);
  const nextMs = [];
  for (const nth of [2, 3, 4]) {
    const count = await page.evaluate(() => window.cortexLens.state.predictions);
    const before = await page.evaluate(() => window.cortexLens.timings.population);
    await page.click(`#gallery-grid button:nth-child(${nth})`);
    await page.waitForFunction((k) => window.cortexLens.state.predictions > k, count, { polling: 50 });
    await page.waitForFunction(
      (n) =>
        Number(document.getElementById('population-chart').dataset.count) === n &&
        window.cortexLens.state.populationInput === window.cortexLens.state.input &&
        document.getElementById('population-progress').value === n,
      neurons.length,
      { polling: 50, timeout: 240000 },
    );
    await page.waitForFunction((b) => window.cortexLens.timings.population !== b, before, {
      polling: 50,
      timeout: 240000,
    });
    nextMs.push(await page.evaluate(() => window.cortexLens.timings.population));
  }
  const median = [...nextMs].sort((a, b) => a - b)[1];
  console.log(
    `# population view, next image (models already loaded): ${neurons.length} per-neuron models (${precision}) on ${workers} workers: median ${median.toFixed(0)} ms (images 2, 3, 4: ${nextMs.map((v) => v.toFixed(0)).join(', ')} ms)`,
  );
  // Every model is loaded in some worker now, so the shared model's estimate is skipped: it came from the first run.
  const timings = await page.evaluate(() => window.cortexLens.timings);
  if (shared?.reference)
    assert.equal(timings.populationShared, sharedBefore, 'a next image ran the shared-model estimate again');
  if (!referenceOf(neurons[0])) return; // no percentiles to draw in a build without the pack step
  // Click the tallest bar: it opens that neuron.
  await page.locator('#population-chart').scrollIntoViewIfNeeded();
  const box = await page.locator('#population-chart').boundingBox();
  const n = await predictions();
  await page.mouse.click(box.x + 36, box.y + box.height - 30);
  await waitPrediction(n);
  assert.equal(await page.evaluate(() => document.querySelector('[role=tab][aria-selected=true]').id), 'tab-neuron');
  const top = await page.evaluate(
    () => [...window.cortexLens.state.population].sort((a, b) => b[1].percentile - a[1].percentile)[0][0],
  );
  assert.equal(await page.evaluate(() => window.cortexLens.state.neuronId), top);
  // Idle after the runs, each worker loads the tails of the other workers' shares (so the next run can rebalance
  // either way): 16 models per other worker, all held afterwards.
  const preload = await page.evaluate(async () => {
    const pool = window.cortexLens.pool;
    await pool.preloading;
    return pool.workers.map((worker, w) => ({
      wanted: pool.preloadWanted[w].length,
      held: pool.preloadWanted[w].filter(({ key }) => worker.loadedKeys.has(key)).length,
    }));
  });
  for (const { wanted, held } of preload) {
    assert.equal(wanted, 16 * (workers - 1));
    assert.equal(held, wanted);
  }
});

test('model card: architecture, parameters, provenance, citation', { skip: noModel }, async () => {
  await page.click('#tab-card');
  await page.waitForSelector('#card svg.arch');
  const text = await page.textContent('#card');
  const entry = manifest.models.find((m) => m.id === '190923_n0') || neurons[0] || manifest.models[0];
  await page.evaluate((id) => window.cortexLens.store.set({ neuronId: id }), entry.id);
  await page.click('#tab-neuron');
  await page.click('#tab-card');
  await page.waitForFunction(
    (id) =>
      document.getElementById('card').textContent.includes(id) ||
      document.getElementById('card').textContent.includes('demo'),
    entry.id,
  );
  const card = await page.textContent('#card');
  if (entry.id === '190923_n0') assert.match(card, /12,466/);
  if (entry.kind === 'neuron') {
    assert.match(card, /cowleygroup\/V4_compact_models/);
    assert.match(card, /doi:10\.1038\/s41586-026-10150-1/);
    assert.match(card, /60 million/);
  }
  if (entry.kind === 'demo') {
    // No recorded neuron: the card shows int8 against float on the held-out images the manifest names.
    assert.ok(entry.fidelity?.int8VsFloatR >= 0.999, JSON.stringify(entry.fidelity));
    assert.match(card, new RegExp(`r = ${entry.fidelity.int8VsFloatR.toFixed(5)}`));
    assert.match(card, new RegExp(`${entry.fidelity.imageCount} images held out from calibration`));
  }
  assert.ok(text.length > 100);
  assert.ok((await page.$$eval('#card svg.arch rect', (r) => r.length)) >= 6);
  await screenshot(page, 'desktop-model-card');
});

test('evidence: r on held-out images equals cortexlens evaluate', {
  skip: noModel || (!(neurons.length && galleryIndex.sessions.length) && 'needs published data'),
}, async () => {
  const entry = neurons.find((m) => galleryIndex.sessions.some((s) => s.session === m.session));
  await page.click('#tab-neuron');
  await page.click(`#opt-${entry.id}`);
  await page.click('#tab-evidence');
  await page.click('#evidence-run');
  await page.waitForFunction(() => document.getElementById('evidence-r').dataset.r, null, { timeout: 120000 });
  const r = Number(await page.getAttribute('#evidence-r', 'data-r'));
  console.log(
    `# evidence ${entry.id}: r ${r.toFixed(6)} in ${(await page.evaluate(() => window.cortexLens.timings.evidence)).toFixed(0)} ms`,
  );
  if (cliAvailable) {
    const file = path.join(siteDir, 'models', entry.files.float);
    const cli = cliEvaluate(file);
    assert.ok(Math.abs(r - cli.r) < 2e-6, `page r ${r} vs cortexlens evaluate ${cli.r}`);
  }
  if (entry.fidelity?.floatVsRecordedR != null) assert.ok(Math.abs(r - entry.fidelity.floatVsRecordedR) < 1e-4);
  // The per-session summary: the median of the manifest's per-neuron figures.
  const withFid = neurons.filter((m) => m.fidelity?.floatVsRecordedR != null && m.session === entry.session);
  if (withFid.length) {
    const rs = withFid.map((m) => m.fidelity.floatVsRecordedR).sort((a, b) => a - b);
    const med = rs.length % 2 ? rs[(rs.length - 1) / 2] : (rs[rs.length / 2 - 1] + rs[rs.length / 2]) / 2;
    const row = await page.$$eval(
      '#fidelity-table tbody tr',
      (trs, s) =>
        trs.find((tr) => tr.cells[0].textContent === s)?.textContent
          ? [...trs.find((tr) => tr.cells[0].textContent === s).cells].map((c) => c.textContent)
          : null,
      entry.session,
    );
    assert.deepEqual(row.slice(0, 3), [entry.session, String(withFid.length), med.toFixed(3)]);
  }
  // Hover over the densest area shows an image.
  const box = await page.locator('#scatter').boundingBox();
  for (let i = 0; i < 40 && (await page.isHidden('#evidence-hover')); ++i)
    await page.mouse.move(box.x + box.width * (0.2 + 0.015 * i), box.y + box.height * (0.85 - 0.015 * i));
  assert.equal(await page.isVisible('#evidence-hover'), true);
  assert.match(await page.getAttribute('#evidence-img', 'src'), /gallery\/\d{6}\/image(0[6-9]|1[0-2])\d\d\.jpg/);
  await screenshot(page, 'desktop-evidence');
});

// biome-ignore lint/complexity/noExcessiveLinesPerFunction: one scenario, the steps in the order a user takes them (load, run, refuse bad files)
async function ownModelScenario() {
  await page.click('#tab-own');
  // The site ships .clm files only: a .keras file comes from the demo model's sources or the published data.
  const valid =
    [path.join(repoRoot, 'models/demo')].flatMap((d) =>
      fs.existsSync(d)
        ? fs
            .readdirSync(d)
            .filter((f) => f.endsWith('.keras'))
            .map((f) => path.join(d, f))
        : [],
    )[0] ||
    path.join(
      process.env.CORTEXLENS_DATA_DIR || path.join(repoRoot, '../shared/data/v4'),
      'compact_models/compact_model_190923_neuron0.keras',
    );
  if (fs.existsSync(valid)) {
    await page.setInputFiles('#model-input', valid);
    await page.waitForSelector('#own-result table', { timeout: 60000 });
    assert.match(await page.textContent('#own-status'), /valid/);
    const n = await predictions();
    await page.click('#own-result button');
    await waitPrediction(n);
    assert.ok(Number.isFinite(Number(await page.textContent('#raw-float'))));
    await page.click('#tab-own');
  }
  // The authors' own .keras file of a neuron in the build: same numbers as the packed float model, and it is placed
  // on that neuron's reference distribution.
  const published =
    neurons[0] &&
    path.join(
      process.env.CORTEXLENS_DATA_DIR || path.join(repoRoot, '../shared/data/v4'),
      'compact_models',
      `${neurons[0].name}.keras`,
    );
  if (published && fs.existsSync(published) && neurons[0].files.float) {
    await page.click('#tab-neuron');
    let n = await predictions();
    await page.click(`#opt-${neurons[0].id}`);
    await waitPrediction(n);
    const packed = await page.evaluate(() => window.cortexLens.state.results.float.outputs[0]);
    await page.click('#tab-own');
    await page.setInputFiles('#model-input', published);
    await page.waitForFunction(
      () =>
        /valid/.test(document.getElementById('own-status').textContent) &&
        document.querySelectorAll('#own-result table').length,
    );
    n = await predictions();
    await page.click('#own-result button');
    await waitPrediction(n);
    const own = await page.evaluate(() => ({
      v: window.cortexLens.state.results.float.outputs[0],
      p: document.getElementById('percentile').dataset.percentile,
    }));
    assert.ok(Math.abs(own.v - packed) < 1e-5, `dropped .keras ${own.v} vs packed float ${packed}`);
    console.log(
      `# dropped ${path.basename(published)}: ${own.v} (packed float ${packed}), percentile ${Number(own.p).toFixed(1)}`,
    );
    if (neurons[0].reference)
      assert.ok(Math.abs(Number(own.p) - percentileOf(own.v, neurons[0].reference.quantiles)) < 1e-9);
    await page.click('#tab-own');
  }
  const bad = [
    {
      name: 'random.keras',
      buffer: Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24)),
      pattern: /not a \.keras file|neither/,
    },
    { name: 'empty.keras', buffer: Buffer.alloc(0), pattern: /empty|neither|not a \.keras/ },
    { name: 'damaged.clm', buffer: Buffer.concat([Buffer.from('CLENSMDL'), Buffer.alloc(200, 7)]), pattern: /.{20,}/ },
  ];
  for (const b of bad) {
    await page.setInputFiles('#model-input', { name: b.name, mimeType: 'application/octet-stream', buffer: b.buffer });
    await page.waitForFunction(() => !document.getElementById('own-error').hidden);
    const message = await page.textContent('#own-error');
    assert.match(message, new RegExp(b.name.replace('.', '\\.')));
    assert.match(message, b.pattern);
  }
  await screenshot(page, 'desktop-own-model-refused');
  // A zip that is a .keras but with a config that is not a model: the C++ importer's message.
  const { zipSync, strToU8 } = await import('fflate');
  const fake = zipSync({
    'config.json': strToU8('{"class_name": "Sequential", "config": {"layers": []}}'),
    'metadata.json': strToU8('{}'),
    'model.weights.h5': fs.readFileSync(path.join(repoRoot, 'tests/reference/fixtures/int-variable.weights.h5')),
  });
  await page.setInputFiles('#model-input', {
    name: 'bad-config.keras',
    mimeType: 'application/octet-stream',
    buffer: Buffer.from(fake),
  });
  await page.waitForFunction(() => document.getElementById('own-error').textContent.includes('bad-config.keras'));
  // The page still works after refusals.
  await page.click('#tab-neuron');
  const n = await predictions();
  await page.click('#gallery-grid button');
  await waitPrediction(n);
}

test(
  "your own model: a valid .keras is described and runs; invalid files are refused with the importer's message",
  { skip: noModel },
  ownModelScenario,
);

test('shareable link restores neuron, image and crop', { skip: noModel }, async () => {
  // A neuron from the middle of the picker's list, out of its first screenful.
  const target = neurons[Math.floor(neurons.length / 2)] || manifest.models[0];
  const opened = await openPage(browser, server.origin, {
    hash: `neuron=${target.id}&image=own/colour-blob&crop=20,30,150&view=neuron`,
  });
  await opened.page.waitForFunction(() => (window.cortexLens.state.predictions || 0) > 0);
  const s = await opened.page.evaluate(() => ({
    n: window.cortexLens.state.neuronId,
    image: window.cortexLens.state.image.key,
    crop: window.cortexLens.state.crop,
  }));
  assert.deepEqual(s, { n: target.id, image: 'own/colour-blob', crop: { x: 20, y: 30, side: 150 } });
  // The picker has scrolled its list to the linked neuron: its row is inside the list's box.
  await opened.page.waitForFunction(
    () => {
      const list = document.getElementById('neuron-list');
      const row = list.querySelector('li[aria-selected="true"]');
      if (!row) return false;
      const [box, r] = [list.getBoundingClientRect(), row.getBoundingClientRect()];
      return r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
    },
    null,
    { polling: 100, timeout: 10000 },
  );
  // The copy button puts the same view in the clipboard.
  await opened.page.click('#copy-link');
  await opened.page.waitForFunction(() => document.getElementById('copy-status').textContent.length > 0);
  const copied = await opened.page.evaluate(() => navigator.clipboard.readText());
  assert.match(copied, new RegExp(`#neuron=${target.id}&image=own%2Fcolour-blob&crop=20%2C30%2C150`));
  requests.push(...opened.requests);
  await opened.context.close();
});

test('offline after the first visit (service worker)', { skip: noModel }, async () => {
  const opened = await openPage(browser, server.origin, { hash: 'image=own/checkerboard' });
  const p = opened.page;
  await p.waitForFunction(() => (window.cortexLens.state.predictions || 0) > 0);
  await p.evaluate(() => navigator.serviceWorker.ready);
  await p.waitForTimeout(1500); // the page hands its first-visit files to the service worker
  await opened.context.setOffline(true);
  await p.reload();
  await p.waitForFunction(
    () => document.documentElement.dataset.ready === 'true' && (window.cortexLens.state.predictions || 0) > 0,
    null,
    { timeout: 30000 },
  );
  const shownPrecision = await p.evaluate(() => Object.keys(window.cortexLens.state.results)[0]);
  assert.ok(Number.isFinite(Number(await p.textContent(`#raw-${shownPrecision}`))));
  requests.push(...opened.requests);
  await opened.context.close();
});
