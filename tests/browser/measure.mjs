// Measures the page in headless Chromium, for the figures in notes and for PERF work:
//   time from navigation start to the first prediction (fresh context each run: no HTTP or service-worker cache),
//   the population view (all per-neuron models of the build on one image, worker pool) on a first and a second image.
// Usage: node tests/browser/measure.mjs [runs] [--spans] [--isolated] [--pause MS]   (CORTEXLENS_SITE_DIR selects the site, default build/site)
// The waits poll every 50 ms: Playwright's default polls on every animation frame, which makes the page render
// 60 frames a second and takes CPU from the workers being measured.
import { startServer, launch, openPage, manifest, siteDir } from './harness.mjs';

const pauseAt = process.argv.indexOf('--pause');
const pause = pauseAt > 0 ? Number(process.argv[pauseAt + 1]) : 0;
const runs = Number(process.argv.slice(2).find((a, i) => /^\d+$/.test(a) && i + 2 !== pauseAt + 1) || 5);
const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
// --isolated: serve with the cross-origin-isolation headers, so the page runs the threaded module if the site has it.
const { server, origin } = await startServer({ isolated: process.argv.includes('--isolated') });
const browser = await launch();
const first = [],
  population = [],
  second = [],
  secondNeurons = [];
const neurons = manifest.models.filter((m) => m.kind === 'neuron').length;
for (let i = 0; i < runs; ++i) {
  const { page, context } = await openPage(browser, origin);
  await page.waitForFunction(() => window.cortexLens.timings.firstPrediction > 0, null, {
    polling: 50,
    timeout: 60000,
  });
  first.push(await page.evaluate(() => window.cortexLens.timings.firstPrediction));
  if (neurons) {
    await page.click('#tab-population');
    await page.waitForFunction(() => window.cortexLens.timings.population > 0, null, { polling: 50, timeout: 600000 });
    population.push(await page.evaluate(() => window.cortexLens.timings.population));
    const before = population.at(-1);
    // --pause MS: look at the first image's results for a while before the next, as a person would (the pool
    // preloads the tails of the other workers' shares when idle for a second).
    if (pause) await page.waitForTimeout(pause);
    await page.click('#gallery-grid button:nth-child(3)');
    await page.waitForFunction((b) => window.cortexLens.timings.population !== b, before, {
      polling: 50,
      timeout: 600000,
    });
    second.push(await page.evaluate(() => window.cortexLens.timings.population));
    secondNeurons.push(await page.evaluate(() => window.cortexLens.timings.populationNeurons));
    const workers = await page.evaluate(() => window.cortexLens.timings.populationWorkers);
    // --spans: when each worker ran each chunk (ms from the start of the per-neuron phase), to see idle gaps.
    if (workers && process.argv.includes('--spans'))
      for (const w of workers)
        console.log('    chunks', w.spans.map(([a, b]) => `${a.toFixed(0)}-${b.toFixed(0)}`).join(' '));
    if (workers)
      console.log(
        `  run ${i + 1} per worker: ${workers.map((w) => `${w.models} models, ${w.requests} requests, ${w.computeMs.toFixed(0)} ms computing, done at ${w.wallMs.toFixed(0)} ms`).join('; ')}`,
      );
  }
  await context.close();
}
const fmt = (v) => `median ${median(v).toFixed(0)} ms (runs: ${v.map((x) => x.toFixed(0)).join(', ')})`;
console.log(
  `site: ${siteDir} (${neurons} per-neuron models)${process.argv.includes('--isolated') ? ', cross-origin isolated' : ''}`,
);
console.log(`navigation start -> first prediction: ${fmt(first)}`);
if (neurons) {
  console.log(`population view, first image (fetch + load + predict every model): ${fmt(population)}`);
  console.log(`population view, next image (models loaded): ${fmt(second)}`);
  console.log(
    `  of which the per-neuron models alone (the shared-model estimate runs only while models still load): ${fmt(secondNeurons)}`,
  );
}
await browser.close();
server.close();
