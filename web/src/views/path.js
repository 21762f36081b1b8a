// "Nearly identical": the current image and a transformed copy of it (shift, scale, rotate, contrast, blur, noise)
// or a second image, and the path between them in N steps. Along it: the images, the current neuron's response
// (as a percentile of its natural-image responses) and how far the whole population (the 100-filter shared model's
// 219 outputs) has moved from the first image. The pixels and numbers are those of `cortexlens path`
// (core/include/cortexlens/image_path.hpp; the worker's pathRun, web/src/worker-path.js).
import { h, showError, clearError, downloadCsv, scrollRegion } from '../dom.js';
import { canvas as makeCanvas, drawRgb, downloadCanvas } from '../draw.js';
import { percentileOf } from '../reference.js';
import { drawSeries } from '../series-chart.js';
import { galleryImage } from '../services.js';
import { fnv1a32Hex } from '../hash.js';

const SIDE = 112;
const CITATION =
  'Models: Cowley, Stan, Pillow & Smith, "Compact deep neural network models of the visual cortex", Nature 2026, doi:10.1038/s41586-026-10150-1.';

// Each transform: what its amount means, the default amount, and the input's limits (the core checks them again).
export const TRANSFORMS = {
  shift: { label: 'Shift right (pixels)', initial: 2, min: -56, max: 56, step: 1 },
  scale: { label: 'Scale (zoom factor)', initial: 1.05, min: 0.25, max: 4, step: 0.01 },
  rotate: { label: 'Rotate (degrees, counter-clockwise)', initial: 3, min: -180, max: 180, step: 1 },
  contrast: { label: 'Contrast (factor)', initial: 0.8, min: 0, max: 4, step: 0.05 },
  blur: { label: 'Blur (Gaussian sigma, pixels)', initial: 1, min: 0, max: 8, step: 0.1 },
  noise: { label: 'Noise (sd, pixel levels)', initial: 4, min: 0, max: 128, step: 1 },
};

const KEYS = ['pathMode', 'pathTransform', 'pathAmount', 'pathSteps', 'pathSeed', 'pathSecond'];

// The second image of a blend when the link names none: the next image of the current one's session, else the
// first gallery image that is not the current one.
function defaultSecond(store) {
  const image = store.get('image');
  const gallery = store.get('gallery');
  const m = /^(\d{6})\/(\d{1,4})$/.exec(image?.key || '');
  if (m) {
    const next = `${m[1]}/${Number(m[2]) + 1}`;
    if (galleryImage(gallery, next)) return next;
    const previous = `${m[1]}/${Number(m[2]) - 1}`;
    if (galleryImage(gallery, previous)) return previous;
  }
  const first = gallery.sessions[0];
  if (first) return `${first.session}/${first.numbers[0] === 601 ? 602 : 601}`;
  return gallery.own.find((o) => o.id !== image?.key)?.id ?? null;
}

function settingsOf(store) {
  const mode = store.get('pathMode');
  return {
    mode,
    transform: store.get('pathTransform'),
    amount: store.get('pathAmount'),
    steps: store.get('pathSteps'),
    seed: store.get('pathSeed'),
    second: mode === 'blend' ? store.get('pathSecond') || defaultSecond(store) : null,
  };
}

// The path's result for the store's current neuron and input, or null.
function currentResult(store) {
  const result = store.get('pathResult');
  return result && result.neuronId === store.get('neuronId') && result.input === store.get('input') ? result : null;
}

// The worker request for the current settings: the neuron in the page's precision (when the build has it), the
// shared model (int8 when the build has it: exact on every machine) with each output's quartiles.
async function pathRequest(store, catalog, entry, s) {
  const precision = catalog.hasPrecision(entry, store.get('precision'))
    ? store.get('precision')
    : catalog.hasPrecision(entry, 'int8')
      ? 'int8'
      : 'float';
  const shared = catalog.shared();
  const quartile = (q) => shared.outputs.map((_, k) => catalog.quantiles(shared, k)?.[q] ?? Number.NaN);
  const payload = {
    first: store.get('seenPixels').slice(),
    steps: s.steps,
    neuron: catalog.modelRef(entry, precision),
    output: entry.kind === 'own' ? store.get('ownOutput') : 0,
    population: shared
      ? {
          ...catalog.modelRef(shared, catalog.hasPrecision(shared, 'int8') ? 'int8' : 'float'),
          q25: quartile(25),
          q75: quartile(75),
        }
      : null,
  };
  if (s.mode === 'blend') {
    const found = galleryImage(store.get('gallery'), s.second);
    if (!found) throw new Error(`the gallery of this build has no image ${s.second}`);
    const response = await fetch(found.url);
    if (!response.ok) throw new Error(`cannot fetch ${found.url}: HTTP ${response.status}`);
    payload.secondBytes = await response.arrayBuffer();
  } else {
    payload.transform = { kind: s.transform, amount: s.amount, seed: s.seed };
  }
  return { payload, precision };
}

// Computes the path for the store's selection; a reply for a selection that has changed since is dropped.
async function runPath(app, ui) {
  const { store, catalog, worker } = app;
  const entry = catalog.current();
  if (!entry || !store.get('seenPixels')) return null;
  const ticket = store.ticket(['neuronId', 'input', 'precision', ...KEYS]);
  clearError(ui.error);
  const s = settingsOf(store);
  ui.status.textContent = 'Computing the path…';
  try {
    const { payload, precision } = await pathRequest(store, catalog, entry, s);
    if (!ticket.current()) return ticket;
    const transfer = [payload.first.buffer, ...(payload.secondBytes ? [payload.secondBytes] : [])];
    const out = await worker.request('pathRun', payload, { transfer });
    if (!ticket.current()) return ticket;
    const quantiles = catalog.quantiles(entry, payload.output);
    const responses = Array.from(out.responses);
    const frame = SIDE * SIDE * 3;
    store.set({
      pathResult: {
        neuronId: entry.id,
        input: store.get('input'),
        settings: s,
        precision,
        secondTitle: s.second ? galleryImage(store.get('gallery'), s.second)?.title : null,
        steps: out.steps,
        pixels: out.pixels,
        amounts: out.amounts,
        responses,
        percentiles: responses.map((r) => percentileOf(r, quantiles)),
        distances: out.distances,
        hashes: Array.from({ length: out.steps }, (_, i) =>
          fnv1a32Hex(out.pixels.subarray(i * frame, (i + 1) * frame)),
        ),
        ms: out.ms,
      },
    });
  } catch (e) {
    if (ticket.current()) showError(ui.error, `The path could not be computed: ${e.message}`);
  } finally {
    if (ticket.current()) ui.status.textContent = '';
  }
  return ticket;
}

function render(app, ui) {
  const { store, catalog } = app;
  const s = settingsOf(store);
  ui.mode.value = s.mode;
  ui.transform.value = s.transform;
  const t = TRANSFORMS[s.transform];
  Object.assign(ui.amount, { min: t.min, max: t.max, step: t.step });
  const show = (input, value) => {
    if (document.activeElement !== input) input.value = String(value ?? '');
  };
  show(ui.amount, s.amount);
  show(ui.steps, s.steps);
  show(ui.seed, s.seed);
  show(ui.second, s.second);
  ui.amountLabel.textContent = t.label;
  ui.transformRow.hidden = s.mode !== 'transform';
  ui.seedRow.hidden = s.mode !== 'transform' || s.transform !== 'noise';
  ui.secondRow.hidden = s.mode !== 'blend';
  const result = currentResult(store);
  ui.csv.disabled = ui.png.disabled = !result;
  if (!result) {
    ui.strip.replaceChildren();
    ui.summary.textContent = store.get('seenPixels') ? '' : 'Choose an image first (the image panel).';
    return;
  }
  drawResult(ui, result, catalog);
}

// Controls -> store keys (a value outside its range is not taken; the field shows the store's value again).
function wireControls(app, ui) {
  const { store } = app;
  const setNumber = (key, input, parse) => () => {
    const value = parse(input.value);
    if (value !== undefined && value !== store.get(key)) store.set({ [key]: value });
    else render(app, ui);
  };
  const integerIn = (low, high) => (v) =>
    v !== '' && Number.isInteger(Number(v)) && v >= low && v <= high ? Number(v) : undefined;
  ui.mode.addEventListener('change', () => store.set({ pathMode: ui.mode.value }));
  ui.transform.addEventListener('change', () =>
    store.set({ pathTransform: ui.transform.value, pathAmount: TRANSFORMS[ui.transform.value].initial }),
  );
  ui.amount.addEventListener(
    'change',
    setNumber('pathAmount', ui.amount, (v) => {
      const t = TRANSFORMS[store.get('pathTransform')];
      const n = Number(v);
      return v !== '' && Number.isFinite(n) && n >= t.min && n <= t.max ? Math.round(n * 1e4) / 1e4 : undefined;
    }),
  );
  ui.steps.addEventListener('change', setNumber('pathSteps', ui.steps, integerIn(2, 64)));
  ui.seed.addEventListener('change', setNumber('pathSeed', ui.seed, integerIn(0, 2 ** 31 - 1)));
  ui.second.addEventListener('change', () => {
    const key = ui.second.value.trim();
    if (!key) store.set({ pathSecond: null });
    else if (galleryImage(store.get('gallery'), key)) store.set({ pathSecond: key });
    else showError(ui.error, `The gallery has no image ${key}: use SESSION/NUMBER, e.g. 190923/602.`);
  });
  ui.csv.addEventListener('click', () => downloadPathCsv(currentResult(store)));
  ui.png.addEventListener('click', () => downloadPathPng(currentResult(store), ui));
}

export default {
  id: 'path',
  title: 'Nearly identical',
  keys: ['neuronId', 'input', 'seenPixels', 'entries', 'gallery', 'precision', 'pathResult', ...KEYS],
  mount(root, app) {
    const ui = buildDom(root);
    wireControls(app, ui);
    let running = null;
    const start = () => {
      const promise = runPath(app, ui);
      running = promise;
      promise.finally(() => {
        if (running === promise) running = null;
      });
    };
    return {
      update(changed) {
        render(app, ui);
        const needsRun = [...changed].some((k) => !['pathResult', 'entries'].includes(k));
        if (needsRun || (!currentResult(app.store) && !running)) start();
      },
      resize() {
        const result = currentResult(app.store);
        if (result) drawResult(ui, result, app.catalog);
      },
    };
  },
};

function buildDom(root) {
  const option = (value, text) => h('option', { value }, text);
  const ui = {
    mode: h(
      'select',
      { id: 'path-mode' },
      option('transform', 'the image and a transformed copy'),
      option('blend', 'the image and a second image (blend)'),
    ),
    transform: h('select', { id: 'path-transform' }, ...Object.keys(TRANSFORMS).map((k) => option(k, k))),
    amount: h('input', { id: 'path-amount', type: 'number', inputmode: 'decimal' }),
    amountLabel: h('label', { for: 'path-amount' }),
    steps: h('input', { id: 'path-steps', type: 'number', min: 2, max: 64, step: 1 }),
    seed: h('input', { id: 'path-seed', type: 'number', min: 0, step: 1 }),
    second: h('input', { id: 'path-second', type: 'text', placeholder: 'e.g. 190923/602', spellcheck: 'false' }),
    status: h('span', { id: 'path-status', class: 'fineprint', 'aria-live': 'polite' }),
    error: h('p', { id: 'path-error', class: 'error', role: 'alert', hidden: '' }),
    strip: h('div', { id: 'path-strip', class: 'path-strip' }),
    response: h('canvas', {
      id: 'path-response',
      class: 'chart',
      role: 'img',
      'aria-label': 'response along the path',
    }),
    distance: h('canvas', {
      id: 'path-distance',
      class: 'chart',
      role: 'img',
      'aria-label': 'population distance along the path',
    }),
    summary: h('p', { id: 'path-summary', class: 'percentile-text', 'aria-live': 'polite' }),
    csv: h('button', { type: 'button', class: 'button quiet small', id: 'path-csv' }, 'Download CSV'),
    png: h('button', { type: 'button', class: 'button quiet small', id: 'path-png' }, 'Download figure (PNG)'),
  };
  ui.transformRow = h('div', { class: 'path-field' }, h('label', { for: 'path-transform' }, 'Transform'), ui.transform);
  ui.amountRow = h('div', { class: 'path-field' }, ui.amountLabel, ui.amount);
  ui.transformRow.append(ui.amountRow);
  ui.seedRow = h('div', { class: 'path-field' }, h('label', { for: 'path-seed' }, 'Noise seed'), ui.seed);
  ui.secondRow = h(
    'div',
    { class: 'path-field' },
    h('label', { for: 'path-second' }, 'Second image (gallery key)'),
    ui.second,
  );
  root.append(
    h('h2', {}, 'Nearly identical images'),
    h(
      'p',
      { class: 'lead' },
      'Two images that look the same to you can look different to a neuron. The paper showed that compact models keep their power to tell apart closely related images, and that small image changes chosen with the models changed the real neurons’ responses a lot while the images looked almost the same. Here you walk, in small steps, from the image to a slightly changed copy (or to a second image) and watch this neuron’s model and the whole population of 219 modelled neurons respond.',
    ),
    h(
      'div',
      { class: 'path-controls' },
      h('div', { class: 'path-field' }, h('label', { for: 'path-mode' }, 'Path between'), ui.mode),
      ui.transformRow,
      ui.seedRow,
      ui.secondRow,
      h('div', { class: 'path-field' }, h('label', { for: 'path-steps' }, 'Steps'), ui.steps),
      ui.status,
    ),
    ui.error,
    scrollRegion('Images along the path', { class: 'path-strip-wrap' }, ui.strip),
    ui.summary,
    h('div', { class: 'card-grid' }, ui.response, ui.distance),
    h('div', { class: 'population-head' }, ui.csv, ui.png),
    h(
      'p',
      { class: 'fineprint' },
      'What you are looking at: the images are what the model sees (112 × 112 pixels after your crop); transforms act on those pixels, in integer arithmetic, so `cortexlens path` draws the same ones. Shifts repeat the edge column, rotations and zooms repeat the nearest edge pixel; a fractional shift interpolates between neighbouring pixels, which also smooths the image slightly, so a half-pixel step can move some neurons more than a whole pixel. The left chart is the neuron’s response as a percentile of its model’s responses to 300 natural images; the right chart is how far the 219 neurons of the 100-filter shared model moved from the first image: the root mean square of each neuron’s change in units of its own spread over natural images (interquartile range / 1.349), so 1 means the neurons moved, on average, by one typical natural-image spread. These are the models’ predictions, not recordings: the paper tested such changes on real neurons; this page does not.',
    ),
    h('p', { class: 'fineprint' }, CITATION),
  );
  return ui;
}

function xValues(result) {
  return result.amounts.map((a, i) => (result.settings.mode === 'blend' ? a : Number.isFinite(a) ? a : i));
}

function xLabel(result) {
  if (result.settings.mode === 'blend') return `weight of the second image (${result.secondTitle || 'second image'})`;
  return TRANSFORMS[result.settings.transform].label.toLowerCase();
}

function drawResult(ui, result, catalog) {
  const frame = SIDE * SIDE * 3;
  const cells = [];
  for (let i = 0; i < result.steps; ++i) {
    const c = makeCanvas(SIDE, SIDE, `step ${i}`, 72);
    drawRgb(c, result.pixels.subarray(i * frame, (i + 1) * frame));
    const p = result.percentiles[i];
    cells.push(
      h(
        'figure',
        { class: 'path-cell', 'data-step': i },
        c,
        h(
          'figcaption',
          {},
          `${formatAmount(result, i)}`,
          h('br'),
          Number.isFinite(p) ? `${p.toFixed(0)}th pct` : result.responses[i].toFixed(3),
        ),
      ),
    );
  }
  ui.strip.replaceChildren(...cells);
  const xs = xValues(result);
  const entry = catalog.entry(result.neuronId);
  const hasPercentiles = result.percentiles.some(Number.isFinite);
  drawSeries(
    ui.response,
    xs,
    [{ values: hasPercentiles ? result.percentiles : result.responses, color: '#0b5cad', name: result.neuronId }],
    {
      title: hasPercentiles ? 'This neuron: percentile among natural images' : 'This neuron: response',
      yLabel: hasPercentiles ? 'percentile' : 'response',
      xLabel: xLabel(result),
      ...(hasPercentiles ? { yMin: 0, yMax: 100 } : {}),
    },
  );
  if (result.distances) {
    drawSeries(ui.distance, xs, [{ values: result.distances, color: '#c2570c', name: '219 neurons' }], {
      title: 'Population: distance from the first image',
      yLabel: 'RMS change (spreads)',
      xLabel: xLabel(result),
      yMin: 0,
    });
  }
  ui.distance.hidden = !result.distances;
  const last = result.steps - 1;
  const p0 = result.percentiles[0],
    p1 = result.percentiles[last];
  const moved = Number.isFinite(p0)
    ? `${entry?.id || result.neuronId}'s response goes from the ${p0.toFixed(1)}th to the ${p1.toFixed(1)}th percentile`
    : `the response goes from ${result.responses[0].toFixed(3)} to ${result.responses[last].toFixed(3)}`;
  const pop = result.distances
    ? `; the population moves by ${result.distances[last].toFixed(2)} natural-image spreads (largest along the path ${Math.max(...result.distances).toFixed(2)})`
    : '';
  ui.summary.textContent = `From the first image to the last, ${moved}${pop}. (${result.steps} steps, ${Math.round(result.ms)} ms.)`;
}

function formatAmount(result, i) {
  const a = result.amounts[i];
  if (result.settings.mode === 'blend') return `${Math.round(a * 100)}%`;
  const unit = { shift: ' px', scale: '×', rotate: '°', contrast: '×', blur: ' px', noise: ' lv' }[
    result.settings.transform
  ];
  return `${Number(a.toFixed(3))}${unit}`;
}

function describe(result) {
  const s = result.settings;
  return s.mode === 'blend'
    ? `blend to ${result.secondTitle || s.second}`
    : `${s.transform} ${s.amount}${s.transform === 'noise' ? ` (seed ${s.seed})` : ''}`;
}

function downloadPathCsv(result) {
  if (!result) return;
  const rows = result.responses.map((r, i) => [
    i,
    result.steps > 1 ? i / (result.steps - 1) : 0,
    result.amounts[i],
    r,
    Number.isFinite(result.percentiles[i]) ? result.percentiles[i] : '',
    result.distances ? result.distances[i] : '',
    result.hashes[i],
  ]);
  rows.push([`# ${result.neuronId} (${result.precision}), ${describe(result)}, ${result.steps} steps. ${CITATION}`]);
  downloadCsv(
    `cortexlens-path-${result.neuronId}.csv`,
    ['step', 'fraction', 'amount', 'response', 'percentile', 'population_distance', 'pixels_fnv1a'],
    rows,
  );
}

// The figure: the strip of images over the two charts, with a caption that names the experiment and cites the paper.
function downloadPathPng(result, ui) {
  if (!result) return;
  const width = 960;
  const cell = Math.min(96, Math.floor((width - 20) / result.steps) - 4);
  const chartH = Math.round((width / 2 - 15) * (ui.response.height / ui.response.width));
  const height = 40 + cell + 30 + chartH + 60;
  const out = document.createElement('canvas');
  out.width = width;
  out.height = height;
  const ctx = out.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = '#17212b';
  ctx.font = '16px system-ui, sans-serif';
  ctx.fillText(`Nearly identical images: ${result.neuronId}, ${describe(result)}, ${result.steps} steps`, 10, 24);
  ui.strip.querySelectorAll('canvas').forEach((c, i) => {
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(c, 10 + i * (cell + 4), 36, cell, cell);
  });
  const top = 36 + cell + 20;
  ctx.drawImage(ui.response, 10, top, width / 2 - 15, chartH);
  if (result.distances) ctx.drawImage(ui.distance, width / 2 + 5, top, width / 2 - 15, chartH);
  ctx.font = '12px system-ui, sans-serif';
  ctx.fillStyle = '#4a5866';
  ctx.fillText(
    'Model predictions (Cortex Lens, cortexlens path); population distance: RMS change of the 219 shared-model outputs in natural-image spreads.',
    10,
    height - 32,
  );
  ctx.fillText(CITATION, 10, height - 14);
  downloadCanvas(out, `cortexlens-path-${result.neuronId}.png`);
}
