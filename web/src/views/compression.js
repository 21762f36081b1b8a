// "Compression": the eight shared models (5 to 200 filters in layers 0-2, one network predicting all 219 neurons)
// and the current neuron's own compact model side by side: parameters, multiply-adds, r with the neuron's recorded
// responses on the held-out images 601-1200 (measured by `cortexlens pack`, in the manifest), and each model's
// prediction for the current image. The paper's point: prediction holds until very few filters are left.
import { h, showError, clearError, downloadCsv, formatNumber, scrollRegion } from '../dom.js';
import { downloadCanvas } from '../draw.js';
import { percentileOf, ordinal } from '../reference.js';
import { drawSeries } from '../series-chart.js';

export const SIZES = [5, 10, 25, 35, 50, 75, 100, 200];
const CITATION =
  'Models: Cowley, Stan, Pillow & Smith, "Compact deep neural network models of the visual cortex", Nature 2026, doi:10.1038/s41586-026-10150-1.';

// The shared models of the build, by filter count (the 100-filter model is kind 'shared', the others 'shared-size').
export function sharedBySize(catalog) {
  return catalog
    .entries()
    .filter((e) => (e.kind === 'shared' || e.kind === 'shared-size') && /^shared_\d+$/.test(e.id))
    .map((e) => ({ entry: e, filters: Number(e.id.slice(7)) }))
    .sort((a, b) => a.filters - b.filters);
}

function median(values) {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return Number.NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// r with the recorded responses of one neuron (its output index k) or the median over all neurons with recordings.
const rOf = (entry, k) =>
  (Array.isArray(entry.fidelity) ? entry.fidelity[k] : entry.fidelity)?.floatVsRecordedR ?? Number.NaN;
const medianR = (entry) => median((entry.fidelity || []).map((f) => f?.floatVsRecordedR ?? Number.NaN));

// The models compared for the current neuron: the shared sizes, then its own model: [{id, label, filters, entry,
// output (the neuron's output index in that model, -1 when absent), own}].
function modelRows(catalog) {
  const neuron = catalog.current();
  const out = sharedBySize(catalog).map(({ entry, filters }) => ({
    id: entry.id,
    label: `shared, ${filters} filters`,
    filters,
    entry,
    output: neuron ? entry.outputs.indexOf(neuron.id) : -1,
    own: false,
  }));
  if (neuron?.kind === 'neuron')
    out.push({ id: neuron.id, label: 'own compact model', filters: null, entry: neuron, output: 0, own: true });
  return out;
}

function predictionsNow(store) {
  const p = store.get('compressionPredictions');
  return p && p.neuronId === store.get('neuronId') && p.input === store.get('input') ? p : null;
}

// Every compared model on the current input, in float: the shared models of other sizes are packed float only,
// and one precision keeps the comparison fair.
async function predictAll(app, ui) {
  const { store, catalog, worker } = app;
  const neuron = catalog.current();
  const input = store.get('input');
  if (!neuron || !input) return;
  const ticket = store.ticket(['neuronId', 'input', 'entries']);
  clearError(ui.error);
  const results = [];
  const rows = modelRows(catalog).filter((r) => r.output >= 0);
  // The shared-size models' reference distributions are read the first time they are needed; without them a
  // prediction still shows, its percentile as a dash.
  const missing = [];
  await Promise.all(rows.map((row) => catalog.loadReference(row.entry).catch((e) => missing.push(e.message))));
  if (!ticket.current()) return;
  try {
    for (const row of rows) {
      const { outputs } = await worker.request('predict', { ...catalog.modelRef(row.entry, 'float'), input });
      if (!ticket.current()) return;
      const response = outputs[row.output];
      const percentile = percentileOf(response, catalog.quantiles(row.entry, row.output));
      results.push({ id: row.id, filters: row.filters, precision: 'float', response, percentile });
    }
    store.set({ compressionPredictions: { neuronId: neuron.id, input, rows: results } });
    if (missing.length)
      showError(ui.error, `Percentiles are missing where a reference file could not be read: ${missing.join('; ')}`);
  } catch (e) {
    if (ticket.current()) showError(ui.error, `A prediction failed: ${e.message}`);
  }
}

function tableRow(row, chosen, catalog, prediction) {
  const r = rOf(row.entry, row.output);
  const med = row.own
    ? median(catalog.neurons().map((e) => e.fidelity?.floatVsRecordedR ?? Number.NaN))
    : medianR(row.entry);
  const p = prediction;
  return h(
    'tr',
    { class: row === chosen ? 'current' : row.own ? 'own' : null, 'data-id': row.id },
    h('th', { scope: 'row' }, row.label),
    h('td', {}, formatNumber(row.entry.params)),
    h('td', {}, formatNumber(row.entry.multiplyAdds)),
    h('td', { class: 'r-neuron' }, Number.isFinite(r) ? r.toFixed(3) : '—'),
    h('td', {}, Number.isFinite(med) ? med.toFixed(3) : '—'),
    h('td', { class: 'prediction' }, p ? p.response.toFixed(4) : '…'),
    h('td', { class: 'pct' }, p && Number.isFinite(p.percentile) ? ordinal(p.percentile) : p ? '—' : '…'),
  );
}

function drawChart(ui, neuron, shared, own, chosen) {
  const rNeuron = shared.map((row) => rOf(row.entry, row.output));
  const ownR = own ? rOf(own.entry, 0) : Number.NaN;
  const ownSeries = own
    ? [{ values: shared.map(() => ownR), color: '#c2570c', name: 'own compact model', dashed: true, points: false }]
    : [];
  drawSeries(
    ui.chart,
    shared.map((r) => r.filters),
    [
      { values: rNeuron, color: '#0b5cad', name: neuron.id },
      { values: shared.map((row) => medianR(row.entry)), color: '#8aa6c1', name: 'median neuron', dashed: true },
      ...ownSeries,
    ],
    {
      title: 'r with the recorded responses (images 601-1200)',
      yLabel: 'r',
      xLabel: 'filters in layers 0-2 of the shared model (log scale)',
      logX: true,
      xTicks: shared.map((r) => ({ x: r.filters, text: String(r.filters) })),
      highlightX: chosen.filters,
      yMin: Math.min(0, ...rNeuron.filter(Number.isFinite)),
      yMax: 1,
    },
  );
}

function describeChosen(neuron, shared, own, chosen, prediction) {
  const big = shared[shared.length - 1];
  const r = rOf(chosen.entry, chosen.output);
  const rBig = rOf(big.entry, big.output);
  const ownR = own ? rOf(own.entry, 0) : Number.NaN;
  const versus =
    Number.isFinite(r) && Number.isFinite(rBig) && chosen !== big
      ? ` (${big.filters} filters: ${rBig.toFixed(3)})`
      : '';
  return (
    `${chosen.filters} filters: ${formatNumber(chosen.entry.params)} parameters, ` +
    `${formatNumber(chosen.entry.multiplyAdds)} multiply-adds per image (for all 219 neurons at once). ` +
    `r for ${neuron.id}: ${Number.isFinite(r) ? r.toFixed(3) : 'not measured (no images of its session)'}${versus}` +
    `; median neuron: ${medianR(chosen.entry).toFixed(3)}.` +
    (prediction && Number.isFinite(prediction.percentile)
      ? ` For this image it predicts the ${ordinal(prediction.percentile)} percentile.`
      : '') +
    (own
      ? ` The neuron's own compact model: ${formatNumber(own.entry.params)} parameters, r ${Number.isFinite(ownR) ? ownR.toFixed(3) : '—'}.`
      : '')
  );
}

function render(app, ui) {
  const { store, catalog } = app;
  const neuron = catalog.current();
  const list = modelRows(catalog);
  const shared = list.filter((r) => !r.own);
  const own = list.find((r) => r.own);
  const usable = neuron?.kind === 'neuron' && shared.length >= 2;
  ui.body.hidden = !usable;
  ui.empty.hidden = usable;
  if (!usable) {
    ui.empty.textContent =
      shared.length < 2
        ? 'This build has fewer than two shared models (the published data was not available when it was built).'
        : 'Choose one of the recorded neurons (the picker in "One neuron") to compare its models.';
    return;
  }
  const index = Math.max(
    0,
    shared.findIndex((r) => r.filters === store.get('compressionFilters')),
  );
  ui.slider.max = String(shared.length - 1);
  ui.slider.value = String(index);
  ui.slider.setAttribute('aria-valuetext', `${shared[index].filters} filters`);
  const chosen = shared[index];
  const predictions = predictionsNow(store);
  const predictionOf = (id) => predictions?.rows.find((p) => p.id === id);
  ui.tbody.replaceChildren(...list.map((row) => tableRow(row, chosen, catalog, predictionOf(row.id))));
  drawChart(ui, neuron, shared, own, chosen);
  ui.chosen.textContent = describeChosen(neuron, shared, own, chosen, predictionOf(chosen.id));
}

export default {
  id: 'compression',
  title: 'Compression',
  keys: ['neuronId', 'input', 'entries', 'compressionFilters', 'compressionPredictions'],
  mount(root, app) {
    const { store, catalog } = app;
    const ui = buildDom(root);
    let pending = null; // the predictions in flight, so that re-renders meanwhile do not ask again
    const predict = () => {
      const promise = predictAll(app, ui);
      pending = promise;
      promise.finally(() => {
        if (pending === promise) pending = null;
      });
    };
    ui.slider.addEventListener('input', () => {
      const row = modelRows(catalog).filter((r) => !r.own)[Number(ui.slider.value)];
      if (row) store.set({ compressionFilters: row.filters });
    });
    ui.csv.addEventListener('click', () => downloadCompressionCsv(modelRows(catalog), predictionsNow(store), catalog));
    ui.png.addEventListener('click', () => downloadCompressionPng(ui, catalog.current()));
    return {
      update(changed) {
        render(app, ui);
        const stale = changed.has('neuronId') || changed.has('input') || changed.has('entries');
        if (stale || (!predictionsNow(store) && !pending)) predict();
      },
      resize: () => render(app, ui),
    };
  },
};

function buildDom(root) {
  const ui = {
    empty: h('p', { id: 'compression-empty', class: 'fineprint', hidden: '' }),
    body: h('div', { id: 'compression-body' }),
    slider: h('input', {
      id: 'compression-slider',
      type: 'range',
      min: 0,
      max: 7,
      step: 1,
      'aria-label': 'shared model size (filters)',
    }),
    chosen: h('p', { id: 'compression-chosen', class: 'percentile-text', 'aria-live': 'polite' }),
    chart: h('canvas', { id: 'compression-chart', class: 'chart', role: 'img', 'aria-label': 'r against model size' }),
    tbody: h('tbody', { id: 'compression-rows' }),
    error: h('p', { id: 'compression-error', class: 'error', role: 'alert', hidden: '' }),
    csv: h('button', { type: 'button', class: 'button quiet small', id: 'compression-csv' }, 'Download CSV'),
    png: h('button', { type: 'button', class: 'button quiet small', id: 'compression-png' }, 'Download figure (PNG)'),
  };
  const head = h(
    'thead',
    {},
    h(
      'tr',
      {},
      ...[
        'model',
        'parameters',
        'multiply-adds',
        'r (this neuron)',
        'r (median neuron)',
        'prediction',
        'percentile',
      ].map((t) => h('th', { scope: 'col' }, t)),
    ),
  );
  ui.body.append(
    h(
      'div',
      { class: 'compression-slider' },
      h('label', { for: 'compression-slider' }, 'Shared model size'),
      ui.slider,
    ),
    ui.chosen,
    ui.chart,
    scrollRegion('Model sizes compared', {}, h('table', { class: 'raw-table compression-table' }, head, ui.tbody)),
    h('div', { class: 'population-head' }, ui.csv, ui.png),
  );
  root.append(
    h('h2', {}, 'How small can a model of V4 be?'),
    h(
      'p',
      { class: 'lead' },
      'The authors distilled a 60-million-parameter model of V4 into one shared network that predicts all 219 neurons, and published it at eight sizes: 5 to 200 filters in its first three layers. Slide through them: prediction of this neuron’s recorded responses (r on the 600 held-out images 601-1200) holds as the network shrinks, until very few filters are left. Each neuron’s own compact model, pruned for that neuron alone, is smaller still.',
    ),
    ui.empty,
    ui.body,
    ui.error,
    h(
      'p',
      { class: 'fineprint' },
      'What you are looking at: r is the Pearson correlation between a model’s predictions and the neuron’s recorded, repeat-averaged responses to images the readout was not fitted on, measured when this site was built (`cortexlens pack`; `cortexlens evaluate` gives the same). Recordings are noisy, so even a perfect model stays below r = 1 (the paper corrects for that noise; these raw r values do not). Neurons of session 211022 have no images here, so their r is not measured. Parameters of a shared model serve all 219 neurons at once. Predictions are float, as percentiles of each model’s responses to 300 natural images.',
    ),
    h('p', { class: 'fineprint' }, CITATION),
  );
  return ui;
}

function downloadCompressionCsv(rows, predictions, catalog) {
  const neuron = catalog.current();
  const out = rows.map((row) => {
    const p = predictions?.rows.find((x) => x.id === row.id);
    return [
      row.id,
      row.filters ?? '',
      row.entry.params,
      row.entry.multiplyAdds,
      rOf(row.entry, row.output),
      row.own ? '' : medianR(row.entry),
      p ? p.response : '',
      p && Number.isFinite(p.percentile) ? p.percentile : '',
    ];
  });
  out.push([`# neuron ${neuron?.id}; r on images 601-1200 (cortexlens pack). ${CITATION}`]);
  downloadCsv(
    `cortexlens-compression-${neuron?.id}.csv`,
    ['model', 'filters', 'params', 'multiply_adds', 'r_neuron', 'r_median_neuron', 'prediction', 'percentile'],
    out,
  );
}

function downloadCompressionPng(ui, neuron) {
  const width = 900;
  const chartH = Math.round(width * (ui.chart.height / ui.chart.width));
  const out = document.createElement('canvas');
  out.width = width;
  out.height = chartH + 80;
  const ctx = out.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.fillStyle = '#17212b';
  ctx.font = '16px system-ui, sans-serif';
  ctx.fillText(`Prediction against model size: ${neuron?.id} and the median neuron`, 10, 22);
  ctx.drawImage(ui.chart, 0, 32, width, chartH);
  ctx.font = '12px system-ui, sans-serif';
  ctx.fillStyle = '#4a5866';
  ctx.fillText(CITATION, 10, chartH + 60);
  downloadCanvas(out, `cortexlens-compression-${neuron?.id}.png`);
}
