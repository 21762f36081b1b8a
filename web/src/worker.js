// The worker that owns one instance of the wasm module and the models loaded into it. The page (and the worker
// pool) talk to it only by messages {id, type, payload} -> {id, result} | {id, error} | {id, progress}; every type,
// its payload and its result are written down in web/PROTOCOL.md.
// Classic worker (not a module worker): Emscripten 3.1.6 emits a UMD script, which importScripts() loads without
// eval, so the page keeps a strict CSP. The Keras reader (fflate + jsfive, ~200 KB) is loaded only when a .keras
// file arrives.
/* global importScripts, createCortexLens, CortexLensKeras */
// The handlers of "Inside the neuron" (synthesis runs, maps, weights, ablation): (payload, progress, context).
import { vizHandlers } from './worker-viz.js';
import { asset } from './build.js';
// The handlers of the "Tuning" view (parametric probes and sweeps): (payload, progress, context).
import { probeHandlers } from './worker-probes.js';
// The handlers of "Nearly identical images" (pathRun).
import { pathHandlers } from './worker-path.js';
// The handlers of "Smallest change" (perturbation runs).
import { perturbHandlers } from './worker-perturb.js';
// The handlers of the model lab (pruning runs).
import { forgetLabModule, pruneHandlers } from './worker-prune.js';
// The handler of the "Live" view (camera and video frames).
import { liveHandlers } from './worker-live.js';

// Loaded models kept per worker: all 219 fit (measured: 20 published models and a prediction each stay inside the
// initial 16 MB wasm heap), so a second image in the population view needs no reloading.
const MAX_MODELS = 240;
const MAX_IMAGES = 3; // decoded images kept (a 48 MP photo is 150 MB of RGB, so keep few)

let modulePromise = null;
const models = new Map(); // key -> {model (Embind handle), info}; Map order = least recently used first
const images = new Map(); // imageId -> {width, height, pixels: Uint8Array (H, W, 3) upright RGB}
const sessionCache = new Map(); // session -> {numbers, pixels: Uint8Array[] (112, 112, 3)}
let nextImageId = 1;
let kerasLoaded = false;

// The threaded module (cortexlens-mt: predictMany spreads models over pthreads) needs SharedArrayBuffer, which a
// browser gives only to a cross-origin-isolated page (COOP + COEP headers, as CORTEXLENS_ISOLATE=1 scripts/serve.sh
// sends); elsewhere (GitHub Pages cannot send them) the single-threaded module runs and the page spreads models over
// workers instead.
// build_site.sh defines __THREADED_BUILD__ when it ships the threaded module.
/* global __THREADED_BUILD__ */
const threaded = typeof __THREADED_BUILD__ !== 'undefined' && __THREADED_BUILD__ && self.crossOriginIsolated === true;

function cortexLens() {
  if (!modulePromise) {
    const script = threaded ? 'cortexlens-mt.js' : 'cortexlens.js';
    importScripts(asset(script));
    modulePromise = createCortexLens({
      locateFile: (file) => new URL(asset(file), self.location.href).href,
      // The threaded module's pthread workers load this script again; inside a worker it cannot find its own URL.
      mainScriptUrlOrBlob: new URL(asset(script), self.location.href).href,
    }).catch((e) => {
      modulePromise = null;
      throw new Error(`the engine could not start: ${e?.message ? e.message : e}`);
    });
  }
  return modulePromise;
}

// precision: what the model's arithmetic is ('int8' for an int8 .clm: its predictions run the integer kernels,
// exactly as `cortexlens predict --precision int8` does; 'float32' otherwise).
function rememberModel(key, model, precision) {
  const old = models.get(key);
  if (old) {
    models.delete(key);
    old.model.delete();
  }
  const entry = { model, precision, info: { ...model.info(), precision } };
  models.set(key, entry);
  while (models.size > MAX_MODELS) {
    const [oldestKey, oldest] = models.entries().next().value;
    models.delete(oldestKey);
    oldest.model.delete(); // Embind handles are not garbage collected
  }
  return entry;
}

function touchModel(key) {
  const entry = models.get(key);
  if (entry) {
    models.delete(key);
    models.set(key, entry);
  }
  return entry;
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot fetch ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

function formatOf(bytes, name) {
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (magic === 'CLENSMDL') return 'clm';
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) return 'keras';
  if (/\.keras$/i.test(name || '')) return 'keras';
  if (/\.clm$/i.test(name || '')) return 'clm';
  throw new Error(
    `${name || 'the file'} is neither a Keras 3 .keras archive (zip, starts with "PK") nor a Cortex Lens ` +
      `model file (starts with "CLENSMDL"); it starts with ${Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ') || 'nothing (empty file)'}`,
  );
}

// -> {model, precision}
async function buildModel(cl, bytes, name) {
  const format = formatOf(bytes, name);
  if (format === 'clm') {
    const model = cl.loadModelFile(bytes);
    return { model, precision: cl.modelPrecision(model) };
  }
  if (!kerasLoaded) {
    importScripts(asset('keras-reader.js'));
    kerasLoaded = true;
  }
  const archive = await CortexLensKeras.readKerasArchive(bytes);
  return {
    model: cl.loadKeras(archive.configText, archive.tensors, (name || 'model').replace(/\.keras$/i, '')),
    precision: 'float32',
  };
}

function runModel(cl, entry, input) {
  if (entry.precision === 'int8') return cl.predictWithPrecision(entry.model, input, 'int8');
  return entry.model.predict(input);
}

// {key, url?, bytes?, name?} -> the loaded entry. Manifest models come by url (the worker fetches them itself, so
// the bytes never cross the page; the service worker caches them); user files come as transferred bytes.
async function ensureModel({ key, url, bytes, name }) {
  const cached = touchModel(key);
  if (cached && !bytes) return cached;
  const cl = await cortexLens();
  const data = bytes ? new Uint8Array(bytes) : await fetchBytes(url);
  const { model, precision } = await buildModel(cl, data, name || url);
  return rememberModel(key, model, precision);
}

function requireInput(input) {
  if (!(input instanceof Float32Array)) throw new Error('input must be a Float32Array (112 x 112 x 3, recentred)');
  return input;
}

function pearson(x, y) {
  const n = x.length;
  let mx = 0,
    my = 0;
  for (let i = 0; i < n; ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0,
    sxx = 0,
    syy = 0;
  for (let i = 0; i < n; ++i) {
    const dx = x[i] - mx,
      dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxy / Math.sqrt(sxx * syy);
}

function recentreInto(pixels, means, out) {
  for (let i = 0; i < pixels.length; i += 3) {
    out[i] = pixels[i] - means[0];
    out[i + 1] = pixels[i + 1] - means[1];
    out[i + 2] = pixels[i + 2] - means[2];
  }
  return out;
}

const handlers = {
  // Held until this worker ends (closed, terminated, crashed, out of memory): the page queues for the same lock, and
  // being granted it is how the page learns that this worker is gone (src/workers.js, WorkerClient.watch).
  async holdLock({ name }) {
    if (typeof name !== 'string' || !name) throw new Error('holdLock needs {name}: the name of the lock to hold');
    await new Promise((held) =>
      navigator.locks.request(name, () => {
        held();
        return new Promise(() => {}); // never released while the worker lives
      }),
    );
    return { held: name };
  },
  async init() {
    const cl = await cortexLens();
    return { channelMeans: cl.channelMeans(), threads: cl.threadCount() };
  },
  // What this worker holds, for the soak test (tests/browser/soak.mjs): the wasm heap only grows, so its size after a
  // long session shows whether memory was given back. Does not start the module.
  async memory() {
    const cl = modulePromise ? await modulePromise : null;
    return {
      wasmBytes: cl ? cl.HEAP8.buffer.byteLength : 0,
      models: models.size,
      images: images.size,
      jsHeapBytes: self.performance?.memory?.usedJSHeapSize ?? null,
    };
  },

  // {bytes: ArrayBuffer} -> {imageId, width, height, format, orientation, preview: {width, height, pixels}}
  async decodeImage({ bytes, name }) {
    const cl = await cortexLens();
    const data = new Uint8Array(bytes);
    const what = name ? `'${name}'` : 'the image';
    let header, image;
    try {
      header = cl.probeImage(data); // refuses huge or unknown images before any pixel is decoded
      image = cl.decodeImage(data);
    } catch (e) {
      throw new Error(`${what}: ${e.message}`);
    }
    const imageId = nextImageId++;
    images.set(imageId, image);
    while (images.size > MAX_IMAGES) images.delete(images.keys().next().value);
    const preview = downscale(image, 720);
    return {
      result: {
        imageId,
        width: image.width,
        height: image.height,
        format: header.format,
        orientation: header.orientation,
        preview,
      },
      transfer: [preview.pixels.buffer],
    };
  },

  // {imageId, crop: {x, y, side} | null} -> {input: Float32Array (112, 112, 3) recentred, pixels: Uint8Array (112, 112, 3)}
  async cropImage({ imageId, crop }) {
    const cl = await cortexLens();
    const image = images.get(imageId);
    if (!image) throw new Error(`image ${imageId} is no longer loaded; choose it again`);
    const out = cl.cropToInput(image, crop ?? null);
    return { result: out, transfer: [out.input.buffer, out.pixels.buffer] };
  },

  // {key, url?, bytes?, name?} -> model info
  async loadModel(payload) {
    const entry = await ensureModel(payload);
    return entry.info;
  },

  // {key, url?, input} -> {outputs: Float32Array, ms}
  async predict({ key, url, input }) {
    const entry = await ensureModel({ key, url });
    const cl = await cortexLens();
    const t0 = performance.now();
    const outputs = runModel(cl, entry, requireInput(input));
    return { result: { outputs, ms: performance.now() - t0 }, transfer: [outputs.buffer] };
  },

  // Several models on one input: {items: [{key, url}], input} -> {results: [{key, outputs: number[]}], computeMs,
  // startedAt, endedAt (ms since the epoch, so the page can place the chunk on its own clock)}.
  // One reply for all of them (the population view's chunks): a message per model would wake the page each time.
  async predictEach({ items, input }) {
    const startedAt = performance.timeOrigin + performance.now();
    requireInput(input);
    const cl = await cortexLens();
    let computeMs = 0;
    const results = [];
    // The chunk's models, one call per precision: the input crosses into wasm once per call rather than once per
    // model (~0.1 ms of a ~2.5 ms int8 pass), and the threaded module spreads the call over its threads.
    const entries = [];
    for (const item of items) entries.push(await ensureModel(item));
    const outputs = new Array(items.length);
    for (const precision of new Set(entries.map((e) => e.precision))) {
      const indices = entries.flatMap((e, i) => (e.precision === precision ? [i] : []));
      const t0 = performance.now();
      const many = cl.predictMany(
        indices.map((i) => entries[i].model),
        input,
        precision,
      );
      computeMs += performance.now() - t0;
      indices.forEach((i, k) => {
        outputs[i] = Array.from(many[k]);
      });
    }
    for (const [i, item] of items.entries()) results.push({ key: item.key, outputs: outputs[i] });
    return { results, computeMs, startedAt, endedAt: performance.timeOrigin + performance.now() };
  },

  // {key, url?, input} -> [{name, shape, data}] per layer (for the panels that look inside)
  async activations({ key, url, input }) {
    const entry = await ensureModel({ key, url });
    const layers = entry.model.activations(requireInput(input));
    return { result: layers, transfer: layers.map((l) => l.data.buffer) };
  },

  // The reviewer check: a model's predictions for session images vs the recorded responses.
  // {key, url?, output, session, images: [{number, url}], recorded: number[]} -> {predicted, r, r2}
  async evaluate({ key, url, output = 0, session, images: list, recorded }, progress) {
    if (!Array.isArray(list) || !Array.isArray(recorded) || list.length !== recorded.length || list.length < 3)
      throw new Error('evaluate needs the same number (>= 3) of images and recorded responses');
    const cl = await cortexLens();
    const entry = await ensureModel({ key, url });
    const means = cl.channelMeans();
    let cache = sessionCache.get(session);
    if (!cache) {
      sessionCache.clear(); // one session at a time: 600 images are 22 MB of pixels
      cache = new Map();
      sessionCache.set(session, cache);
    }
    const input = new Float32Array(112 * 112 * 3);
    const predicted = new Float64Array(list.length);
    for (let i = 0; i < list.length; ++i) {
      const { number, url: imageUrl } = list[i];
      let pixels = cache.get(number);
      if (!pixels) {
        const bytes = await fetchBytes(imageUrl);
        const out = cl.imageToInput(bytes, null);
        pixels = out.pixels;
        cache.set(number, pixels);
      }
      predicted[i] = runModel(cl, entry, recentreInto(pixels, means, input))[output];
      if (i % 50 === 49) progress({ done: i + 1, total: list.length });
    }
    const r = pearson(predicted, recorded);
    return { predicted: Array.from(predicted), r, r2: r * r };
  },

  async forgetModel({ key }) {
    const entry = models.get(key);
    if (entry) {
      models.delete(key);
      entry.model.delete();
    }
    return { forgotten: Boolean(entry) };
  },
};

// One registry by name. The viz handlers' names all start with 'viz', the probes' with 'probe', so none can shadow
// another's.
const context = { cortexLens, ensureModel, requireInput, fetchBytes, runModel };
for (const [file, extra] of [
  ['worker-viz.js', vizHandlers],
  ['worker-probes.js', probeHandlers],
  ['worker-path.js', pathHandlers],
  ['worker-perturb.js', perturbHandlers],
  ['worker-prune.js', pruneHandlers],
  ['worker-live.js', liveHandlers],
])
  for (const [type, handler] of Object.entries(extra)) {
    if (handlers[type]) throw new Error(`${file}: '${type}' is already a handler`);
    handlers[type] = (payload, progress) => handler(payload, progress, context);
  }

// Nearest-neighbour preview for drawing the crop frame; the model never sees it (cropToInput uses the full image).
function downscale(image, maxSide) {
  const scale = Math.min(1, maxSide / Math.max(image.width, image.height));
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  const pixels = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; ++y) {
    const sy = Math.min(image.height - 1, Math.floor((y + 0.5) / scale));
    for (let x = 0; x < width; ++x) {
      const sx = Math.min(image.width - 1, Math.floor((x + 0.5) / scale));
      const s = (sy * image.width + sx) * 3,
        d = (y * width + x) * 3;
      pixels[d] = image.pixels[s];
      pixels[d + 1] = image.pixels[s + 1];
      pixels[d + 2] = image.pixels[s + 2];
    }
  }
  return { width, height, pixels };
}

// Messages are handled one at a time, in order: the wasm module is single-threaded anyway, and ordering keeps
// "load model, then predict" simple for callers.
let queue = Promise.resolve();
self.onmessage = (event) => {
  const { id, type, payload } = event.data || {};
  queue = queue.then(async () => {
    const handler = Object.keys(handlers).includes(type) ? handlers[type] : null;
    try {
      if (!handler)
        throw new Error(
          `unknown message type ${JSON.stringify(type)}; expected one of ${Object.keys(handlers).join(', ')}`,
        );
      const value = await handler(payload || {}, (progress) => self.postMessage({ id, progress }));
      const wrapped =
        value &&
        typeof value === 'object' &&
        'result' in value &&
        Object.keys(value).every((k) => k === 'result' || k === 'transfer');
      if (wrapped) self.postMessage({ id, result: value.result }, value.transfer || []);
      else self.postMessage({ id, result: value });
    } catch (e) {
      let message = e?.message ? e.message : String(e);
      // A trap inside wasm (e.g. out of memory) leaves the module unusable: drop it and everything that lived in
      // it, so the next request starts a fresh instance instead of failing forever.
      if (e instanceof WebAssembly.RuntimeError || /^Aborted\(/.test(message)) {
        models.clear();
        images.clear();
        sessionCache.clear();
        modulePromise = null;
        forgetLabModule();
        message = `the engine stopped (${message}) and has been restarted; models and images will be reloaded`;
        self.postMessage({ id, error: message, reset: true });
        return;
      }
      self.postMessage({ id, error: message });
    }
  });
};
