// Parametric probes in the wasm module: the page's bindings draw the same bytes as the native CLI for every family
// (the CLI's CSV carries each stimulus' FNV-1a hash), a sweep's numbers equal the CLI's, and bad parameters become
// JS Errors that say what was expected.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { loadCortexLens, repoRoot } from './module.mjs';
import { fnv1aHex, parseVary, formatValue } from '../../web/src/probes.js';

const cl = await loadCortexLens();
const cliPath = process.env.CORTEXLENS_CLI ?? path.join(repoRoot, 'build/release/native/cortexlens');
const hasCli = fs.existsSync(cliPath);
const demoPath = path.join(repoRoot, 'models/demo/demo_dot_detector.clm');

// One sweep per family, each with fixed values off the defaults so every parameter's path is exercised.
const SWEEPS = [
  {
    family: 'grating',
    vary: ['orientation=0:165:15', 'frequency=1,2.5,7.3,30'],
    set: { phase: 33, contrast: 0.7, colour1: 0xff8000 },
  },
  { family: 'dots', vary: ['diameter=1:41:4'], set: { x: 3.3, y: -7.1, count: 3, spacing: 19.5, polarity: -1 } },
  { family: 'bar', vary: ['curvature=-300:300:60', 'orientation=0,37,90'], set: { length: 47, width: 3.5, x: -4 } },
  { family: 'uniform', vary: ['hue=0:350:10'], set: { saturation: 0.6, lightness: 0.45 } },
];

function cliCsv(sweep, precision) {
  const args = ['probe', demoPath, '--family', sweep.family, '--precision', precision, '--isa', 'sse'];
  for (const v of sweep.vary) args.push('--vary', v);
  for (const [k, v] of Object.entries(sweep.set)) args.push('--set', `${k}=${v}`);
  const lines = execFileSync(cliPath, args, { encoding: 'utf8' }).trim().split('\n');
  const header = lines[0].split(',');
  return { header, rows: lines.slice(1).map((l) => l.split(',')) };
}

test('the families and their parameters are listed', () => {
  const families = cl.probeFamilies();
  assert.deepEqual(
    families.map((f) => f.name),
    ['grating', 'dots', 'bar', 'uniform'],
  );
  const grating = families[0].parameters.map((p) => p.name);
  assert.deepEqual(grating, ['orientation', 'frequency', 'phase', 'contrast', 'colour1', 'colour2']);
  assert.equal(families[0].parameters[1].unit, 'cycles/image');
});

for (const sweep of SWEEPS) {
  test(`${sweep.family}: the page's pixels and int8 and float responses equal the native CLI's`, {
    skip: !hasCli && `native CLI not found at ${cliPath} (set CORTEXLENS_CLI)`,
  }, () => {
    const axes = sweep.vary.map(parseVary);
    const model = cl.loadModelFile(new Uint8Array(fs.readFileSync(demoPath)));
    try {
      for (const precision of ['int8', 'float']) {
        const csv = cliCsv(sweep, precision);
        const hashColumn = csv.header.indexOf('pixels_fnv1a');
        // The int8 call also returns the stimuli it ran, as the page's curve shows them.
        const out = cl.probeSweep(model, precision, sweep.family, sweep.set, axes, 0, -1, precision === 'int8');
        assert.equal(out.points, csv.rows.length);
        for (let k = 0; k < out.points; ++k) {
          const stimulus = cl.sweepStimulus(sweep.family, sweep.set, axes, k);
          // Parameters, pixels (hash) and the response, as the CLI printed them.
          assert.deepEqual(Array.from(stimulus.values, formatValue), csv.rows[k].slice(1, hashColumn), `row ${k}`);
          assert.equal(fnv1aHex(stimulus.pixels), csv.rows[k][hashColumn], `${sweep.family} stimulus ${k} pixels`);
          if (out.stimuli) {
            const side = 112 * 112 * 3;
            const n = stimulus.values.length;
            assert.equal(fnv1aHex(out.stimuli.subarray(k * side, (k + 1) * side)), csv.rows[k][hashColumn]);
            assert.deepEqual(Array.from(out.values.subarray(k * n, (k + 1) * n)), Array.from(stimulus.values));
          }
          assert.equal(
            Math.fround(out.responses[k]),
            Math.fround(Number(csv.rows[k][hashColumn + 1])),
            `${sweep.family} ${precision} stimulus ${k} response`,
          );
        }
      }
    } finally {
      model.delete();
    }
  });
}

test('drawProbe is the sweep stimulus with the same values', () => {
  const a = cl.drawProbe('bar', { length: 47, width: 3.5, x: -4, curvature: 120, orientation: 37 });
  const b = cl.sweepStimulus(
    'bar',
    { length: 47, width: 3.5, x: -4 },
    [
      { name: 'curvature', values: [120] },
      { name: 'orientation', values: [37] },
    ],
    0,
  );
  assert.equal(fnv1aHex(a), fnv1aHex(b.pixels));
  assert.equal(a.length, 112 * 112 * 3);
});

test('bad probe requests are JS Errors that say what was expected', () => {
  assert.throws(
    () => cl.drawProbe('gabor', {}),
    /unknown probe family 'gabor', expected grating, dots, bar \(or curve\) or uniform/,
  );
  assert.throws(
    () => cl.drawProbe('grating', { frequency: 99 }),
    /grating frequency: found 99, expected a number in 0\.\.56/,
  );
  assert.throws(
    () => cl.drawProbe('grating', { frequency: 'x' }),
    /grating frequency: expected a number, found string/,
  );
  assert.throws(() => cl.drawProbe('dots', { size: 3 }), /dots has no parameter 'size'/);
  const model = cl.loadModelFile(new Uint8Array(fs.readFileSync(demoPath)));
  try {
    assert.throws(
      () => cl.probeSweep(model, 'int4', 'dots', {}, [{ name: 'x', values: [0] }], 0, -1, false),
      /expected 'int8' or 'float'/,
    );
    assert.throws(
      () => cl.probeSweep(model, 'int8', 'dots', {}, [], 0, -1, false),
      /a sweep varies 1 or 2 parameters, found 0/,
    );
    assert.throws(
      () => cl.probeSweep(model, 'int8', 'dots', {}, [{ name: 'x', values: [0, 1] }], 1, 5, false),
      /expected a range in 0\.\.2/,
    );
    // The module keeps working after an error.
    assert.equal(cl.probeSweep(model, 'int8', 'dots', {}, [{ name: 'x', values: [0, 1] }], 0, -1, false).points, 2);
  } finally {
    model.delete();
  }
});
