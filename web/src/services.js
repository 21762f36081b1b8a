// Start-up (the manifest, the gallery, the engine, the link's selection, the first image) and the one computation
// several views show: the current neuron's prediction on the current input, in every precision the build has.
// Views never start these themselves; they read the store keys this module fills (web/src/state.js).

const DEFAULT_GALLERY = { own: [], sessions: [] };

// {url, title} of a gallery key ('SESSION/NUMBER' or a pattern id of gallery/index.json), or null when the build
// has no such image. Shared with the image view, which fetches what the store names.
export function galleryImage(gallery, key) {
  const own = gallery.own.find((o) => o.id === key);
  if (own) return { url: asset(own.url), title: own.title };
  const m = /^(\d{6})\/(\d{1,4})$/.exec(key || '');
  const session = m && gallery.sessions.find((s) => s.session === m[1]);
  if (!session || Number(m[2]) < session.numbers[0] || Number(m[2]) > session.numbers[1]) return null;
  return {
    url: asset(`gallery/${m[1]}/image${m[2].padStart(4, '0')}.jpg`),
    title: `session ${m[1]}, image ${Number(m[2])}`,
  };
}

// The image a visit starts with: the first session's first held-out image (601), as the evidence tab uses them.
import { asset } from './build.js';
import { nextTask } from './dom.js';
function defaultImageKey(gallery) {
  const first = gallery.sessions[0];
  if (first) return `${first.session}/${first.numbers[0] + 600 > first.numbers[1] ? first.numbers[0] : 601}`;
  return gallery.own[0]?.id ?? null;
}

async function loadManifest() {
  try {
    const response = await fetch(asset('models/manifest.json'));
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const manifest = await response.json();
    if (manifest.format !== 'cortexlens-manifest' || !Array.isArray(manifest.models))
      throw new Error('not a Cortex Lens manifest');
    return { manifest };
  } catch (e) {
    return {
      manifest: { models: [] },
      error: `The model list (models/manifest.json) could not be read: ${e.message}. You can still load a model of your own.`,
    };
  }
}

async function loadGallery() {
  try {
    const response = await fetch(asset('gallery/index.json'));
    return response.ok ? await response.json() : DEFAULT_GALLERY;
  } catch {
    return DEFAULT_GALLERY;
  }
}

export async function startServices(app, linkPatch) {
  const { store, worker, pool, catalog } = app;
  const usedModels = new Set(); // ids of the models this visit ran: offered to the service worker for offline use
  const [{ manifest, error }, gallery, engine] = await Promise.all([
    loadManifest(),
    loadGallery(),
    worker.request('init').then(
      (r) => ({ ready: true, ...r }),
      (e) => ({ error: `The engine could not start: ${e.message}` }),
    ),
  ]);
  // The threaded module (cross-origin-isolated pages) spreads models over all cores in one worker.
  if (engine.threads > 1) pool.size = 1;
  store.set({ manifest, entries: [...manifest.models], gallery, engine, manifestError: error || null });
  // Each step below updates the views on screen; a task boundary between them keeps each under 50 ms.
  await nextTask();

  startPredictions(app, usedModels);
  const { image, crop, ...rest } = applyLink(app, linkPatch);
  const first = catalog.entry(rest.neuronId);
  // Start loading the first model now, while the image is fetched and decoded (the worker runs messages in order).
  if (first)
    for (const p of ['int8', 'float'])
      if (catalog.hasPrecision(first, p)) worker.request('loadModel', catalog.modelRef(first, p)).catch(() => {});
  store.set(rest);
  await nextTask();
  await loadFirstImage(store, image, crop);
  handOverToServiceWorker(app, usedModels);
}

// The link's patch minus what this build cannot honour; what was dropped goes to linkProblems. -> the patch left,
// with the image to start with ({image, crop} apart: loading it is awaited).
function applyLink({ store, catalog }, linkPatch) {
  const patch = { ...linkPatch };
  const problems = { ignored: [], image: null, ...store.get('linkProblems') };
  const ignored = [...problems.ignored];
  if (patch.neuronId && !catalog.entry(patch.neuronId)) {
    ignored.push(`neuron=${patch.neuronId}`);
    delete patch.neuronId;
  }
  const entries = store.get('entries');
  patch.neuronId =
    patch.neuronId || (catalog.neurons()[0] || entries.find((e) => e.kind === 'demo') || entries[0])?.id || null;
  const entry = catalog.entry(patch.neuronId);
  const precision = patch.precision || store.get('precision');
  if (entry && !catalog.hasPrecision(entry, precision))
    patch.precision = catalog.hasPrecision(entry, 'float') ? 'float' : 'int8';

  const gallery = store.get('gallery');
  let { image, crop } = patch;
  delete patch.image;
  delete patch.crop;
  if (image && image.source === 'gallery' && !galleryImage(gallery, image.key)) {
    ignored.push(`image=${image.key}`);
    image = null;
  }
  // A local or camera image never travels in a link (main.js has said so in linkProblems); nor does its crop.
  if (image?.source !== 'gallery') {
    image = defaultImageKey(gallery) && { source: 'gallery', key: defaultImageKey(gallery) };
    crop = null;
  }
  if (ignored.length !== problems.ignored.length) patch.linkProblems = { ...problems, ignored };
  return { ...patch, image, crop: crop || null };
}

// Resolves once the image view has turned the first image into the model's input (or failed to).
function loadFirstImage(store, image, crop) {
  if (!image) return Promise.resolve();
  return new Promise((resolve) => {
    const unsubscribe = store.subscribe(['input', 'imageError'], () => {
      unsubscribe();
      resolve();
    });
    store.set({ image, crop });
  });
}

// The current neuron on the current input, every precision the entry has, through the page's main worker. A reply
// for a neuron or input that is no longer current is dropped (latest request wins).
function startPredictions({ store, worker, catalog, timings }, usedModels) {
  async function predict() {
    const entry = catalog.current();
    const input = store.get('input');
    if (!entry || !input) return;
    const ticket = store.ticket(['neuronId', 'input']);
    usedModels.add(entry.id);
    const precisions = ['int8', 'float'].filter((p) => catalog.hasPrecision(entry, p));
    const replies = await Promise.all(
      precisions.map((p) =>
        worker.request('predict', { ...catalog.modelRef(entry, p), input }).then(
          (result) => ({ p, result }),
          (e) => ({ p, error: e.message }),
        ),
      ),
    );
    if (!ticket.current()) return;
    const results = {};
    let failure = null;
    for (const { p, result, error } of replies) {
      if (result) results[p] = result;
      else failure ??= { neuronId: entry.id, message: `${entry.name || entry.id}: ${error}` };
    }
    if (timings.firstPrediction == null && Object.keys(results).length) {
      // From the start of navigation (performance.now()'s origin), so HTML, scripts, wasm compile, manifest, image
      // and model fetches are all inside the figure.
      timings.firstPrediction = performance.now();
      timings.firstPredictionSinceScript = timings.firstPrediction - timings.scriptStart;
      performance.mark('first-prediction');
    }
    store.set({
      results,
      resultsOf: { neuronId: entry.id, input },
      resultsError: failure,
      predictions: store.get('predictions') + 1,
    });
  }
  store.subscribe(['neuronId'], () => {
    // A new neuron's row shows '…' until its own numbers arrive, never the previous neuron's.
    store.set({
      results: {},
      resultsOf: { neuronId: store.get('neuronId'), input: store.get('input') },
      resultsError: null,
    });
    predict();
  });
  store.subscribe(['input'], () => predict());
  // A restarted engine failed the requests it had in flight: the user's image, neuron and view are in the store, so
  // the current prediction simply runs again on the new instance (models are fetched or reloaded on demand).
  worker.onReset(({ reason }) => {
    store.set({ engineReset: { count: (store.get('engineReset')?.count || 0) + 1, reason } });
    predict();
  });
}

function handOverToServiceWorker({ store, catalog }, usedModels) {
  if (!('serviceWorker' in navigator) || location.protocol === 'file:') return;
  navigator.serviceWorker.register('sw.js').catch(() => {});
  // Files fetched before the service worker took control (this first visit) are handed to it to cache, so the
  // page works offline from the second visit on with what the first one used.
  navigator.serviceWorker.ready.then((registration) => {
    const urls = new Set(
      performance
        .getEntriesByType('resource')
        .map((e) => e.name)
        .filter((u) => u.startsWith(location.origin)),
    );
    for (const entry of store.get('entries')) {
      if (entry.kind === 'own' || !usedModels.has(entry.id)) continue;
      for (const p of ['int8', 'float'])
        if (catalog.hasPrecision(entry, p)) urls.add(new URL(catalog.modelRef(entry, p).url, location.href).href);
    }
    registration.active?.postMessage({ type: 'cache', urls: [...urls] });
  });
}
