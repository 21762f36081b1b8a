// The "Smallest change" view in headless Chromium: one perturbation's numbers and pixels equal `cortexlens perturb`'s
// (the CLI on its sse path, the page's arithmetic), a 100-step run's time is printed (the benchmark of issue 14: <= 2
// s), a run can be cancelled, keep-others runs when the build has the shared model, and screenshots at desktop and
// phone widths go to build/site-test-screenshots/perturb-*.png. Build the site first (scripts/build_site.sh).
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
  screenshotDir,
  siteDir,
  manifest,
  galleryIndex,
  cliAvailable,
  cliPath,
  cliIsa,
  modelFileFor,
  precisionOf,
} from './harness.mjs';

const neuron = manifest.models.find((m) => m.kind === 'neuron') || manifest.models[0];
const shared = manifest.models.find((m) => m.kind === 'shared');
const skip = !neuron && 'no model in the build';
let server, browser, page, errors, requests;

function galleryFile(key) {
  const own = galleryIndex.own.find((o) => o.id === key);
  if (own) return path.join(siteDir, own.url);
  const [session, n] = key.split('/');
  return path.join(siteDir, 'gallery', session, `image${n.padStart(4, '0')}.jpg`);
}

before(async () => {
  if (skip) return;
  server = await startServer();
  browser = await launch();
  ({ page, errors, requests } = await openPage(browser, server.origin, {
    width: 1280,
    height: 1000,
    hash: `neuron=${neuron.id}&view=perturb`,
  }));
  await page.waitForFunction(() => window.cortexLens.state.seenPixels);
  await page.waitForSelector('#perturb-start', { state: 'visible', timeout: 30000 });
});
after(async () => {
  if (skip) return;
  assert.deepEqual(errors, [], 'no console errors or CSP violations');
  assert.deepEqual(foreignRequests(requests, server.origin), []);
  await browser?.close();
  server?.server.close();
});

async function setControls({ epsilon, goal, steps, keep = false }) {
  await page.$eval(
    '#perturb-epsilon',
    (e, v) => {
      e.value = String(v);
      e.dispatchEvent(new Event('input'));
    },
    epsilon,
  );
  await page.selectOption('#perturb-goal', goal);
  await page.fill('#perturb-steps', String(steps));
  if (keep !== (await page.isChecked('#perturb-keep'))) await page.click('#perturb-keep');
}

async function runToEnd(timeout = 300000) {
  await page.click('#perturb-start');
  await page.waitForFunction(() => document.getElementById('perturb-status').dataset.done === 'true', null, {
    timeout,
  });
  return page.$eval('#perturb-status', (e) => ({ ...e.dataset, text: e.textContent }));
}

async function decodedDifference(a, b) {
  return page.evaluate(
    async ([x64, y64]) => {
      const decode = async (b64) => {
        const bitmap = await createImageBitmap(
          new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], { type: 'image/png' }),
        );
        const c = new OffscreenCanvas(bitmap.width, bitmap.height);
        const ctx = c.getContext('2d');
        ctx.drawImage(bitmap, 0, 0);
        return ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
      };
      const [x, y] = [await decode(x64), await decode(y64)];
      if (x.length !== y.length) return -1;
      let n = 0;
      for (let i = 0; i < x.length; ++i) n += x[i] !== y[i];
      return n;
    },
    [a.toString('base64'), b.toString('base64')],
  );
}

const close = (a, b, what) =>
  assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)), `${what}: page ${a} vs CLI ${b}`);

test('a 100-step perturbation: the page equals cortexlens perturb (numbers and pixels), and its time', {
  skip,
}, async () => {
  await setControls({ epsilon: 4, goal: 'raise', steps: 100 });
  const shown = await runToEnd();
  const ms = Number(shown.ms);
  console.log(
    `# browser worker: 100-step perturbation of ${neuron.id} (epsilon 4, raise) ${(ms / 1000).toFixed(2)} s in the worker, ` +
      `${(Number(shown.wallMs) / 1000).toFixed(2)} s from the click to the last step (target <= 2 s)`,
  );
  const before = Number(shown.before);
  const after = Number(shown.after);
  assert.ok(after > before, `raised: ${before} -> ${after}`);
  assert.ok(Number(shown.largest) <= 4 && Number(shown.largest) >= 1, `largest change ${shown.largest}`);
  await screenshot(page, 'perturb-desktop');

  const download = page.waitForEvent('download');
  await page.click('#perturb-download-png');
  const pagePng = fs.readFileSync(await (await download).path());
  assert.equal(pagePng.subarray(1, 4).toString(), 'PNG');
  const csvDownload = page.waitForEvent('download');
  await page.click('#perturb-download-csv');
  const csv = fs.readFileSync(await (await csvDownload).path(), 'utf8');
  assert.match(csv, /^model,output,direction,epsilon/);
  assert.match(csv, /Nature \(2026\)/);
  const figureDownload = page.waitForEvent('download');
  await page.click('#perturb-download-figure');
  const figure = fs.readFileSync(await (await figureDownload).path());
  assert.equal(figure.subarray(1, 4).toString(), 'PNG');
  fs.mkdirSync(screenshotDir, { recursive: true });
  fs.writeFileSync(path.join(screenshotDir, 'perturb-figure.png'), figure);

  if (!cliAvailable) return;
  const state = await page.evaluate(() => ({
    image: window.cortexLens.state.image,
    crop: window.cortexLens.state.crop,
  }));
  // The CLI takes the centred square: the page's crop must be that one (null, or spelled out).
  const { width, height } = state.image;
  const side = Math.min(width, height);
  const centred = { x: Math.floor((width - side) / 2), y: Math.floor((height - side) / 2), side };
  assert.ok(state.crop === null || JSON.stringify(state.crop) === JSON.stringify(centred), 'the centred crop');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-perturb-'));
  const out = path.join(dir, 'cli.png');
  execFileSync(
    cliPath,
    [
      'perturb',
      ...cliIsa,
      modelFileFor(neuron, precisionOf(neuron)),
      galleryFile(state.image.key),
      '--epsilon',
      '4',
      '--steps',
      '100',
      '-o',
      out,
      '--csv',
      path.join(dir, 'cli.csv'),
    ],
    { encoding: 'utf8' },
  );
  const [header, row] = fs.readFileSync(path.join(dir, 'cli.csv'), 'utf8').trim().split('\n');
  const cli = Object.fromEntries(header.split(',').map((k, i) => [k, row.split(',')[i]]));
  close(before, Number(cli.response_before), 'response before');
  close(after, Number(cli.response_after), 'response after');
  if (neuron.reference) {
    assert.ok(Math.abs(Number(shown.percentileBefore) - Number(cli.percentile_before)) < 1e-3);
    assert.ok(Math.abs(Number(shown.percentileAfter) - Number(cli.percentile_after)) < 1e-3);
  }
  assert.equal(Number(shown.largest), Number(cli.largest_change));
  assert.equal(Number(shown.changed), Number(cli.changed_values));
  assert.equal(await decodedDifference(pagePng, fs.readFileSync(out)), 0, "the page's PNG has the CLI's pixels");
});

test('lowering lowers, and a long run can be cancelled', { skip }, async () => {
  await setControls({ epsilon: 2, goal: 'lower', steps: 15 });
  const shown = await runToEnd();
  assert.ok(Number(shown.after) < Number(shown.before), `lowered: ${shown.before} -> ${shown.after}`);
  assert.ok(Number(shown.largest) <= 2);

  await setControls({ epsilon: 16, goal: 'raise', steps: 1000 });
  await page.click('#perturb-start');
  await page.waitForFunction(() => Number(document.getElementById('perturb-progress').value) >= 10);
  await page.click('#perturb-cancel');
  await page.waitForFunction(() => document.getElementById('perturb-status').textContent.includes('cancelled'));
  await page.waitForFunction(() => !document.getElementById('perturb-start').disabled);
});

test('keep the other neurons (shared model) runs and reports their change', {
  skip: skip || !shared || neuron.kind !== 'neuron' ? 'no shared model in the build' : false,
}, async () => {
  await setControls({ epsilon: 4, goal: 'raise', steps: 10, keep: true });
  const note = await page.$eval('#perturb-keep-note', (e) => e.textContent);
  assert.match(note, new RegExp(shared.id));
  const shown = await runToEnd();
  assert.match(shown.text, /other neurons moved by [0-9.]+ of their spread/);
  assert.ok(Number(shown.after) > Number(shown.before));
  await setControls({ epsilon: 4, goal: 'raise', steps: 10, keep: false });
});

test('phone width: the view fits and shows its result', { skip }, async () => {
  const phone = await openPage(browser, server.origin, {
    width: 390,
    height: 844,
    mobile: true,
    hash: `neuron=${neuron.id}&view=perturb&esteps=10`,
  });
  try {
    await phone.page.waitForFunction(() => window.cortexLens.state.seenPixels);
    await phone.page.click('#perturb-start');
    await phone.page.waitForFunction(() => document.getElementById('perturb-status').dataset.done === 'true', null, {
      timeout: 120000,
    });
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `no horizontal scrolling (${overflow} px)`);
    await screenshot(phone.page, 'perturb-phone');
    assert.deepEqual(phone.errors, []);
  } finally {
    await phone.context.close();
  }
});
