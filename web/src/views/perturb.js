// "Smallest change": the 8-bit image within epsilon pixel levels of the current one that raises (or lowers) the
// current neuron's model response most, by projected gradient steps in the worker (core/.../perturbation.hpp, the
// same engine and numbers as `cortexlens perturb`). Both responses shown are recomputed here from 8-bit images: the
// original crop, and the perturbed image encoded as the PNG the user downloads and decoded back.
import { h, showError, clearError, downloadBlob, downloadCsv } from '../dom.js';
import { SIDE, canvas, drawRgb } from '../draw.js';
import { percentileOf } from '../reference.js';
import { PENALTIES } from '../state.js';
import { row, labelled, figure, bind, integerIn, checkbox, options } from './inside/controls.js';

const SETTINGS = ['perturbEpsilon', 'perturbGoal', 'perturbSteps', 'perturbKeep', 'perturbPenalty'];
const CHUNK = 10; // steps per worker request: ~0.1-0.3 s, so a cancel or a new image is heard quickly
const CITATION = 'Cowley, Stan, Pillow & Smith, Nature (2026), doi:10.1038/s41586-026-10150-1';

const ABOUT = [
  'What am I looking at? The model of this neuron is asked for the smallest change to the image that makes it ' +
    'respond more (or less). Starting from the image, each step moves every colour value of every pixel by one level ' +
    '(of 256) in the direction that raises (lowers) the model response, and never lets it stray more than ε levels from ' +
    'the original. Every step is an ordinary 8-bit image, and the best one is kept.',
  'Both responses are measured on 8-bit images (the PNG you can download, read back) and shown as percentiles among ' +
    "the model's responses to 300 natural reference images: the model's units are arbitrary. A change too small to " +
    'see can move a response far. Cowley et al. showed that small perturbations chosen with these models also changed ' +
    "the real V4 neurons' responses a lot in their experiments; here you see the model only, no neuron was recorded.",
  '"Keep the other neurons" adds a penalty on changing the other 218 neurons, as the 100-filter shared model predicts ' +
    'them (each measured in its own 10th-90th percentile range of natural responses), so the change found is specific ' +
    'to this neuron rather than one that excites every neuron.',
];

// The 10th-90th percentile range of a reference distribution: the unit the run measures changes in.
const spreadOf = (q) => (q && q.length === 101 && q[90] - q[10] > 0 ? q[90] - q[10] : 1);

function elements() {
  const el = {
    epsilon: h('input', { id: 'perturb-epsilon', type: 'range', min: 1, max: 16, step: 1, value: 4 }),
    epsilonValue: h('output', { id: 'perturb-epsilon-value', class: 'mono' }, '4'),
    goal: h(
      'select',
      { id: 'perturb-goal' },
      ...options([
        ['raise', 'raise the response'],
        ['lower', 'lower the response'],
      ]),
    ),
    steps: h('input', { id: 'perturb-steps', type: 'number', min: 1, max: 1000, value: 100, class: 'viz-number' }),
    keep: h('input', { id: 'perturb-keep', type: 'checkbox' }),
    penalty: h('select', { id: 'perturb-penalty' }, ...options(PENALTIES.map((p) => [p, String(p)]))),
    start: h('button', { id: 'perturb-start', type: 'button', class: 'button primary' }, 'Find the change'),
    cancel: h('button', { id: 'perturb-cancel', type: 'button', class: 'button', disabled: true }, 'Cancel'),
    progress: h('progress', { id: 'perturb-progress', max: 1, value: 0, class: 'viz-progress' }),
    original: canvas(SIDE, SIDE, 'The original image the model sees', 200),
    delta: canvas(SIDE, SIDE, 'The change, amplified', 200),
    perturbed: canvas(SIDE, SIDE, 'The perturbed image', 200),
    deltaCaption: h('figcaption', { id: 'perturb-delta-caption', class: 'fineprint' }, 'change, amplified'),
    scale: h('p', { id: 'perturb-scale', class: 'fineprint' }),
    status: h('p', { id: 'perturb-status', class: 'mono', 'aria-live': 'polite' }),
    numbers: h('table', { id: 'perturb-numbers', class: 'raw-table', hidden: true }),
    keepNote: h('p', { id: 'perturb-keep-note', class: 'fineprint' }),
    error: h('p', { id: 'perturb-error', class: 'error', role: 'alert', hidden: true }),
    downloadPng: h('button', { id: 'perturb-download-png', type: 'button', class: 'button', disabled: true }, 'PNG'),
    downloadCsv: h('button', { id: 'perturb-download-csv', type: 'button', class: 'button', disabled: true }, 'CSV'),
    downloadFigure: h(
      'button',
      { id: 'perturb-download-figure', type: 'button', class: 'button', disabled: true },
      'Figure',
    ),
  };
  el.original.id = 'perturb-original';
  el.delta.id = 'perturb-delta';
  el.perturbed.id = 'perturb-perturbed';
  return el;
}

function layout(el) {
  return [
    h('h2', {}, 'The smallest change that moves this neuron'),
    ...ABOUT.map((text) => h('p', { class: 'fineprint' }, text)),
    row(
      labelled('Budget ε (pixel levels)', h('span', { class: 'viz-row' }, el.epsilon, el.epsilonValue)),
      labelled('Goal', el.goal),
      labelled('Steps', el.steps),
    ),
    row(labelled('Keep the other neurons', el.keep), labelled('penalty weight', el.penalty)),
    el.keepNote,
    row(el.start, el.cancel, el.progress),
    el.error,
    row(
      figure(el.original, h('figcaption', { class: 'fineprint' }, 'original')),
      figure(el.delta, el.deltaCaption),
      figure(el.perturbed, h('figcaption', { class: 'fineprint' }, 'perturbed')),
    ),
    el.scale,
    el.status,
    el.numbers,
    row(h('span', { class: 'fineprint' }, 'Download:'), el.downloadPng, el.downloadCsv, el.downloadFigure),
  ];
}

// The change drawn at `gain` around mid grey: +epsilon levels show as light, -epsilon as dark, 0 as grey.
function drawDelta(target, before, after, gain) {
  const diff = new Uint8Array(before.length);
  for (let i = 0; i < before.length; ++i) diff[i] = Math.max(0, Math.min(255, 128 + gain * (after[i] - before[i])));
  drawRgb(target, diff);
}

// The 8-bit image as a PNG, decoded back: what a user who downloads it and opens it elsewhere gets.
async function pngRoundTrip(pixels) {
  const c = canvas(SIDE, SIDE, '');
  drawRgb(c, pixels);
  const blob = await new Promise((resolve) => c.toBlob(resolve, 'image/png'));
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const d = canvas(SIDE, SIDE, '');
  const ctx = d.getContext('2d');
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, SIDE, SIDE).data;
  const back = new Uint8Array(SIDE * SIDE * 3);
  for (let i = 0; i < SIDE * SIDE; ++i) back.set(rgba.subarray(4 * i, 4 * i + 3), 3 * i);
  return { blob, pixels: back };
}

function percentileText(p) {
  if (Number.isNaN(p)) return '— (no reference distribution)';
  return p >= 100 ? 'above every reference image' : p <= 0 ? 'below every reference image' : p.toFixed(1);
}

// A figure for a report: the three images, their labels and a caption citing the paper.
function figureCanvas(result, images) {
  const scale = 2;
  const side = SIDE * scale;
  const pad = 16;
  const lines = [
    `${result.goal === 'raise' ? 'Raising' : 'Lowering'} the model response of ${result.neuron} within ε = ${result.epsilon} pixel levels` +
      (result.keep ? ` (other neurons kept, penalty ${result.penalty})` : ''),
    `response ${result.before.toFixed(4)} (percentile ${percentileText(result.pBefore)}) → ${result.after.toFixed(4)} (percentile ${percentileText(result.pAfter)})`,
    `Middle: the change (perturbed minus original) × ${result.gain} around mid grey.`,
    `Model: ${CITATION}. Made with Cortex Lens.`,
  ];
  const c = canvas(3 * side + 4 * pad, side + 2 * pad + 22 + lines.length * 18, '');
  const ctx = c.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.imageSmoothingEnabled = false;
  ctx.fillStyle = '#111111';
  ctx.font = '14px sans-serif';
  const titles = ['original', `change × ${result.gain}`, 'perturbed'];
  images.forEach((source, k) => {
    const x = pad + k * (side + pad);
    ctx.drawImage(source, x, pad + 18, side, side);
    ctx.fillText(titles[k], x, pad + 12);
  });
  ctx.font = '12px sans-serif';
  for (const [k, line] of lines.entries()) ctx.fillText(line, pad, side + 2 * pad + 30 + k * 18);
  return c;
}

// The 100-filter shared model's outputs, to keep the others in place; null when the build has none.
function keepOthers(catalog, entry, output) {
  const shared = catalog.shared();
  if (!shared || !Array.isArray(shared.reference) || !catalog.hasPrecision(shared, 'float')) return null;
  const name = entry.kind === 'own' ? entry.outputs?.[output] : entry.id;
  return {
    others: catalog.modelRef(shared, 'float'),
    spread: shared.reference.map((r) => spreadOf(r?.quantiles)),
    exclude: Math.max(-1, (shared.outputs || []).indexOf(name)),
    sharedId: shared.id,
  };
}

function showKeepNote({ app, el }) {
  const entry = app.catalog.current();
  const keep = entry ? keepOthers(app.catalog, entry, 0) : null;
  const on = app.store.get('perturbKeep');
  el.keep.disabled = !keep;
  el.penalty.disabled = !keep || !on;
  el.keepNote.textContent = !keep
    ? 'Keeping the other neurons needs the shared model, which this build does not include.'
    : on
      ? `Penalizing change in the other outputs of ${keep.sharedId}${keep.exclude >= 0 ? '' : ' (this model is not one of its neurons, so all of its outputs are kept)'}.`
      : '';
}

// The results shown belong to the previous neuron, image or settings: they go.
function forget(view) {
  const { el } = view;
  view.result = null;
  for (const c of [el.delta, el.perturbed]) c.getContext('2d').clearRect(0, 0, c.width, c.height);
  el.scale.textContent = '';
  el.numbers.hidden = true;
  el.progress.value = 0;
  for (const b of [el.downloadPng, el.downloadCsv, el.downloadFigure]) b.disabled = true;
  delete el.status.dataset.done;
  if (!view.control) el.status.textContent = '';
}

// The store's settings as the worker's run options (PROTOCOL.md), with what the numbers need.
function runSettings({ app }) {
  const { store, catalog } = app;
  const entry = catalog.current();
  const output = entry.kind === 'own' ? store.get('ownOutput') : 0;
  const quantiles = catalog.quantiles(entry, output);
  const keep = store.get('perturbKeep') ? keepOthers(catalog, entry, output) : null;
  const options = {
    epsilon: store.get('perturbEpsilon'),
    minimize: store.get('perturbGoal') === 'lower',
    steps: store.get('perturbSteps'),
    output,
    responseSpread: spreadOf(quantiles),
    ...(keep ? { penalty: store.get('perturbPenalty'), spread: keep.spread, exclude: keep.exclude } : {}),
  };
  return { entry, ref: catalog.modelRef(entry), output, quantiles, keep, options, goal: store.get('perturbGoal') };
}

// Steps the worker's run chunk by chunk, drawing each chunk's iterate; the last frame, or null when stopped.
async function stepThrough({ app, el }, run, why) {
  const { worker } = app;
  const started = await worker.request('perturbStart', {
    ...run.ref,
    pixels: run.pixels.slice(),
    options: run.options,
    others: run.keep?.others,
  });
  run.runId = started.runId;
  for (;;) {
    if (why()) return null;
    const frame = await worker.request('perturbAdvance', { runId: run.runId, count: CHUNK });
    if (why()) return null;
    el.progress.value = frame.step;
    drawRgb(el.perturbed, frame.current);
    el.status.textContent = `step ${frame.step} of ${frame.steps}: best response so far ${frame.bestResponse.toFixed(4)}`;
    if (frame.done) return frame;
  }
}

// Both responses from 8-bit images by the float path: the original crop, and the best image as a PNG read back.
async function measure({ app }, run, frame) {
  const { blob, pixels: back } = await pngRoundTrip(frame.best);
  if (back.some((v, i) => v !== frame.best[i])) throw new Error('the PNG read back differs from the image found');
  const [before, after] = await Promise.all(
    [run.pixels, back].map((p) => app.worker.request('perturbMeasure', { ...run.ref, pixels: p.slice() })),
  );
  let largest = 0;
  let changed = 0;
  for (let i = 0; i < back.length; ++i) {
    const d = Math.abs(back[i] - run.pixels[i]);
    largest = Math.max(largest, d);
    changed += d !== 0;
  }
  const { output, quantiles, options } = run;
  return {
    neuron: run.entry.id,
    output,
    goal: run.goal,
    epsilon: options.epsilon,
    steps: frame.step,
    maxSteps: options.steps,
    keep: Boolean(run.keep),
    penalty: run.keep ? options.penalty : 0,
    before: before.outputs[output],
    after: after.outputs[output],
    pBefore: percentileOf(before.outputs[output], quantiles),
    pAfter: percentileOf(after.outputs[output], quantiles),
    othersChange: run.keep ? frame.othersChange : NaN,
    largest,
    changed,
    gain: Math.floor(127 / options.epsilon),
    ms: frame.ms,
    blob,
    pixels: back,
  };
}

async function runPerturbation(view) {
  const { app, el } = view;
  clearError(el.error);
  const pixels = app.store.get('seenPixels');
  if (!app.catalog.current() || !pixels) {
    showError(el.error, 'Choose a neuron and an image first.');
    return;
  }
  forget(view);
  const ticket = app.store.ticket(['neuronId', 'seenPixels', ...SETTINGS]);
  const mine = { cancelled: false };
  view.control = mine;
  el.start.disabled = true;
  el.cancel.disabled = false;
  const run = { ...runSettings(view), pixels, runId: null };
  const why = () =>
    mine.cancelled ? 'cancelled' : !ticket.current() ? 'stopped: the neuron, image or settings changed' : null;
  el.progress.max = run.options.steps;
  try {
    const t0 = performance.now();
    const frame = await stepThrough(view, run, why);
    if (!frame) {
      el.status.textContent = [el.status.textContent, why()].filter(Boolean).join(' — ');
      return;
    }
    const wallMs = performance.now() - t0;
    const result = await measure(view, run, frame);
    if (!ticket.current()) return;
    view.result = { ...result, wallMs };
    drawRgb(el.perturbed, result.pixels);
    drawDelta(el.delta, pixels, result.pixels, result.gain);
    el.deltaCaption.textContent = `change × ${result.gain} (grey: none)`;
    el.scale.textContent = `The middle image is the change (perturbed minus original) multiplied by ${result.gain} around mid grey, so ±${result.epsilon} levels fill the range from black to white.`;
    showNumbers(el, view.result);
    for (const b of [el.downloadPng, el.downloadCsv, el.downloadFigure]) b.disabled = false;
  } catch (e) {
    if (ticket.current()) showError(el.error, `The perturbation failed: ${e.message}`);
  } finally {
    if (run.runId != null) app.worker.request('perturbStop', { runId: run.runId }).catch(() => {});
    if (view.control === mine) view.control = null;
    el.start.disabled = false;
    el.cancel.disabled = true;
  }
}

function showNumbers(el, r) {
  const cell = (text) => h('td', { class: 'mono' }, text);
  el.numbers.replaceChildren(
    h('tr', {}, h('th', {}, ''), h('th', {}, 'response'), h('th', {}, 'percentile')),
    h('tr', {}, h('th', {}, 'original'), cell(r.before.toFixed(4)), cell(percentileText(r.pBefore))),
    h('tr', {}, h('th', {}, 'perturbed'), cell(r.after.toFixed(4)), cell(percentileText(r.pAfter))),
  );
  el.numbers.hidden = false;
  Object.assign(el.status.dataset, {
    done: 'true',
    before: String(r.before),
    after: String(r.after),
    percentileBefore: String(r.pBefore),
    percentileAfter: String(r.pAfter),
    largest: String(r.largest),
    changed: String(r.changed),
    ms: String(r.ms),
    wallMs: String(r.wallMs),
  });
  el.status.textContent =
    `${r.steps} step${r.steps === 1 ? '' : 's'}${r.steps < r.maxSteps ? ' (a fixed point: more would repeat the last)' : ''}` +
    ` in ${(r.ms / 1000).toFixed(2)} s; largest change ${r.largest} level${r.largest === 1 ? '' : 's'}, ` +
    `${r.changed} of ${SIDE * SIDE * 3} colour values changed` +
    (r.keep ? `; other neurons moved by ${r.othersChange.toFixed(3)} of their spread (RMS)` : '');
}

const CSV_HEADER = [
  'model',
  'output',
  'direction',
  'epsilon',
  'steps',
  'penalty',
  'response_before',
  'percentile_before',
  'response_after',
  'percentile_after',
  'largest_change',
  'changed_values',
  'others_rms_change',
  'citation',
];
const orBlank = (v) => (Number.isNaN(v) ? '' : v);
const csvRow = (r) => [
  r.neuron,
  r.output,
  r.goal,
  r.epsilon,
  r.steps,
  r.penalty,
  r.before,
  orBlank(r.pBefore),
  r.after,
  orBlank(r.pAfter),
  r.largest,
  r.changed,
  orBlank(r.othersChange),
  CITATION,
];

function wire(view) {
  const { el } = view;
  const name = (r, suffix) => `perturb-${r.neuron}-${r.goal}-eps${r.epsilon}${suffix}`;
  el.start.addEventListener('click', () => runPerturbation(view));
  el.cancel.addEventListener('click', () => {
    if (view.control) view.control.cancelled = true;
  });
  el.downloadPng.addEventListener('click', () => {
    if (view.result) downloadBlob(view.result.blob, name(view.result, '.png'));
  });
  el.downloadCsv.addEventListener('click', () => {
    if (view.result) downloadCsv(name(view.result, '.csv'), CSV_HEADER, [csvRow(view.result)]);
  });
  el.downloadFigure.addEventListener('click', () => {
    const r = view.result;
    if (!r) return;
    figureCanvas(r, [el.original, el.delta, el.perturbed]).toBlob((blob) => downloadBlob(blob, name(r, '-figure.png')));
  });
}

export default {
  id: 'perturb',
  title: 'Smallest change',
  keys: ['neuronId', 'entries', 'seenPixels', ...SETTINGS],
  mount(root, app) {
    const { store } = app;
    const el = elements();
    root.append(...layout(el));
    // control: {cancelled} of the run in flight; result: the last finished run's numbers, for the downloads.
    const view = { app, el, control: null, result: null };
    wire(view);
    const syncs = [
      bind(store, 'perturbEpsilon', el.epsilon, integerIn(1, 16)),
      bind(store, 'perturbGoal', el.goal),
      bind(store, 'perturbSteps', el.steps, integerIn(1, 1000)),
      bind(store, 'perturbKeep', el.keep, checkbox),
      bind(store, 'perturbPenalty', el.penalty, { read: (c) => Number(c.value), valid: (v) => PENALTIES.includes(v) }),
    ];
    return {
      update(changed) {
        for (const sync of syncs) sync();
        el.epsilonValue.textContent = String(store.get('perturbEpsilon'));
        showKeepNote(view);
        const pixels = store.get('seenPixels');
        if (changed.has('seenPixels') && pixels) drawRgb(el.original, pixels);
        const stale = ['neuronId', 'seenPixels', ...SETTINGS].some((k) => changed.has(k));
        if (stale && (view.result || !view.control)) forget(view);
      },
      unmount() {
        if (view.control) view.control.cancelled = true;
      },
    };
  },
};
