// Pruning in the lab's wasm module (the page's model lab, wasm/bind_prune.cpp, its own module cortexlens-lab): a run
// stepped unit by unit is deterministic and saves a loadable .clm; a model crosses from the main module as .clm bytes
// unchanged; bad inputs get clear errors; and, with the published data and the native
// CLI, the page's pruning of a shared model restricted to one neuron makes the same removals and the same model (to the
// float rounding of the refits) as `cortexlens prune` on the same images (the CLI on its sse path, the page's float
// arithmetic).
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

// Deterministic 8-bit images: soft dots and stripes at places and sizes that vary with k.
function pixelsOf(k) {
  const p = new Uint8Array(112 * 112 * 3);
  const cx = 20 + ((k * 37) % 72),
    cy = 20 + ((k * 53) % 72),
    radius = 3 + (k % 7);
  for (let y = 0; y < 112; ++y)
    for (let x = 0; x < 112; ++x)
      for (let c = 0; c < 3; ++c)
        p[(y * 112 + x) * 3 + c] =
          Math.hypot(x - cx, y - cy) < radius ? 230 - 20 * c : 90 + 30 * Math.sin((x + k * y) / (4 + (k % 5))) + 5 * c;
  return p;
}

// modelBytes: a .clm file, as the worker hands the lab's module a model (the main module's modelFileOf).
function pruneToEnd(modelBytes, output, options, fit, held) {
  const run = new lab.PruneRun(modelBytes, output, options);
  try {
    for (const p of fit) run.addFitImage(p);
    for (const { pixels, response } of held) run.addEvalImage(pixels, response);
    run.start();
    let units = 0;
    const phases = new Set();
    while (!run.done()) {
      phases.add(run.progress().phase);
      run.advance();
      units += 1;
    }
    return { events: run.events(0), bytes: run.modelFile('pruned', 'test'), units, phases };
  } finally {
    run.delete();
  }
}

test('a pruning run stepped unit by unit is deterministic and saves a loadable model', () => {
  const fit = Array.from({ length: 24 }, (_, k) => pixelsOf(k));
  const held = Array.from({ length: 12 }, (_, k) => ({ pixels: pixelsOf(100 + k), response: Math.sin(k) }));
  const options = { fve: 0.9, delta: -0.05 };
  const a = pruneToEnd(demoBytes, -1, options, fit, held);
  const b = pruneToEnd(demoBytes, -1, options, fit, held);
  assert.deepEqual(a.events, b.events);
  assert.deepEqual(a.bytes, b.bytes);
  assert.equal(a.events[0].step, 0);
  assert.deepEqual(a.events[0].filtersPerStage, [2, 2, 2, 2, 2]);
  assert.ok(a.units >= 5, `${a.units} units of work`);
  assert.ok(a.phases.has('step1') && a.phases.has('step3'));
  for (let i = 1; i < a.events.length; ++i) assert.ok(a.events[i].params < a.events[i - 1].params);
  const loaded = cl.loadModelFile(a.bytes);
  try {
    assert.equal(loaded.info().params, a.events.at(-1).params);
    assert.deepEqual(lab.pruneFigures(a.bytes), {
      params: a.events.at(-1).params,
      filtersPerStage: a.events.at(-1).filtersPerStage,
    });
  } finally {
    loaded.delete();
  }
});

test('a model crosses to the lab module as .clm bytes unchanged (modelFileOf)', () => {
  const model = cl.loadModelFile(demoBytes);
  const input = new Float32Array(112 * 112 * 3).map((_, i) => 60 * Math.sin(i / 97));
  try {
    const bytes = cl.modelFileOf(model);
    const again = cl.loadModelFile(bytes);
    try {
      assert.deepEqual(again.info().params, model.info().params);
      assert.deepEqual(Array.from(again.predict(input)), Array.from(model.predict(input)));
      assert.deepEqual(cl.modelPrecision(again), cl.modelPrecision(model));
    } finally {
      again.delete();
    }
    assert.deepEqual(lab.pruneFigures(bytes).filtersPerStage, [2, 2, 2, 2, 2]);
  } finally {
    model.delete();
  }
  assert.throws(() => lab.pruneFigures(new Uint8Array([1, 2, 3])), /magic|CLENSMDL|too short|model file/i);
  // Pruning lives only in the lab's module, so the page's first download does not carry it.
  assert.equal(cl.PruneRun, undefined);
  assert.equal(cl.pruneFigures, undefined);
});

test('bad inputs to a pruning run get clear errors', () => {
  const model = demoBytes;
  assert.throws(() => new lab.PruneRun(model, 3, {}), /output 3 does not exist|expected a shared model/);
  assert.throws(() => new lab.PruneRun(model, -1, { fve: 2 }), /fve must be a number in \(0, 1\]/);
  assert.throws(() => new lab.PruneRun(model, -1, { delta: 0.5 }), /delta must be a number <= 0/);
  const run = new lab.PruneRun(model, -1, {});
  try {
    assert.throws(() => run.addFitImage(new Uint8Array(10)), /pixels: 10 bytes, expected 37632/);
    assert.throws(() => run.advance(), /has not started/);
    for (let k = 0; k < 5; ++k) run.addFitImage(pixelsOf(k));
    assert.throws(() => run.start(), /at least 10 images/);
    assert.throws(() => run.addEvalImage(pixelsOf(1), Number.NaN), /finite number/);
  } finally {
    run.delete();
  }
});

// --- page = CLI on the published data ------------------------------------------------------------------------

function sessionImages(session) {
  const zip = unzipSync(new Uint8Array(fs.readFileSync(path.join(dataDir, 'sessions', `images_${session}.zip`))), {
    filter: (f) => /(^|\/)image\d{4}\.jpg$/.test(f.name),
  });
  const byNumber = new Map();
  for (const [name, data] of Object.entries(zip)) byNumber.set(Number(name.slice(-8, -4)), data);
  return byNumber;
}

const FIT_STEP = 40; // 15 images of each session's 1-600
const EVAL_STEP = 12; // 50 images of 601-1200

test('the page prunes as `cortexlens prune` does: same removals, same model (190923_n0, step 1)', {
  skip: (!hasData && noDataReason) || (!hasCli && `native CLI not found at ${cliPath} (set CORTEXLENS_CLI)`),
}, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cortexlens-prune-'));
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
    const common = ['--fit-step', String(FIT_STEP), '--eval-step', String(EVAL_STEP), '--step1-only'];
    const t0 = performance.now();
    execFileSync(
      cliPath,
      ['prune', '--isa', 'sse', sharedClm, '--neuron', '190923_n0', ...common, '--threads', '1'].concat([
        '--events',
        path.join(dir, 'events.jsonl'),
        '-o',
        path.join(dir, 'cli.clm'),
        '--data',
        dataDir,
      ]),
      { encoding: 'utf8' },
    );
    const nativeMs = performance.now() - t0;
    const cliEvents = fs
      .readFileSync(path.join(dir, 'events.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));

    const t1 = performance.now();
    const sharedBytes = new Uint8Array(fs.readFileSync(sharedClm));
    const shared = cl.loadModelFile(sharedBytes);
    const output = shared.info().outputNames.indexOf('190923_n0');
    shared.delete();
    const pixels = (images, n) => cl.imageToInput(images.get(n), null).pixels;
    const fit = [];
    for (const session of ['190923', '201025', '210225']) {
      const images = sessionImages(session);
      for (let n = 1; n <= 600; n += FIT_STEP) fit.push(pixels(images, n));
    }
    const images = sessionImages('190923');
    const { shape, data } = readNpyFloat64(path.join(dataDir, 'sessions/responses_repeat_averaged_190923.npy'));
    const held = [];
    for (let n = 601; n <= 1200; n += EVAL_STEP) held.push({ pixels: pixels(images, n), response: data[n - 1] });
    assert.equal(shape[1], 1200);
    const page = pruneToEnd(sharedBytes, output, { step1Only: true }, fit, held);
    const pageMs = performance.now() - t1;
    console.log(
      `# 190923_n0, step 1, ${fit.length} fitting and ${held.length} held-out images: page (wasm, node) ` +
        `${(pageMs / 1000).toFixed(1)} s, native CLI (1 thread, sse) ${(nativeMs / 1000).toFixed(1)} s ` +
        `(load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores)`,
    );

    assert.equal(page.events.length, cliEvents.length);
    assert.ok(page.events.length >= 2, 'at least one removal');
    page.events.forEach((e, i) => {
      const c = cliEvents[i];
      assert.deepEqual(
        [e.step, e.stage, e.filters, e.filtersPerStage, e.params],
        [c.step, c.stage, c.filters, c.filtersPerStage, c.params],
        `event ${i}`,
      );
      // The forward passes are the same floats (sse = the page's arithmetic), but the least-squares refits run
      // Eigen's double algebra, vectorized differently natively and in wasm: refitted weights can differ in their
      // last float bit, which moves later figures by ~1e-7 (measured 7e-8), never the removals.
      assert.ok(Math.abs(e.fve - c.fve) < 1e-6, `event ${i}: fve ${e.fve} vs ${c.fve}`);
      assert.ok(Math.abs(e.heldoutR - c.heldoutR) < 1e-6, `event ${i}: r ${e.heldoutR} vs ${c.heldoutR}`);
    });
    // The same model: every weight, and the same outputs on held-out images.
    const a = cl.loadModelFile(page.bytes);
    const b = cl.loadModelFile(new Uint8Array(fs.readFileSync(path.join(dir, 'cli.clm'))));
    try {
      assert.equal(a.info().params, b.info().params);
      let largest = 0;
      for (const { pixels: p } of held.slice(0, 10)) {
        const input = new Float32Array(p.length);
        const means = cl.channelMeans();
        for (let i = 0; i < p.length; ++i) input[i] = p[i] - means[i % 3];
        const [ya] = a.predict(input);
        const [yb] = b.predict(input);
        largest = Math.max(largest, Math.abs(ya - yb) / Math.max(1, Math.abs(yb)));
      }
      assert.ok(largest < 1e-5, `outputs differ by ${largest}`);
    } finally {
      a.delete();
      b.delete();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
