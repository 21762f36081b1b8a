// The feature-visualization panels ("Inside" tab) in headless Chromium: each view is driven and what it draws is
// checked (canvas pixels change, numbers match the worker's and the native CLI's). Screenshots go to
// build/site-test-screenshots/viz-*.png. Build the site first (scripts/build_site.sh).
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
  cliAvailable,
  cliPath,
  cliIsa,
} from './harness.mjs';

const neuron = manifest.models.find((m) => m.kind === 'neuron');
const skip = !neuron && 'no published neuron model in the build';
let server, browser, page, errors, requests;

before(async () => {
  if (skip) return;
  server = await startServer();
  browser = await launch();
  ({ page, errors, requests } = await openPage(browser, server.origin, { width: 1280, height: 1000 }));
  await page.waitForFunction(() => Object.keys(window.cortexLens.state.results).length > 0);
  await page.click('#tab-inside');
  await page.waitForSelector('#viz-synth-start', { timeout: 30000 });
});
after(async () => {
  if (skip) return;
  assert.deepEqual(errors, [], 'no console errors or CSP violations');
  assert.deepEqual(foreignRequests(requests, server.origin), []);
  await browser?.close();
  server?.server.close();
});

// Pixels of a canvas, and how many differ from a uniform grey/blank canvas.
const canvasStats = (selector) =>
  page.evaluate((sel) => {
    const c = document.querySelector(sel);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let sum = 0,
      distinct = new Set();
    for (let i = 0; i < d.length; i += 4) {
      sum += d[i] + d[i + 1] + d[i + 2];
      if (distinct.size < 1000) distinct.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    }
    return { width: c.width, height: c.height, sum, distinct: distinct.size };
  }, selector);

const open = (summaryText) =>
  page.evaluate((t) => {
    const d = [...document.querySelectorAll('details.viz-section')].find((x) =>
      x.querySelector('summary').textContent.includes(t),
    );
    d.open = true;
  }, summaryText);

async function setSynthControls({ steps, seed, recipe = 'authors', direction = 'max' }) {
  await page.fill('#viz-steps', String(steps));
  await page.fill('#viz-seed', String(seed));
  await page.selectOption('#viz-recipe', recipe);
  await page.selectOption('#viz-direction', direction);
}

const modelFile = () => path.join(siteDir, 'models', neuron.files.float);

test('synthesis shows live images and progress, matches the CLI for the same seed, and downloads the PNG', {
  skip,
}, async () => {
  await setSynthControls({ steps: 100, seed: 7 });
  await page.click('#viz-synth-start');
  await page.waitForFunction(() => Number(document.getElementById('viz-synth-progress').value) > 0);
  const liveEarly = await canvasStats('#viz-synth-live');
  await page.waitForFunction(() => !document.getElementById('viz-synth-download').disabled, null, { timeout: 300000 });
  const liveLate = await canvasStats('#viz-synth-live');
  const bestStats = await canvasStats('#viz-synth-best');
  assert.equal(await page.$eval('#viz-synth-progress', (p) => Number(p.value)), 100);
  assert.ok(liveEarly.distinct > 100 && bestStats.distinct > 100, 'the images are drawn');
  assert.notEqual(liveEarly.sum, liveLate.sum, 'the live image changes while it runs');
  const response = Number(await page.$eval('#viz-synth-text', (e) => e.dataset.response));
  const msPerStep = Number(await page.$eval('#viz-synth-text', (e) => e.dataset.msPerStep));
  console.log(
    `# browser worker, authors' recipe: 100 steps, ${msPerStep.toFixed(1)} ms per step (${(msPerStep / 10).toFixed(2)} s per 100 steps)`,
  );
  await screenshot(page, 'viz-synthesis');

  const download = page.waitForEvent('download');
  await page.click('#viz-synth-download');
  const file = await (await download).path();
  const pageBytes = fs.readFileSync(file);
  assert.equal(pageBytes.subarray(1, 4).toString(), 'PNG');
  if (cliAvailable) {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cl-viz-')), 'cli.png');
    const printed = execFileSync(
      cliPath,
      ['synth', ...cliIsa, modelFile(), '--steps', '100', '--seed', '7', '-o', out],
      {
        encoding: 'utf8',
      },
    );
    const cliResponse = Number(/^response: (\S+)/m.exec(printed)[1]);
    assert.ok(
      Math.abs(response - cliResponse) <= 1e-6 * Math.max(1, Math.abs(cliResponse)),
      `page ${response} vs CLI ${cliResponse}`,
    );
    // Decode both PNGs in the page and compare every pixel.
    const differing = await page.evaluate(
      async ([a, b]) => {
        const decode = async (b64) => {
          const bitmap = await createImageBitmap(
            new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], { type: 'image/png' }),
          );
          const c = new OffscreenCanvas(bitmap.width, bitmap.height);
          const ctx = c.getContext('2d');
          ctx.drawImage(bitmap, 0, 0);
          return ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
        };
        const [x, y] = [await decode(a), await decode(b)];
        if (x.length !== y.length) return -1;
        let n = 0;
        for (let i = 0; i < x.length; ++i) n += x[i] !== y[i];
        return n;
      },
      [pageBytes.toString('base64'), fs.readFileSync(out).toString('base64')],
    );
    assert.equal(differing, 0, "the downloaded PNG has the CLI's pixels");
  }
});

test('synthesis can be cancelled', { skip }, async () => {
  await setSynthControls({ steps: 5000, seed: 2 });
  await page.click('#viz-synth-start');
  await page.waitForFunction(() => Number(document.getElementById('viz-synth-progress').value) >= 20);
  await page.click('#viz-synth-cancel');
  await page.waitForFunction(() => document.getElementById('viz-synth-text').textContent.includes('cancelled'));
  const reached = await page.$eval('#viz-synth-progress', (p) => Number(p.value));
  assert.ok(reached < 5000, `stopped at step ${reached}`);
  await page.waitForFunction(() => !document.getElementById('viz-synth-start').disabled);
});

test("1000 steps of the authors' recipe in the browser worker (timing)", { skip }, async () => {
  await setSynthControls({ steps: 1000, seed: 1 });
  const t0 = Date.now();
  await page.click('#viz-synth-start');
  await page.waitForFunction(
    () =>
      !document.getElementById('viz-synth-download').disabled &&
      Number(document.getElementById('viz-synth-progress').value) === 1000,
    null,
    { timeout: 900000 },
  );
  const msPerStep = Number(await page.$eval('#viz-synth-text', (e) => e.dataset.msPerStep));
  console.log(
    `# browser worker, authors' recipe: 1000 steps in ${((Date.now() - t0) / 1000).toFixed(1)} s wall (${msPerStep.toFixed(1)} ms per step in the worker)`,
  );
  assert.ok(msPerStep > 0);
});

test('block images add blocks and raise the response', { skip }, async () => {
  await page.selectOption('#viz-direction', 'max');
  await open('coloured blocks');
  await page.click('#viz-blocks-start');
  await page.waitForFunction(() => Number(document.getElementById('viz-blocks-progress').value) >= 2, null, {
    timeout: 300000,
  });
  await page.click('#viz-blocks-cancel');
  await page.waitForFunction(() => !document.getElementById('viz-blocks-start').disabled);
  const text = await page.$eval('#viz-blocks-text', (e) => e.textContent);
  const [, grey, now] = /response (\S+) \(grey\) → (\S+)/.exec(text).map(Number);
  assert.ok(now > grey, text);
  const stats = await canvasStats('#viz-blocks-canvas');
  assert.ok(stats.distinct >= 2, 'blocks are drawn on the grey');
  await screenshot(page, 'viz-blocks');
});

test('natural top and bottom images of the reference set', { skip }, async () => {
  await open('Natural preferred');
  const shown = await page.$eval('#viz-natural', (e) => ({
    images: e.querySelectorAll('img').length,
    text: e.textContent,
  }));
  if (neuron.reference) assert.ok(shown.images >= 2, 'top and bottom images are shown');
  else assert.match(shown.text, /no reference natural images/);
});

test('saliency, occlusion and readout overlays are drawn, with an opacity slider', { skip }, async () => {
  await open('Where it looks');
  for (const kind of ['saliency', 'occlusion', 'readout']) {
    await page.selectOption('#viz-overlay-kind', kind);
    await page.waitForFunction(
      (k) =>
        document.getElementById('viz-overlay-text').dataset.kind === k &&
        !document.getElementById('viz-overlay-text').textContent.includes('computing'),
      kind,
      { timeout: 120000 },
    );
    await page.$eval('#viz-opacity', (e) => {
      e.value = '0';
      e.dispatchEvent(new Event('input'));
    });
    const plain = await canvasStats('#viz-overlay');
    await page.$eval('#viz-opacity', (e) => {
      e.value = '100';
      e.dispatchEvent(new Event('input'));
    });
    const full = await canvasStats('#viz-overlay');
    assert.notEqual(plain.sum, full.sum, `${kind}: the overlay changes the picture`);
    if (kind === 'readout') {
      // sum of the map + bias = the response the page shows for this image
      const total = Number(await page.$eval('#viz-overlay-text', (e) => e.dataset.total));
      const predicted = await page.evaluate(() => window.cortexLens.state.results.float.outputs[0]);
      assert.ok(Math.abs(total - predicted) < 1e-3, `readout sums to ${total}, the page predicted ${predicted}`);
    }
    await page.$eval('#viz-opacity', (e) => {
      e.value = '60';
      e.dispatchEvent(new Event('input'));
    });
    await screenshot(page, `viz-overlay-${kind}`);
  }
});

test('activation maps of every layer and channel', { skip }, async () => {
  await open('Activation maps');
  await page.waitForFunction(() => document.querySelectorAll('#viz-act-grid canvas').length > 0, null, {
    timeout: 60000,
  });
  const layers = await page.$$eval('#viz-act-layer option', (o) => o.map((x) => x.textContent));
  assert.ok(layers.length >= 2);
  const first = Number(/×(\d+)\)$/.exec(layers[0])[1]);
  assert.equal(await page.$$eval('#viz-act-grid canvas', (c) => c.length), first);
  const lit = await page.$$eval(
    '#viz-act-grid canvas',
    (cs) =>
      cs.filter((c) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4) if (d[i] > 40) return true;
        return false;
      }).length,
  );
  assert.ok(lit > 0, 'some channels respond to the image');
  await page.selectOption('#viz-act-layer', String(layers.length - 2));
  const channels = Number(/×(\d+)\)$/.exec(layers[layers.length - 2])[1]);
  assert.equal(await page.$$eval('#viz-act-grid canvas', (c) => c.length), channels);
  await screenshot(page, 'viz-activations');
});

test('a click on an activation map switches that channel off and opens the ablation section (through the store)', {
  skip,
}, async () => {
  await page.selectOption('#viz-act-layer', '0');
  await page.click('#viz-act-grid canvas[data-channel="1"]');
  const state = await page.evaluate(() => {
    const { ablations, insideOpen } = window.cortexLens.state;
    return { ablations, insideOpen, open: document.getElementById('viz-section-ablation').open };
  });
  assert.deepEqual(state.ablations, [{ layer: 0, channel: 1, scale: 0 }]);
  assert.ok(state.insideOpen.includes('ablation') && state.open, 'the ablation section is open');
  await page.waitForFunction(() => document.querySelectorAll('#viz-abl-list li').length === 1);
  await page.waitForFunction(() => /ablate=0(%3A|:)1(%3A|:)0/.test(location.hash)); // the link follows the store
  await page.click('#viz-abl-reset');
  await page.waitForFunction(() => document.querySelectorAll('#viz-abl-list li').length === 0);
});

test('first-layer filters, depthwise kernels, mixing matrices and readout weights', { skip }, async () => {
  await open('Inside the model');
  await page.waitForSelector('#viz-filters canvas', { timeout: 60000 });
  const counts = await page.evaluate(() => ({
    filters: document.querySelectorAll('#viz-filters canvas').length,
    depthwise: document.querySelectorAll('.viz-depthwise').length,
    mixing: document.querySelectorAll('canvas.viz-mixing').length,
    readout: document.querySelectorAll('#viz-readout-weights canvas').length,
  }));
  assert.equal(counts.filters, neuron.filters ? neuron.filters[0] : counts.filters);
  assert.equal(counts.depthwise, 4);
  assert.equal(counts.mixing, 4);
  assert.equal(counts.readout, neuron.filters ? neuron.filters[4] : counts.readout);
  const filter = await canvasStats('#viz-filters canvas');
  assert.ok(filter.distinct > 5, 'a filter is drawn with its colours');
  await screenshot(page, 'viz-weights');
});

test('ablation updates the response at once and resets', { skip }, async () => {
  await open('Ablation');
  await page.waitForFunction(() => document.getElementById('viz-abl-text').dataset.before !== undefined, null, {
    timeout: 60000,
  });
  const before = Number(await page.$eval('#viz-abl-text', (e) => e.dataset.before));
  const predicted = await page.evaluate(() => window.cortexLens.state.results.float.outputs[0]);
  assert.ok(Math.abs(before - predicted) < 1e-5);
  const layerCount = await page.$$eval('#viz-abl-layer option', (o) => o.length);
  // Switch off every channel of the layer that feeds the readout: only the readout bias is left.
  await page.selectOption('#viz-abl-layer', String(layerCount - 2));
  const channels = await page.$$eval('#viz-abl-channel option', (o) => o.map((x) => x.value));
  await page.$eval('#viz-abl-scale', (e) => {
    e.value = '0';
  });
  for (const c of channels) {
    await page.selectOption('#viz-abl-channel', c);
    await page.click('#viz-abl-apply');
  }
  await page.waitForFunction((n) => document.querySelectorAll('#viz-abl-list li').length === n, channels.length);
  // Each click re-runs the current image and the gallery; wait until the last click's results are all drawn (the
  // current image's response and every gallery cell settle on one value) instead of reading a partial ablation.
  await page.waitForFunction(
    () => {
      const t = document.getElementById('viz-abl-text');
      const cells = [...document.querySelectorAll('#viz-abl-gallery td[data-after]')];
      return (
        t.dataset.after !== t.dataset.before &&
        cells.length > 0 &&
        cells.every((td) => Math.abs(Number(td.dataset.after) - Number(t.dataset.after)) < 1e-5)
      );
    },
    null,
    { timeout: 30000 },
  );
  const after = Number(await page.$eval('#viz-abl-text', (e) => e.dataset.after));
  assert.notEqual(after, before);
  // With every channel feeding the readout off, every image gets the same response: the readout bias.
  const gallery = await page.$$eval('#viz-abl-gallery td[data-after]', (tds) =>
    tds.map((td) => Number(td.dataset.after)),
  );
  assert.ok(gallery.length >= 1, 'the gallery responses are shown');
  for (const g of gallery) assert.ok(Math.abs(g - after) < 1e-5, `gallery ${g} vs current image ${after}`);
  await screenshot(page, 'viz-ablation');
  await page.click('#viz-abl-reset');
  await page.waitForFunction(() => {
    const t = document.getElementById('viz-abl-text');
    return t.dataset.after === t.dataset.before;
  });
});

// The gallery's images are decoded by a worker of their own: the page's worker keeps only a few decoded images, and
// the user's must stay among them.
test('after the ablation gallery, the crop of the current image still moves', { skip }, async () => {
  const predictions = await page.evaluate(() => window.cortexLens.state.predictions);
  await page.evaluate(() => window.cortexLens.store.set({ crop: { x: 0, y: 0, side: 80 } }));
  await page.waitForFunction((n) => window.cortexLens.state.predictions > n, predictions, { timeout: 30000 });
  await page.evaluate(() => window.cortexLens.store.set({ crop: null }));
  await page.waitForFunction((n) => window.cortexLens.state.predictions > n + 1, predictions, { timeout: 30000 });
});

test("another neuron stops a synthesis run instead of drawing the old neuron's image, and clears the ablations", {
  skip,
}, async () => {
  const other = manifest.models.find((m) => m.id !== neuron.id && m.kind !== 'shared');
  await setSynthControls({ steps: 5000, seed: 3 });
  await page.click('#viz-synth-start');
  await page.waitForFunction(() => Number(document.getElementById('viz-synth-progress').value) >= 20);
  await page.evaluate(() => window.cortexLens.store.set({ ablations: [{ layer: 0, channel: 0, scale: 0 }] }));
  await page.evaluate((id) => window.cortexLens.store.set({ neuronId: id }), other.id);
  await page.waitForFunction(() =>
    document.getElementById('viz-synth-text').textContent.includes('stopped: the neuron changed'),
  );
  await page.waitForFunction(() => !document.getElementById('viz-synth-start').disabled);
  assert.equal(
    await page.$eval('#viz-synth-download', (b) => b.disabled),
    true,
    'no image of the old neuron to download',
  );
  assert.equal((await canvasStats('#viz-synth-best')).sum, 0, "the old neuron's best image is not drawn");
  assert.deepEqual(await page.evaluate(() => window.cortexLens.state.ablations), []);
  await page.evaluate((id) => window.cortexLens.store.set({ neuronId: id }), neuron.id);
  await page.waitForFunction(
    (id) => window.cortexLens.state.resultsOf?.neuronId === id || window.cortexLens.state.neuronId === id,
    neuron.id,
  );
});

test('a link restores the settings of Inside the neuron', { skip }, async () => {
  const hash = `view=inside&neuron=${neuron.id}&recipe=fourier&goal=min&steps=50&seed=9&grey=1&open=synthesis.where&map=readout&opacity=30&ablate=0:1:0`;
  const { page: linked, errors: linkedErrors } = await openPage(browser, server.origin, {
    width: 1280,
    height: 1000,
    hash,
  });
  await linked.waitForSelector('#viz-synth-start', { timeout: 30000 });
  const shown = await linked.evaluate(() => ({
    recipe: document.getElementById('viz-recipe').value,
    goal: document.getElementById('viz-direction').value,
    steps: document.getElementById('viz-steps').value,
    seed: document.getElementById('viz-seed').value,
    grey: document.getElementById('viz-grey').checked,
    kind: document.getElementById('viz-overlay-kind').value,
    opacity: document.getElementById('viz-opacity').value,
    open: [...document.querySelectorAll('details.viz-section')].filter((d) => d.open).map((d) => d.id),
  }));
  assert.deepEqual(shown, {
    recipe: 'fourier',
    goal: 'min',
    steps: '50',
    seed: '9',
    grey: true,
    kind: 'readout',
    opacity: '30',
    open: ['viz-section-synthesis', 'viz-section-where'],
  });
  // Closing a section is written back to the store, and so to the link.
  await linked.click('#viz-section-where summary');
  await linked.waitForFunction(() => window.cortexLens.state.insideOpen.join() === 'synthesis');
  // The link's ablations belong to the link's neuron: they are kept when it opens.
  assert.deepEqual(await linked.evaluate(() => window.cortexLens.state.ablations), [
    { layer: 0, channel: 1, scale: 0 },
  ]);
  assert.deepEqual(linkedErrors, []);
  await linked.context().close();
});
