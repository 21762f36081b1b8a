// Latest request wins: the neuron and the image are switched rapidly (10 changes within a second, through the store
// and through clicks on picker items and gallery thumbnails) while long computations run (the population view's run,
// a synthesis run), and once the page is quiet everything it shows must belong to the final selection: the neuron
// panel's int8 and float outputs equal `cortexlens predict` on the final image and crop, the store's results name the
// final neuron and input, the population map is the final input's, and no error of a dropped request is shown.
// CORTEXLENS_REPEAT=N runs each scenario N times in this one process (the flakiness check: 20 in a row).
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  startServer,
  launch,
  openPage,
  foreignRequests,
  cliPredict,
  siteDir,
  manifest,
  galleryIndex,
  cliAvailable,
  modelFileFor,
} from './harness.mjs';

const neurons = manifest.models.filter((m) => m.kind === 'neuron');
const repeat = Math.max(1, Number(process.env.CORTEXLENS_REPEAT || 1));
const skip =
  (neurons.length < 4 && 'needs published models') ||
  (!galleryIndex.sessions.length && "needs the sessions' images") ||
  (!cliAvailable && 'needs the native cortexlens');
const BLOB = galleryIndex.own.find((o) => o.id === 'own/colour-blob');

let server, browser, page, context, requests, errors;
before(async () => {
  if (skip) return;
  server = await startServer();
  browser = await launch();
  ({ page, context, requests, errors } = await openPage(browser, server.origin, { width: 1280, height: 900 }));
  await page.waitForFunction(() => window.cortexLens.state.predictions > 0, null, { polling: 50, timeout: 30000 });
  // A worker answers its messages in order, and so would hide a missing latest-request check. During each burst of
  // changes the page's replies are reordered: a request made t ms into the burst is answered no earlier than
  // 2000 - 2t ms into it, so a request made later is answered sooner, and the replies for selections the user has
  // moved past land after those for the final one (as a slow request overtaken by a fast one, or replies from
  // different workers, would). A view that does not drop a stale reply then shows the wrong numbers.
  await page.evaluate(() => {
    const client = Object.getPrototypeOf(window.cortexLens.worker);
    const request = client.request;
    let burstStart = null;
    const wait = (until) => new Promise((resolve) => setTimeout(resolve, Math.max(0, until - performance.now())));
    client.request = function reordered(...args) {
      const reply = request.apply(this, args);
      if (burstStart === null) return reply;
      const asked = performance.now();
      const answerAt = burstStart + Math.max(asked - burstStart, 2000 - 2 * (asked - burstStart));
      return reply.then(
        (value) => wait(answerAt).then(() => value),
        (error) => wait(answerAt).then(() => Promise.reject(error)),
      );
    };
    window.__reorderReplies = () => {
      burstStart = performance.now();
      setTimeout(() => {
        burstStart = null;
      }, 1000);
    };
  });
});
after(async () => {
  if (skip) return;
  assert.deepEqual(foreignRequests(requests, server.origin), []);
  assert.deepEqual(errors, [], 'no console errors');
  await context?.close();
  await browser?.close();
  server?.server.close();
});

// A small deterministic generator, so a failing round can be replayed from its printed seed.
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function galleryFile(key) {
  const own = galleryIndex.own.find((o) => o.id === key);
  if (own) return path.join(siteDir, own.url);
  const [session, n] = key.split('/');
  return path.join(siteDir, 'gallery', session, `image${n.padStart(4, '0')}.jpg`);
}

const state = () =>
  page.evaluate(() => {
    const s = window.cortexLens.state;
    return {
      neuronId: s.neuronId,
      image: s.image,
      crop: s.crop,
      predictions: s.predictions,
      resultsOf: s.resultsOf?.neuronId,
      resultsForInput: s.resultsOf?.input === s.input,
      results: Object.fromEntries(Object.entries(s.results).map(([p, r]) => [p, Array.from(r.outputs)])),
    };
  });

// Ten changes within a second. `vias` say how each change is made: 'store' (store.set), 'picker' (a click on a picker
// item: the neuron tab must be shown), 'gallery' (a click on a thumbnail); neuron and image changes alternate. The
// changes are planned here and played in the page on its own timers, 60 ms apart: a round trip to the test process
// per change would stretch past the second on a loaded machine. A click is a click event on the element, as a
// user's click reaches the view's listeners. Returns the final selection.
async function switchRapidly(rand, vias) {
  const thumbs = await page.$$eval('#gallery-grid button[data-key]', (bs) => bs.slice(0, 12).map((b) => b.dataset.key));
  let neuronId = await page.evaluate(() => window.cortexLens.state.neuronId);
  let image = null;
  const plan = [];
  for (let i = 0; i < 10; ++i) {
    const via = vias[i % vias.length];
    if (i % 2 === 0) {
      const previous = neuronId;
      do neuronId = neurons[Math.floor(rand() * neurons.length)].id;
      while (neuronId === previous);
      plan.push(via === 'picker' ? { click: `#opt-${neuronId}` } : { set: { neuronId } });
    } else if (via === 'gallery') {
      image = { key: thumbs[Math.floor(rand() * thumbs.length)], crop: null };
      plan.push({ click: `#gallery-grid button[data-key="${image.key}"]` });
    } else {
      // The pattern with a crop of its own, or a session image centred: both through the store, as a link would.
      image =
        rand() < 0.5 && BLOB
          ? { key: BLOB.id, crop: { x: 20 + Math.floor(rand() * 40), y: 30, side: 150 } }
          : { key: thumbs[Math.floor(rand() * thumbs.length)], crop: null };
      plan.push({ set: { image: { source: 'gallery', key: image.key }, crop: image.crop } });
    }
  }
  const times = await page.evaluate(
    (steps) =>
      new Promise((resolve, reject) => {
        const t0 = performance.now();
        const at = [];
        window.__reorderReplies();
        steps.forEach((step, i) => {
          setTimeout(() => {
            try {
              at.push(performance.now() - t0);
              if (step.click) document.querySelector(step.click).click();
              else window.cortexLens.store.set(step.set);
              if (at.length === steps.length) resolve({ at });
            } catch (e) {
              reject(e);
            }
          }, i * 60);
        });
      }),
    plan,
  );
  const lastAt = Math.round(times.at.at(-1));
  assert.ok(lastAt < 1000, `the tenth change came ${lastAt} ms after the first`);
  return { neuronId, image, ms: lastAt };
}

// Waits until the page shows results for `final` and stays quiet (no new prediction) for half a second.
async function settle(final) {
  const entry = neurons.find((m) => m.id === final.neuronId);
  const precisions = ['int8', 'float'].filter((p) => entry.files[p]);
  await page.waitForFunction(
    ({ neuronId, key, count }) => {
      const s = window.cortexLens.state;
      return (
        s.neuronId === neuronId &&
        (!key || s.image?.key === key) &&
        s.image?.imageId != null &&
        s.input &&
        s.resultsOf?.neuronId === neuronId &&
        s.resultsOf.input === s.input &&
        Object.keys(s.results).length === count
      );
    },
    { neuronId: final.neuronId, key: final.image?.key, count: precisions.length },
    { polling: 50, timeout: 60000 },
  );
  for (;;) {
    const before = await state();
    await page.waitForTimeout(500);
    const now = await state();
    if (now.predictions === before.predictions) return { entry, precisions, shown: now };
  }
}

async function assertNeuronPanel(final) {
  const { entry, precisions, shown } = await settle(final);
  assert.equal(shown.neuronId, final.neuronId, 'the final neuron is selected');
  assert.equal(shown.resultsOf, final.neuronId, 'store results belong to the final neuron');
  assert.ok(shown.resultsForInput, 'store results belong to the current input');
  if (final.image?.crop) assert.deepEqual(shown.crop, final.image.crop);
  await page.click('#tab-neuron');
  assert.equal(await page.textContent('#neuron-title'), `Neuron ${final.neuronId}`);
  const file = galleryFile(shown.image.key);
  for (const p of precisions) {
    const [cli] = cliPredict(modelFileFor(entry, p), file, shown.crop, p);
    const value = shown.results[p][0];
    assert.ok(
      Math.abs(value - cli) <= 1e-6 * Math.max(1, Math.abs(cli)),
      `${final.neuronId} ${p}: page ${value} vs cortexlens ${cli} on ${shown.image.key} ${JSON.stringify(shown.crop)}`,
    );
    assert.equal(await page.textContent(`#raw-${p}`), cli.toFixed(5), `${p} row shown`);
  }
  assert.equal(
    await page.isHidden('#neuron-error'),
    true,
    `no stale error: ${await page.textContent('#neuron-error')}`,
  );
  assert.equal(await page.isHidden('#image-error'), true, `no stale error: ${await page.textContent('#image-error')}`);
  return shown;
}

// The population view (shown) finishes the final input, and a few neurons' values equal their int8 files' on it.
async function assertPopulation(shown, rand) {
  await page.click('#tab-population');
  await page.waitForFunction(
    (n) => {
      const s = window.cortexLens.state;
      return (
        s.populationInput === s.input &&
        s.population.size === n &&
        [...s.population.values()].every((r) => r.exact) &&
        Number(document.getElementById('population-chart').dataset.count) === n
      );
    },
    neurons.length,
    { polling: 50, timeout: 240000 },
  );
  const population = await page.evaluate(() =>
    Object.fromEntries([...window.cortexLens.state.population].map(([id, r]) => [id, r.raw])),
  );
  const file = galleryFile(shown.image.key);
  for (let i = 0; i < 3; ++i) {
    const m = neurons[Math.floor(rand() * neurons.length)];
    const [cli] = cliPredict(modelFileFor(m, 'int8'), file, shown.crop, 'int8');
    assert.ok(
      Math.abs(population[m.id] - cli) <= 1e-6 * Math.max(1, Math.abs(cli)),
      `population ${m.id}: ${population[m.id]} vs cortexlens ${cli}`,
    );
  }
  assert.doesNotMatch(await page.textContent('#population-status'), /Stopped/);
}

test('switching neuron and image during the population run: the final selection wins', {
  skip,
  timeout: 600000 * repeat,
}, async () => {
  for (let round = 0; round < repeat; ++round) {
    const seed = 1000 + round;
    const rand = random(seed);
    // The population tab shown: its run for the current input is in flight while the selection changes.
    await page.click('#tab-population');
    await page.waitForFunction(
      () =>
        window.cortexLens.state.population.size > 0 || Number(document.getElementById('population-progress').value) > 0,
      null,
      { polling: 50, timeout: 120000 },
    );
    const final = await switchRapidly(rand, ['store', 'gallery', 'store']);
    const shown = await settle(final);
    await assertPopulation(shown.shown, rand);
    await assertNeuronPanel(final);
    console.log(
      `# round ${round + 1}/${repeat} (seed ${seed}): population tab, 10 changes in ${final.ms} ms, final ${final.neuronId} on ${shown.shown.image.key}`,
    );
  }
});

test('switching by clicks on the picker and the gallery: the final selection wins, then the population follows', {
  skip,
  timeout: 600000 * repeat,
}, async () => {
  for (let round = 0; round < repeat; ++round) {
    const seed = 2000 + round;
    const rand = random(seed);
    // A run for a new image starts on the population tab and is still going when the neuron tab comes back (the
    // view stops a run only when its input is replaced: the first image change below).
    await page.click('#tab-population');
    const key = await page.evaluate(() => window.cortexLens.state.image.key);
    await page.click(`#gallery-grid button:not([data-key="${key}"])`);
    await page.waitForFunction(
      (k) => {
        const s = window.cortexLens.state;
        return s.image.key !== k && s.input && s.populationInput === s.input;
      },
      key,
      { polling: 20, timeout: 60000 },
    );
    await page.click('#tab-neuron');
    const final = await switchRapidly(rand, ['picker', 'gallery', 'picker', 'store']);
    const shown = await assertNeuronPanel(final);
    await assertPopulation(shown, rand);
    console.log(
      `# round ${round + 1}/${repeat} (seed ${seed}): picker and gallery clicks, 10 changes in ${final.ms} ms, final ${final.neuronId} on ${shown.image.key}`,
    );
  }
});

test('switching during a synthesis run in "Inside the neuron": the final selection wins', {
  skip,
  timeout: 600000 * repeat,
}, async (t) => {
  await page.click('#tab-inside');
  const synthesis = await page.waitForSelector('#viz-synth-start', { timeout: 30000 }).catch(() => null);
  if (!synthesis) {
    t.skip('no synthesis control in "Inside the neuron"');
    return;
  }
  for (let round = 0; round < repeat; ++round) {
    const seed = 3000 + round;
    const rand = random(seed);
    await page.click('#tab-inside');
    await page.fill('#viz-steps', '5000');
    await page.click('#viz-synth-start');
    await page.waitForFunction(() => Number(document.getElementById('viz-synth-progress').value) >= 10, null, {
      polling: 50,
      timeout: 60000,
    });
    const final = await switchRapidly(rand, ['store', 'gallery']);
    await assertNeuronPanel(final);
    // Stop whatever run is left, so the next round (or test) starts from a quiet worker.
    await page.click('#tab-inside');
    if (await page.isEnabled('#viz-synth-cancel')) await page.click('#viz-synth-cancel');
    console.log(
      `# round ${round + 1}/${repeat} (seed ${seed}): synthesis running, 10 changes in ${final.ms} ms, final ${final.neuronId}`,
    );
  }
});
