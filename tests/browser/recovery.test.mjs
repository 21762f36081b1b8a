// Recovery: the engine's worker dies (here: closed from inside, as an out-of-memory kill or a crash would end it,
// without a word to the page) while requests are in flight; the page must notice, start a new worker, fail the
// requests in flight with a clear message, keep the user's image, crop, neuron and view, run the current prediction
// again with the same numbers, decode the image again for the next crop, and load a user's own model again without
// asking for the file. And a corrupted .wasm must end in a message, not a spinner.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, launch, openPage, foreignRequests, siteDir, manifest, screenshot } from './harness.mjs';

// Needs only the demo model, so it runs once per CI run: in scripts/test.sh's pass without the published data (or in
// the only pass, when there is none).
const onceSkip = manifest.models.some((m) => m.kind === 'neuron') && 'runs in the pass without the published data';

const demo = manifest.models.find((m) => m.kind === 'demo') || manifest.models[0];

let server, browser;
before(async () => {
  if (onceSkip) return;
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.server.close();
});

const state = (page) =>
  page.evaluate(() => {
    const s = window.cortexLens.state;
    return {
      neuronId: s.neuronId,
      view: s.view,
      image: s.image && { key: s.image.key, title: s.image.title },
      crop: s.crop,
      predictions: s.predictions,
      int8: s.results.int8 ? Array.from(s.results.int8.outputs) : null,
      engineReset: s.engineReset,
      resultsError: s.resultsError,
    };
  });

// The page's main worker: the first one created (the population view's pool starts its workers on first use).
// busyMs: the worker is stuck that long before it ends (messages sent meanwhile are never answered).
async function killMainWorker(page, busyMs = 0) {
  const workers = page.workers();
  assert.ok(workers.length >= 1, 'the page has a worker');
  await workers[0].evaluate((ms) => {
    setTimeout(() => {
      const until = Date.now() + ms;
      while (Date.now() < until);
      self.close();
    }, 0);
  }, busyMs);
}

test('a dead worker is noticed and replaced; the image, crop, neuron and view are kept', {
  skip: onceSkip,
}, async () => {
  const { context, page, requests, errors } = await openPage(browser, server.origin, {
    hash: `neuron=${demo.id}&view=card`,
  });
  try {
    await page.waitForFunction(() => window.cortexLens.state.results.int8, null, { polling: 50, timeout: 30000 });
    // A crop the user chose, so "kept" means more than the defaults.
    await page.evaluate(() => {
      const { image } = window.cortexLens.state;
      const side = Math.max(8, Math.floor(Math.min(image.width, image.height) * 0.8));
      window.cortexLens.store.set({ crop: { x: 1, y: 1, side } });
    });
    await page.waitForFunction(
      () => {
        // The input cut from this crop (not an earlier one still arriving) and its prediction.
        const s = window.cortexLens.state;
        return (
          s.crop?.x === 1 &&
          s.inputOf?.crop?.x === 1 &&
          s.inputOf.crop.side === s.crop.side &&
          s.resultsOf?.input === s.input &&
          s.results.int8
        );
      },
      null,
      { polling: 50, timeout: 30000 },
    );
    const before = await state(page);

    // A request in flight when the worker dies fails with a clear message instead of waiting forever: it is sent
    // while the worker is stuck just before it ends, so no reply ever comes.
    await killMainWorker(page, 1000);
    const message = await page.evaluate(() =>
      window.cortexLens.worker.request('init').then(
        () => 'resolved',
        (e) => e.message,
      ),
    );
    assert.match(message, /worker stopped|engine/, `the request in flight fails with a reason: ${message}`);

    await page.waitForFunction(() => window.cortexLens.state.engineReset?.count === 1, null, {
      polling: 50,
      timeout: 15000,
    });
    const notice = page.locator('#engine-status-notice');
    assert.ok(await notice.isVisible(), 'the page says the engine restarted');
    assert.match(await notice.textContent(), /restarted.*image, neuron and view are kept/s);
    // The current prediction runs again on the new worker, with the same numbers.
    await page.waitForFunction((n) => window.cortexLens.state.predictions > n, before.predictions, {
      polling: 50,
      timeout: 30000,
    });
    const afterReset = await state(page);
    assert.equal(afterReset.neuronId, before.neuronId);
    assert.equal(afterReset.view, before.view);
    assert.deepEqual(afterReset.image, before.image);
    assert.deepEqual(afterReset.crop, before.crop);
    assert.deepEqual(afterReset.int8, before.int8, 'the same prediction from the new worker');

    // The next crop needs the full image, which died with the old worker: the view decodes it again.
    const n = afterReset.predictions;
    await page.evaluate(() => {
      const { crop } = window.cortexLens.state;
      window.cortexLens.store.set({ crop: { ...crop, x: crop.x + 1 } });
    });
    await page.waitForFunction((k) => window.cortexLens.state.predictions > k, n, { polling: 50, timeout: 30000 });
    const moved = await state(page);
    assert.equal(moved.crop.x, before.crop.x + 1);
    assert.ok(moved.int8, 'a prediction for the new crop');
    const imageErrors = await page.locator('.image-panel .error:not([hidden])').allInnerTexts();
    assert.deepEqual(imageErrors, [], 'no error in the image panel');
    await screenshot(page, 'recovery-notice');
    assert.deepEqual(foreignRequests(requests, server.origin), []);
    assert.deepEqual(
      errors.filter((e) => !/worker stopped/.test(e)),
      [],
    );
  } finally {
    await context.close();
  }
});

test("a user's own model survives the worker's restart without choosing the file again", {
  skip: onceSkip,
}, async () => {
  const { context, page } = await openPage(browser, server.origin, { hash: 'view=own' });
  try {
    const file = path.join(siteDir, 'models', demo.files.int8);
    await page.setInputFiles('#model-input', file);
    await page.waitForFunction(() => window.cortexLens.state.entries.some((e) => e.kind === 'own'), null, {
      polling: 50,
      timeout: 30000,
    });
    const input = () =>
      page.evaluate(async () => {
        const { worker, state } = window.cortexLens;
        const reply = await worker.request('predict', { key: 'own:1', input: state.input });
        return Array.from(reply.outputs);
      });
    const before = await input();
    await killMainWorker(page);
    await page.waitForFunction(() => window.cortexLens.state.engineReset?.count === 1, null, {
      polling: 50,
      timeout: 15000,
    });
    assert.deepEqual(await input(), before, 'own:1 is loaded again from the file and predicts the same');
  } finally {
    await context.close();
  }
});

test('a corrupted .wasm ends in a clear message, not a spinner', { skip: onceSkip }, async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    await context.route(/\/cortexlens\.wasm(\?|$)/, (route) =>
      route.fulfill({ status: 200, contentType: 'application/wasm', body: Buffer.from('this is not WebAssembly') }),
    );
    const page = await context.newPage();
    await page.goto(`${server.origin}/`);
    await page.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: 30000 });
    const engine = await page.evaluate(() => window.cortexLens.state.engine);
    assert.match(engine.error || '', /engine could not start/i, JSON.stringify(engine));
    const notice = page.locator('#engine-status-notice');
    await notice.waitFor({ state: 'visible', timeout: 10000 });
    assert.match(await notice.textContent(), /The engine could not start.*reload/is);
    assert.ok(await page.locator('#engine-status-reload').isVisible(), 'a Reload button');
    await screenshot(page, 'recovery-corrupt-wasm');
  } finally {
    await context.close();
  }
});
