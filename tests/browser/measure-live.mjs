// Measures the live view in headless Chromium on a fake camera (60 frames a second of moving patterns, made by
// tests/browser/live-fixtures.mjs): frames/s of the one neuron with its trace drawn, the strip of all neurons (shared
// model) per second, saliency maps per second, and the main thread's long tasks (PerformanceObserver 'longtask', over
// 50 ms). Prints, asserts nothing: the figures depend on the machine and on what else runs on it.
// Usage: node tests/browser/measure-live.mjs [seconds per phase, default 8]   (CORTEXLENS_SITE_DIR selects the site)
import path from 'node:path';
import { startServer, launch, openPage, repoRoot, siteDir, manifest } from './harness.mjs';
import { writeCameraFile } from './live-fixtures.mjs';

const seconds = Number(process.argv[2] || 8);
const camera = writeCameraFile(path.join(repoRoot, 'build/live-test/camera-60.y4m'), { fps: 60, frames: 120 });
const { server, origin } = await startServer();
const browser = await launch({ args: [`--use-file-for-fake-video-capture=${camera}`] });
const { page, context } = await openPage(browser, origin);

const counts = () =>
  page.evaluate(() => {
    const d = window.cortexLens.timings.live;
    return {
      neuron: d.lanes.neuron.done,
      strip: d.lanes.strip.done,
      saliency: d.lanes.saliency.done,
      latencies: d.latencies.slice(),
      longTasks: d.longTasks.slice(),
    };
  });

// One phase: the lanes' completions over `seconds`, after 2 s to let the models load.
async function phase(name, settings) {
  await page.evaluate((s) => window.cortexLens.store.set(s), settings);
  await page.waitForTimeout(2000);
  const a = await counts();
  await page.waitForTimeout(seconds * 1000);
  const b = await counts();
  const rate = (k) => ((b[k] - a[k]) / seconds).toFixed(1);
  const lat = b.latencies.slice(-Math.max(1, b.neuron - a.neuron)).map((l) => l.latency);
  lat.sort((x, y) => x - y);
  const compute = b.latencies.slice(-lat.length).map((l) => l.compute);
  compute.sort((x, y) => x - y);
  const long = b.longTasks.slice(a.longTasks.length);
  console.log(
    `${name}: one neuron ${rate('neuron')} frames/s (median latency ${lat[lat.length >> 1]?.toFixed(0)} ms, worker ${compute[compute.length >> 1]?.toFixed(1)} ms/frame), ` +
      `all neurons ${rate('strip')}/s, saliency ${rate('saliency')}/s; main-thread long tasks: ${long.length}` +
      (long.length ? ` (longest ${Math.max(...long).toFixed(0)} ms)` : ''),
  );
}

// Long tasks from the page's first script on (harness.mjs records them), split at the moments below.
const longTasksSince = (from) =>
  page.evaluate((t) => window.__longTasks.filter((e) => e.start >= t).map((e) => e.duration), from);
const describe = (tasks) =>
  `${tasks.length}` + (tasks.length ? ` (${tasks.map((t) => t.toFixed(0)).join(', ')} ms)` : '');
// Waits until the page has gone 3 s without a long task (at most 30 s); returns the seconds waited.
async function settle() {
  const started = performance.now();
  let quietSince = performance.now();
  let seen = await page.evaluate(() => window.__longTasks.length);
  while (performance.now() - quietSince < 3000 && performance.now() - started < 30000) {
    await page.waitForTimeout(250);
    const n = await page.evaluate(() => window.__longTasks.length);
    if (n !== seen) [seen, quietSince] = [n, performance.now()];
  }
  return (performance.now() - started) / 1000;
}

// The page's own start-up (module evaluation, the manifest, the first layout, the first prediction) until settled.
await settle();
console.log(`page load until settled: main-thread long tasks: ${describe(await longTasksSince(0))}`);
const liveClicked = await page.evaluate(() => performance.now());
await page.click('#tab-live');
await page.click('#live-camera');
await page.waitForFunction(() => window.cortexLens.timings.live.latencies.length > 5, null, { timeout: 60000 });
const neuron = await page.evaluate(() => window.cortexLens.app.catalog.current().id);
console.log(
  `site: ${siteDir}; neuron ${neuron}; shared model: ${manifest.models.some((m) => m.kind === 'shared') ? 'yes' : 'no'}; ` +
    `${seconds} s per phase on a fake 60 frames/s camera; ${await page.evaluate(() => navigator.hardwareConcurrency)} cores`,
);
// The live view's start (the camera, the strip's portraits, the models' first runs) is reported on its own: the
// phases measure the live loop once it has settled.
const waited = await settle();
console.log(
  `live view start-up (click to settled, ${waited.toFixed(1)} s after the first frames): main-thread long tasks: ` +
    describe(await longTasksSince(liveClicked)),
);
await phase('one neuron alone', { liveStrip: false, liveSaliency: false });
await phase('with the strip of all neurons', { liveStrip: true, liveSaliency: false });
await phase('with the strip and saliency', { liveStrip: true, liveSaliency: true });
// Again at the end, as a check that the first phase was settled.
await phase('one neuron alone, again', { liveStrip: false, liveSaliency: false });
await context.close();
await browser.close();
server.close();
