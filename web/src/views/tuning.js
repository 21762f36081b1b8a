// "Tuning": the experiments a physiologist runs with simple stimuli. A family of parametric probes (gratings, dots,
// bars and curves, uniform colour; drawn by the core, the same pixels as `cortexlens probe`) is swept along one
// parameter (a tuning curve) or two (a heatmap) with the others fixed, through the current neuron's model; and, on
// request, through the 100-filter shared model for all 219 recorded neurons at once, sorted by preferred stimulus.
import { h, downloadCsv, showError, clearError } from '../dom.js';
import { downloadCanvas } from '../draw.js';
import { percentileOf, ordinal } from '../reference.js';
import { DEFAULT_VARY, parseVary, parseSet, formatSet, fnv1aHex, formatValue } from '../probes.js';
import { drawCurve, drawHeatmap, drawPopulationHeatmap } from '../tuning-charts.js';

const CITATION =
  'Models: Cowley, Stan, Pillow & Smith, "Compact deep neural network models of the visual cortex", Nature 2026 (doi:10.1038/s41586-026-10150-1). Stimuli and sweep: Cortex Lens.';
const PROBE_KEYS = ['probeFamily', 'probeVary', 'probeVary2', 'probeSet'];

export default {
  id: 'tuning',
  title: 'Tuning',
  keys: ['neuronId', 'entries', 'engine', 'precision', 'probeAll', 'probeResult', 'probePopulation', ...PROBE_KEYS],
  mount(root, app) {
    // The view's working set: the core's parameter specs (asked once) and the curve's layout (pointer read-out).
    const view = { app, ui: buildDom(root), families: null, familiesAsked: false, curveLayout: null };
    wire(view);
    return {
      update(changed) {
        if (!view.families) {
          if (app.store.get('engine')?.ready) ensureFamilies(view);
          return;
        }
        const probeChanged = PROBE_KEYS.some((k) => changed.has(k));
        if (probeChanged) renderControls(view);
        if (probeChanged || changed.has('neuronId') || changed.has('entries') || changed.has('precision'))
          runNeuron(view);
        if ((probeChanged || changed.has('probeAll') || changed.has('entries')) && app.store.get('probeAll'))
          runPopulation(view);
        if (changed.has('probeResult') || changed.has('neuronId')) drawNeuron(view);
        if (['probePopulation', 'neuronId', 'probeAll', 'probeResult'].some((k) => changed.has(k))) drawAll(view);
      },
      resize() {
        drawNeuron(view);
        drawAll(view);
      },
    };
  },
};

// The request the store describes: {family, fixed, axes}, or throws with what was expected.
function request(store) {
  const family = store.get('probeFamily');
  const axes = [parseVary(store.get('probeVary') || DEFAULT_VARY[family])];
  if (store.get('probeVary2')) axes.push(parseVary(store.get('probeVary2')));
  const fixed = parseSet(store.get('probeSet'));
  for (const a of axes) delete fixed[a.name]; // a swept parameter is not also fixed
  return { family, fixed, axes };
}

const specsOf = (view, family) => view.families?.find((f) => f.name === family)?.parameters || [];

function renderControls(view) {
  const { store } = view.app;
  const { ui } = view;
  if (!view.families) return;
  const family = store.get('probeFamily');
  const specs = specsOf(view, family);
  ui.family.value = family;
  let req;
  try {
    req = request(store);
    clearError(ui.error);
  } catch (e) {
    showError(ui.error, e.message);
    return;
  }
  const names = specs.map((s) => s.name);
  fillSelect(ui.varyName, names, req.axes[0].name);
  fillSelect(ui.vary2Name, ['', ...names], req.axes[1]?.name || '', { '': '— none (a tuning curve)' });
  ui.varyValues.value = (store.get('probeVary') || DEFAULT_VARY[family]).split('=')[1];
  ui.vary2Values.value = store.get('probeVary2') ? store.get('probeVary2').split('=')[1] : '';
  ui.vary2Values.disabled = !store.get('probeVary2');
  const swept = new Set(req.axes.map((a) => a.name));
  ui.fixed.replaceChildren(
    ...specs.filter((s) => !swept.has(s.name)).map((s) => fixedInput(store, s, req.fixed[s.name] ?? s.initial)),
  );
}

// One fixed parameter's control: a number (or a colour picker for colours); a change rewrites probeSet.
function fixedInput(store, s, value) {
  const colour = s.unit === '0xRRGGBB';
  const input = h('input', {
    id: `tuning-set-${s.name}`,
    type: colour ? 'color' : 'number',
    min: colour ? null : s.low,
    max: colour ? null : s.high,
    step: colour ? null : s.integer ? 1 : 'any',
    value: colour ? `#${Math.round(value).toString(16).padStart(6, '0')}` : value,
    on: {
      change: (event) => {
        const fixed = parseSet(store.get('probeSet'));
        const v = event.target.value;
        fixed[s.name] = colour ? Number.parseInt(v.slice(1), 16) : Number(v);
        if (!colour && v === '') delete fixed[s.name];
        store.set({ probeSet: formatSet(fixed) });
      },
    },
  });
  return h(
    'label',
    { class: 'tuning-param', title: s.about },
    `${s.name}${s.unit && !colour ? ` (${s.unit})` : ''}`,
    input,
  );
}

async function ensureFamilies(view) {
  if (view.familiesAsked) return;
  view.familiesAsked = true;
  try {
    view.families = await view.app.worker.request('probeFamilies');
    renderControls(view);
    runNeuron(view);
    if (view.app.store.get('probeAll')) runPopulation(view);
  } catch (e) {
    view.familiesAsked = false;
    showError(view.ui.error, `The engine could not list the stimuli: ${e.message}`);
  }
}

async function runNeuron(view) {
  const { store, pool, catalog, timings } = view.app;
  const entry = catalog.current();
  if (!entry || !view.families) return;
  let req;
  try {
    req = request(store);
  } catch {
    return;
  }
  const ticket = store.ticket(['neuronId', 'precision', ...PROBE_KEYS]);
  const precision = store.get('precision') === 'float' && catalog.hasPrecision(entry, 'float') ? 'float' : 'int8';
  const ref = catalog.modelRef(entry, catalog.hasPrecision(entry, precision) ? precision : undefined);
  view.ui.status.textContent = 'Running the sweep…';
  const t0 = performance.now();
  try {
    const out = await pool.probeSweep({ ...ref, ...req, stimuli: true });
    if (!ticket.current()) return;
    timings.tuningNeuron = performance.now() - t0;
    store.set({ probeResult: { neuronId: entry.id, request: req, ...out } });
  } catch (e) {
    if (ticket.current()) store.set({ probeResult: { neuronId: entry.id, request: req, error: e.message } });
  }
}

async function runPopulation(view) {
  const { store, pool, catalog, timings } = view.app;
  const { ui } = view;
  const shared = catalog.shared();
  if (!shared || !view.families) {
    ui.popStatus.textContent = 'This build has no shared model (built without the published data).';
    return;
  }
  let req;
  try {
    req = request(store);
  } catch {
    return;
  }
  const ticket = store.ticket(['probeAll', ...PROBE_KEYS]);
  const ref = catalog.modelRef(shared, catalog.hasPrecision(shared, 'int8') ? 'int8' : 'float');
  ui.popStatus.textContent = 'Running all neurons through the shared model…';
  ui.popProgress.hidden = false;
  const t0 = performance.now();
  const onProgress = ({ done, total }) => {
    ui.popProgress.max = total;
    ui.popProgress.value = done;
  };
  try {
    const out = await pool.probeSweep({ ...ref, ...req }, { onProgress });
    if (!ticket.current()) return;
    timings.tuningPopulation = performance.now() - t0;
    store.set({ probePopulation: { request: req, ...out } });
  } catch (e) {
    if (ticket.current()) store.set({ probePopulation: { request: req, error: e.message } });
  } finally {
    ui.popProgress.hidden = true;
  }
}

function drawNeuron(view) {
  const { store, catalog } = view.app;
  const { ui } = view;
  const result = store.get('probeResult');
  const entry = catalog.current();
  ui.csv.disabled = ui.png.disabled = !result || Boolean(result.error);
  if (!result || !entry || result.neuronId !== entry.id || result.error) {
    if (result?.error) showError(ui.error, result.error);
    ui.curve.hidden = true;
    return;
  }
  clearError(ui.error);
  ui.curve.hidden = false;
  const output = entry.kind === 'own' ? store.get('ownOutput') : 0;
  const responses = Array.from({ length: result.points }, (_, k) => result.responses[k * result.outputs + output]);
  const quantiles = catalog.quantiles(entry, output);
  const spec = specsOf(view, result.request.family);
  const { axes } = result.request;
  view.curveLayout = null;
  if (axes.length === 1) {
    const unit = spec.find((s) => s.name === axes[0].name)?.unit || '';
    view.curveLayout = drawCurve(ui.curve, { axis: axes[0], responses, stimuli: result.stimuli, quantiles, unit });
  } else {
    drawHeatmap(ui.curve, { axes, responses, stimuli: result.stimuli, quantiles });
  }
  const best = responses.indexOf(Math.max(...responses));
  const bestText = axes.map((a) => `${a.name} ${formatValue(result.values[best][indexOf(spec, a.name)])}`).join(', ');
  const p = percentileOf(responses[best], quantiles);
  ui.status.textContent =
    `${entry.id}: ${result.points} stimuli in ${result.ms.toFixed(0)} ms (${result.precision}). ` +
    `Strongest response at ${bestText}: ${responses[best].toFixed(3)}` +
    (Number.isNaN(p)
      ? '. (No reference distribution for this model in this build: no percentile scale; a heatmap spans its lowest to highest response.)'
      : `, the ${ordinal(p)} percentile of natural reference images.`);
  ui.curve.dataset.points = String(result.points);
}

function drawAll(view) {
  const { store, catalog } = view.app;
  const { ui } = view;
  const pop = store.get('probePopulation');
  const shared = catalog.shared();
  ui.popCsv.disabled = ui.popPng.disabled = !pop || Boolean(pop.error);
  if (!store.get('probeAll') || !pop || !shared || pop.error) {
    if (pop?.error) ui.popStatus.textContent = `Stopped: ${pop.error}`;
    ui.population.hidden = true;
    return;
  }
  const { order, percentiles, names } = populationTable(pop, shared, catalog);
  ui.population.hidden = false;
  const oneAxis = pop.request.axes.length === 1;
  const result = store.get('probeResult');
  const stimuli = result && sameRequest(result.request, pop.request) ? result.stimuli : null;
  drawPopulationHeatmap(ui.population, {
    order,
    percentiles,
    points: pop.points,
    current: names.indexOf(store.get('neuronId')),
    stimuli: oneAxis ? stimuli : null,
    labels: oneAxis ? pop.request.axes[0].values.map(formatValue) : null,
  });
  ui.population.dataset.neurons = String(order.length);
  ui.popStatus.textContent = `${order.length} neurons × ${pop.points} stimuli through ${shared.id} in ${(pop.ms / 1000).toFixed(2)} s (${pop.precision}). Rows sorted by the stimulus that drives each neuron most; ▶ marks ${store.get('neuronId') || 'the current neuron'}.`;
}

// The controls' events, the downloads and the curve's pointer read-out.
function wire(view) {
  const { store, catalog } = view.app;
  const { ui } = view;
  const specNamed = (name) => specsOf(view, store.get('probeFamily')).find((s) => s.name === name);
  ui.family.addEventListener('change', () =>
    store.set({ probeFamily: ui.family.value, probeVary: '', probeVary2: '', probeSet: '' }),
  );
  const setVary = () => store.set({ probeVary: `${ui.varyName.value}=${ui.varyValues.value.trim()}` });
  ui.varyName.addEventListener('change', () => {
    const spec = specNamed(ui.varyName.value);
    if (spec) ui.varyValues.value = defaultRange(spec);
    setVary();
  });
  ui.varyValues.addEventListener('change', setVary);
  ui.vary2Name.addEventListener('change', () => {
    const spec = specNamed(ui.vary2Name.value);
    store.set({ probeVary2: spec ? `${spec.name}=${defaultRange(spec)}` : '' });
  });
  ui.vary2Values.addEventListener('change', () =>
    store.set({ probeVary2: `${ui.vary2Name.value}=${ui.vary2Values.value.trim()}` }),
  );
  ui.runAll.addEventListener('click', () => {
    if (store.get('probeAll')) runPopulation(view);
    else store.set({ probeAll: true });
  });
  ui.csv.addEventListener('click', () => downloadNeuronCsv(store, catalog, view.families));
  ui.png.addEventListener('click', () =>
    downloadWithCaption(
      ui.curve,
      `tuning-${store.get('neuronId')}-${store.get('probeFamily')}.png`,
      caption(store, 'neuron'),
    ),
  );
  ui.popCsv.addEventListener('click', () => downloadPopulationCsv(store, catalog));
  ui.popPng.addEventListener('click', () =>
    downloadWithCaption(
      ui.population,
      `tuning-all-neurons-${store.get('probeFamily')}.png`,
      caption(store, 'population'),
    ),
  );
  ui.curve.addEventListener('pointermove', (event) => readOut(view, event));
}

function readOut(view, event) {
  const { store, catalog } = view.app;
  const layout = view.curveLayout;
  const result = store.get('probeResult');
  if (!layout || !result?.responses) return;
  const px = event.clientX - view.ui.curve.getBoundingClientRect().left;
  let best = 0;
  layout.xs.forEach((v, i) => {
    if (Math.abs(layout.x(v) - px) < Math.abs(layout.x(layout.xs[best]) - px)) best = i;
  });
  const entry = catalog.current();
  const output = entry?.kind === 'own' ? store.get('ownOutput') : 0;
  const r = result.responses[best * result.outputs + output];
  const p = percentileOf(r, catalog.quantiles(entry, output));
  view.ui.hover.textContent = `${result.request.axes[0].name} ${formatValue(layout.xs[best])}: response ${r.toFixed(4)}${Number.isNaN(p) ? '' : ` (${ordinal(p)} percentile)`}`;
}

function indexOf(spec, name) {
  return spec.findIndex((s) => s.name === name);
}

function sameRequest(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

// 12 values over the parameter's range (its natural sweep: orientation 0..165 by 15, a hue circle, ...).
function defaultRange(spec) {
  const count = 12;
  if (spec.name === 'orientation' || spec.name === 'hue' || spec.name === 'phase')
    return `0:${spec.high - spec.high / count}:${spec.high / count}`;
  if (spec.name === 'curvature') return `-180:180:30`;
  const lo = spec.name === 'frequency' ? 1 : spec.low;
  const hi = spec.name === 'frequency' ? 24 : spec.high;
  const step = spec.integer
    ? Math.max(1, Math.round((hi - lo) / (count - 1)))
    : Number(((hi - lo) / (count - 1)).toPrecision(3));
  return `${lo}:${hi}:${step}`;
}

function fillSelect(select, names, value, labels = {}) {
  if ([...select.options].map((o) => o.value).join() !== names.join())
    select.replaceChildren(...names.map((n) => h('option', { value: n }, labels[n] ?? n)));
  select.value = value;
}

// The shared model's outputs that are recorded neurons, as percentiles on each output's reference distribution
// (raw outputs min-max scaled when the build has none), and the rows' order: by the stimulus that drives the
// neuron most, then by how strongly.
function populationTable(pop, shared, catalog) {
  const names = shared.outputs || [];
  const points = pop.points;
  const percentiles = new Float32Array(names.length * points);
  const peak = [];
  names.forEach((_name, k) => {
    const q = catalog.quantiles(shared, k);
    let lo = Infinity,
      hi = -Infinity;
    for (let c = 0; c < points; ++c) {
      const v = pop.responses[c * pop.outputs + k];
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    let best = 0;
    for (let c = 0; c < points; ++c) {
      const v = pop.responses[c * pop.outputs + k];
      percentiles[k * points + c] = q ? percentileOf(v, q) : hi > lo ? ((v - lo) / (hi - lo)) * 100 : 50;
      if (percentiles[k * points + c] > percentiles[k * points + best]) best = c;
    }
    peak.push({ k, best, value: percentiles[k * points + best] });
  });
  const order = peak
    .filter(({ k }) => catalog.entry(names[k]))
    .sort((a, b) => a.best - b.best || b.value - a.value)
    .map(({ k }) => k);
  return { order, percentiles, names };
}

function caption(store, which) {
  const req = store.get(which === 'neuron' ? 'probeResult' : 'probePopulation')?.request;
  const sweep = req
    ? req.axes.map((a) => `${a.name} ${formatValue(a.values[0])}…${formatValue(a.values.at(-1))}`).join(' × ')
    : '';
  const fixed = req ? formatSet(req.fixed) : '';
  const who =
    which === 'neuron'
      ? `V4 neuron ${store.get('neuronId')} (its compact model)`
      : 'all 219 V4 neurons (100-filter shared model)';
  return [`${req?.family || ''} sweep: ${sweep}${fixed ? ` (fixed ${fixed})` : ''}; ${who}.`, CITATION];
}

// The canvas with its caption below, as one PNG.
function downloadWithCaption(source, name, lines) {
  const out = document.createElement('canvas');
  const lineH = 18;
  out.width = source.width;
  out.height = source.height + lines.length * lineH * (window.devicePixelRatio || 1) + 12;
  const ctx = out.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.drawImage(source, 0, 0);
  const dpr = window.devicePixelRatio || 1;
  ctx.scale(dpr, dpr);
  ctx.fillStyle = '#17212b';
  ctx.font = '12px system-ui, sans-serif';
  lines.forEach((line, i) => {
    ctx.fillText(line, 8, source.height / dpr + 16 + i * lineH, source.width / dpr - 16);
  });
  downloadCanvas(out, name);
}

// One row per stimulus, the same columns as `cortexlens probe` (stimulus, every parameter, pixels_fnv1a, the
// model's outputs), plus the percentile of the shown output.
function downloadNeuronCsv(store, catalog, families) {
  const result = store.get('probeResult');
  const entry = catalog.entry(result?.neuronId);
  if (!result?.responses || !entry) return;
  const spec = families.find((f) => f.name === result.request.family).parameters;
  const names = entry.outputs || [entry.id];
  const side = 112 * 112 * 3;
  const rows = result.values.map((values, k) => [
    k,
    ...values.map(formatValue),
    fnv1aHex(result.stimuli.subarray(k * side, (k + 1) * side)),
    ...Array.from(result.responses.subarray(k * result.outputs, (k + 1) * result.outputs), (v) => v.toPrecision(9)),
  ]);
  downloadCsv(
    `tuning-${entry.id}-${result.request.family}.csv`,
    ['stimulus', ...spec.map((s) => s.name), 'pixels_fnv1a', ...names.slice(0, result.outputs)],
    rows,
  );
}

function downloadPopulationCsv(store, catalog) {
  const pop = store.get('probePopulation');
  const shared = catalog.shared();
  if (!pop?.responses || !shared) return;
  const header = ['stimulus', ...pop.request.axes.map((a) => a.name), ...shared.outputs];
  const n1 = pop.request.axes[1]?.values.length || 1;
  const rows = Array.from({ length: pop.points }, (_, k) => [
    k,
    ...pop.request.axes.map((a, i) => formatValue(a.values[i === 0 ? Math.floor(k / n1) : k % n1])),
    ...Array.from(pop.responses.subarray(k * pop.outputs, (k + 1) * pop.outputs), (v) => v.toPrecision(9)),
  ]);
  downloadCsv(`tuning-all-neurons-${pop.request.family}.csv`, header, rows);
}

function buildDom(root) {
  const ui = {
    family: h(
      'select',
      { id: 'tuning-family' },
      h('option', { value: 'grating' }, 'Gratings'),
      h('option', { value: 'dots' }, 'Dots'),
      h('option', { value: 'bar' }, 'Bars and curves'),
      h('option', { value: 'uniform' }, 'Uniform colour'),
    ),
    varyName: h('select', { id: 'tuning-vary-name' }),
    varyValues: h('input', {
      id: 'tuning-vary-values',
      type: 'text',
      class: 'mono',
      size: 18,
      'aria-label': 'values: FIRST:LAST:STEP or a list',
    }),
    vary2Name: h('select', { id: 'tuning-vary2-name' }),
    vary2Values: h('input', {
      id: 'tuning-vary2-values',
      type: 'text',
      class: 'mono',
      size: 18,
      'aria-label': 'second parameter values',
    }),
    fixed: h('div', { id: 'tuning-fixed', class: 'tuning-fixed' }),
    error: h('p', { id: 'tuning-error', class: 'error', hidden: true, role: 'alert' }),
    status: h('p', { id: 'tuning-status', class: 'fineprint', role: 'status', 'aria-live': 'polite' }),
    curve: h('canvas', {
      id: 'tuning-curve',
      class: 'chart',
      width: 900,
      height: 420,
      role: 'img',
      'aria-label': "The current neuron's response to each stimulus",
    }),
    hover: h('p', { id: 'tuning-hover', class: 'fineprint mono', 'aria-live': 'polite' }),
    csv: h('button', { type: 'button', id: 'tuning-csv', class: 'button quiet', disabled: true }, 'Download CSV'),
    png: h('button', { type: 'button', id: 'tuning-png', class: 'button quiet', disabled: true }, 'Download PNG'),
    runAll: h(
      'button',
      { type: 'button', id: 'tuning-all', class: 'button primary' },
      'All 219 neurons (shared model)',
    ),
    popProgress: h('progress', { id: 'tuning-all-progress', max: 1, value: 0, hidden: true }),
    popStatus: h('p', { id: 'tuning-all-status', class: 'fineprint', role: 'status', 'aria-live': 'polite' }),
    population: h('canvas', {
      id: 'tuning-population',
      class: 'chart',
      width: 900,
      height: 480,
      hidden: true,
      role: 'img',
      'aria-label': 'Every neuron (rows, sorted) against every stimulus (columns), coloured by percentile',
    }),
    popCsv: h(
      'button',
      { type: 'button', id: 'tuning-all-csv', class: 'button quiet', disabled: true },
      'Download CSV',
    ),
    popPng: h(
      'button',
      { type: 'button', id: 'tuning-all-png', class: 'button quiet', disabled: true },
      'Download PNG',
    ),
  };
  root.append(
    explanation(),
    h(
      'div',
      { class: 'tuning-controls' },
      h('label', {}, 'Stimulus ', ui.family),
      h('label', {}, 'Vary ', ui.varyName, ' ', ui.varyValues),
      h('label', {}, 'and ', ui.vary2Name, ' ', ui.vary2Values),
    ),
    h('p', { class: 'fineprint' }, 'Fixed values (others take the family’s defaults):'),
    ui.fixed,
    ui.error,
    ui.status,
    ui.curve,
    ui.hover,
    h('div', { class: 'tuning-actions' }, ui.csv, ui.png),
    h('h3', {}, 'All neurons'),
    h('div', { class: 'tuning-actions' }, ui.runAll, ui.popProgress, ui.popCsv, ui.popPng),
    ui.popStatus,
    ui.population,
  );
  return ui;
}

// "What am I looking at?" (the science: /work/shared/docs/science.md's claims, worded as the paper's).
function explanation() {
  return h(
    'details',
    { class: 'explain', open: true },
    h('summary', {}, 'What am I looking at?'),
    h(
      'p',
      {},
      'Physiologists describe a neuron by sweeping a simple stimulus along one dimension (the orientation of a grating, the size of a dot) and plotting the response: a tuning curve. Here the stimuli go through the neuron’s compact model, not through the real neuron: the curve is the model’s prediction. Its scale is arbitrary, so dashed lines mark where the model’s responses to natural reference images fall (p50 = the median natural image).',
    ),
    h(
      'p',
      {},
      'The heatmap below runs the same stimuli through the 100-filter shared model, which predicts all 219 recorded neurons at once (an estimate of each neuron’s own model). Each row is one neuron, coloured by percentile (red above the median natural image, blue below), sorted by the stimulus that drives it most. The paper reports a prominent group of V4 neurons that prefer small dots (“dot detectors”): choose Dots and sweep the diameter, and they are the rows that light up at the small diameters. Models of real neurons, Cowley et al., Nature 2026.',
    ),
  );
}
