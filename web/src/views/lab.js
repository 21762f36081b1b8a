// "Model lab": the authors' pruning method, live. The 100-filter shared model restricted to one neuron is cut filter
// by filter in the worker (worker-prune.js; the same core loop as `cortexlens prune`), one unit of work per request,
// so the page draws every removal, pauses between units and stays responsive. The result saves as a .clm and opens
// in the other views like a user's own model.
import { h, showError, clearError, downloadBlob, formatNumber, svg } from '../dom.js';
import { SIDE, canvas, drawRgb } from '../draw.js';
import { drawSeries } from '../series-chart.js';
import { asset } from '../build.js';
import { row, labelled, figure, bind, options } from './inside/controls.js';
import { fitElements, fitSection, wireFit } from './lab-fit.js';

const SESSIONS = ['190923', '201025', '210225'];
export const LAB_FIT_SIZES = [150, 300, 600]; // fitting images: every 12th, 6th or 3rd of images 1-600 of 3 sessions
export const LAB_HELD_OUT_STEP = 3; // every 3rd of images 601-1200 of the neuron's session: 200 images
const SYNTH = { recipe: 'authors', steps: 200, seed: 1, chunk: 25, selector: { layer: -1, channel: 0 } };
const CITATION = 'Cowley, Stan, Pillow & Smith, Nature (2026), doi:10.1038/s41586-026-10150-1';
const AUTHORS_CODE = 'https://github.com/cowleygroup/V4_compact_models';

const imageUrl = (session, n) => asset(`gallery/${session}/image${String(n).padStart(4, '0')}.jpg`);

// The images a run uses, named by URL; the CLI's --fit-step and --eval-step pick the same ones.
export function labImages(session, fitCount) {
  const step = 1800 / fitCount;
  const fit = SESSIONS.flatMap((s) => Array.from({ length: 600 / step }, (_, i) => imageUrl(s, 1 + i * step)));
  const held = Array.from({ length: 600 / LAB_HELD_OUT_STEP }, (_, i) => 601 + i * LAB_HELD_OUT_STEP);
  return { fit, fitStep: step, held, heldUrls: held.map((n) => imageUrl(session, n)) };
}

function about() {
  return [
    h('h2', {}, 'Model lab: prune a model down to one neuron'),
    h(
      'p',
      { class: 'fineprint' },
      'Cowley, Stan, Pillow & Smith made their compact models by pruning: a larger network is cut, filter by filter, ' +
        'into a model of one neuron thousands of times smaller that predicts about as well. Here the same method runs ' +
        'in your browser. It starts from the published 100-filter shared model restricted to the chosen neuron (the ' +
        'published data has no per-neuron distilled models, which is what the authors pruned), and the published ' +
        "compact model of that neuron is the finish line. Step 1, from the last layer back: drop each layer's least " +
        "varying filters while a least-squares refit of the next layer keeps 90% of its output's variance. Step 3: " +
        "remove single filters while the prediction's fraction of variance explained drops by at most 0.01 per " +
        'removal. After each removal the readout is refitted by ridge regression.',
    ),
    h(
      'p',
      { class: 'fineprint' },
      'The authors also retrained every pruned model on 12 million images (their step 2); a browser cannot, so the ' +
        'models made here are a lower bound on what the method reaches. Images: the fitting set is every 12th (or 6th, ' +
        '3rd) of images 1-600 of the three recorded sessions this site ships (190923, 201025, 210225), with the ' +
        "starting model's own predictions as targets; r is the correlation with the neuron's recorded, " +
        'repeat-averaged responses on every 3rd of images 601-1200 of its session (200 images; not noise-corrected), ' +
        'the published model measured on the same images. Everything runs on this computer. Method and models: ',
      CITATION,
      '; the authors\u2019 code: ',
      h('a', { href: AUTHORS_CODE, rel: 'noopener' }, 'cowleygroup/V4_compact_models'),
      ' (classes/class_pruning.py). Ours is an independent implementation (docs/PRUNING.md).',
    ),
  ];
}

function elements() {
  const el = {
    neuron: h('select', { id: 'lab-neuron' }),
    fit: h('select', { id: 'lab-fit' }, ...options(LAB_FIT_SIZES.map((n) => [n, `${n} images`]))),
    mode: h(
      'select',
      { id: 'lab-mode' },
      ...options([
        ['all', 'step 1, then step 3'],
        ['step1', 'step 1 only'],
      ]),
    ),
    start: h('button', { id: 'lab-start', type: 'button', class: 'button primary' }, 'Start pruning'),
    pause: h('button', { id: 'lab-pause', type: 'button', class: 'button', disabled: true }, 'Pause'),
    cancel: h('button', { id: 'lab-cancel', type: 'button', class: 'button', disabled: true }, 'Cancel'),
    progress: h('progress', { id: 'lab-progress', max: 1, value: 0, class: 'viz-progress' }),
    status: h('p', { id: 'lab-status', class: 'mono', 'aria-live': 'polite' }),
    note: h('p', { id: 'lab-note', class: 'fineprint' }),
    error: h('p', { id: 'lab-error', class: 'error', role: 'alert', hidden: true }),
    rChart: h('canvas', {
      id: 'lab-r-chart',
      class: 'chart',
      role: 'img',
      'aria-label': 'Held-out r as filters are removed',
    }),
    pChart: h('canvas', {
      id: 'lab-params-chart',
      class: 'chart',
      role: 'img',
      'aria-label': 'Parameters as filters are removed',
    }),
    bars: svg('svg', { id: 'lab-bars', viewBox: '0 0 320 150', role: 'img', 'aria-label': 'Filters per layer' }),
    ours: canvas(SIDE, SIDE, "The pruned model's preferred image", 180),
    published: canvas(SIDE, SIDE, "The published compact model's preferred image", 180),
    oursCaption: h('figcaption', { id: 'lab-ours-caption', class: 'fineprint' }, 'pruned model (so far)'),
    publishedCaption: h('figcaption', { id: 'lab-published-caption', class: 'fineprint' }, 'published compact model'),
    table: h('table', { id: 'lab-table', class: 'raw-table', hidden: true }),
    save: h('button', { id: 'lab-save', type: 'button', class: 'button', disabled: true }, 'Save model (.clm)'),
    open: h(
      'button',
      { id: 'lab-open', type: 'button', class: 'button', disabled: true },
      'Open in \u201cOne neuron\u201d',
    ),
  };
  el.results = h('div', { id: 'lab-results', hidden: true });
  el.ours.id = 'lab-ours';
  el.published.id = 'lab-published';
  return el;
}

function layout(el) {
  // Shown once a run has started: empty charts say nothing.
  el.results.append(
    h('div', { class: 'lab-charts' }, el.rChart, el.pChart),
    row(
      figure(el.bars, h('figcaption', { class: 'fineprint' }, 'filters per layer: ours (bars), published (marks)')),
      figure(el.ours, el.oursCaption),
      figure(el.published, el.publishedCaption),
    ),
    el.table,
    row(el.save, el.open),
  );
  return [
    ...about(),
    row(labelled('Neuron', el.neuron), labelled('Fitting images', el.fit), labelled('Steps', el.mode)),
    el.note,
    row(el.start, el.pause, el.cancel, el.progress),
    el.status,
    el.error,
    el.results,
  ];
}

// The neurons the lab can prune: published neurons that are outputs of the float shared model.
function labNeurons(catalog) {
  const shared = catalog.shared();
  if (!shared || !catalog.hasPrecision(shared, 'float')) return { shared: null, neurons: [] };
  const outputs = shared.outputs || [];
  return { shared, neurons: catalog.neurons().filter((e) => outputs.includes(e.id)) };
}

const counts = (list) => list.join('-');

function drawBars(target, start, now, published) {
  const n = start.length;
  const max = Math.max(...start, ...(published || []), 1);
  const items = [];
  const band = 300 / n;
  for (let s = 0; s < n; ++s) {
    const x = 14 + s * band;
    const height = (110 * now[s]) / max;
    items.push(
      svg('rect', { x, y: 10, width: band * 0.6, height: 110, class: 'lab-bar-start' }),
      svg('rect', { x, y: 120 - height, width: band * 0.6, height, class: 'lab-bar-now' }),
      svg('text', { x: x + band * 0.3, y: 140, 'text-anchor': 'middle', class: 'lab-bar-label' }, `${now[s]}`),
    );
    if (published) {
      const y = 120 - (110 * published[s]) / max;
      items.push(svg('line', { x1: x - 3, x2: x + band * 0.6 + 3, y1: y, y2: y, class: 'lab-bar-published' }));
    }
  }
  target.replaceChildren(...items);
}

function drawCharts(el, events, published) {
  if (!events.length) return;
  const xs = events.map((_, i) => i);
  const r = events.map((e) => (e.heldoutR == null ? NaN : e.heldoutR));
  const params = events.map((e) => e.params / 1000);
  const flat = (v) => xs.map(() => v);
  drawSeries(
    el.rChart,
    xs.length > 1 ? xs : [0, 1],
    [
      { values: xs.length > 1 ? r : [r[0], NaN], color: '#1f6feb', name: 'pruned' },
      ...(published?.r != null
        ? [
            {
              values: xs.length > 1 ? flat(published.r) : [published.r, published.r],
              color: '#c2570c',
              name: 'published',
              dashed: true,
              points: false,
            },
          ]
        : []),
    ],
    { title: 'r on held-out images', xLabel: 'removals', yLabel: 'r', aspect: 0.5 },
  );
  drawSeries(
    el.pChart,
    xs.length > 1 ? xs : [0, 1],
    [
      { values: xs.length > 1 ? params : [params[0], NaN], color: '#1f6feb', name: 'pruned' },
      ...(published?.params
        ? [
            {
              values:
                xs.length > 1 ? flat(published.params / 1000) : [published.params / 1000, published.params / 1000],
              color: '#c2570c',
              name: 'published',
              dashed: true,
              points: false,
            },
          ]
        : []),
    ],
    { title: 'parameters (thousands)', xLabel: 'removals', yLabel: 'thousands', yMin: 0, aspect: 0.5 },
  );
}

function progressText(p, events) {
  const last = events.at(-1);
  const now = last
    ? `${counts(last.filtersPerStage)} filters, ${formatNumber(last.params)} parameters, r ${last.heldoutR?.toFixed(3)}`
    : '';
  if (p.phase === 'step1') return `step 1, layer ${p.step1Stage} of ${p.stages - 1} next — ${now}`;
  if (p.phase === 'step3' && !p.step3Started) return `step 3 starting (a pass over the fitting images) — ${now}`;
  if (p.phase === 'step3')
    return `step 3: ${p.step3Removals} removed; checking candidates (${p.candidatesChecked} of ${p.candidates} up to date) — ${now}`;
  return `finished — ${now}`;
}

function progressValue(p) {
  if (p.phase === 'step1') return { value: p.stages - 1 - p.step1Stage, max: p.stages };
  if (p.phase === 'step3') return { value: p.candidatesChecked, max: Math.max(1, p.candidates) };
  return { value: 1, max: 1 };
}

function showTable(el, events, published, startLabel) {
  const first = events[0];
  const last = events.at(-1);
  const cell = (t) => h('td', { class: 'mono' }, t);
  const line = (name, e) =>
    h(
      'tr',
      {},
      h('th', {}, name),
      cell(counts(e.filtersPerStage)),
      cell(formatNumber(e.params)),
      cell(e.heldoutR == null ? '—' : e.heldoutR.toFixed(3)),
    );
  el.table.replaceChildren(
    h(
      'tr',
      {},
      h('th', {}, 'model'),
      h('th', {}, 'filters per layer'),
      h('th', {}, 'parameters'),
      h('th', {}, 'r (held out)'),
    ),
    line(startLabel, first),
    line('pruned here (no retraining)', last),
    ...(published
      ? [
          line('published compact model', {
            filtersPerStage: published.filters,
            params: published.params,
            heldoutR: published.r,
          }),
        ]
      : []),
  );
  el.table.hidden = false;
}

// Synthesis of one model's preferred image, newest request wins: a later call for the same canvas stops this one.
async function synthesize(view, slot, ref, target, caption, text) {
  const { worker } = view.app;
  const token = (view.synthTokens[slot] || 0) + 1;
  view.synthTokens[slot] = token;
  const current = () => view.synthTokens[slot] === token;
  delete target.dataset.done;
  const { runId } = await worker.request('vizRunStart', { ...ref, kind: 'synth', options: SYNTH });
  try {
    for (;;) {
      if (!current()) return;
      const frame = await worker.request('vizRunAdvance', { runId, count: SYNTH.chunk });
      if (!current()) return;
      drawRgb(target, frame.done ? frame.best : frame.image);
      if (frame.done) {
        caption.textContent = text;
        target.dataset.done = 'true';
        return;
      }
    }
  } finally {
    worker.request('vizRunStop', { runId }).catch(() => {});
  }
}

async function publishedFigures(view, entry, session, neuronIndex, held) {
  const { app } = view;
  const response = await fetch(asset(`data/responses_${session}.json`));
  if (!response.ok) throw new Error(`data/responses_${session}.json: HTTP ${response.status}`);
  const table = await response.json();
  const recorded = held.map((n) => table.responses[neuronIndex][n - table.images.first]);
  const ref = app.catalog.modelRef(entry, 'float');
  const evaluated = await app.worker.request('evaluate', {
    ...ref,
    session,
    images: held.map((n) => ({ number: n, url: imageUrl(session, n) })),
    recorded,
  });
  const figures = await app.worker.request('pruneFigures', ref);
  return { recorded, r: evaluated.r, params: figures.params, filters: figures.filtersPerStage, ref };
}

// The controls and results as a run starts: nothing of the last run's stays on show (its preferred image and caption
// go until this run's are made); a fitted neuron has no published compact model, so that slot is hidden.
function showRunStarting(view, fitted) {
  const { el } = view;
  el.save.disabled = el.open.disabled = true;
  el.table.hidden = true;
  delete el.status.dataset.done;
  delete el.ours.dataset.done;
  delete el.published.dataset.done;
  view.synthTokens.ours = (view.synthTokens.ours || 0) + 1;
  el.ours.getContext('2d').clearRect(0, 0, el.ours.width, el.ours.height);
  el.oursCaption.textContent = 'pruned model (so far)';
  el.published.parentElement.hidden = fitted;
  el.start.disabled = true;
  el.results.hidden = false;
  el.pause.disabled = el.cancel.disabled = false;
  el.pause.textContent = 'Pause';
}

// Prunes the chosen published neuron (the shared model restricted to it, the published compact model beside it), or,
// with `fitted` (lab-fit.js), a neuron fitted to the user's responses, on the fit's own images and held-out rows.
async function startRun(view, fitted = null) {
  const { app, el } = view;
  const { store, worker, catalog } = app;
  clearError(el.error);
  const { shared } = labNeurons(catalog);
  const entry = fitted ? null : catalog.entry(store.get('labNeuron'));
  const match = /^(\d{6})_n(\d+)$/.exec(entry?.id || '');
  if (!fitted && (!shared || !entry || !match)) {
    showError(el.error, 'Choose a neuron first (the lab needs the shared model and the session images).');
    return;
  }
  stopRun(view, 'replaced');
  const name = fitted ? `lab_${fitted.name}` : `lab_${entry.id}`;
  const control = {
    paused: false,
    cancelled: false,
    wake: null,
    runId: null,
    events: [],
    t0: performance.now(),
    name,
    startLabel: fitted ? `start: ${fitted.name}, fitted to ${fitted.source}` : 'start: shared model, this neuron',
  };
  view.control = control;
  view.result = null;
  showRunStarting(view, Boolean(fitted));
  const stop = () => control.cancelled || view.control !== control;
  try {
    let request;
    if (fitted) {
      view.synthTokens.published = (view.synthTokens.published || 0) + 1;
      request = { key: fitted.key, output: -1, fit: fitted.split.fit, eval: fitted.split.eval };
    } else {
      const [, session, index] = match;
      const images = labImages(session, store.get('labFit'));
      el.status.textContent = 'Loading the images and the recorded responses…';
      const published = await publishedFigures(view, entry, session, Number(index), images.held);
      if (stop()) return;
      control.published = published;
      synthesize(
        view,
        'published',
        published.ref,
        el.published,
        el.publishedCaption,
        `published compact model (${formatNumber(published.params)} parameters)`,
      ).catch(() => {});
      request = {
        ...catalog.modelRef(shared, 'float'),
        output: shared.outputs.indexOf(entry.id),
        fit: images.fit,
        eval: images.heldUrls.map((url, i) => ({ url, response: published.recorded[i] })),
      };
    }
    const started = await worker.request(
      'pruneStart',
      { ...request, options: { fve: 0.9, delta: -0.01, step1Only: store.get('labMode') === 'step1' } },
      {
        onProgress: (p) => {
          if (view.control !== control) return;
          el.progress.max = p.total;
          el.progress.value = p.done;
          el.status.textContent =
            p.phase === 'images'
              ? `Loading images: ${p.done} of ${p.total}`
              : 'The first pass over the fitting images…';
        },
      },
    );
    control.runId = started.runId;
    if (stop()) return;
    control.events = started.events;
    control.startFilters = started.events[0].filtersPerStage;
    redraw(view, started.progress);
    await newModel(view, control);
    if (await advanceToEnd(view, control, started.progress.phase === 'finished')) await finish(view, control);
  } catch (e) {
    if (view.control === control && !control.cancelled) showError(el.error, `The lab stopped: ${e.message}`);
  } finally {
    if (view.control === control) {
      el.start.disabled = false;
      el.pause.disabled = el.cancel.disabled = true;
    }
  }
}

// One unit of work per request until the run is done (true), or stopped (false); waits while paused.
async function advanceToEnd(view, control, finished) {
  const { el, app } = view;
  const stop = () => control.cancelled || view.control !== control;
  let done = finished;
  while (!done) {
    if (stop()) return false;
    if (control.paused) {
      el.status.textContent = `paused — ${progressText(control.progress, control.events)}`;
      await new Promise((resolve) => {
        control.wake = resolve;
      });
      continue;
    }
    const step = await app.worker.request('pruneAdvance', { runId: control.runId });
    if (stop()) return false;
    control.computeMs = step.totalMs;
    done = step.done;
    if (step.events.length) control.events.push(...step.events);
    redraw(view, step.progress);
    // A new preferred image after each stage of step 1 and every 10th removal of step 3.
    const e = step.events.at(-1);
    if (e && (e.step === 1 || control.events.filter((x) => x.step === 3).length % 10 === 0))
      newModel(view, control).catch((err) => showError(el.error, `The model so far could not be read: ${err.message}`));
  }
  return !stop();
}

function redraw(view, progress) {
  const { el, control } = view;
  control.progress = progress;
  const { value, max } = progressValue(progress);
  el.progress.max = max;
  el.progress.value = value;
  el.status.textContent = progressText(progress, control.events);
  el.status.dataset.events = String(control.events.length);
  drawCharts(el, control.events, control.published);
  drawBars(el.bars, control.startFilters, control.events.at(-1).filtersPerStage, control.published?.filters);
  showTable(el, control.events, control.published, control.startLabel);
}

// The model so far into the worker (for its preferred image) and into the view (for Save and Open).
async function newModel(view, control) {
  const { app, el } = view;
  const { name } = control;
  const { bytes } = await app.worker.request('pruneModel', {
    runId: control.runId,
    name,
    source: `Cortex Lens model lab: ${name}`,
    key: 'lab:current',
  });
  if (view.control !== control) return;
  control.bytes = bytes;
  el.save.disabled = el.open.disabled = false;
  const params = control.events.at(-1).params;
  synthesize(
    view,
    'ours',
    { key: 'lab:current' },
    el.ours,
    el.oursCaption,
    `pruned model (${formatNumber(params)} parameters)`,
  ).catch(() => {});
}

async function finish(view, control) {
  const { el } = view;
  await newModel(view, control);
  const wallMs = performance.now() - control.t0;
  const last = control.events.at(-1);
  Object.assign(el.status.dataset, {
    done: 'true',
    removals: String(control.events.length - 1),
    params: String(last.params),
    r: String(last.heldoutR),
    filters: counts(last.filtersPerStage),
    wallMs: String(wallMs),
    computeMs: String(control.computeMs || 0),
  });
  el.status.textContent = `finished in ${(wallMs / 1000).toFixed(1)} s — ${counts(last.filtersPerStage)} filters, ${formatNumber(last.params)} parameters, r ${last.heldoutR?.toFixed(3)}`;
  view.result = control;
}

function stopRun(view, why) {
  const control = view.control;
  if (!control) return;
  control.cancelled = true;
  control.wake?.();
  if (control.runId != null) view.app.worker.request('pruneStop', { runId: control.runId }).catch(() => {});
  if (why === 'cancelled') {
    const last = control.events.at(-1);
    view.el.status.textContent = last
      ? `cancelled — the model reached (${counts(last.filtersPerStage)} filters, ${formatNumber(last.params)} parameters) can still be saved`
      : 'cancelled';
    view.el.start.disabled = false;
    view.el.pause.disabled = view.el.cancel.disabled = true;
  }
}

// A model of the lab's (the pruning's so far, or a fitted neuron: {bytes, name}) opened in "One neuron" like a
// user's own file.
let opened = 0;
async function openModel(view, control = view.control, what = 'model lab') {
  const { app, el } = view;
  if (!control?.bytes) return;
  const n = ++opened;
  const key = `own:lab-${n}`;
  const bytes = control.bytes.slice().buffer;
  try {
    const info = await app.worker.request(
      'loadModel',
      { key, bytes, name: `${control.name}.clm` },
      { transfer: [bytes] },
    );
    const kept = control.bytes.slice();
    app.worker.remember(key, async () => {
      const again = kept.slice().buffer;
      return { payload: { key, bytes: again, name: `${control.name}.clm` }, transfer: [again] };
    });
    const entry = {
      id: `own-lab-${n}`,
      kind: 'own',
      name: `${control.name} (${what})`,
      workerKey: key,
      precision: 'float',
      outputs: info.outputNames,
      params: info.params,
      fileBytes: control.bytes.length,
      info,
    };
    app.store.set({ entries: [...app.store.get('entries'), entry] });
    app.store.set({ neuronId: entry.id, ownOutput: 0, view: 'neuron' });
  } catch (e) {
    showError(el.error, `The model could not be opened: ${e.message}`);
  }
}

function wire(view) {
  const { el } = view;
  el.start.addEventListener('click', () => startRun(view));
  el.pause.addEventListener('click', () => {
    const c = view.control;
    if (!c || c.cancelled) return;
    c.paused = !c.paused;
    el.pause.textContent = c.paused ? 'Resume' : 'Pause';
    if (!c.paused) {
      c.wake?.();
      c.wake = null;
    }
  });
  el.cancel.addEventListener('click', () => stopRun(view, 'cancelled'));
  el.save.addEventListener('click', () => {
    const c = view.control;
    if (c?.bytes) downloadBlob(new Blob([c.bytes], { type: 'application/octet-stream' }), `${c.name}.clm`);
  });
  el.open.addEventListener('click', () => openModel(view));
}

export default {
  id: 'lab',
  title: 'Model lab',
  keys: ['entries', 'gallery', 'labNeuron', 'labFit', 'labMode'],
  mount(root, app) {
    const { store } = app;
    const el = elements();
    const fit = fitElements();
    root.append(...layout(el), fitSection(fit));
    const view = { app, el, control: null, result: null, synthTokens: {} };
    wire(view);
    wireFit(app, fit, {
      shared: () => labNeurons(app.catalog).shared,
      sessionsShipped: () => store.get('gallery').sessions.length === 3,
      open: (model) => openModel(view, model, 'fitted in the model lab'),
      prune: (fitted) => {
        startRun(view, fitted);
        el.results.scrollIntoView?.({ block: 'start' });
      },
    });
    const syncs = [
      bind(store, 'labNeuron', el.neuron),
      bind(store, 'labFit', el.fit, { read: (c) => Number(c.value), valid: (v) => LAB_FIT_SIZES.includes(v) }),
      bind(store, 'labMode', el.mode),
    ];
    let listed = '';
    return {
      update() {
        const { shared, neurons } = labNeurons(app.catalog);
        const ids = neurons.map((e) => e.id).join(',');
        if (ids !== listed) {
          listed = ids;
          el.neuron.replaceChildren(...options(neurons.map((e) => [e.id, e.id])));
          if (neurons.length && !neurons.some((e) => e.id === store.get('labNeuron')))
            store.set({ labNeuron: neurons[0].id });
        }
        for (const sync of syncs) sync();
        const ready = Boolean(shared && neurons.length && store.get('gallery').sessions.length === 3);
        if (!view.control || view.control.cancelled) el.start.disabled = !ready;
        el.note.textContent = ready
          ? 'Step 1 takes one to two minutes on a laptop; step 3 tries every remaining filter and takes far longer in ' +
            'a browser (hours): pause it, or save the model reached at any point.'
          : 'The lab needs the 100-filter shared model and the recorded sessions\u2019 images, which this build does ' +
            'not include (it is built without the published data).';
      },
      unmount() {
        stopRun(view, 'left');
      },
    };
  },
};
