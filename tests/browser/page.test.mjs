// End-to-end tests of the built page in headless Chromium. Build the site first (scripts/build_site.sh); the
// numbers the page shows are checked against the native `cortexlens` on the same files.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  startServer,
  launch,
  openPage,
  foreignRequests,
  cliPredict,
  screenshot,
  siteDir,
  manifest,
  galleryIndex,
  cliAvailable,
  cliPath,
  precisionOf,
  modelFileFor,
} from './harness.mjs';

let server, browser;
const allRequests = [];
before(async () => {
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.server.close();
  // The whole run, every page: not one request left this origin.
  assert.deepEqual(foreignRequests(allRequests, server.origin), []);
});

async function open(options) {
  const opened = await openPage(browser, server.origin, options);
  opened.page.on('request', (r) => allRequests.push(r.url()));
  allRequests.push(...opened.requests);
  return opened;
}

const firstNeuron = manifest.models.find((m) => m.kind === 'neuron') || manifest.models.find((m) => m.kind === 'demo');

async function shownResults(page) {
  const p = precisionOf(firstNeuron);
  await page.waitForFunction(
    (q) =>
      Object.keys(window.cortexLens.state.results).length > 0 &&
      document.getElementById(`raw-${q}`).textContent !== '…',
    p,
  );
  return page.evaluate(() => ({
    neuron: window.cortexLens.state.neuronId,
    crop: window.cortexLens.state.crop,
    image: window.cortexLens.state.image,
    results: Object.fromEntries(
      Object.entries(window.cortexLens.state.results).map(([k, v]) => [k, Array.from(v.outputs)]),
    ),
    rawFloat: document.getElementById('raw-float').textContent,
    rawInt8: document.getElementById('raw-int8').textContent,
    percentile: document.getElementById('percentile').textContent,
    firstPrediction: window.cortexLens.timings.firstPrediction,
  }));
}

function galleryFile(key) {
  const own = galleryIndex.own.find((o) => o.id === key);
  if (own) return path.join(siteDir, own.url);
  const [session, n] = key.split('/');
  return path.join(siteDir, 'gallery', session, `image${n.padStart(4, '0')}.jpg`);
}

test('loads, predicts the first image, and agrees with cortexlens predict', {
  skip: !firstNeuron && 'no model in the build',
}, async () => {
  const { page, context, errors } = await open({ width: 1280, height: 900 });
  const shown = await shownResults(page);
  console.log(`# time from navigation start to first prediction: ${shown.firstPrediction.toFixed(0)} ms`);
  assert.equal(shown.neuron, firstNeuron.id);
  const p = precisionOf(firstNeuron);
  assert.ok(shown.results[p], `the ${p} row is computed`);
  if (cliAvailable) {
    const image = galleryFile(shown.image.key);
    if (shown.results.float) {
      const [cliFloat] = cliPredict(
        modelFileFor(firstNeuron, 'float'),
        image,
        shown.crop,
        firstNeuron.files.float ? 'float' : undefined,
      );
      assert.ok(
        Math.abs(shown.results.float[0] - cliFloat) <= 1e-6 * Math.max(1, Math.abs(cliFloat)),
        `page ${shown.results.float[0]} vs cli ${cliFloat}`,
      );
      assert.equal(shown.rawFloat, cliFloat.toFixed(5));
    }
    if (shown.results.int8) {
      const [cliInt8] = cliPredict(modelFileFor(firstNeuron, 'int8'), image, shown.crop, 'int8');
      assert.ok(
        Math.abs(shown.results.int8[0] - cliInt8) <= 1e-6 * Math.max(1, Math.abs(cliInt8)),
        `page int8 ${shown.results.int8[0]} vs cli ${cliInt8}`,
      );
    }
  } else {
    console.log(`# ${cliPath} not built: CLI comparison skipped`);
  }
  const shift = await page.evaluate(() => window.__layoutShift);
  console.log(`# cumulative layout shift up to the first prediction: ${shift.toFixed(4)}`);
  assert.ok(shift < 0.02, `layout shift ${shift}`);
  await screenshot(page, 'desktop-neuron');
  assert.deepEqual(errors, []);
  await context.close();
});

test('phone width: the page stacks and still predicts', { skip: !firstNeuron && 'no model in the build' }, async () => {
  const { page, context, errors } = await open({ width: 390, height: 844, mobile: true });
  await shownResults(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone screen`);
  await screenshot(page, 'phone-neuron');
  const neurons = manifest.models.filter((m) => m.kind === 'neuron').length;
  if (neurons) {
    await page.click('#tab-population');
    await page.waitForFunction(
      (n) => Number(document.getElementById('population-chart').dataset.count) === n,
      neurons,
      { timeout: 240000 },
    );
    await screenshot(page, 'phone-population');
  }
  await page.click('#tab-card');
  await page.waitForSelector('#card svg.arch');
  assert.ok(
    await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
    'the model card fits the phone',
  );
  await screenshot(page, 'phone-model-card');
  assert.deepEqual(errors, []);
  await context.close();
});

test('keyboard: tabs follow the arrow keys, focus is visible, text contrast is at least 4.5:1', {
  skip: !firstNeuron && 'no model in the build',
}, async () => {
  const { page, context, errors } = await open({ width: 1280, height: 900 });
  await shownResults(page);
  await page.focus('#tab-neuron');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-population');
  assert.equal(await page.getAttribute('#tab-population', 'aria-selected'), 'true');
  assert.equal(await page.isHidden('#view-neuron'), true);
  await page.keyboard.press('ArrowLeft');
  // Focus reached by keyboard draws an outline.
  await page.keyboard.press('Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(
    outline,
    'none',
    `focused ${await page.evaluate(() => document.activeElement.outerHTML.slice(0, 80))}`,
  );
  const worst = await page.evaluate(() => {
    const parse = (c) => (c.match(/[\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) =>
      [r, g, b]
        .map((v) => {
          v /= 255;
          return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        })
        .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    let min = { ratio: Infinity };
    for (const el of document.querySelectorAll(
      'p, label, li, td, th, dt, dd, button, summary, figcaption, h1, h2, h3, span, output',
    )) {
      if (!el.offsetParent || !el.textContent.trim()) continue;
      const a = lum(parse(getComputedStyle(el).color).slice(0, 3)),
        b = lum(background(el));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      if (ratio < min.ratio && !el.disabled) min = { ratio, text: el.textContent.trim().slice(0, 40) };
    }
    return min;
  });
  console.log(`# lowest text contrast on the page: ${worst.ratio.toFixed(2)}:1 ("${worst.text}")`);
  assert.ok(worst.ratio >= 4.5, `lowest contrast ${worst.ratio.toFixed(2)} for "${worst.text}"`);
  assert.deepEqual(errors, []);
  await context.close();
});

test('worker protocol: ids, unknown types refused, errors carried back, buffers transferred', {
  skip: !firstNeuron && 'no model in the build',
}, async () => {
  const { page, context } = await open({ width: 1280, height: 900 });
  await shownResults(page);
  const url = `models/${firstNeuron.files.int8 || firstNeuron.files.float}`;
  const r = await page.evaluate(async (url) => {
    const w = window.cortexLens.worker;
    const out = {};
    out.unknown = await w.request('formatDisk', {}).then(
      () => 'resolved',
      (e) => e.message,
    );
    out.badInput = await w.request('predict', { key: 'protocol-test', url, input: [1, 2, 3] }).then(
      () => 'resolved',
      (e) => e.message,
    );
    const bytes = new Uint8Array(64).fill(9).buffer;
    out.badModel = await w
      .request('loadModel', { key: 'garbage', bytes, name: 'garbage.bin' }, { transfer: [bytes] })
      .then(
        () => 'resolved',
        (e) => e.message,
      );
    out.transferred = bytes.byteLength; // 0 once the buffer has moved to the worker
    // Replies are matched by id: three requests in flight come back to their own callers.
    const ids = await Promise.all([1, 2, 3].map((k) => w.request(`nope${k}`).catch((e) => e.message)));
    out.ordered = ids.map((m) => /"nope(\d)"/.exec(m)[1]).join('');
    return out;
  }, url);
  assert.match(r.unknown, /unknown message type "formatDisk"; expected one of .*predict/);
  assert.match(r.badInput, /Float32Array/);
  assert.match(r.badModel, /garbage\.bin.*neither|neither/);
  assert.equal(r.transferred, 0);
  assert.equal(r.ordered, '123');
  await context.close();
});

test('a foreign request is blocked by the CSP, and the request log would catch one that got past it', async () => {
  // Separate pages whose requests stay out of the run-wide log checked in after().
  const strict = await openPage(browser, server.origin, { width: 800, height: 600 });
  const blocked = await strict.page.evaluate(() =>
    fetch('https://example.org/blocked').then(
      () => 'fetched',
      (e) => e.message,
    ),
  );
  assert.match(blocked, /Failed to fetch/);
  // Chromium reports the violation on the console, which every test here treats as a failure.
  assert.ok(
    strict.errors.some((e) =>
      /example\.org.*violates the following Content Security Policy directive: "connect-src 'self'"/.test(e),
    ),
    JSON.stringify(strict.errors),
  );
  await strict.context.close();
  const { page, context, requests } = await openPage(browser, server.origin, {
    width: 800,
    height: 600,
    bypassCSP: true,
  });
  await page.evaluate(async () => {
    await fetch('https://example.org/from-page').catch(() => {});
    const blob = new Blob(["fetch('https://example.org/from-worker').catch(() => {}).finally(() => postMessage(1));"], {
      type: 'text/javascript',
    });
    await new Promise((resolve) => {
      const w = new Worker(URL.createObjectURL(blob));
      w.onmessage = resolve;
      w.onerror = resolve;
    });
  });
  const foreign = foreignRequests(requests, server.origin);
  assert.ok(foreign.includes('https://example.org/from-page'), JSON.stringify(foreign));
  assert.ok(foreign.includes('https://example.org/from-worker'), JSON.stringify(foreign));
  await context.close();
});
