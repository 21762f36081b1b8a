// Neuron portraits (`cortexlens portraits`, built by scripts/build_site.sh) and the views that show them: the atlas
// grid (every neuron, search, sort, a tile opens the neuron), the portrait in "One neuron", the image's strongest and
// weakest neurons as portraits in "All neurons". Checks the built portraits against the CLI: each synthesized image's
// recorded response is the one `cortexlens predict` measures on its saved PNG, the preferred image beats the best
// natural image (how many of the neurons, and the margins, are printed), and the natural top/bottom lists equal
// `cortexlens screen` over the gallery. Prints the atlas grid's first paint. Screenshots: build/site-test-screenshots/
// atlas-*.png. Build the site first (scripts/build_site.sh); without the published data only the demo has a portrait.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  startServer,
  launch,
  openPage,
  foreignRequests,
  screenshot,
  siteDir,
  manifest,
  galleryIndex,
  cliAvailable,
  cliPath,
} from './harness.mjs';

const neurons = manifest.models.filter((m) => m.kind === 'neuron');
const demo = manifest.models.find((m) => m.kind === 'demo');
// What the atlas shows: the recorded neurons, or the demo in a build without them.
const shown = neurons.length ? neurons : [demo];
const withPortrait = manifest.models.filter((m) => m.portrait);
const skipNoPortraits = !withPortrait.length && 'the build has no portraits (scripts/build_site.sh makes them)';
const skipNoNeurons = !neurons.length && 'needs the published data (per-neuron models)';
const skipNoCli = !cliAvailable && `no native CLI at ${cliPath}`;
let server, browser;

before(async () => {
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.server.close();
});

const fid = (e) => e.fidelity?.floatVsRecordedR ?? Number.NEGATIVE_INFINITY;
const tileIds = (page, selector = '#atlas-grid') =>
  page.$$eval(`${selector} .portrait-tile`, (list) => list.map((b) => b.dataset.id));

test('the build: every per-neuron model (and the demo) has a portrait, with both images and natural extremes', (t) => {
  if (skipNoPortraits) return t.skip(skipNoPortraits);
  for (const e of [...neurons, demo]) {
    const p = e.portrait;
    assert.ok(p, `${e.id} has a portrait`);
    assert.equal(p.max, `portraits/${e.id}.max.png`);
    assert.equal(p.min, `portraits/${e.id}.min.png`);
    assert.ok(Number.isFinite(p.maxResponse) && Number.isFinite(p.minResponse), `${e.id}: responses`);
    assert.ok(p.maxResponse > p.minResponse, `${e.id}: preferred above anti-preferred`);
    assert.ok(p.top.length > 0 && p.top.length === p.bottom.length, `${e.id}: natural extremes`);
    assert.ok(p.images >= p.top.length, `${e.id}: images screened`);
  }
  // The natural images ranked: the set scripts/build_site.sh names (the reference images and the drawn patterns by
  // default, every gallery image with CORTEXLENS_PORTRAIT_IMAGES=gallery).
  assert.equal(demo.portrait.images, rankedImages().count, 'the portraits rank the images the build names');
});

// The images the build ranked, as `cortexlens screen` arguments, and how many they are: the whole gallery, or the
// reference images (1-600, every 6th, of each session) and the drawn patterns.
function rankedImages() {
  const own = galleryIndex.own.map((o) => path.join(siteDir, 'gallery', 'own', path.basename(o.file || o.url || o)));
  const whole = galleryIndex.own.length + galleryIndex.sessions.reduce((n, s) => n + s.count, 0);
  if (!galleryIndex.sessions.length || demo.portrait.images === whole)
    return { args: [path.join(siteDir, 'gallery')], count: whole };
  const reference = galleryIndex.sessions.flatMap((s) =>
    Array.from({ length: 100 }, (_, i) =>
      path.join(siteDir, 'gallery', s.id || s.session, `image${String(1 + 6 * i).padStart(4, '0')}.jpg`),
    ),
  );
  return { args: [...own, ...reference], count: own.length + reference.length };
}

test('preferred images beat the best natural image; responses are those of the saved PNGs (`cortexlens predict`)', (t) => {
  if (skipNoPortraits) return t.skip(skipNoPortraits);
  if (skipNoCli) return t.skip(skipNoCli);
  const all = [...neurons, demo];
  let above = 0,
    below = 0;
  const margins = [],
    lows = [];
  for (const e of all) {
    const p = e.portrait;
    const model = path.join(siteDir, 'models', e.files.float);
    const out = execFileSync(cliPath, ['predict', model, path.join(siteDir, p.max), path.join(siteDir, p.min)], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n');
    const [high, low] = out.slice(1).map((line) => Number(line.split(',')[1]));
    assert.ok(Math.abs(high - p.maxResponse) <= 1e-5 * Math.max(1, Math.abs(high)), `${e.id}: ${high} vs recorded`);
    assert.ok(Math.abs(low - p.minResponse) <= 1e-5 * Math.max(1, Math.abs(low)), `${e.id}: ${low} vs recorded`);
    margins.push(high - p.top[0].response);
    lows.push(p.bottom[0].response - low);
    above += high > p.top[0].response;
    below += low < p.bottom[0].response;
  }
  const range = (v) => `min ${Math.min(...v).toFixed(3)}, max ${Math.max(...v).toFixed(3)}`;
  const steps = `${demo.portrait.steps} steps, best of ${demo.portrait.seeds} seeds`;
  console.log(
    `portraits (${steps}): preferred image above the best of ${demo.portrait.images} natural images for ${above} of ${all.length} models (margin ${range(margins)}); anti-preferred below the worst for ${below} of ${all.length} (margin ${range(lows)})`,
  );
  assert.equal(above, all.length, 'every preferred image beats every natural image');
});

test('the natural top/bottom lists equal `cortexlens screen` over the same images', (t) => {
  if (skipNoPortraits) return t.skip(skipNoPortraits);
  if (skipNoCli) return t.skip(skipNoCli);
  // Three neurons spread over the sessions (screening is ~1 ms per image and model), and the demo.
  const picked = [neurons[0], neurons[Math.floor(neurons.length / 2)], neurons.at(-1), demo].filter(Boolean);
  const k = demo.portrait.top.length;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atlas-screen-'));
  const out = path.join(dir, 'screen.json');
  execFileSync(
    cliPath,
    [
      'screen',
      ...rankedImages().args,
      '--models',
      picked.map((e) => path.join(siteDir, 'models', e.files.float)).join(','),
      '--precision',
      'float',
      '--top',
      String(k),
      '--out',
      out,
    ],
    { stdio: 'ignore' },
  );
  const report = JSON.parse(fs.readFileSync(out, 'utf8'));
  fs.rmSync(dir, { recursive: true, force: true });
  // The page's key of a gallery file (cortexlens portraits does the same).
  const key = (name) => {
    const session = /(\d{6})\/image(\d{4})\.jpg$/.exec(name);
    if (session) return `${session[1]}/${session[2]}`;
    return `own/${/own\/([\w-]+)\.png$/.exec(name)[1]}`;
  };
  for (const [i, e] of picked.entries()) {
    const screened = report.models[i].outputs[0];
    for (const list of ['top', 'bottom']) {
      assert.deepEqual(
        e.portrait[list].map((r) => r.image),
        screened[list].map((r) => key(r.image)),
        `${e.id}: ${list}`,
      );
      for (const [j, r] of screened[list].entries())
        assert.ok(Math.abs(r.response - e.portrait[list][j].response) <= 1e-6 * Math.max(1, Math.abs(r.response)));
    }
  }
});

test('atlas: a tile per neuron, first paint printed; search, session and sort; a tile opens the neuron', async () => {
  const { page, context, errors, requests } = await openPage(browser, server.origin, {
    width: 1280,
    height: 900,
    hash: 'view=evidence',
  });
  // First paint of the grid: from the tab's click to the tiles laid out, the images in view decoded and the next
  // frame drawn (the page is opened on another view, so the atlas builds its grid on the click).
  await page.click('#tab-neuron');
  const firstPaint = await page.evaluate(async () => {
    const start = performance.now();
    document.getElementById('tab-atlas').click();
    const grid = document.getElementById('atlas-grid');
    while (!grid.querySelector('.portrait-tile')) await new Promise((r) => setTimeout(r, 5));
    const inView = [...grid.querySelectorAll('img')].filter((img) => img.getBoundingClientRect().top < innerHeight);
    await Promise.all(inView.map((img) => img.decode().catch(() => null)));
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    return { ms: performance.now() - start, images: inView.length };
  });
  console.log(
    `atlas: grid of ${shown.length} tiles painted ${firstPaint.ms.toFixed(0)} ms after the tab's click (${firstPaint.images} images in view decoded; goal <= 1000 ms)`,
  );
  assert.deepEqual(
    await tileIds(page),
    shown.map((e) => e.id),
    'every neuron, in session order',
  );
  const lazy = await page.$$eval('#atlas-grid img', (list) => list.filter((i) => i.loading === 'lazy').length);
  assert.equal(lazy, withPortrait.filter((e) => shown.includes(e)).length, 'tile images load lazily');
  // Each tile is a button named by its neuron.
  const name = await page.$eval('#atlas-grid .portrait-tile', (b) => b.textContent);
  assert.match(name, neurons.length ? /\d{6} · n\d+/ : /demo|dot/i);
  await screenshot(page, 'atlas-desktop');

  if (neurons.length) {
    const session = neurons.at(-1).session;
    await page.fill('#atlas-search', session);
    const inSession = neurons.filter((e) => e.session === session).map((e) => e.id);
    assert.deepEqual(await tileIds(page), inSession, 'search by session');
    await page.fill('#atlas-search', `${session} n1`);
    assert.ok(
      (await tileIds(page)).every((id) => id.startsWith(`${session}_n1`)),
      'search by session and number',
    );
    await page.fill('#atlas-search', '');
    await page.selectOption('#atlas-session', neurons[0].session);
    assert.deepEqual(
      await tileIds(page),
      neurons.filter((e) => e.session === neurons[0].session).map((e) => e.id),
      'session filter',
    );
    await page.selectOption('#atlas-session', '');
    await page.selectOption('#atlas-sort', 'fidelity');
    const byR = [...neurons].sort((a, b) => fid(b) - fid(a) || 0);
    assert.deepEqual(
      await tileIds(page),
      byR.map((e) => e.id),
      'sorted by held-out r',
    );
    await page.selectOption('#atlas-sort', 'params');
    const first = (await tileIds(page))[0];
    assert.equal(manifest.models.find((m) => m.id === first).params, Math.max(...neurons.map((e) => e.params)));
    await page.selectOption('#atlas-sort', 'strength');
    assert.equal((await tileIds(page)).length, neurons.length, 'sorted by drive: every neuron still there');
    // The link is written 150 ms after the last change (web/src/link.js), so it is waited for.
    await page.waitForFunction(() => /asort=strength/.test(location.hash), null, { timeout: 5000 }).catch(() => {});
    assert.match(await page.evaluate(() => location.hash), /asort=strength/, 'the order is in the link');
    await page.selectOption('#atlas-sort', 'id');
  }

  // Keyboard: Tab reaches a tile, Enter opens it in "One neuron".
  const target = shown[Math.min(2, shown.length - 1)];
  await page.focus(`#atlas-${CSS_escape(target.id)}`);
  await page.keyboard.press('Enter');
  await page.waitForFunction((id) => window.cortexLens.state.neuronId === id, target.id);
  assert.equal(await page.evaluate(() => window.cortexLens.state.view), 'neuron');
  assert.ok(await page.isVisible('#neuron-portrait'), 'the portrait is in the neuron view');
  await context.close();
  assert.deepEqual(errors, [], 'no console errors or CSP violations');
  assert.deepEqual(foreignRequests(requests, server.origin), []);
});

// Ids are letters, digits and '_' here; CSS.escape is not in node.
const CSS_escape = (id) => id.replace(/[^\w-]/g, (c) => `\\${c}`);

test('one neuron: the portrait (preferred and anti-preferred images, responses) beside the prediction', async (t) => {
  if (skipNoPortraits) return t.skip(skipNoPortraits);
  const entry = neurons[0] || demo;
  for (const size of [
    { name: 'desktop', width: 1280, height: 900 },
    { name: 'phone', width: 390, height: 844, mobile: true },
  ]) {
    const { page, context, errors } = await openPage(browser, server.origin, { ...size, hash: `neuron=${entry.id}` });
    await page.waitForSelector('#neuron-portrait img', { state: 'visible' });
    const src = await page.$$eval('#neuron-portrait .portrait-figure img', (list) =>
      list.map((i) => new URL(i.src).pathname),
    );
    assert.deepEqual(src, [`/${entry.portrait.max}`, `/${entry.portrait.min}`]);
    assert.equal(await page.textContent('#neuron-portrait-max-response'), entry.portrait.maxResponse.toFixed(3));
    assert.equal(await page.textContent('#neuron-portrait-min-response'), entry.portrait.minResponse.toFixed(3));
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#neuron-portrait .portrait-figure img')].every(
        (i) => i.complete && i.naturalWidth === 112,
      ),
    );
    await screenshot(page, `atlas-neuron-${size.name}`);
    // A strongest natural image shows that image to the neuron.
    if (await page.$('#neuron-portrait-top-0')) {
      await page.click('#neuron-portrait-top-0');
      await page.waitForFunction((k) => window.cortexLens.state.image?.key === k, entry.portrait.top[0].image);
    }
    await context.close();
    assert.deepEqual(errors, [], 'no console errors or CSP violations');
  }
});

test('all neurons: the neurons this image drives most and least, as portraits that open the neuron', async (t) => {
  if (skipNoNeurons) return t.skip(skipNoNeurons);
  const { page, context, errors } = await openPage(browser, server.origin, {
    width: 1280,
    height: 900,
    hash: 'view=population',
  });
  await page.waitForFunction(
    (n) => Number(document.getElementById('population-chart').dataset.count) === n,
    neurons.length,
    { timeout: 300000, polling: 200 },
  );
  await page.waitForSelector('#population-most .portrait-tile');
  const population = await page.evaluate(() =>
    [...window.cortexLens.store.get('population')].map(([id, r]) => ({ id, percentile: r.percentile })),
  );
  population.sort((a, b) => b.percentile - a.percentile);
  const most = await tileIds(page, '#population-most');
  const least = await tileIds(page, '#population-least');
  assert.equal(most.length, 6);
  assert.deepEqual(
    most.map((id) => population.find((p) => p.id === id).percentile),
    population.slice(0, 6).map((p) => p.percentile),
    'the six highest percentiles',
  );
  assert.deepEqual(
    least.map((id) => population.find((p) => p.id === id).percentile),
    population
      .slice(-6)
      .reverse()
      .map((p) => p.percentile),
    'the six lowest percentiles',
  );
  await screenshot(page, 'atlas-population-desktop');
  await page.click(`#population-most .portrait-tile[data-id="${most[0]}"]`);
  await page.waitForFunction((id) => window.cortexLens.state.neuronId === id, most[0]);
  assert.equal(await page.evaluate(() => window.cortexLens.state.view), 'neuron');
  await context.close();
  assert.deepEqual(errors, [], 'no console errors or CSP violations');
});
