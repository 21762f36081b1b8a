// The "Tuning" view in headless Chromium: for one sweep of each probe family the page's stimuli (their FNV-1a
// hashes) and responses equal `cortexlens probe`'s on the same model file; the population heatmap's numbers equal the
// CLI's on the shared model; the curve, heatmap and population canvases are drawn. Screenshots at desktop and phone
// widths go to build/site-test-screenshots/tuning-*.png.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  startServer,
  launch,
  openPage,
  foreignRequests,
  screenshot,
  manifest,
  cliAvailable,
  cliPath,
  cliIsa,
  modelFileFor,
} from './harness.mjs';

const neuron = manifest.models.find((m) => m.kind === 'neuron');
const shared = manifest.models.find((m) => m.kind === 'shared');
const skip = (!neuron && 'no published neuron model in the build') || (!cliAvailable && `no CLI at ${cliPath}`);
let server, browser;

before(async () => {
  if (skip) return;
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.server.close();
});

// One sweep per family (the CLI's syntax), fixed values off the defaults.
const SWEEPS = [
  { family: 'grating', vary: 'orientation=0:165:15', vary2: 'frequency=2,4,8', set: 'phase=30,contrast=0.8' },
  { family: 'dots', vary: 'diameter=2,3,4,6,8,12,16,24,32,48', set: 'x=4,y=-6' },
  { family: 'bar', vary: 'curvature=-180:180:45', set: 'length=50,width=4,orientation=30' },
  { family: 'uniform', vary: 'hue=0:330:30', set: 'saturation=0.8,lightness=0.45' },
];

function cliProbe(modelFile, sweep) {
  const args = ['probe', modelFile, '--family', sweep.family, ...cliIsa, '--vary', sweep.vary];
  if (sweep.vary2) args.push('--vary', sweep.vary2);
  for (const s of sweep.set.split(',')) args.push('--set', s);
  const lines = execFileSync(cliPath, args, { encoding: 'utf8', maxBuffer: 64 << 20 })
    .trim()
    .split('\n');
  const header = lines[0].split(',');
  const hash = header.indexOf('pixels_fnv1a');
  return lines.slice(1).map((l) => {
    const cells = l.split(',');
    return { hash: cells[hash], outputs: cells.slice(hash + 1).map(Number) };
  });
}

const hashOf = (sweep) =>
  new URLSearchParams({
    view: 'tuning',
    neuron: neuron.id,
    probe: sweep.family,
    vary: sweep.vary,
    ...(sweep.vary2 ? { vary2: sweep.vary2 } : {}),
    set: sweep.set,
  }).toString();

// The page's last sweep once it answers the request the link describes, with its stimuli's hashes.
async function pageSweep(page, key, family) {
  await page.waitForFunction(
    ([k, f]) => {
      const r = window.cortexLens.state[k];
      return r && r.request?.family === f && (r.responses || r.error);
    },
    [key, family],
    { timeout: 60000 },
  );
  return page.evaluate((k) => {
    const r = window.cortexLens.state[k];
    if (r.error) return { error: r.error };
    const fnv = (bytes) => {
      let h = 0xcbf29ce484222325n;
      for (let i = 0; i < bytes.length; ++i) h = ((h ^ BigInt(bytes[i])) * 0x100000001b3n) & 0xffffffffffffffffn;
      return h.toString(16).padStart(16, '0');
    };
    const side = 112 * 112 * 3;
    const hashes = r.stimuli
      ? Array.from({ length: r.points }, (_, i) => fnv(r.stimuli.subarray(i * side, (i + 1) * side)))
      : [];
    return {
      points: r.points,
      outputs: r.outputs,
      responses: Array.from(r.responses),
      hashes,
      precision: r.precision,
      workers: r.workers || 1,
      poolSize: window.cortexLens.pool.size,
    };
  }, key);
}

for (const sweep of SWEEPS) {
  test(`${sweep.family}: the page's stimuli and responses equal cortexlens probe's`, { skip }, async () => {
    const { context, page, errors, requests } = await openPage(browser, server.origin, { hash: hashOf(sweep) });
    try {
      const got = await pageSweep(page, 'probeResult', sweep.family);
      assert.equal(got.error, undefined);
      const cli = cliProbe(modelFileFor(neuron, got.precision === 'int8' ? 'int8' : 'float'), sweep);
      assert.equal(got.points, cli.length);
      // The sweep is shared by the pool's workers (one range each) and joined: the order must be the CLI's.
      assert.equal(got.workers, Math.min(got.poolSize, cli.length));
      for (let k = 0; k < cli.length; ++k) {
        assert.equal(got.hashes[k], cli[k].hash, `stimulus ${k} pixels`);
        assert.equal(
          Math.fround(got.responses[k * got.outputs]),
          Math.fround(cli[k].outputs[0]),
          `stimulus ${k} response`,
        );
      }
      const drawn = await page.evaluate(() => {
        const c = document.querySelector('#tuning-curve');
        return !c.hidden && c.width > 0 && c.dataset.points;
      });
      assert.equal(drawn, String(cli.length));
      assert.deepEqual(errors, []);
      assert.deepEqual(foreignRequests(requests, server.origin), []);
    } finally {
      await context.close();
    }
  });
}

test('all neurons through the shared model: the page equals cortexlens probe; screenshots', {
  skip: skip || (!shared && 'no shared model'),
}, async () => {
  const sweep = SWEEPS[1];
  for (const [name, options] of [
    ['desktop', { width: 1280, height: 1000 }],
    ['phone', { width: 390, height: 844, mobile: true }],
  ]) {
    const { context, page, errors } = await openPage(browser, server.origin, {
      ...options,
      hash: `${hashOf(sweep)}&all=1`,
    });
    try {
      const got = await pageSweep(page, 'probePopulation', sweep.family);
      assert.equal(got.error, undefined);
      if (name === 'desktop') {
        const cli = cliProbe(modelFileFor(shared, got.precision === 'int8' ? 'int8' : 'float'), sweep);
        assert.equal(got.outputs, shared.outputs.length);
        for (let k = 0; k < cli.length; ++k)
          for (let o = 0; o < got.outputs; ++o)
            assert.equal(
              Math.fround(got.responses[k * got.outputs + o]),
              Math.fround(cli[k].outputs[o]),
              `stimulus ${k} output ${o}`,
            );
      }
      await page.waitForFunction(() => document.querySelector('#tuning-population')?.dataset.neurons);
      await page.waitForFunction(() => !document.querySelector('#tuning-curve').hidden);
      await screenshot(page, `tuning-dots-${name}`);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  }
  // A two-parameter heatmap, looked at too.
  const { context, page } = await openPage(browser, server.origin, { hash: hashOf(SWEEPS[0]) });
  await pageSweep(page, 'probeResult', 'grating');
  await screenshot(page, 'tuning-grating-heatmap-desktop');
  await context.close();
});
