// Fitting a neuron in the lab's wasm module (wasm/bind_prune.cpp: parseResponses, NeuronFit; the core's
// fit_neuron, the same as `cortexlens fit`): a readout fitted to responses planted through a model recovers them on
// held-out images; a responses file with a mistake gets the CLI's message naming its line; and, with the published
// data and the native CLI, the page's fit of a neuron's recorded responses on the shared model gives the CLI's r and
// model.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { unzipSync } from 'fflate';
import { loadCortexLens, loadLab, repoRoot, dataDir, hasData, noDataReason, readNpyFloat64 } from './module.mjs';

const cl = await loadCortexLens();
const lab = await loadLab();
const demoBytes = new Uint8Array(fs.readFileSync(path.join(repoRoot, 'models/demo/demo_dot_detector.clm')));
const cliPath = process.env.CORTEXLENS_CLI ?? path.join(repoRoot, 'build/release/native/cortexlens');
const hasCli = fs.existsSync(cliPath);

// Deterministic 8-bit images: dots of varied size, place and contrast on stripes (what the demo model responds to).
function pixelsOf(k) {
  const p = new Uint8Array(112 * 112 * 3);
  const cx = 16 + ((k * 37) % 80),
    cy = 16 + ((k * 53) % 80),
    radius = 2 + (k % 9),
    dot = k % 3 === 0 ? 30 : 230;
  for (let y = 0; y < 112; ++y)
    for (let x = 0; x < 112; ++x)
      for (let c = 0; c < 3; ++c)
        p[(y * 112 + x) * 3 + c] =
          Math.hypot(x - cx, y - cy) < radius ? dot - 10 * c : 110 + 40 * Math.sin((x + (k % 4) * y) / (3 + (k % 6)));
  return p;
}

// A seeded normal generator (mulberry32 + Box-Muller): the same noise on every run.
function normals(seed) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

function pearson(a, b) {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n,
    mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0,
    saa = 0,
    sbb = 0;
  for (let i = 0; i < n; ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

function predictAll(modelBytes, pixelList) {
  const model = cl.loadModelFile(modelBytes);
  try {
    return pixelList.map((pixels) => model.predict(cl.cropToInput({ width: 112, height: 112, pixels }, null).input)[0]);
  } finally {
    model.delete();
  }
}

test('a readout fitted to responses planted through a model recovers them on held-out images', () => {
  const n = 300;
  const pixels = Array.from({ length: n }, (_, k) => pixelsOf(k));
  const clean = predictAll(demoBytes, pixels);
  const mean = clean.reduce((s, v) => s + v, 0) / n;
  const sd = Math.sqrt(clean.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
  const normal = normals(7);
  const noisy = clean.map((v) => v + (sd / 3) * normal());

  const fit = new lab.NeuronFit(demoBytes);
  try {
    for (const [i, p] of pixels.entries()) fit.addImage(p, noisy[i]);
    const result = fit.fit('my_neuron');
    assert.equal(result.fitImages, 240);
    assert.equal(result.heldoutImages, 60);
    assert.ok(result.lambda > 0);
    assert.ok(result.low < result.r && result.r < result.high, JSON.stringify(result));
    const bytes = fit.modelFile('my_neuron', 'test');
    const model = cl.loadModelFile(bytes);
    assert.deepEqual(model.info().outputNames, ['my_neuron']);
    model.delete();
    // Every 5th image (file order) is held out: the r reported is the loaded model's on those, against the noisy
    // responses; against the noiseless ones the fit is closer still.
    const held = pixels.filter((_, i) => i % 5 === 4);
    const predicted = predictAll(bytes, held);
    const heldNoisy = noisy.filter((_, i) => i % 5 === 4);
    const heldClean = clean.filter((_, i) => i % 5 === 4);
    assert.ok(
      Math.abs(pearson(predicted, heldNoisy) - result.r) < 1e-4,
      `${pearson(predicted, heldNoisy)} vs ${result.r}`,
    );
    const cleanR = pearson(predicted, heldClean);
    console.log(
      `# planted through the demo model, noise sd 1/3 of the signal's: held-out r ${result.r.toFixed(3)} ` +
        `(95% CI ${result.low.toFixed(3)}..${result.high.toFixed(3)}), against the noiseless responses ${cleanR.toFixed(3)}`,
    );
    assert.ok(cleanR > result.r, `${cleanR} vs ${result.r}`);
    assert.ok(cleanR > 0.8, `${cleanR}`);
  } finally {
    fit.delete();
  }
});

test('a responses file with a mistake gets the CLI’s message, naming its line', () => {
  // The messages tests/CMakeLists.txt pins for `cortexlens fit` (fit_bad_*) on the same files.
  const expected = {
    wrong_columns: /line 12: found 3 columns, expected 2 \(image, response\)/,
    not_a_number: /line 7: response 'abc' is not a number/,
    too_few: /12 responses, expected at least 50/,
    unknown_id: /line 22: unknown image id '211022\/0005', expected SESSION\/NUMBER/,
    duplicate_id: /line 61: image '190923\/0007' appears again \(first on line 7\)/,
  };
  for (const [name, message] of Object.entries(expected)) {
    const text = fs.readFileSync(path.join(repoRoot, 'tests/bad_responses', `${name}.csv`), 'utf8');
    assert.throws(() => lab.parseResponses(text, `${name}.csv`, false), message, name);
  }
  // Ids as the data names them (image0600.jpg) or short (7) are normalised; a header line is allowed.
  const lines = Array.from({ length: 48 }, (_, i) => `210225/${100 + i},${i % 7}`);
  const rows = lab.parseResponses(
    `image,response\n190923/7,1.5\n201025/image0600.jpg,-2\n${lines.join('\n')}`,
    'ok.csv',
    false,
  );
  assert.equal(rows.length, 50);
  assert.deepEqual(
    rows.slice(0, 3).map((r) => [r.image, r.response, r.line]),
    [
      ['190923/0007', 1.5, 2],
      ['201025/0600', -2, 3],
      ['210225/0100', 0, 4],
    ],
  );
  // With the lab's own images, a file name; a path out of the folder is refused.
  const own = Array.from({ length: 50 }, (_, i) => `photo ${i}.png,${i % 5}`).join('\n');
  assert.equal(lab.parseResponses(own, 'own.csv', true)[0].image, 'photo 0.png');
  assert.throws(
    () => lab.parseResponses(`../a.png,1\n${own}`, 'own.csv', true),
    /line 1: image '..\/a.png' is not a file name/,
  );

  const fit = new lab.NeuronFit(demoBytes);
  try {
    assert.throws(() => fit.addImage(new Uint8Array(10), 1), /pixels: 10 bytes, expected 37632/);
    assert.throws(() => fit.addImage(pixelsOf(1), Number.NaN), /finite/);
    assert.throws(() => fit.modelFile('x', 'y'), /nothing fitted yet/);
    for (let k = 0; k < 20; ++k) fit.addImage(pixelsOf(k), k);
    assert.throws(() => fit.fit('x'), /20 responses, expected at least 50/);
  } finally {
    fit.delete();
  }
  assert.throws(() => new lab.NeuronFit(new Uint8Array([1, 2, 3])), /./);
});

// --- page = CLI on the published data ------------------------------------------------------------------------

test('the page fits a recorded neuron as `cortexlens fit` does: same r, same model (190923_n3, 150 images)', {
  skip: (!hasData && noDataReason) || (!hasCli && `native CLI not found at ${cliPath} (set CORTEXLENS_CLI)`),
}, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cortexlens-fit-'));
  try {
    const sharedClm = path.join(dir, 'shared_100.clm');
    execFileSync(cliPath, [
      'convert',
      path.join(dataDir, 'shared_compact_models/from_ensemble_model/shared_compact_model_100filters.keras'),
      '-o',
      sharedClm,
      '--precision',
      'float',
    ]);
    // Neuron 3 of session 190923: its repeat-averaged responses to every 8th image (rows: neurons, columns: images).
    const responses = readNpyFloat64(path.join(dataDir, 'sessions/responses_repeat_averaged_190923.npy')).data;
    const numbers = Array.from({ length: 150 }, (_, i) => 1 + 8 * i);
    const csv = `image,response\n${numbers.map((n) => `190923/${n},${responses[3 * 1200 + n - 1]}`).join('\n')}\n`;
    fs.writeFileSync(path.join(dir, 'responses.csv'), csv);
    const printed = execFileSync(
      cliPath,
      ['fit', '--isa', 'sse', '--threads', '1', sharedClm, '--responses', path.join(dir, 'responses.csv')].concat([
        '--name',
        'neuron3',
        '-o',
        path.join(dir, 'cli.clm'),
        '--data',
        dataDir,
      ]),
      { encoding: 'utf8' },
    );
    const cliR = Number(/r on held-out images: (-?[\d.]+)/.exec(printed)[1]);

    const zip = unzipSync(new Uint8Array(fs.readFileSync(path.join(dataDir, 'sessions', 'images_190923.zip'))), {
      filter: (f) => /(^|\/)image\d{4}\.jpg$/.test(f.name),
    });
    const byNumber = new Map(Object.entries(zip).map(([name, data]) => [Number(name.slice(-8, -4)), data]));
    const rows = lab.parseResponses(csv, 'responses.csv', false);
    const fit = new lab.NeuronFit(new Uint8Array(fs.readFileSync(sharedClm)));
    let result, pageBytes;
    try {
      for (const row of rows) {
        const pixels = cl.imageToInput(byNumber.get(Number(row.image.slice(-4))), null).pixels;
        fit.addImage(pixels, row.response);
      }
      result = fit.fit('neuron3');
      pageBytes = fit.modelFile('neuron3', 'test');
    } finally {
      fit.delete();
    }
    console.log(
      `# 190923_n3 on shared_100, 120 fitting and 30 held-out images: page r ${result.r.toFixed(4)}, ` +
        `CLI ${printed.match(/r on held-out images: .*/)[0]}`,
    );
    assert.equal(result.fitImages, 120);
    assert.equal(result.heldoutImages, 30);
    assert.ok(Math.abs(result.r - cliR) < 1e-4, `page ${result.r}, CLI ${cliR}`);
    // The two models predict the same on images neither fitted on.
    const probe = [1001, 1003, 1005, 1007].map((n) => cl.imageToInput(byNumber.get(n), null).pixels);
    const page = predictAll(pageBytes, probe);
    const cli = predictAll(new Uint8Array(fs.readFileSync(path.join(dir, 'cli.clm'))), probe);
    for (const [i, v] of page.entries())
      assert.ok(Math.abs(v - cli[i]) <= 1e-3 * (1 + Math.abs(cli[i])), `${v} vs ${cli[i]}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
