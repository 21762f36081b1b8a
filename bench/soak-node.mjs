// The soak of the wasm module under node: one module instance does what a long page session asks of its worker —
// predictions across every model of the site (int8 and float files, kept in a least-recently-used set of 240
// models as web/src/worker.js keeps them, so models are loaded, evicted and loaded again), image changes (decode
// a gallery image, crop it), and synthesis runs — and the memory is sampled every 100 operations: the wasm heap
// (it only ever grows, so any growth after warm-up is memory that was not given back) and the JS heap after a full
// garbage collection. Fails (exit 1) on any error or when growth after warm-up passes the bounds below.
//
// Usage: node --expose-gc bench/soak-node.mjs [--predictions 2000] [--images 200] [--synth 20] [--synth-steps 100]
//   [--models all|N]
//   Site: CORTEXLENS_SITE_DIR (default build/site; its models/ and gallery/, so the published models need the
//   site built with the data); module: CORTEXLENS_WASM_DIR (default build/wasm/wasm).
// The short CI version (tests/wasm/soak.test.mjs): 20 models, 400 predictions, 40 image changes, 4 synthesis runs.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadCortexLens, repoRoot } from '../tests/wasm/module.mjs';

// Bounds on growth from the end of warm-up to the end of the run (justified in bench/README.md, "Soak"):
// the wasm heap holds the models (LRU, at most 240: a published int8 model is ~70 KB loaded, float ~200 KB) and at
// most a few images; once every model has been loaded once it has reached its working set, so it may grow by one
// allocator step at most (16 MB: Emscripten grows the heap by at least that much or 20% each time). The JS heap
// holds only the current image and outputs: 8 MB covers V8's own caches and the sampling series itself.
const WASM_GROWTH_BOUND = 16 * 1024 * 1024;
const JS_GROWTH_BOUND = 8 * 1024 * 1024;
const MAX_MODELS = 240; // as web/src/worker.js

// What the soak runs on: the site's neuron models (both files of each) and its gallery images.
function siteInputs(siteDir, models) {
  const manifest = JSON.parse(fs.readFileSync(path.join(siteDir, 'models/manifest.json'), 'utf8'));
  const entries = manifest.models.filter((m) => m.kind === 'neuron');
  const pool = (entries.length ? entries : manifest.models).slice(0, models); // without the data: the demo only
  const variants = pool.flatMap((m) => Object.entries(m.files).map(([precision, file]) => ({ m, precision, file })));
  const galleryDir = path.join(siteDir, 'gallery');
  const imageFiles = fs
    .readdirSync(galleryDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => fs.readdirSync(path.join(galleryDir, d.name)).map((f) => path.join(galleryDir, d.name, f)))
    .filter((f) => /\.(jpg|png)$/.test(f))
    .sort();
  return { variants, imageFiles };
}

// The worker's model set: at most MAX_MODELS loaded, the least recently used deleted first.
function modelCache(cl, siteDir) {
  const loaded = new Map(); // file -> {model, precision}; Map order = least recently used first
  return {
    loaded,
    get(v) {
      let entry = loaded.get(v.file);
      if (entry) {
        loaded.delete(v.file);
      } else {
        const bytes = new Uint8Array(fs.readFileSync(path.join(siteDir, 'models', v.file)));
        entry = { model: cl.loadModelFile(bytes), precision: v.precision };
        if (loaded.size >= MAX_MODELS) {
          const [oldest, old] = loaded.entries().next().value;
          old.model.delete();
          loaded.delete(oldest);
        }
      }
      loaded.set(v.file, entry);
      return entry;
    },
    clear() {
      for (const { model } of loaded.values()) model.delete();
      loaded.clear();
    },
  };
}

// Image change k: decode a gallery file and crop it with a crop that moves with k (the page's dragging, not always
// the centred square) -> the model input.
function imageInput(cl, file, k) {
  const image = cl.decodeImage(new Uint8Array(fs.readFileSync(file)));
  const side = Math.max(8, Math.floor(Math.min(image.width, image.height) * (0.6 + 0.04 * ((k * 7) % 10))));
  const crop = { x: (k * 13) % (image.width - side + 1), y: (k * 5) % (image.height - side + 1), side };
  return cl.cropToInput(image, crop).input;
}

function synthesize(cl, model, steps, seed) {
  const run = new cl.Synthesis(model, { steps, seed });
  try {
    while (!run.done()) run.advance(25);
    if (!Number.isFinite(run.bestResponse())) throw new Error(`synthesis ${seed}: non-finite response`);
  } finally {
    run.delete();
  }
}

function predictOnce(cl, entry, v, input) {
  const out =
    entry.precision === 'int8' ? cl.predictWithPrecision(entry.model, input, 'int8') : entry.model.predict(input);
  if (out.length !== v.m.outputs.length || !out.every(Number.isFinite))
    throw new Error(`${v.file}: ${out.length} outputs, expected ${v.m.outputs.length} finite values`);
}

function summary(samples, warmUpOp, total) {
  const base = samples.find((s) => s.op >= (warmUpOp ?? total)) ?? samples.at(-1);
  const last = samples.at(-1);
  const wasmGrowth = (last.wasmMB - base.wasmMB) * 2 ** 20;
  const jsGrowth = (last.jsHeapMB - base.jsHeapMB) * 2 ** 20;
  return {
    warmUpOp: base.op,
    wasmGrowthMB: wasmGrowth / 2 ** 20,
    jsGrowthMB: jsGrowth / 2 ** 20,
    withinBounds: wasmGrowth <= WASM_GROWTH_BOUND && jsGrowth <= JS_GROWTH_BOUND,
    bounds: { wasmMB: WASM_GROWTH_BOUND / 2 ** 20, jsMB: JS_GROWTH_BOUND / 2 ** 20 },
    gcExposed: typeof globalThis.gc === 'function',
  };
}

export async function soak({
  predictions = 2000,
  images = 200,
  synth = 20,
  synthSteps = 100,
  every = 100,
  models = Number.POSITIVE_INFINITY, // the first `models` neuron models only (the short CI version)
  siteDir = path.resolve(repoRoot, process.env.CORTEXLENS_SITE_DIR || 'build/site'),
  log = console.log,
} = {}) {
  const cl = await loadCortexLens();
  const { variants, imageFiles } = siteInputs(siteDir, models);
  const cache = modelCache(cl, siteDir);
  const samples = [];
  const done = { predictions: 0, images: 0, synth: 0 };
  const sample = (op) => {
    globalThis.gc?.();
    const s = {
      op,
      ...done,
      wasmMB: cl.HEAP8.buffer.byteLength / 2 ** 20,
      jsHeapMB: process.memoryUsage().heapUsed / 2 ** 20,
    };
    samples.push(s);
    log(
      `op ${String(op).padStart(5)}: wasm ${s.wasmMB.toFixed(1)} MB, JS heap ${s.jsHeapMB.toFixed(1)} MB ` +
        `(${done.predictions} predictions, ${done.images} images, ${done.synth} synthesis runs, ` +
        `${cache.loaded.size} models loaded)`,
    );
  };

  // The operations interleaved as a session mixes them: an image change every predictions/images predictions, a
  // synthesis run every predictions/synth predictions.
  const total = predictions + images + synth;
  const imageEvery = Math.max(1, Math.floor(predictions / Math.max(1, images)));
  const synthEvery = Math.max(1, Math.floor(predictions / Math.max(1, synth)));
  let input = imageInput(cl, imageFiles[0], 0);
  done.images = 1;
  sample(0);
  const started = performance.now();
  let warmUpOp = null;
  for (let op = 1; op < total; ) {
    if (done.images < images && done.predictions >= done.images * imageEvery) {
      input = imageInput(cl, imageFiles[done.images % imageFiles.length], done.images);
      done.images += 1;
    } else if (done.synth < synth && done.predictions >= (done.synth + 1) * synthEvery - synthEvery / 2) {
      synthesize(cl, cache.get(variants[(done.synth * 37) % variants.length]).model, synthSteps, done.synth + 1);
      done.synth += 1;
    } else {
      const v = variants[done.predictions % variants.length];
      predictOnce(cl, cache.get(v), v, input);
      done.predictions += 1;
    }
    op += 1;
    // Warm-up ends once every model file has been loaded once (the LRU set then holds its working set).
    if (warmUpOp === null && done.predictions >= variants.length) warmUpOp = op;
    if (op % every === 0 || op === total) sample(op);
  }
  const seconds = (performance.now() - started) / 1000;
  cache.clear();
  return { samples, seconds, done, ...summary(samples, warmUpOp, total) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      predictions: { type: 'string', default: '2000' },
      images: { type: 'string', default: '200' },
      synth: { type: 'string', default: '20' },
      'synth-steps': { type: 'string', default: '100' },
      models: { type: 'string', default: 'all' },
    },
  });
  const result = await soak({
    predictions: Number(values.predictions),
    images: Number(values.images),
    synth: Number(values.synth),
    synthSteps: Number(values['synth-steps']),
    models: values.models === 'all' ? Number.POSITIVE_INFINITY : Number(values.models),
  });
  console.log(
    `${result.done.predictions} predictions, ${result.done.images} image changes, ${result.done.synth} synthesis ` +
      `runs in ${result.seconds.toFixed(1)} s; after warm-up (op ${result.warmUpOp}): wasm heap ` +
      `+${result.wasmGrowthMB.toFixed(1)} MB (bound ${result.bounds.wasmMB}), JS heap ` +
      `${result.jsGrowthMB >= 0 ? '+' : ''}${result.jsGrowthMB.toFixed(1)} MB (bound ${result.bounds.jsMB})` +
      (result.gcExposed ? '' : ' [run node with --expose-gc for a JS heap measured after collection]'),
  );
  if (!result.withinBounds) {
    console.error('soak: memory grew past its bound after warm-up');
    process.exit(1);
  }
}
