// The experiment views "Nearly identical" and "Compression", opened by their links:
// - a path (a 2-pixel shift, and a blend to a second image): the page's pixels (hash per step), the neuron's int8
//   responses and percentiles, and the population distances equal `cortexlens path` on the same image;
// - the compression explorer: the r it shows for a neuron is the pack's figure and `cortexlens evaluate`'s, and its
//   float predictions for the current image are `cortexlens predict`'s.
// Screenshots of both views at desktop and phone widths go to the screenshot folder (path-*, compression-*).
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  startServer,
  launch,
  openPage,
  foreignRequests,
  cliPredict,
  cliIsa,
  cliPath,
  siteDir,
  manifest,
  galleryIndex,
  cliAvailable,
  screenshot,
} from './harness.mjs';
import { percentileOf } from '../../web/src/reference.js';

const neurons = manifest.models.filter((m) => m.kind === 'neuron');
const shared = manifest.models.find((m) => m.kind === 'shared');
const sizes = manifest.models.filter((m) => m.kind === 'shared' || m.kind === 'shared-size');
const session = galleryIndex.sessions.find((s) => s.session === '190923');
const skip =
  (neurons.length < 3 && 'needs published models') ||
  (!shared && 'needs the shared model') ||
  (!session && "needs session 190923's images") ||
  (!cliAvailable && 'needs the native cortexlens');
const neuron = neurons.find((n) => n.id === '190923_n2') ?? neurons[0];
const models = (file) => path.join(siteDir, 'models', file);
const imageFile = (n) => path.join(siteDir, 'gallery', '190923', `image${String(n).padStart(4, '0')}.jpg`);

let server, browser;
const opened = [];
before(async () => {
  if (skip) return;
  server = await startServer();
  browser = await launch();
});
after(async () => {
  if (skip) return;
  for (const { context, requests, errors } of opened) {
    assert.deepEqual(foreignRequests(requests, server.origin), []);
    assert.deepEqual(errors, [], 'no console errors');
    await context.close();
  }
  await browser?.close();
  server?.server.close();
});

async function open(hash, viewport = { width: 1280, height: 900 }) {
  const session = await openPage(browser, server.origin, { ...viewport, hash });
  opened.push(session);
  return session.page;
}

function cliPathRun(args) {
  const out = execFileSync(
    cliPath,
    [
      'path',
      ...cliIsa,
      models(neuron.files.int8),
      ...args,
      '--population',
      models(shared.files.int8),
      '--manifest',
      models('manifest.json'),
    ],
    { encoding: 'utf8' },
  );
  return out
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [step, fraction, amount, response, percentile, distance, hash] = line.split(',');
      return {
        step: Number(step),
        fraction: Number(fraction),
        amount: Number(amount),
        response: Number(response),
        percentile: Number(percentile),
        distance: Number(distance),
        hash,
      };
    });
}

async function pathResult(page, steps) {
  await page.waitForFunction(
    (n) => {
      const r = window.cortexLens.state.pathResult;
      return r && r.steps === n && r.input === window.cortexLens.state.input;
    },
    steps,
    { polling: 100, timeout: 60000 },
  );
  return page.evaluate(() => {
    const r = window.cortexLens.state.pathResult;
    return {
      neuronId: r.neuronId,
      precision: r.precision,
      hashes: r.hashes,
      amounts: r.amounts,
      responses: r.responses,
      percentiles: r.percentiles,
      distances: r.distances,
      strip: document.querySelectorAll('#path-strip canvas').length,
    };
  });
}

function assertSamePath(page, cli) {
  assert.deepEqual(
    page.hashes,
    cli.map((c) => c.hash),
    'the same pixels at every step',
  );
  assert.deepEqual(
    page.responses.map(Math.fround),
    cli.map((c) => Math.fround(c.response)),
    'the same int8 responses',
  );
  for (const [i, p] of page.percentiles.entries()) assert.ok(Math.abs(p - cli[i].percentile) < 1e-6, `percentile ${i}`);
  // The CLI prints 9 significant digits.
  for (const [i, d] of page.distances.entries())
    assert.ok(Math.abs(d - cli[i].distance) <= 1e-8 * Math.max(1, d), `distance ${i}`);
}

test('a 2-pixel shift: the page shows the numbers of `cortexlens path`', { skip }, async () => {
  const page = await open(`view=path&neuron=${neuron.id}&image=190923/601&ptf=shift&pamt=2&psteps=5`);
  const result = await pathResult(page, 5);
  assert.equal(result.neuronId, neuron.id);
  assert.equal(result.precision, 'int8');
  assert.equal(result.strip, 5);
  assert.deepEqual(result.amounts, [0, 0.5, 1, 1.5, 2]);
  const cli = cliPathRun([imageFile(601), '--transform', 'shift=2', '--steps', '5']);
  assertSamePath(result, cli);
  assert.equal(result.distances[0], 0);
  assert.ok(result.distances[4] > 0, 'a 2-pixel shift moves the population');
  assert.match(await page.textContent('#path-summary'), /percentile/);
  await screenshot(page, 'path-desktop');
  // Phone width: the view stacks, fits and keeps its strip.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  assert.equal(await page.locator('#path-strip canvas').count(), 5);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone screen`);
  await screenshot(page, 'path-phone');
});

test('a blend to a second image: the same numbers as `cortexlens path IMAGE IMAGE2`', { skip }, async () => {
  const page = await open(`view=path&neuron=${neuron.id}&image=190923/601&pmode=blend&pimg2=190923/602&psteps=4`);
  const result = await pathResult(page, 4);
  const cli = cliPathRun([imageFile(601), imageFile(602), '--steps', '4']);
  assertSamePath(result, cli);
});

function cliEvaluateRow(modelFile, neuronId) {
  const out = execFileSync(cliPath, ['evaluate', ...cliIsa, modelFile], { encoding: 'utf8' });
  const row = out.split('\n').find((l) => l.startsWith(`${neuronId},`));
  return Number(row.split(',')[2]);
}

test('compression: r is the pack figure and `cortexlens evaluate`, predictions are `cortexlens predict`', {
  skip: skip || (sizes.length < 8 && 'needs the eight shared models'),
}, async () => {
  const page = await open(`view=compression&neuron=${neuron.id}&image=190923/601&filters=25`);
  await page.waitForFunction(
    (id) => {
      const p = window.cortexLens.state.compressionPredictions;
      return p && p.neuronId === id && p.rows.length === 9;
    },
    neuron.id,
    { polling: 100, timeout: 90000 },
  );
  const shown = await page.evaluate(() =>
    Array.from(document.querySelectorAll('#compression-rows tr'), (tr) => ({
      id: tr.dataset.id,
      r: tr.querySelector('.r-neuron').textContent,
      current: tr.classList.contains('current'),
    })),
  );
  const predictions = await page.evaluate(() => window.cortexLens.state.compressionPredictions.rows);
  assert.equal(shown.length, 9);
  assert.deepEqual(
    shown.filter((r) => r.current).map((r) => r.id),
    ['shared_25'],
  );
  for (const row of shown) {
    const entry = manifest.models.find((m) => m.id === row.id);
    const k = entry.kind === 'neuron' ? 0 : entry.outputs.indexOf(neuron.id);
    const fidelity = entry.kind === 'neuron' ? entry.fidelity : entry.fidelity[k];
    assert.equal(row.r, fidelity.floatVsRecordedR.toFixed(3), `${row.id}: the pack's r`);
    const p = predictions.find((x) => x.id === row.id);
    const cli = cliPredict(models(entry.files.float), imageFile(601), null, 'float')[k];
    assert.equal(Math.fround(p.response), Math.fround(cli), `${row.id}: prediction`);
    // Its percentile: the shared-size models' distributions come from their own files, read when the view opened.
    const reference = entry.reference ?? JSON.parse(fs.readFileSync(models(entry.referenceFile), 'utf8'));
    const quantiles = (Array.isArray(reference) ? reference[k] : reference).quantiles;
    assert.ok(Number.isFinite(p.percentile), `${row.id}: a percentile`);
    assert.ok(Math.abs(p.percentile - percentileOf(p.response, quantiles)) < 1e-9, `${row.id}: percentile`);
  }
  // The manifest the page parses at every visit carries none of the shared-size distributions.
  for (const entry of sizes.filter((m) => m.kind === 'shared-size')) {
    assert.equal(entry.reference, undefined, `${entry.id}: reference in the manifest`);
    assert.match(entry.referenceFile, /^shared_\d+\.reference\.json$/);
  }
  // The pack's figure is `cortexlens evaluate`'s (the smallest shared model and the neuron's own).
  for (const id of ['shared_5', neuron.id]) {
    const entry = manifest.models.find((m) => m.id === id);
    const fidelity = entry.kind === 'neuron' ? entry.fidelity : entry.fidelity[entry.outputs.indexOf(neuron.id)];
    const r = cliEvaluateRow(models(entry.files.float), neuron.id);
    assert.ok(
      Math.abs(r - fidelity.floatVsRecordedR) < 2e-6,
      `${id}: evaluate ${r} vs pack ${fidelity.floatVsRecordedR}`,
    );
  }
  assert.match(await page.textContent('#compression-chosen'), /^25 filters: /);
  await screenshot(page, 'compression-desktop');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone screen`);
  await screenshot(page, 'compression-phone');
});
