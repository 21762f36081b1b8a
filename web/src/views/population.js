// "All neurons": every recorded neuron's own model on the current input, as percentiles on each neuron's reference
// natural images, sorted. Runs over the worker pool (web/src/workers.js); the shared model's estimate fills the chart
// while the per-neuron models are still being fetched.
import { h, downloadCsv } from '../dom.js';
import { drawPopulation } from '../charts.js';
import { percentileOf, ordinal } from '../reference.js';
import { portraitTile } from '../portraits.js';

// The progress bar, status and chart are redrawn at most this often during a run: the workers use both cores, and
// every redraw (layout, raster) takes time from them.
const REDRAW_MS = 250;

export default {
  id: 'population',
  title: 'All neurons',
  keys: ['input', 'population', 'neuronId'],
  mount(root, app) {
    const { store, catalog } = app;
    const ui = buildDom(root);
    let layout = null; // the chart's last layout: pointer and keyboard map to its bars
    let startQueued = false; // a check for a run is queued behind the store's delivery of the current change
    let run = null; // {abort: AbortController, ticket}: the run in flight, for one input

    function redraw() {
      const bars = [...store.get('population')].map(([id, r]) => ({ id, ...r }));
      layout = drawPopulation(ui.chart, bars, store.get('neuronId'));
      ui.chart.dataset.count = String(bars.filter((b) => b.exact).length);
      renderExtremes(app, ui, bars);
    }

    function stop() {
      run?.abort.abort();
      run = null;
    }

    function start() {
      stop();
      run = { abort: new AbortController(), ticket: store.ticket(['input']) };
      runPopulation(app, ui, run).catch((e) => {
        ui.status.textContent = `Stopped: ${e.message}`;
      });
    }

    // A run for an input that has been replaced is stopped at once, even while the tab is hidden (the shell defers
    // update() then): its chunks would only take the cores from the neuron view's prediction of the new image.
    const unsubscribe = store.subscribe(['input'], () => {
      if (run && !run.ticket.current()) stop();
    });

    wireChart(
      ui,
      () => layout,
      (bar) => store.set({ neuronId: bar.id, view: 'neuron' }),
    );
    ui.run.addEventListener('click', start);
    ui.csv.addEventListener('click', () => downloadPopulationCsv(store, catalog));

    return {
      update(changed) {
        // Shown (or a new input while shown) with results for another input: this input's run starts, once the
        // store's other subscribers have had the input. The shell's subscription comes before the services', so a
        // run started here at once would queue its first chunk on the first worker ahead of the current neuron's
        // prediction for the same image.
        if (!startQueued) {
          startQueued = true;
          queueMicrotask(() => {
            startQueued = false;
            const input = store.get('input');
            if (input && store.get('populationInput') !== input) start();
          });
        }
        if (changed.has('population') || changed.has('neuronId')) redraw();
      },
      resize: redraw,
      unmount() {
        stop();
        unsubscribe();
      },
    };
  },
};

function buildDom(root) {
  const ui = {
    run: h('button', { type: 'button', id: 'population-run', class: 'button primary' }, 'Compute all neurons'),
    csv: h('button', { type: 'button', id: 'population-csv', class: 'button quiet', disabled: true }, 'Download CSV'),
    progress: h('progress', { id: 'population-progress', max: 1, value: 0 }),
    status: h('span', { id: 'population-status', class: 'fineprint', role: 'status', 'aria-live': 'polite' }),
    chart: h('canvas', {
      id: 'population-chart',
      class: 'chart tall',
      width: 900,
      height: 320,
      tabindex: 0,
      role: 'img',
      'aria-label': "Every neuron's percentile for this image, sorted; click a bar to open that neuron",
    }),
    hover: h('p', { id: 'population-hover', class: 'fineprint mono', 'aria-live': 'polite' }),
    extremes: h('section', { id: 'population-extremes', class: 'population-extremes', hidden: '' }),
  };
  root.append(
    h(
      'div',
      { class: 'population-head' },
      ui.run,
      ui.csv,
      h('div', { class: 'progress-wrap' }, ui.progress, ui.status),
    ),
    ui.chart,
    h(
      'p',
      { class: 'fineprint' },
      'Each bar is one recorded neuron; its height is where this image falls among that neuron’s responses to the reference natural images. Pale bars are the shared model’s quick estimate; each turns dark blue when the neuron’s own model has answered. Click a bar to open the neuron.',
    ),
    ui.hover,
    ui.extremes,
  );
  return ui;
}

// The image's strongest and weakest neurons as their portraits: "these neurons respond most to your image; this is
// what each responds to most". Redrawn only when the neurons shown change (each publish is a new Map).
const EXTREMES = 6;
function renderExtremes({ store, catalog }, ui, bars) {
  const sorted = bars.filter((b) => Number.isFinite(b.percentile)).sort((a, b) => b.percentile - a.percentile);
  const most = sorted.slice(0, EXTREMES);
  const least = sorted.slice(Math.max(most.length, sorted.length - EXTREMES)).reverse();
  const signature = [...most, ...least].map((b) => `${b.id}:${b.percentile.toFixed(0)}:${b.exact}`).join(',');
  if (signature === ui.extremes.dataset.signature) return;
  ui.extremes.dataset.signature = signature;
  ui.extremes.hidden = !most.length;
  const open = (entry) => store.set({ neuronId: entry.id, view: 'neuron' });
  const row = (id, title, list) =>
    h(
      'div',
      { class: 'population-extreme' },
      h('h4', { id: `${id}-title` }, title),
      h(
        'ul',
        { id, class: 'portrait-grid compact', 'aria-labelledby': `${id}-title` },
        ...list.map((b) => {
          const entry = catalog.entry(b.id);
          const meta = `${ordinal(b.percentile)} pct${b.exact ? '' : ' (est.)'}`;
          return entry ? h('li', {}, portraitTile(entry, { onOpen: open, meta, idPrefix: id })) : null;
        }),
      ),
    );
  ui.extremes.replaceChildren(
    h(
      'p',
      {},
      'These neurons respond most (and least) to your image, each shown by what its model responds to most: its preferred image. Open one to see it in detail.',
    ),
    row('population-most', 'Driven most by this image', most),
    least.length ? row('population-least', 'Driven least by this image', least) : null,
  );
}

// Pointer: hovering reads a bar out, a click opens it. Keyboard: arrows walk the bars (the hover line reads the
// neuron out), Enter opens it. layoutNow() -> the chart's last layout (drawPopulation's), or null.
function wireChart(ui, layoutNow, openBar) {
  let focusBar = 0;
  const barAt = (event) => {
    const layout = layoutNow();
    if (!layout) return null;
    const rect = ui.chart.getBoundingClientRect();
    return layout.sorted[Math.floor((event.clientX - rect.left - layout.pad.l) / layout.step)] || null;
  };
  ui.chart.addEventListener('pointermove', (event) => {
    const bar = barAt(event);
    ui.hover.textContent = bar
      ? `${bar.id}: ${ordinal(bar.percentile)} percentile (raw ${bar.raw.toFixed(4)}, ${bar.exact ? 'own model' : 'shared model estimate'})`
      : '';
  });
  ui.chart.addEventListener('click', (event) => {
    const bar = barAt(event);
    if (bar) openBar(bar);
  });
  ui.chart.addEventListener('keydown', (event) => {
    const bars = layoutNow()?.sorted || [];
    if (!bars.length) return;
    const step = { ArrowRight: 1, ArrowLeft: -1, PageDown: 10, PageUp: -10, Home: -Infinity, End: Infinity }[event.key];
    if (step !== undefined) {
      event.preventDefault();
      focusBar = Math.max(
        0,
        Math.min(bars.length - 1, Number.isFinite(step) ? focusBar + step : step > 0 ? bars.length - 1 : 0),
      );
      const bar = bars[focusBar];
      ui.hover.textContent = `${focusBar + 1}. ${bar.id}: ${ordinal(bar.percentile)} percentile (raw ${bar.raw.toFixed(4)}). Enter opens it.`;
    } else if (event.key === 'Enter') {
      openBar(bars[Math.min(focusBar, bars.length - 1)]);
    }
  });
}

function downloadPopulationCsv(store, catalog) {
  const rows = [...store.get('population')].map(([id, r]) => {
    const e = catalog.entry(id);
    return [id, e?.session, e?.neuron, r.percentile.toFixed(2), r.raw, r.exact ? 'per-neuron int8' : 'shared estimate'];
  });
  rows.sort((a, b) => b[3] - a[3]);
  const slug = (store.get('image')?.key || 'image').replace(/[^a-z0-9]+/gi, '-');
  downloadCsv(
    `cortexlens-population-${slug}.csv`,
    ['neuron', 'session', 'number', 'percentile', 'raw_output', 'model'],
    rows,
  );
}

// One run: every neuron's model on store `input`. Results go into `results` (this run's own Map) and reach the store
// as a new Map at most every REDRAW_MS, so subscribers (this chart, the picker's 'response' sort) hear them. A chunk
// that arrives once the input has changed is dropped: the abort signal stops the pool from sending more, the ticket
// catches replies already on their way.
async function runPopulation(app, ui, run) {
  const { store, catalog, pool, timings } = app;
  const { signal } = run.abort;
  const live = () => !signal.aborted && run.ticket.current();
  const input = store.get('input');
  if (!input) return; // no image yet: the run starts when one arrives
  const results = new Map();
  const publish = () => store.set({ population: new Map(results) });
  store.set({ population: new Map(), populationInput: input });
  const neurons = catalog.neurons();
  ui.csv.disabled = true;
  if (!neurons.length) {
    ui.status.textContent = 'This build holds no per-neuron models (built without the published data).';
    return;
  }
  ui.progress.max = neurons.length;
  ui.progress.value = 0;
  ui.status.textContent = `0 / ${neurons.length} neuron models`; // not the previous image's "All ... done"
  const started = performance.now();
  const items = neurons.map((e) => ({
    id: e.id,
    ...catalog.modelRef(e, catalog.hasPrecision(e, 'int8') ? 'int8' : 'float'),
  }));
  runSharedEstimate(app, ui, { items, input, results, live, started, publish });
  let done = 0;
  const byKey = new Map(items.map((it) => [it.key, it.id]));
  let drawTimer = null;
  const draw = () => {
    drawTimer = null;
    if (!live()) return;
    ui.progress.value = done;
    ui.status.textContent = `${done} / ${neurons.length} neuron models · ${((performance.now() - started) / 1000).toFixed(1)} s`;
    publish();
  };
  const threads = store.get('engine')?.threads || 1;
  const neuronsStarted = performance.now();
  try {
    timings.populationWorkers = await pool.predictAll(
      items.map(({ key, url }) => ({ key, url })),
      input,
      {
        signal,
        chunk: threads > 1 ? 110 : 12, // one threaded call spreads its chunk over all threads: few, large ones
        onResults: (chunk) => {
          if (!live()) return;
          for (const { key, outputs } of chunk) {
            const id = byKey.get(key);
            results.set(id, {
              percentile: percentileOf(outputs[0], catalog.quantiles(catalog.entry(id))),
              raw: outputs[0],
              exact: true,
            });
          }
          done += chunk.length;
          drawTimer ??= setTimeout(draw, REDRAW_MS);
        },
      },
    );
  } catch (e) {
    clearTimeout(drawTimer);
    if (e.name !== 'AbortError' && live()) ui.status.textContent = `Stopped: ${e.message}`;
    return;
  }
  clearTimeout(drawTimer);
  if (!live()) return;
  ui.progress.value = done;
  const ms = performance.now() - started;
  // population: the whole view from the click; populationNeurons: from the per-neuron models' start (beside the
  // shared-model estimate, so nearly the same).
  timings.populationNeurons = performance.now() - neuronsStarted;
  timings.population = ms;
  finishStatus(ui, { neurons, catalog, ms, workers: pool.workers.length, threads });
  ui.csv.disabled = false;
  publish();
  if (pool.workers.length > 1) pool.preloadTails(items.map(({ key, url }) => ({ key, url })));
}

// The shared model's quick estimate for all neurons runs beside the per-neuron models while some of them still have
// to be fetched and loaded (seconds), always on the pool's last worker: the first one predicts the current neuron for
// the new image, and a worker that has not loaded the shared model yet spends longer loading it than predicting.
// Exact values replace the estimate as they come. Once every model is loaded the exact values arrive within a fraction
// of a second, and the estimate would only delay that worker's first chunk by its own pass.
function runSharedEstimate(app, ui, { items, input, results, live, started, publish }) {
  const { catalog, pool, timings } = app;
  const workers = pool.grow();
  const allLoaded = items.every(({ key }) => workers.some((w) => w.loadedKeys.has(key)));
  const shared = allLoaded ? null : catalog.shared();
  if (!shared) return;
  const ref = catalog.modelRef(shared, catalog.hasPrecision(shared, 'int8') ? 'int8' : 'float');
  workers
    .at(-1)
    .request('predict', { ...ref, input })
    .then(
      ({ outputs }) => {
        if (!live()) return;
        (shared.outputs || []).forEach((name, k) => {
          const q = catalog.quantiles(shared, k);
          if (catalog.entry(name) && q && !results.get(name)?.exact)
            results.set(name, { percentile: percentileOf(outputs[k], q), raw: outputs[k], exact: false });
        });
        timings.populationShared = performance.now() - started;
        publish();
      },
      (e) => {
        if (live())
          ui.hover.textContent = `The shared model's quick estimate failed (${e.message}); each neuron's own model still runs.`;
      },
    );
}

function finishStatus(ui, { neurons, catalog, ms, workers, threads }) {
  const missing = neurons.filter((e) => !catalog.quantiles(e)).length;
  if (missing === neurons.length)
    ui.hover.textContent =
      'This build has no reference distributions (it was built without the model-pack step), so the responses cannot be put on a common percentile scale; the raw outputs are in the CSV.';
  ui.status.textContent =
    `All ${neurons.length} neuron models done in ${(ms / 1000).toFixed(2)} s on ${workers} worker${workers > 1 ? 's' : ''}` +
    (threads > 1 ? ` with ${threads} threads` : '') +
    (missing ? ` (${missing} without a reference distribution in this build: raw outputs only, in the CSV)` : '') +
    '.';
}
