// The page: state, wiring of the panels, and the link to the workers. The manifest (models/manifest.json) drives
// everything model-related; the page works with whatever models a build holds (the demo model only, without data).
import { WorkerClient, WorkerPool } from './workers.js';
import { percentileOf, ordinal, drawDistribution, drawPopulation, drawScatter } from './charts.js';
import { setupImagePanel } from './image-panel.js';
import { renderModelCard, layerTable } from './model-card.js';
import { h, $, showError, clearError, downloadCsv, formatNumber } from './dom.js';

const t0 = performance.now();
const worker = new WorkerClient('worker.js');
const pool = new WorkerPool(worker, Math.min(4, navigator.hardwareConcurrency || 2));
const listeners = new Set();

const state = {
  manifest: null,
  entries: [],          // manifest models + user-loaded ones
  byId: new Map(),
  neuronId: null,
  precision: 'int8',
  input: null,          // Float32Array (112, 112, 3) recentred: what the model sees
  seenPixels: null,     // Uint8Array (112, 112, 3)
  image: null,          // {key, title, imageId, width, height}
  crop: null,           // {x, y, side} in upright pixels of the full image
  results: {},          // precision -> {outputs, ms} for the current neuron and input
  population: new Map(),  // neuron id -> {percentile, raw, exact}
  populationInput: null,
  evidence: null,
  usedModels: new Set(),  // ids of the models this visit ran (offered to the service worker for offline use)
  firstPredictionMs: null,
};
window.cortexLens = { state, worker, pool, timings: {} };  // for the browser tests and the curious

const notify = () => { for (const f of listeners) f(getVizState()); };
function getVizState() {
  const entry = state.byId.get(state.neuronId);
  return {
    neuronId: state.neuronId, entry, precision: state.precision,
    model: entry ? modelRef(entry, 'float') : null,
    input: state.input, pixels: state.seenPixels, crop: state.crop, image: state.image,
  };
}

// --- models -------------------------------------------------------------------------------------------------

// {key, url} for the worker: key names one loaded model per precision; url is what the worker fetches.
// An engine without the .clm reader runs the .keras files (float only).
function modelRef(entry, precision) {
  if (entry.kind === 'own') return { key: entry.workerKey };
  const files = entry.files || {};
  if (state.canReadModelFiles && files[precision]) return { key: `${entry.id}:${precision}`, url: `models/${files[precision]}` };
  if (files.keras) return { key: `${entry.id}:keras`, url: `models/${files.keras}` };
  return { key: `${entry.id}:${precision}`, url: `models/${files[precision] || files.float || files.int8}` };
}
function hasPrecision(entry, p) {
  if (entry.kind === 'own') return p === entry.precision;
  const files = entry.files || {};
  return Boolean((state.canReadModelFiles && files[p]) || (p === 'float' && files.keras));
}

function referenceOf(entry, outputIndex = 0) {
  // A dropped model whose output is named after a recorded neuron (e.g. the authors' .keras file of that neuron)
  // is compared with that neuron's reference distribution.
  if (entry.kind === 'own') {
    const twin = state.byId.get(entry.outputs?.[outputIndex]);
    return twin && twin.kind === 'neuron' ? referenceOf(twin) : null;
  }
  const ref = entry.reference;
  if (!ref) return null;
  return Array.isArray(ref) ? ref[outputIndex]?.quantiles ?? null : ref.quantiles ?? null;
}
const fidelityOf = (entry) => (Array.isArray(entry.fidelity) ? null : entry.fidelity) || null;
const neuronEntries = () => state.entries.filter((e) => e.kind === 'neuron');
const sharedEntry = () => state.entries.find((e) => e.kind === 'shared');

async function loadManifest() {
  try {
    const response = await fetch('models/manifest.json');
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const manifest = await response.json();
    if (manifest.format !== 'cortexlens-manifest' || !Array.isArray(manifest.models)) throw new Error('not a Cortex Lens manifest');
    state.manifest = manifest;
    for (const m of manifest.models) addEntry(m);
  } catch (e) {
    showError($('neuron-error'), `The model list (models/manifest.json) could not be read: ${e.message}. You can still load a model of your own.`);
    state.manifest = { models: [] };
  }
}

function addEntry(entry) {
  state.entries.push(entry);
  state.byId.set(entry.id, entry);
}

// --- one neuron -------------------------------------------------------------------------------------------------

let predictToken = 0;
async function predictCurrent() {
  const entry = state.byId.get(state.neuronId);
  if (!entry || !state.input) return;
  const token = ++predictToken;
  state.usedModels.add(entry.id);
  clearError($('neuron-error'));
  const results = {};
  for (const precision of ['int8', 'float']) {
    if (!hasPrecision(entry, precision)) continue;
    const ref = modelRef(entry, precision);
    try {
      results[precision] = await worker.request('predict', { ...ref, input: state.input });
    } catch (e) {
      if (token === predictToken) showError($('neuron-error'), `${entry.name || entry.id}: ${e.message}`);
    }
    if (token !== predictToken) return;  // a newer image or neuron arrived meanwhile
  }
  // Keras-only builds have one model, used for both rows' float.
  state.results = results;
  state.predictions = (state.predictions || 0) + 1;
  if (state.firstPredictionMs == null && Object.keys(results).length) {
    // From the start of navigation (performance.now()'s origin), so HTML, scripts, wasm compile, manifest, image
    // and model fetches are all inside the figure.
    state.firstPredictionMs = performance.now();
    window.cortexLens.timings.firstPrediction = state.firstPredictionMs;
    window.cortexLens.timings.firstPredictionSinceScript = performance.now() - t0;
    performance.mark('first-prediction');
  }
  renderNeuron();
}

function outputIndexOf(entry) {
  return entry.kind === 'own' ? Number($('own-output')?.value || 0) : 0;
}

function renderNeuron() {
  const entry = state.byId.get(state.neuronId);
  if (!entry) {
    $('neuron-title').textContent = 'No model in this build';
    $('percentile-text').textContent = 'This copy of the page was built without any model. Load one of your own in “Your model”.';
    return;
  }
  const session = entry.session ? `session ${entry.session}, neuron ${entry.neuron}` : entry.kind === 'demo' ? 'the project’s own demo model (not a recorded neuron)' : entry.kind === 'own' ? 'your model' : '';
  $('neuron-title').textContent = entry.kind === 'neuron' ? `Neuron ${entry.id}` : entry.name || entry.id;
  const fid = fidelityOf(entry);
  $('neuron-sub').textContent = [session, fid?.floatVsRecordedR != null ? `model vs recorded r = ${fid.floatVsRecordedR.toFixed(3)} on held-out images` : '',
    entry.params ? `${formatNumber(entry.params)} parameters` : ''].filter(Boolean).join(' · ');
  const k = outputIndexOf(entry);
  const quantiles = referenceOf(entry, k);
  const rows = { int8: state.results.int8, float: state.results.float };
  const shown = rows[state.precision] || rows.float || rows.int8;
  const value = shown ? shown.outputs[k] : NaN;
  const pct = percentileOf(value, quantiles);
  for (const p of ['int8', 'float']) {
    const r = rows[p];
    $(`raw-${p}`).textContent = r ? r.outputs[k].toFixed(5) : hasPrecision(entry, p) ? '…' : 'not in this build';
    $(`pct-${p}`).textContent = r && quantiles ? `${percentileOf(r.outputs[k], quantiles).toFixed(1)}` : '—';
    $(`ms-${p}`).textContent = r ? `${r.ms.toFixed(1)} ms` : '—';
    $(`row-${p}`).classList.toggle('current', p === state.precision);
  }
  for (const radio of document.querySelectorAll('input[name=precision]')) radio.disabled = !hasPrecision(entry, radio.value);
  if (Number.isFinite(pct)) {
    $('percentile').textContent = ordinal(pct);
    $('percentile-text').textContent = pct <= 0 ? 'percentile: this image drives the model less than every reference natural image.'
      : pct >= 100 ? 'percentile: this image drives the model more than every reference natural image.'
        : `percentile: this image drives the model more than about ${Math.round(pct)}% of the ${state.manifest?.referenceImages?.count ? formatNumber(state.manifest.referenceImages.count) + ' ' : ''}reference natural images.`;
  } else {
    $('percentile').textContent = shown ? value.toFixed(3) : '—';
    $('percentile-text').textContent = shown ? 'raw output only: this model has no reference distribution in this build, so no percentile can be given.' : '';
  }
  const marks = [];
  if (rows.int8) marks.push({ value: rows.int8.outputs[k], color: state.precision === 'int8' ? '#c2570c' : '#8a6d4f', label: `int8 ${rows.int8.outputs[k].toFixed(3)}`, row: 0, width: state.precision === 'int8' ? 3 : 1.5 });
  if (rows.float) marks.push({ value: rows.float.outputs[k], color: state.precision === 'float' ? '#c2570c' : '#8a6d4f', label: `float ${rows.float.outputs[k].toFixed(3)}`, row: 1, dash: [4, 3], width: state.precision === 'float' ? 3 : 1.5 });
  drawDistribution($('distribution'), quantiles, marks);
  $('distribution').dataset.value = Number.isFinite(value) ? String(value) : '';
  $('percentile').dataset.percentile = Number.isFinite(pct) ? String(pct) : '';
}

// --- neuron picker ---------------------------------------------------------------------------------------------

function renderPicker() {
  const query = $('neuron-search').value.trim().toLowerCase().split(/[\s_]+/).filter(Boolean);
  const session = $('neuron-session').value;
  const sort = $('neuron-sort').value;
  let list = state.entries.filter((e) => e.kind !== 'shared');
  if (session) list = list.filter((e) => e.session === session);
  const minR = Number($('neuron-min-r').value || -Infinity);
  if (Number.isFinite(minR)) list = list.filter((e) => (fidelityOf(e)?.floatVsRecordedR ?? -Infinity) >= minR);
  if (query.length) list = list.filter((e) => { const text = `${e.id} ${e.name || ''} ${e.session || ''} n${e.neuron ?? ''} ${e.kind}`.toLowerCase(); return query.every((q) => text.includes(q)); });
  const fid = (e) => fidelityOf(e)?.floatVsRecordedR ?? -Infinity;
  if (sort === 'fidelity') list.sort((a, b) => fid(b) - fid(a));
  else if (sort === 'params') list.sort((a, b) => (b.params || 0) - (a.params || 0));
  else if (sort === 'response') list.sort((a, b) => (state.population.get(b.id)?.percentile ?? -1) - (state.population.get(a.id)?.percentile ?? -1));
  const ul = $('neuron-list');
  ul.replaceChildren(...list.map((e) => {
    const meta = sort === 'fidelity' ? (fid(e) > -Infinity ? `r ${fid(e).toFixed(2)}` : '')
      : sort === 'params' ? (e.params ? formatNumber(e.params) : '')
        : sort === 'response' ? (state.population.has(e.id) ? ordinal(state.population.get(e.id).percentile) : '') : e.kind !== 'neuron' ? e.kind : '';
    const li = h('li', { role: 'option', id: `opt-${e.id}`, 'aria-selected': String(e.id === state.neuronId), 'data-id': e.id },
      h('span', {}, e.kind === 'neuron' ? `${e.session} · n${e.neuron}` : e.name || e.id), h('span', { class: 'meta' }, meta));
    li.addEventListener('click', () => selectNeuron(e.id));
    return li;
  }));
  if (!list.length) ul.append(h('li', {}, 'No model matches.'));
  ul.setAttribute('aria-activedescendant', state.neuronId && list.some((e) => e.id === state.neuronId) ? `opt-${state.neuronId}` : '');
  $(`opt-${state.neuronId}`)?.scrollIntoView({ block: 'nearest' });
}

function selectNeuron(id) {
  if (!state.byId.has(id)) return;
  state.neuronId = id;
  state.results = {};
  state.evidence = null;
  for (const li of $('neuron-list').children) li.setAttribute('aria-selected', String(li.dataset.id === id));
  $('neuron-list').setAttribute('aria-activedescendant', `opt-${id}`);
  $(`opt-${id}`)?.scrollIntoView({ block: 'nearest' });
  renderNeuron();
  predictCurrent();
  if (currentTab() === 'card') showCard();
  if (currentTab() === 'evidence') resetEvidence();
  if (currentTab() === 'population') redrawPopulation();
  writeHash();
  notify();
}

function setupPicker() {
  const sessions = [...new Set(neuronEntries().map((e) => e.session))];
  $('neuron-session').append(...sessions.map((s) => h('option', { value: s }, `Session ${s}`)));
  for (const id of ['neuron-search', 'neuron-session', 'neuron-min-r', 'neuron-sort']) $(id).addEventListener('input', renderPicker);
  $('neuron-list').addEventListener('keydown', (event) => {
    const items = [...$('neuron-list').querySelectorAll('li[data-id]')];
    const i = items.findIndex((li) => li.dataset.id === state.neuronId);
    const step = { ArrowDown: 1, ArrowUp: -1, PageDown: 10, PageUp: -10 }[event.key];
    if (step && items.length) {
      event.preventDefault();
      selectNeuron(items[Math.max(0, Math.min(items.length - 1, (i < 0 ? 0 : i + step)))].dataset.id);
    } else if (event.key === 'Home' || event.key === 'End') {
      event.preventDefault();
      selectNeuron(items[event.key === 'Home' ? 0 : items.length - 1].dataset.id);
    }
  });
  for (const radio of document.querySelectorAll('input[name=precision]')) {
    radio.addEventListener('change', () => { state.precision = radio.value; renderNeuron(); notify(); });
  }
}

// --- all neurons ----------------------------------------------------------------------------------------------

let populationAbort = null;
let populationLayout = null;

async function runPopulation() {
  if (!state.input) return;
  populationAbort?.abort();
  const abort = new AbortController();
  populationAbort = abort;
  const input = state.input;
  state.population = new Map();
  state.populationInput = input;
  const neurons = neuronEntries();
  const status = $('population-status'), progress = $('population-progress');
  $('population-csv').disabled = true;
  if (!neurons.length) { status.textContent = 'This build holds no per-neuron models (built without the published data).'; redrawPopulation(); return; }
  progress.max = neurons.length; progress.value = 0;
  const started = performance.now();
  // The shared model's quick estimate for all neurons runs beside the per-neuron models while some of them still
  // have to be fetched and loaded (seconds), always on the pool's last worker: the first one predicts the current
  // neuron for the new image, and a worker that has not loaded the shared model yet spends longer loading it than
  // predicting. Exact values replace the estimate as they come. Once every model is loaded the exact values arrive
  // within a fraction of a second, and the estimate would only delay that worker's first chunk by its own pass.
  const items = neurons.map((e) => ({ id: e.id, ...modelRef(e, hasPrecision(e, 'int8') ? 'int8' : 'float') }));
  const workers = pool.grow();
  const allLoaded = items.every(({ key }) => workers.some((w) => w.loadedKeys.has(key)));
  const shared = allLoaded ? null : sharedEntry();
  if (shared) {
    const sharedWorker = workers.at(-1);
    sharedWorker.request('predict', { ...modelRef(shared, hasPrecision(shared, 'int8') ? 'int8' : 'float'), input }).then(({ outputs }) => {
      if (abort.signal.aborted) return;
      (shared.outputs || []).forEach((name, k) => {
        const entry = state.byId.get(name);
        const q = referenceOf(shared, k);
        if (entry && q && !state.population.get(name)?.exact) state.population.set(name, { percentile: percentileOf(outputs[k], q), raw: outputs[k], exact: false });
      });
      window.cortexLens.timings.populationShared = performance.now() - started;
      redrawPopulation();
    }, (e) => {
      if (!abort.signal.aborted) $('population-hover').textContent = `The shared model's quick estimate failed (${e.message}); each neuron's own model still runs.`;
    });
  }
  let done = 0;
  const byKey = new Map(items.map((it) => [it.key, it.id]));
  // The progress bar, status and chart are redrawn at most every 250 ms: the workers use both cores, and every
  // redraw (layout, raster) takes time from them.
  let drawTimer = null;
  const draw = () => {
    drawTimer = null;
    if (abort.signal.aborted) return;
    progress.value = done;
    status.textContent = `${done} / ${neurons.length} neuron models · ${((performance.now() - started) / 1000).toFixed(1)} s`;
    redrawPopulation();
  };
  const neuronsStarted = performance.now();
  try {
    window.cortexLens.timings.populationWorkers = await pool.predictAll(items.map(({ key, url }) => ({ key, url })), input, {
      signal: abort.signal,
      chunk: state.threads > 1 ? 110 : 12,  // one threaded call spreads its chunk over all threads: few, large ones
      onResults: (results) => {
        if (abort.signal.aborted) return;
        for (const { key, outputs } of results) {
          const id = byKey.get(key), entry = state.byId.get(id);
          state.population.set(id, { percentile: percentileOf(outputs[0], referenceOf(entry)), raw: outputs[0], exact: true });
        }
        done += results.length;
        drawTimer ??= setTimeout(draw, 250);
      },
    });
  } catch (e) {
    if (e.name !== 'AbortError' && !abort.signal.aborted) status.textContent = `Stopped: ${e.message}`;
    return;
  }
  clearTimeout(drawTimer);
  if (abort.signal.aborted) return;
  progress.value = done;
  const ms = performance.now() - started;
  // population: the whole view from the click; populationNeurons: from the per-neuron models' start (beside the
  // shared-model estimate, so nearly the same).
  window.cortexLens.timings.populationNeurons = performance.now() - neuronsStarted;
  window.cortexLens.timings.population = ms;
  const missing = neurons.filter((e) => !referenceOf(e)).length;
  if (missing === neurons.length) $('population-hover').textContent = 'This build has no reference distributions (it was built without the model-pack step), so the responses cannot be put on a common percentile scale; the raw outputs are in the CSV.';
  status.textContent = `All ${neurons.length} neuron models done in ${(ms / 1000).toFixed(2)} s on ${pool.workers.length} worker${pool.workers.length > 1 ? 's' : ''}` +
    (state.threads > 1 ? ` with ${state.threads} threads` : '') +
    (missing ? ` (${missing} without a reference distribution in this build: raw outputs only, in the CSV)` : '') + '.';
  $('population-csv').disabled = false;
  redrawPopulation();
  if ($('neuron-sort').value === 'response') renderPicker();
  if (pool.workers.length > 1) pool.preloadTails(items.map(({ key, url }) => ({ key, url })));
}

function redrawPopulation() {
  const bars = [...state.population].map(([id, r]) => ({ id, ...r }));
  populationLayout = drawPopulation($('population-chart'), bars, state.neuronId);
  $('population-chart').dataset.count = String(bars.filter((b) => b.exact).length);
}

function setupPopulation() {
  $('population-run').addEventListener('click', runPopulation);
  const canvas = $('population-chart');
  const barAt = (event) => {
    if (!populationLayout) return null;
    const rect = canvas.getBoundingClientRect();
    const i = Math.floor((event.clientX - rect.left - populationLayout.pad.l) / populationLayout.step);
    return populationLayout.sorted[i] || null;
  };
  canvas.addEventListener('pointermove', (event) => {
    const bar = barAt(event);
    $('population-hover').textContent = bar ? `${bar.id}: ${ordinal(bar.percentile)} percentile (raw ${bar.raw.toFixed(4)}, ${bar.exact ? 'own model' : 'shared model estimate'})` : '';
  });
  canvas.addEventListener('click', (event) => { const bar = barAt(event); if (bar) { selectNeuron(bar.id); selectTab('neuron'); } });
  // Keyboard: arrows walk the bars (the hover line reads the neuron out), Enter opens it.
  let focusBar = 0;
  canvas.addEventListener('keydown', (event) => {
    const bars = populationLayout?.sorted || [];
    if (!bars.length) return;
    const step = { ArrowRight: 1, ArrowLeft: -1, PageDown: 10, PageUp: -10, Home: -Infinity, End: Infinity }[event.key];
    if (step !== undefined) {
      event.preventDefault();
      focusBar = Math.max(0, Math.min(bars.length - 1, (Number.isFinite(step) ? focusBar + step : step > 0 ? bars.length - 1 : 0)));
      const bar = bars[focusBar];
      $('population-hover').textContent = `${focusBar + 1}. ${bar.id}: ${ordinal(bar.percentile)} percentile (raw ${bar.raw.toFixed(4)}). Enter opens it.`;
    } else if (event.key === 'Enter') {
      selectNeuron(bars[Math.min(focusBar, bars.length - 1)].id);
      selectTab('neuron');
    }
  });
  $('population-csv').addEventListener('click', () => {
    const rows = [...state.population].map(([id, r]) => { const e = state.byId.get(id); return [id, e.session, e.neuron, r.percentile.toFixed(2), r.raw, r.exact ? 'per-neuron int8' : 'shared estimate']; });
    rows.sort((a, b) => b[3] - a[3]);
    downloadCsv(`cortexlens-population-${imageSlug()}.csv`, ['neuron', 'session', 'number', 'percentile', 'raw_output', 'model'], rows);
  });
}

// --- model card, evidence -------------------------------------------------------------------------------------

async function showCard() {
  const entry = state.byId.get(state.neuronId);
  if (!entry) return;
  const root = $('card');
  root.replaceChildren(h('p', { class: 'fineprint' }, 'Loading the model…'));
  try {
    const info = await worker.request('loadModel', modelRef(entry, hasPrecision(entry, 'float') ? 'float' : 'int8'));
    if (state.neuronId !== entry.id) return;
    root.replaceChildren(renderModelCard(entry, info, state.manifest));
  } catch (e) {
    root.replaceChildren(h('p', { class: 'error', role: 'alert' }, `Cannot describe ${entry.id}: ${e.message}`));
  }
}

function resetEvidence() {
  state.evidence = null;
  const entry = state.byId.get(state.neuronId);
  const ok = entry?.kind === 'neuron' && galleryIndex?.sessions.some((s) => s.session === entry.session && s.responses);
  $('evidence-run').disabled = !ok;
  $('evidence-csv').disabled = true;
  $('evidence-r').textContent = '';
  $('evidence-hover').hidden = true;
  clearError($('evidence-error'));
  $('evidence-status').textContent = ok ? `Neuron ${entry.id}: 600 held-out images of session ${entry.session}.`
    : entry?.kind === 'neuron' ? `The images or recordings of session ${entry.session} are not in this build (session 211022's images are not public).`
      : 'Pick a recorded neuron: the evidence needs its recordings.';
  const ctx = $('scatter').getContext('2d'); ctx.clearRect(0, 0, $('scatter').width, $('scatter').height);
}

let scatterPick = null;
async function runEvidence() {
  const entry = state.byId.get(state.neuronId);
  resetEvidence();
  if ($('evidence-run').disabled) return;
  $('evidence-run').disabled = true;
  try {
    $('evidence-status').textContent = 'Fetching the recorded responses…';
    const table = await (await fetch(`data/responses_${entry.session}.json`)).json();
    const recorded = table.responses[entry.neuron];
    const images = [];
    for (let n = table.images.first; n <= table.images.last; ++n) images.push({ number: n, url: `gallery/${entry.session}/image${String(n).padStart(4, '0')}.jpg` });
    const started = performance.now();
    const result = await worker.request('evaluate', { ...modelRef(entry, hasPrecision(entry, 'float') ? 'float' : 'int8'), session: entry.session, images, recorded }, {
      onProgress: ({ done, total }) => { $('evidence-status').textContent = `Running the model on image ${done} of ${total}…`; },
    });
    if (state.neuronId !== entry.id) return;
    state.evidence = { entry, images, recorded, ...result, ms: performance.now() - started };
    window.cortexLens.timings.evidence = state.evidence.ms;
    $('evidence-r').replaceChildren(`r = ${result.r.toFixed(3)}`, h('br'), `r² = ${result.r2.toFixed(3)}`);
    $('evidence-r').dataset.r = String(result.r);
    $('evidence-status').textContent = `${images.length} held-out images, float model, ${(state.evidence.ms / 1000).toFixed(1)} s. Hover a point to see its image.`;
    $('evidence-csv').disabled = false;
    drawEvidence(-1);
  } catch (e) {
    showError($('evidence-error'), `Could not compare ${entry.id} with its recordings: ${e.message}`);
  } finally {
    $('evidence-run').disabled = false;
  }
}

function drawEvidence(highlight) {
  const ev = state.evidence;
  if (!ev) return;
  scatterPick = drawScatter($('scatter'), ev.predicted, ev.recorded, { xLabel: 'model prediction (arbitrary units)', yLabel: 'recorded response (spikes per 100 ms, repeat-averaged)', highlight });
}

const median = (v) => { const s = [...v].sort((a, b) => a - b); const n = s.length; return n ? (n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2) : NaN; };

// The per-session summary reviewers look for first (the paper's headline figure is the median r per session).
function renderFidelitySummary() {
  const rows = neuronEntries().filter((e) => fidelityOf(e)?.floatVsRecordedR != null);
  const root = $('fidelity-summary');
  if (!rows.length) { root.replaceChildren(h('p', { class: 'fineprint' }, 'This build has no fidelity figures (they come from the model-pack step with the published data).')); return; }
  const sessions = [...new Set(rows.map((e) => e.session))];
  const line = (label, list) => {
    const f = list.map(fidelityOf);
    const r = f.map((x) => x.floatVsRecordedR), r8 = f.map((x) => x.int8VsRecordedR).filter(Number.isFinite), q = f.map((x) => x.int8VsFloatR).filter(Number.isFinite);
    return h('tr', {}, h('th', { scope: 'row' }, label), h('td', { class: 'num' }, String(list.length)), h('td', { class: 'num' }, median(r).toFixed(3)),
      h('td', { class: 'num' }, (median(r) ** 2).toFixed(3)), h('td', { class: 'num' }, r8.length ? median(r8).toFixed(3) : '—'), h('td', { class: 'num' }, q.length ? Math.min(...q).toFixed(4) : '—'));
  };
  root.replaceChildren(h('table', { class: 'layer-table', id: 'fidelity-table' },
    h('thead', {}, h('tr', {}, ...['session', 'neurons', 'median r (float)', 'median r² (float)', 'median r (int8)', 'lowest r(int8, float)'].map((t, i) => h('th', { scope: 'col', class: i ? 'num' : null }, t)))),
    h('tbody', {}, ...sessions.map((s) => line(s, rows.filter((e) => e.session === s))), line('all', rows))));
  $('fidelity-csv').disabled = false;
  $('fidelity-csv').onclick = () => downloadCsv('cortexlens-fidelity.csv', ['neuron', 'session', 'number', 'params', 'r_float', 'r_int8', 'r_int8_vs_float', 'images'],
    rows.map((e) => { const f = fidelityOf(e); return [e.id, e.session, e.neuron, e.params, f.floatVsRecordedR, f.int8VsRecordedR, f.int8VsFloatR, f.images]; }));
}

function setupEvidence() {
  $('evidence-run').addEventListener('click', runEvidence);
  const canvas = $('scatter');
  canvas.addEventListener('pointermove', (event) => {
    const ev = state.evidence;
    if (!ev || !scatterPick) return;
    const rect = canvas.getBoundingClientRect();
    const i = scatterPick(event.clientX - rect.left, event.clientY - rect.top);
    if (i < 0) return;
    $('evidence-hover').hidden = false;
    $('evidence-img').src = ev.images[i].url;
    $('evidence-img').alt = `Session ${ev.entry.session} image ${ev.images[i].number}`;
    $('evidence-caption').textContent = `image ${ev.images[i].number}\npredicted ${ev.predicted[i].toFixed(4)}\nrecorded ${ev.recorded[i].toFixed(3)}`;
    drawEvidence(i);
  });
  $('evidence-csv').addEventListener('click', () => {
    const ev = state.evidence;
    downloadCsv(`cortexlens-evidence-${ev.entry.id}.csv`, ['session', 'image', 'predicted', 'recorded'],
      ev.images.map((im, i) => [ev.entry.session, im.number, ev.predicted[i], ev.recorded[i]]));
  });
}

// --- your own model ---------------------------------------------------------------------------------------------

let ownCount = 0;
async function loadOwnModel(file) {
  clearError($('own-error'));
  $('own-result').replaceChildren();
  if (file.size > 64 * 1024 * 1024) { showError($('own-error'), `${file.name} is ${(file.size / 1048576).toFixed(0)} MB; models up to 64 MB are accepted.`); return; }
  $('own-status').textContent = `Reading ${file.name}…`;
  const bytes = await file.arrayBuffer();
  const key = `own:${++ownCount}`;
  try {
    const info = await worker.request('loadModel', { key, bytes, name: file.name }, { transfer: [bytes] });
    const id = `own-${ownCount}`;
    const entry = { id, kind: 'own', name: file.name.replace(/\.(keras|clm)$/i, ''), workerKey: key, precision: info.precision === 'int8' ? 'int8' : 'float', outputs: info.outputNames, params: info.params, fileBytes: file.size, info };
    addEntry(entry);
    $('own-status').textContent = `${file.name}: valid. ${formatNumber(info.params)} parameters, ${info.outputNames.length} output${info.outputNames.length > 1 ? 's' : ''}, ${formatNumber(info.multiplyAdds)} multiply-adds per image, ${info.precision === 'int8' ? 'int8' : 'float32'} weights.`;
    const output = h('select', { id: 'own-output' }, ...info.outputNames.map((n, i) => h('option', { value: String(i) }, n)));
    output.addEventListener('input', renderNeuron);
    const open = h('button', { type: 'button', class: 'button primary' }, 'Run it in “One neuron”');
    open.addEventListener('click', () => { selectNeuron(id); selectTab('neuron'); });
    $('own-result').replaceChildren(
      h('div', { class: 'population-head' }, open, h('label', { for: 'own-output' }, 'Output'), output),
      h('h3', {}, entry.name), layerTable(info));
    renderPicker();
  } catch (e) {
    $('own-status').textContent = '';
    showError($('own-error'), `${file.name} was refused: ${e.message}`);
  }
}

function setupOwnModel() {
  $('model-input').addEventListener('change', () => { const f = $('model-input').files[0]; if (f) loadOwnModel(f); $('model-input').value = ''; });
  const zone = $('model-drop');
  zone.addEventListener('dragover', (event) => { event.preventDefault(); event.stopPropagation(); zone.classList.add('dragging'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault(); event.stopPropagation(); zone.classList.remove('dragging');
    const f = event.dataTransfer.files[0];
    if (f) loadOwnModel(f);
  });
}

// --- inside the neuron (the VIZ panels, optional) -------------------------------------------------------------

let vizMounted = false;
async function mountViz() {
  if (vizMounted) return;
  vizMounted = true;
  const root = $('viz-root');
  try {
    const viz = await import('cortexlens-viz');
    if (!viz.mountVizPanel) throw new Error('this build has no feature-visualization panels yet');
    root.replaceChildren();
    viz.mountVizPanel(root, { worker, pool, getState: getVizState, onStateChange: (f) => { listeners.add(f); return () => listeners.delete(f); } });
  } catch (e) {
    root.replaceChildren(h('p', { class: 'fineprint' }, `Inside the neuron: ${e.message}.`));
  }
}

// --- tabs, hash -------------------------------------------------------------------------------------------------

const TABS = ['neuron', 'population', 'card', 'evidence', 'inside', 'own'];
const currentTab = () => TABS.find((t) => $(`tab-${t}`).getAttribute('aria-selected') === 'true');
function selectTab(name, focus = false) {
  for (const t of TABS) {
    const on = t === name;
    $(`tab-${t}`).setAttribute('aria-selected', String(on));
    $(`tab-${t}`).tabIndex = on ? 0 : -1;
    $(`view-${t}`).hidden = !on;
  }
  if (focus) $(`tab-${name}`).focus();
  if (name === 'population' && state.populationInput !== state.input) runPopulation();
  if (name === 'population') redrawPopulation();
  if (name === 'card') showCard();
  if (name === 'evidence') renderFidelitySummary();
  if (name === 'evidence' && !state.evidence) resetEvidence();
  if (name === 'evidence' && state.evidence) drawEvidence(-1);
  if (name === 'inside') mountViz();
  if (name === 'neuron') renderNeuron();
  writeHash();
}
function setupTabs() {
  for (const t of TABS) $(`tab-${t}`).addEventListener('click', () => selectTab(t));
  $('results').querySelector('[role=tablist]').addEventListener('keydown', (event) => {
    const i = TABS.indexOf(currentTab());
    const j = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1 }[event.key];
    if (j === undefined) return;
    event.preventDefault();
    selectTab(TABS[(j + TABS.length) % TABS.length], true);
  });
}

function imageSlug() { return (state.image?.key || 'image').replace(/[^a-z0-9]+/gi, '-'); }

let hashTimer = 0;
function writeHash() {
  clearTimeout(hashTimer);
  hashTimer = setTimeout(writeHashNow, 150);
}
function writeHashNow() {
  {
    const p = new URLSearchParams();
    if (state.neuronId && state.byId.get(state.neuronId)?.kind !== 'own') p.set('neuron', state.neuronId);
    if (state.image?.key && !state.image.key.startsWith('local:')) p.set('image', state.image.key);
    if (state.crop && state.image?.key && !state.image.key.startsWith('local:')) p.set('crop', `${state.crop.x},${state.crop.y},${state.crop.side}`);
    const tab = currentTab();
    if (tab && tab !== 'neuron') p.set('view', tab);
    history.replaceState(null, '', `#${p.toString()}`);
  }
}
function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  const crop = (p.get('crop') || '').split(',').map(Number);
  return { neuron: p.get('neuron'), image: p.get('image'), crop: crop.length === 3 && crop.every(Number.isInteger) ? { x: crop[0], y: crop[1], side: crop[2] } : null, view: p.get('view') };
}

function setupShare() {
  $('copy-link').addEventListener('click', async () => {
    clearTimeout(hashTimer);
    writeHashNow();
    const local = state.image?.key?.startsWith('local:');
    try {
      await navigator.clipboard.writeText(location.href);
      $('copy-status').textContent = local ? 'Link copied. Your own image is not in it: it never leaves this computer.' : 'Link copied: it opens this neuron, image and crop.';
    } catch {
      $('copy-status').textContent = `Copy this address: ${location.href}`;
    }
  });
}

// --- start ------------------------------------------------------------------------------------------------------

let galleryIndex = null;
async function start() {
  const hash = readHash();
  // On a phone the gallery would push the results a screen down; it starts folded there.
  if (window.matchMedia('(max-width: 860px)').matches) $('gallery').open = false;
  setupTabs();
  setupPopulation();
  setupEvidence();
  setupOwnModel();
  setupShare();
  const imagePanel = setupImagePanel({
    worker,
    onInput: ({ input, pixels, crop, image }) => {
      state.input = input; state.seenPixels = pixels; state.crop = crop; state.image = image;
      predictCurrent();
      if (currentTab() === 'population') runPopulation();
      writeHash();
      notify();
    },
  });
  const [index] = await Promise.all([
    fetch('gallery/index.json').then((r) => (r.ok ? r.json() : { own: [], sessions: [] })).catch(() => ({ own: [], sessions: [] })),
    loadManifest(),
    worker.request('init').then((r) => {
      state.canReadModelFiles = r.canReadModelFiles;
      // The threaded module (cross-origin-isolated pages) spreads models over all cores in one worker.
      state.threads = r.threads || 1;
      if (state.threads > 1) pool.size = 1;
    })
      .catch((e) => showError($('image-error'), `The engine could not start: ${e.message}`)),
  ]);
  galleryIndex = index;
  // Say what this copy of the page can actually run (a build without the published data has the demo model only).
  const count = neuronEntries().length;
  if (count === 0) $('build-note').textContent = 'This copy was built without the published models: it offers the project’s demo model and any model you load yourself.';
  else if (count < 219) $('build-note').textContent = `This copy holds ${count} of the 219 published neuron models.`;
  setupPicker();
  const first = state.byId.get(hash.neuron) ? hash.neuron : (neuronEntries()[0] || state.entries.find((e) => e.kind === 'demo') || state.entries[0])?.id;
  state.neuronId = first || null;
  if (state.neuronId && !hasPrecision(state.byId.get(state.neuronId), state.precision)) state.precision = 'float';
  for (const radio of document.querySelectorAll('input[name=precision]')) radio.checked = radio.value === state.precision;
  // Start loading the first model now, while the image is fetched and decoded (the worker runs messages in order).
  if (state.neuronId) {
    const entry = state.byId.get(state.neuronId);
    for (const p of ['int8', 'float']) if (hasPrecision(entry, p)) worker.request('loadModel', modelRef(entry, p)).catch(() => {});
  }
  renderPicker();
  renderNeuron();
  imagePanel.setGallery(index);
  const defaultImage = index.sessions.length ? `${index.sessions[0].session}/${index.sessions[0].numbers[0] + 600 > index.sessions[0].numbers[1] ? index.sessions[0].numbers[0] : 601}` : index.own[0]?.id;
  await imagePanel.chooseGallery(hash.image || defaultImage, hash.crop);
  if (hash.view && TABS.includes(hash.view)) selectTab(hash.view);
  window.addEventListener('resize', () => { renderNeuron(); if (currentTab() === 'population') redrawPopulation(); if (currentTab() === 'evidence') drawEvidence(-1); });
  if ('serviceWorker' in navigator && location.protocol !== 'file:') {
    navigator.serviceWorker.register('sw.js').catch(() => {});
    // Files fetched before the service worker took control (this first visit) are handed to it to cache, so the
    // page works offline from the second visit on with what the first one used.
    navigator.serviceWorker.ready.then((registration) => {
      const urls = new Set(performance.getEntriesByType('resource').map((e) => e.name).filter((u) => u.startsWith(location.origin)));
      for (const entry of state.entries) if (entry.kind !== 'own') for (const p of ['int8', 'float']) if (hasPrecision(entry, p) && state.usedModels.has(entry.id)) urls.add(new URL(modelRef(entry, p).url, location.href).href);
      if (!state.canReadModelFiles) urls.add(new URL('keras-reader.js', location.href).href);  // the worker's lazy import
      registration.active?.postMessage({ type: 'cache', urls: [...urls] });
    });
  }
  document.documentElement.dataset.ready = 'true';
}

start();
