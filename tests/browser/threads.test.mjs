// The threaded module on a cross-origin-isolated page (the headers CORTEXLENS_ISOLATE=1 scripts/serve.sh sends): the
// worker loads cortexlens-mt, reports its threads, and the population view runs every neuron model in that one worker with
// exactly the outputs the single-threaded page (a static host without the headers) computes with its worker pool.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, launch, openPage, foreignRequests, siteDir, manifest } from './harness.mjs';

const threadedShipped = fs.existsSync(path.join(siteDir, 'cortexlens-mt.js'));
const neurons = manifest.models.filter((m) => m.kind === 'neuron');
const skip =
  (!threadedShipped && 'the site has no threaded module (scripts/build.sh builds build/wasm-mt)') ||
  (!neurons.length && 'needs published models');
let isolated, plain, browser;
before(async () => {
  if (skip) return;
  isolated = await startServer({ isolated: true });
  plain = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  isolated?.server.close();
  plain?.server.close();
});

async function population(server) {
  const opened = await openPage(browser, server.origin);
  const { page } = opened;
  await page.waitForFunction(() => (window.cortexLens.state.predictions || 0) > 0, null, {
    polling: 50,
    timeout: 30000,
  });
  await page.click('#tab-population');
  await page.waitForFunction(
    (n) => window.cortexLens.timings.population > 0 && window.cortexLens.state.population.size === n,
    neurons.length,
    { polling: 50, timeout: 240000 },
  );
  const first = await page.evaluate(() => ({
    raw: Object.fromEntries([...window.cortexLens.state.population].map(([id, r]) => [id, r.raw])),
    exact: [...window.cortexLens.state.population.values()].every((r) => r.exact),
    threads: window.cortexLens.state.engine.threads,
    isolated: self.crossOriginIsolated,
    workers: window.cortexLens.pool.workers.length,
    status: document.getElementById('population-status').textContent,
  }));
  // A second image, the models loaded: the figure the pool's is compared with.
  const before = await page.evaluate(() => window.cortexLens.timings.population);
  await page.click('#gallery-grid button:nth-child(3)');
  await page.waitForFunction((b) => window.cortexLens.timings.population !== b, before, {
    polling: 50,
    timeout: 240000,
  });
  const nextMs = await page.evaluate(() => window.cortexLens.timings.population);
  await opened.context.close();
  return { ...first, nextMs, requests: opened.requests, errors: opened.errors };
}

test('cross-origin isolated: the threaded module runs the population view, equal to the worker pool', {
  skip,
}, async () => {
  const threaded = await population(isolated);
  const pool = await population(plain);
  assert.equal(threaded.isolated, true);
  assert.equal(pool.isolated, false);
  assert.equal(threaded.threads, Math.min(4, os.availableParallelism()));
  assert.equal(pool.threads, 1);
  assert.ok(
    threaded.requests.some((u) => new URL(u).pathname.endsWith('/cortexlens-mt.wasm')), // asked for with ?v=<build>
    'the isolated page loads the threaded module',
  );
  assert.ok(!pool.requests.some((u) => /cortexlens-mt/.test(u)), 'the plain page never asks for it');
  if (threaded.threads > 1) {
    assert.equal(threaded.workers, 1, 'one worker holds every model and uses all its threads');
    assert.match(threaded.status, new RegExp(`on 1 worker with ${threaded.threads} threads`));
  }
  assert.ok(threaded.exact && pool.exact);
  assert.equal(Object.keys(threaded.raw).length, neurons.length);
  for (const [id, value] of Object.entries(pool.raw)) assert.equal(threaded.raw[id], value, id); // same bits, any thread
  for (const r of [threaded, pool]) {
    assert.deepEqual(
      foreignRequests(r.requests, isolated.origin).filter((u) => !u.startsWith(`${plain.origin}/`)),
      [],
    );
    assert.deepEqual(
      r.errors.filter((e) => !/Failed to load resource.*404/.test(e)),
      [],
    );
  }
  console.log(
    `# population view, next image: ${neurons.length} int8 models in ${threaded.nextMs.toFixed(0)} ms with the threaded module (${threaded.threads} threads, 1 worker), ${pool.nextMs.toFixed(0)} ms with the worker pool (${pool.workers} workers)`,
  );
});
