// Worker-side handlers of the model lab (web/src/views/lab.js), registered by web/src/worker.js beside the page's
// own: (payload, progress, context) -> result | {result, transfer}.
//
// A pruning is a *run* the page steps through (PROTOCOL.md: why runs): pruneStart loads the images and does the first
// pass, pruneAdvance does one unit of work (a stage of step 1, step 3's start, one step 3 candidate or removal; the
// same core loop as `cortexlens prune`, wasm/bind_prune.cpp), pruneModel hands out the model so far, pruneStop frees
// it. The page pauses by not asking for the next unit and cancels by stopping the run.
/* global importScripts, createCortexLensLab */
import { asset } from './build.js';
import { runTable } from './worker-runs.js';

// Pruning is its own wasm module (cortexlens-lab, wasm/bind_prune.cpp: Eigen's regressions, a quarter of the engine),
// loaded the first time the lab needs it, so a visitor who never opens the lab never downloads it. Models cross
// from the main module as .clm bytes (modelFileOf): the two instances share no handles.
let labPromise = null;
function labModule() {
  if (!labPromise) {
    importScripts(asset('cortexlens-lab.js'));
    labPromise = createCortexLensLab({
      locateFile: (file) => new URL(asset(file), self.location.href).href,
    }).catch((e) => {
      labPromise = null;
      throw new Error(`the model lab's engine could not start: ${e?.message ? e.message : e}`);
    });
  }
  return labPromise;
}

// The model's .clm bytes for the lab's module: what the main module has loaded under `key` (a manifest model, or the
// user's own file, which has no URL to fetch again).
async function modelBytes(context, key, url) {
  const cl = await context.cortexLens();
  const { model } = await context.ensureModel({ key, url });
  return cl.modelFileOf(model);
}

// Each run holds its images (recentred floats, 150 KB each) and, in step 3, the cached stage outputs of every
// fitting image: two runs at most.
const runs = runTable(2, 'pruning run');

// The decoded 112x112 pixels of the images the last run used, by URL, so a second run on the same images fetches
// and decodes none again (1200 images are 45 MB).
let pixelCache = new Map();

async function pixelsOf(cl, context, urls, progress, offset, total) {
  const next = new Map();
  const out = [];
  for (const [i, url] of urls.entries()) {
    let pixels = pixelCache.get(url) || next.get(url);
    if (!pixels && url.startsWith('own:'))
      throw new Error(`your image '${url.slice(4)}' is no longer held by the page's worker: fit the neuron again`);
    if (!pixels) {
      const bytes = await context.fetchBytes(url);
      try {
        pixels = cl.imageToInput(bytes, null).pixels;
      } catch (e) {
        throw new Error(`${url}: ${e.message}`);
      }
    }
    next.set(url, pixels);
    out.push(pixels);
    if (i % 25 === 24) progress({ phase: 'images', done: offset + i + 1, total });
  }
  return { out, next };
}

const outputIndex = (v, what) => {
  if (!Number.isInteger(v) || v < -1) throw new Error(`${what} must be an integer >= -1`);
  return v;
};

// A session image of the site's gallery by the id a responses file names ("190923/0007").
const sessionImageUrl = (id) => {
  const [session, number] = id.split('/');
  return asset(`gallery/${session}/image${number}.jpg`);
};

// The lab's own images cross to the worker whole (the page caps their bytes too: views/lab-fit.js).
const OWN_IMAGES_MAX = 3000;

export const pruneHandlers = {
  // {key, url?, text, source, name, own?: [{name, bytes}]} -> {fit: {r, low, high, lambda, features, fitImages,
  //   heldoutImages}, bytes (the fitted model's .clm), rows, split: {fit: [url], eval: [{url, response}]}}
  //   progress {phase: 'images', done, total} while loading. `text` is a responses file (`cortexlens fit`'s CSV);
  //   with `own` its image column names those files, else the site's session images. `split` names the images for
  //   pruneStart (own images as "own:NAME", kept decoded here), with the fit's held-out rows as the held-out set.
  async pruneFitNeuron({ key, url, text, source, name, own }, progress, context) {
    const cl = await context.cortexLens();
    const lab = await labModule();
    const label = String(source || 'the responses file');
    const ownImages = Array.isArray(own) && own.length > 0;
    if (ownImages && own.length > OWN_IMAGES_MAX)
      throw new Error(`${own.length} images, at most ${OWN_IMAGES_MAX} can be sent with a responses file`);
    const rows = lab.parseResponses(String(text ?? ''), label, ownImages);
    const byName = new Map();
    for (const f of ownImages ? own : []) {
      if (!(f?.bytes instanceof ArrayBuffer)) throw new Error('own images must be {name, bytes: ArrayBuffer}');
      byName.set(String(f.name), new Uint8Array(f.bytes));
    }
    const urls = rows.map((row) => {
      if (!ownImages) return sessionImageUrl(row.image);
      if (!byName.has(row.image))
        throw new Error(`${label} line ${row.line}: image '${row.image}' is not among the images chosen with it`);
      return `own:${row.image}`;
    });
    // Own images are decoded from the bytes sent (a file of the same name may have changed since the last fit);
    // session images come from the cache or are fetched. Both are kept for a pruning after.
    const next = new Map();
    const pixels = [];
    for (const [i, u] of urls.entries()) {
      let p = next.get(u) || (ownImages ? null : pixelCache.get(u));
      if (!p) {
        try {
          p = cl.imageToInput(ownImages ? byName.get(rows[i].image) : await context.fetchBytes(u), null).pixels;
        } catch (e) {
          throw new Error(`${label} line ${rows[i].line}: image '${rows[i].image}': ${e.message}`);
        }
      }
      next.set(u, p);
      pixels.push(p);
      if (i % 25 === 24) progress({ phase: 'images', done: i + 1, total: urls.length });
    }
    pixelCache = next;
    const fitter = new lab.NeuronFit(await modelBytes(context, key, url));
    try {
      for (const [i, p] of pixels.entries()) fitter.addImage(p, rows[i].response);
      progress({ phase: 'fit', done: urls.length, total: urls.length });
      const fit = fitter.fit(String(name));
      const bytes = fitter.modelFile(String(name), `Cortex Lens model lab: ${name} fitted to ${label}`);
      // The fit's own split (every 5th row held out), for pruning the fitted model.
      const split = { fit: [], eval: [] };
      for (const [i, u] of urls.entries())
        if (lab.heldOutRow(i)) split.eval.push({ url: u, response: rows[i].response });
        else split.fit.push(u);
      return {
        result: { fit, bytes, split, rows: rows.length, images: new Set(urls).size },
        transfer: [bytes.buffer],
      };
    } finally {
      fitter.delete();
    }
  },

  // {key, url?, output, fit: [url], eval: [{url, response}], options: {fve, delta, step1Only}}
  //   -> {runId, events, progress, ms: {images, start}}; progress {phase: 'images', done, total} while loading
  //   output: the shared model's output to restrict to (-1: the model has one output already)
  async pruneStart({ key, url, output, fit, eval: held, options }, progress, context) {
    const cl = await context.cortexLens();
    const lab = await labModule();
    if (!Array.isArray(fit) || !fit.every((u) => typeof u === 'string'))
      throw new Error('fit must be a list of image URLs');
    if (!Array.isArray(held) || !held.every((e) => typeof e?.url === 'string' && Number.isFinite(e.response)))
      throw new Error('eval must be a list of {url, response} with a finite response');
    const handle = new lab.PruneRun(await modelBytes(context, key, url), outputIndex(output, 'output'), options || {});
    try {
      const t0 = performance.now();
      const total = fit.length + held.length;
      const a = await pixelsOf(cl, context, fit, progress, 0, total);
      const b = await pixelsOf(
        cl,
        context,
        held.map((e) => e.url),
        progress,
        fit.length,
        total,
      );
      pixelCache = new Map([...a.next, ...b.next]);
      for (const pixels of a.out) handle.addFitImage(pixels);
      for (const [i, pixels] of b.out.entries()) handle.addEvalImage(pixels, held[i].response);
      const t1 = performance.now();
      progress({ phase: 'start', done: total, total });
      handle.start();
      const t2 = performance.now();
      const runId = runs.add({ handle, seen: 1, ms: t2 - t1 });
      return { runId, events: handle.events(0), progress: handle.progress(), ms: { images: t1 - t0, start: t2 - t1 } };
    } catch (e) {
      handle.delete();
      throw e;
    }
  },

  // {runId} -> {events (new since the last call), progress, done, ms (one unit), totalMs (the run's compute)}
  async pruneAdvance({ runId }) {
    const run = runs.take(runId);
    const t0 = performance.now();
    const h = run.handle;
    if (!h.done()) h.advance();
    const ms = performance.now() - t0;
    run.ms += ms;
    const events = h.events(run.seen);
    run.seen += events.length;
    return { events, progress: h.progress(), done: h.done(), ms, totalMs: run.ms };
  },

  // {runId, name, source, key?} -> {bytes: Uint8Array, info?}: the model so far as a float32 .clm; with `key` it is
  // also loaded into this worker under that key (for synthesis and the other views).
  async pruneModel({ runId, name, source, key }, _progress, context) {
    const run = runs.take(runId);
    const bytes = run.handle.modelFile(String(name || 'pruned'), String(source || 'Cortex Lens model lab'));
    let info = null;
    if (key) info = (await context.ensureModel({ key, bytes: bytes.slice().buffer, name: `${name}.clm` })).info;
    return { result: { bytes, info }, transfer: [bytes.buffer] };
  },

  // {key, url?} -> {params, filtersPerStage}: a model's size counted as the pruning counts it (BatchNormalization
  // folded), so a published model and a pruned one compare like for like.
  async pruneFigures({ key, url }, _progress, context) {
    const lab = await labModule();
    return lab.pruneFigures(await modelBytes(context, key, url));
  },

  async pruneStop({ runId }) {
    return { stopped: runs.forget(runId) };
  },
};

// After a trap in either module the worker starts afresh (worker.js): the lab's instance and the runs that lived in
// it are dropped too (their handles belong to an instance that may no longer run).
export function forgetLabModule() {
  labPromise = null;
  runs.drop();
  pixelCache = new Map();
}
