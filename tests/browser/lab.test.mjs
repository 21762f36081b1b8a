// The model lab in headless Chromium: a neuron's pruning runs in the worker with live progress, pauses (no removal
// while paused, the page still answers), resumes and finishes; the model saves as a .clm and opens in "One neuron";
// a second run is cancelled. Prints the time of one neuron pruned end to end in the page (step 1, 150 fitting
// images). Screenshots mid-run and finished go to build/site-test-screenshots/lab-*.png. Skips without the shared
// model and session images (a build without the published data). Build the site first (scripts/build_site.sh).
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import { startServer, launch, openPage, foreignRequests, screenshot, manifest, galleryIndex } from './harness.mjs';

const shared = manifest.models.find((m) => m.kind === 'shared' && m.files?.float);
const neuron = manifest.models.find((m) => m.kind === 'neuron' && shared?.outputs.includes(m.id));
const skip =
  (!shared && 'the build has no float shared model (built without the published data)') ||
  (!neuron && 'no published neuron of the shared model in the build') ||
  (galleryIndex.sessions.length < 3 && 'the build has no session images');
let server, browser, page, errors, requests;

before(async () => {
  if (skip) return;
  server = await startServer();
  browser = await launch();
  ({ page, errors, requests } = await openPage(browser, server.origin, {
    width: 1280,
    height: 1000,
    hash: `view=lab&lab=${neuron.id}&labsteps=step1`,
  }));
  await page.waitForSelector('#lab-start:not([disabled])', { timeout: 30000 });
});
after(async () => {
  if (skip) return;
  assert.deepEqual(errors, [], 'no console errors or CSP violations');
  assert.deepEqual(foreignRequests(requests, server.origin), []);
  await browser?.close();
  server?.server.close();
});

const events = () => page.$eval('#lab-status', (e) => Number(e.dataset.events || 0));

test('a neuron is pruned in the page: progress, pause and resume, save, open in One neuron', { skip }, async () => {
  const t0 = Date.now();
  await page.click('#lab-start');
  // The first removal (step 1 removes a layer's filters at a time).
  await page.waitForFunction(() => Number(document.getElementById('lab-status').dataset.events) >= 2, null, {
    timeout: 180000,
  });
  assert.ok(await page.$eval('#lab-progress', (e) => e.value > 0));
  await page.click('#lab-pause');
  assert.equal(await page.textContent('#lab-pause'), 'Resume');
  // The unit under way when Pause was pressed may still land; after it, nothing moves.
  await page.waitForFunction(() => document.getElementById('lab-status').textContent.startsWith('paused'), null, {
    timeout: 60000,
  });
  const paused = await events();
  await screenshot(page, 'lab-paused');
  // The page answers while paused: another tab opens and comes back.
  await page.click('#tab-neuron');
  await page.waitForSelector('#view-neuron:not([hidden])');
  await page.click('#tab-lab');
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await events(), paused, 'no removal while paused');
  await page.click('#lab-pause');
  await page.waitForFunction(() => document.getElementById('lab-status').dataset.done === 'true', null, {
    timeout: 300000,
  });
  const done = await page.$eval('#lab-status', (e) => ({ ...e.dataset }));
  const wall = (Date.now() - t0) / 1000;
  console.log(
    `# ${neuron.id} pruned in the page (step 1, 150 fitting, 200 held-out images): ${(Number(done.wallMs) / 1000).toFixed(1)} s ` +
      `including a pause of a few seconds (worker compute ${(Number(done.computeMs) / 1000).toFixed(1)} s; ` +
      `test wall ${wall.toFixed(0)} s; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores); ` +
      `result ${done.filters} filters, ${done.params} parameters, r ${Number(done.r).toFixed(3)}`,
  );
  assert.ok(Number(done.events) >= 2);
  assert.ok(Number(done.params) < shared.params, 'fewer parameters than the shared model');
  assert.ok(Number(done.r) > 0.2, `held-out r ${done.r}`);
  // The published model's figures and both preferred images.
  assert.match(await page.textContent('#lab-table'), /published compact model/);
  await page.waitForFunction(
    () => document.getElementById('lab-ours').dataset.done && document.getElementById('lab-published').dataset.done,
    null,
    { timeout: 120000 },
  );
  await screenshot(page, 'lab-finished');

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#lab-save')]);
  const saved = fs.readFileSync(await download.path());
  assert.equal(saved.subarray(0, 8).toString('latin1'), 'CLENSMDL');
  assert.match(download.suggestedFilename(), /\.clm$/);

  await page.click('#lab-open');
  await page.waitForFunction(
    () => window.location.hash.includes('view=neuron') || !document.getElementById('view-neuron').hidden,
  );
  await page.waitForFunction(() => /^own-lab-/.test(window.cortexLens?.state?.neuronId ?? ''), null, {
    timeout: 30000,
  });
});

test('a run can be cancelled and the page starts again', { skip }, async () => {
  await page.click('#tab-lab');
  await page.selectOption('#lab-mode', 'all');
  await page.click('#lab-start');
  await page.waitForFunction(() => Number(document.getElementById('lab-status').dataset.events) >= 1, null, {
    timeout: 180000,
  });
  await page.click('#lab-cancel');
  await page.waitForFunction(() => document.getElementById('lab-status').textContent.startsWith('cancelled'));
  await page.waitForSelector('#lab-start:not([disabled])');
  assert.ok(await page.$eval('#lab-cancel', (e) => e.disabled));
});

test('the lab at phone width', { skip }, async () => {
  const phone = await openPage(browser, server.origin, { width: 390, height: 844, mobile: true, hash: 'view=lab' });
  await phone.page.waitForSelector('#lab-start:not([disabled])', { timeout: 30000 });
  const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than the screen`);
  await screenshot(phone.page, 'lab-phone');
  assert.deepEqual(phone.errors, []);
  await phone.context.close();
});
