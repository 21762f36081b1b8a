// The model lab in headless Chromium: a neuron's pruning runs in the worker with live progress, pauses (no removal
// while paused, the page still answers), resumes and finishes; the model saves as a .clm and opens in "One neuron";
// a second run is cancelled. Prints the time of one neuron pruned end to end in the page (step 1, 150 fitting
// images). Screenshots mid-run and finished go to build/site-test-screenshots/lab-*.png. Skips without the shared
// model and session images (a build without the published data). Build the site first (scripts/build_site.sh).
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
  manifest,
  galleryIndex,
  siteDir,
  repoRoot,
  cliPath,
  cliAvailable,
  cliIsa,
  modelFileFor,
} from './harness.mjs';

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

// --- fit your own neuron ---------------------------------------------------------------------------------------

// A neuron's recorded responses as a lab would bring them: 190923_n3's repeat-averaged responses (the site's table,
// images 601-1200) to every 4th image, 150 rows; `name(n)` writes each row's image column.
function responsesCsv(name) {
  const table = JSON.parse(fs.readFileSync(path.join(siteDir, 'data/responses_190923.json'), 'utf8'));
  const numbers = Array.from({ length: 150 }, (_, i) => 601 + 4 * i);
  const lines = numbers.map((n) => `${name(n)},${table.responses[3][n - table.images.first]}`);
  return { numbers, text: `image,response\n${lines.join('\n')}\n` };
}
const galleryFile = (n) => path.join(siteDir, `gallery/190923/image${String(n).padStart(4, '0')}.jpg`);
const csvFile = (name, text) => ({ name, mimeType: 'text/csv', buffer: Buffer.from(text) });
const fitted = () => page.$eval('#fit-status', (e) => ({ ...e.dataset, text: e.textContent }));

// Chooses the files and fits: the click clears the last result (or shows why it cannot start) before it returns.
async function fitWith(files) {
  await page.setInputFiles('#fit-files', files);
  await page.click('#fit-start');
  await page.waitForFunction(
    () => {
      const error = document.getElementById('fit-error');
      return (!error.hidden && error.textContent) || document.getElementById('fit-status').dataset.r;
    },
    null,
    { timeout: 120000 },
  );
  const error = await page.$eval('#fit-error', (e) => (e.hidden ? null : e.textContent));
  return error ? { error } : fitted();
}

test('fit your own neuron: session ids and your own images give the same fit as `cortexlens fit`', {
  skip,
}, async () => {
  await page.click('#tab-lab');
  // Session images named by id: the site's own images.
  const byId = responsesCsv((n) => `190923/${n}`);
  const a = await fitWith([csvFile('n3.csv', byId.text)]);
  assert.equal(a.error, undefined, a.error);
  assert.equal(a.fitImages, '120');
  assert.equal(a.heldoutImages, '30');
  assert.ok(Number(a.low) < Number(a.r) && Number(a.r) < Number(a.high));
  assert.match(a.text, /r on held-out images: .* 120 images fit the readout .* 30 held out \(every 5th row\)/);
  await screenshot(page, 'lab-fit');

  // The same images as the lab's own files (named by file name, sent with the CSV): the same pixels, the same fit.
  const own = responsesCsv((n) => `photo_${n}.jpg`);
  const images = own.numbers.map((n) => ({
    name: `photo_${n}.jpg`,
    mimeType: 'image/jpeg',
    buffer: fs.readFileSync(galleryFile(n)),
  }));
  const b = await fitWith([csvFile('mine.csv', own.text), ...images]);
  assert.equal(b.error, undefined, b.error);
  assert.equal(b.r, a.r, 'own files and session ids: the same fit');

  // `cortexlens fit --images DIR` on the same files (its sse path computes as the page does).
  if (cliAvailable) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cortexlens-fit-'));
    try {
      for (const n of own.numbers) fs.copyFileSync(galleryFile(n), path.join(dir, `photo_${n}.jpg`));
      fs.writeFileSync(path.join(dir, 'mine.csv'), own.text);
      const printed = execFileSync(
        cliPath,
        [
          'fit',
          ...cliIsa,
          '--threads',
          '1',
          modelFileFor(shared, 'float'),
          '--responses',
          path.join(dir, 'mine.csv'),
        ].concat(['--images', dir, '-o', path.join(dir, 'cli.clm')]),
        { encoding: 'utf8' },
      );
      const cli = /r on held-out images: (-?[\d.]+) \(95% CI (-?[\d.]+) \.\. (-?[\d.]+)/.exec(printed);
      console.log(`# fit of 190923_n3 (150 responses): page r ${Number(a.r).toFixed(4)}, CLI ${cli[0]}`);
      assert.ok(Math.abs(Number(a.r) - Number(cli[1])) <= 6e-5, `page ${a.r}, CLI ${cli[1]}`);
      assert.ok(Math.abs(Number(a.low) - Number(cli[2])) <= 6e-5);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  // The fitted model is pruned in the lab on the fit's own images and held-out rows.
  await page.selectOption('#lab-mode', 'step1');
  await page.click('#fit-prune');
  await page.waitForFunction(() => document.getElementById('lab-status').dataset.done === 'true', null, {
    timeout: 300000,
  });
  const pruned = await page.$eval('#lab-status', (e) => ({ ...e.dataset }));
  console.log(
    `# the fitted neuron pruned in the page (step 1, 120 fitting, 30 held-out images): ${pruned.filters} filters, ` +
      `${pruned.params} parameters, r ${Number(pruned.r).toFixed(3)} (fitted ${Number(a.r).toFixed(3)}), ` +
      `${(Number(pruned.wallMs) / 1000).toFixed(1)} s`,
  );
  assert.ok(Number(pruned.params) < shared.params);
  assert.match(await page.textContent('#lab-table'), /start: my_neuron, fitted to mine\.csv/);
  assert.doesNotMatch(await page.textContent('#lab-table'), /published compact model/);
  assert.ok(await page.$eval('#lab-published', (e) => e.parentElement.hidden), 'no published model to show');
  await page.waitForFunction(() => document.getElementById('lab-ours').dataset.done, null, { timeout: 120000 });
  assert.match(
    await page.textContent('#lab-ours-caption'),
    new RegExp(`\\(${Number(pruned.params).toLocaleString('en-US')} parameters\\)`),
  );
  await screenshot(page, 'lab-fit-pruned');

  // Saved and opened in "One neuron" like a user's own model.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#fit-save')]);
  assert.equal(download.suggestedFilename(), 'my_neuron.clm');
  assert.equal(
    fs
      .readFileSync(await download.path())
      .subarray(0, 8)
      .toString('latin1'),
    'CLENSMDL',
  );
  await page.click('#fit-open');
  await page.waitForFunction(() => /^own-lab-/.test(window.cortexLens?.state?.neuronId ?? ''), null, {
    timeout: 30000,
  });
  await page.waitForFunction(() => !document.getElementById('view-neuron').hidden);
});

test('fit your own neuron: a bad file or choice says what was found and what was expected', { skip }, async () => {
  await page.click('#tab-lab');
  const bad = (name) => csvFile(name, fs.readFileSync(path.join(repoRoot, 'tests/bad_responses', name), 'utf8'));
  const cases = [
    [[bad('unknown_id.csv')], /unknown_id\.csv line 22: unknown image id '211022\/0005'/],
    [[bad('not_a_number.csv')], /line 7: response 'abc' is not a number/],
    [[bad('too_few.csv')], /12 responses, expected at least 50/],
    [[bad('too_few.csv'), bad('unknown_id.csv')], /choose one responses file \(\.csv\), found 2/],
    [[{ name: 'photo.jpg', mimeType: 'image/jpeg', buffer: fs.readFileSync(galleryFile(601)) }], /found 0/],
  ];
  // Own images named in the CSV but one of them not chosen; and a chosen file that is no image.
  const own = responsesCsv((n) => `photo_${n}.jpg`);
  const images = own.numbers.map((n) => ({
    name: `photo_${n}.jpg`,
    mimeType: 'image/jpeg',
    buffer: fs.readFileSync(galleryFile(n)),
  }));
  cases.push([
    [csvFile('mine.csv', own.text), ...images.slice(0, 149)],
    /line 151: image 'photo_1197\.jpg' is not among the images/,
  ]);
  const broken = images.slice();
  broken[3] = { name: broken[3].name, mimeType: 'image/jpeg', buffer: Buffer.from('not a jpeg at all') };
  cases.push([[csvFile('mine.csv', own.text), ...broken], /line 5: image 'photo_613\.jpg': /]);
  for (const [files, message] of cases) {
    const out = await fitWith(files);
    assert.match(out.error ?? `no error: ${out.text}`, message);
  }
  await screenshot(page, 'lab-fit-error');
  // The page still works: a good file fits after them.
  const good = await fitWith([csvFile('n3.csv', responsesCsv((n) => `190923/${n}`).text)]);
  assert.equal(good.error, undefined);
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
