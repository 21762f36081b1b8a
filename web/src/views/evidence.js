// "Evidence": does the model predict the real neuron? The current neuron's predictions for the held-out images of its
// session against the recorded responses (scatter, r), and the build's per-session fidelity table for every neuron.
import { h, showError, clearError, downloadCsv, scrollRegion } from '../dom.js';
import { drawScatter } from '../charts.js';
import { asset } from '../build.js';

const AXES = {
  xLabel: 'model prediction (arbitrary units)',
  yLabel: 'recorded response (spikes per 100 ms, repeat-averaged)',
};

export default {
  id: 'evidence',
  title: 'Evidence',
  keys: ['neuronId', 'evidence', 'entries', 'gallery'],
  mount(root, app) {
    const { store, catalog } = app;
    const ui = buildDom(root);
    let pick = null; // the scatter's last layout: pointer position -> nearest point
    let running = null; // the ticket of the comparison in flight

    const evidenceNow = () => {
      const ev = store.get('evidence');
      return ev && ev.entryId === store.get('neuronId') ? ev : null;
    };
    const draw = (highlight = -1) => {
      const ev = evidenceNow();
      if (ev) pick = drawScatter(ui.scatter, ev.predicted, ev.recorded, { ...AXES, highlight });
    };

    function render() {
      const ev = evidenceNow();
      if (ev) {
        showResult(ui, ev);
        draw();
      } else if (!running?.current()) {
        pick = null;
        showIdle(ui, recordingsOf(catalog.current(), store.get('gallery')));
      }
    }

    async function compare() {
      const entry = catalog.current();
      const recordings = recordingsOf(entry, store.get('gallery'));
      if (!recordings.ok) return;
      const ticket = store.ticket(['neuronId']);
      running = ticket;
      store.set({ evidence: null });
      showIdle(ui, recordings);
      ui.run.disabled = true;
      try {
        const evidence = await evaluate(app, entry, (text) => {
          if (ticket.current()) ui.status.textContent = text;
        });
        if (!ticket.current()) return;
        app.timings.evidence = evidence.ms;
        store.set({ evidence });
      } catch (e) {
        if (ticket.current()) showError(ui.error, `Could not compare ${entry.id} with its recordings: ${e.message}`);
      } finally {
        if (running === ticket) running = null;
        if (ticket.current()) ui.run.disabled = false;
      }
    }

    // The evidence belongs to one neuron: it is cleared the moment another is selected, even while this tab is
    // hidden (the shell defers update() then), so no other reader takes it for the new neuron's.
    const unsubscribe = store.subscribe(['neuronId'], () => {
      if (store.get('evidence') && store.get('evidence').entryId !== store.get('neuronId'))
        store.set({ evidence: null });
    });

    ui.run.addEventListener('click', compare);
    ui.csv.addEventListener('click', () => downloadEvidenceCsv(evidenceNow(), catalog));
    ui.fidelityCsv.addEventListener('click', () => downloadFidelityCsv(catalog));
    const pointAt = (event) => {
      const ev = evidenceNow();
      if (!ev || !pick) return;
      const rect = ui.scatter.getBoundingClientRect();
      const i = pick(event.clientX - rect.left, event.clientY - rect.top);
      if (i < 0) return;
      showPoint(ui, ev, i, catalog.entry(ev.entryId)?.session);
      draw(i);
    };
    // A mouse hovers; a finger taps (a touch screen sends no pointermove without a drag).
    ui.scatter.addEventListener('pointermove', pointAt);
    ui.scatter.addEventListener('pointerdown', pointAt);

    return {
      update(changed) {
        if (changed.has('entries')) renderFidelitySummary(ui, catalog);
        render();
      },
      resize: () => draw(),
      unmount: unsubscribe,
    };
  },
};

function buildDom(root) {
  const ui = {
    run: h('button', { type: 'button', id: 'evidence-run', class: 'button primary' }, 'Compare with the recordings'),
    csv: h('button', { type: 'button', id: 'evidence-csv', class: 'button quiet', disabled: true }, 'Download CSV'),
    status: h('span', { id: 'evidence-status', class: 'fineprint', role: 'status', 'aria-live': 'polite' }),
    scatter: h('canvas', {
      id: 'scatter',
      class: 'chart',
      width: 560,
      height: 420,
      role: 'img',
      'aria-label': 'Predicted against recorded responses',
    }),
    r: h('p', { id: 'evidence-r', class: 'big-number small' }),
    hover: h('figure', { id: 'evidence-hover', class: 'evidence-hover', hidden: true }),
    img: h('img', { id: 'evidence-img', alt: '', width: 112, height: 112 }),
    caption: h('figcaption', { id: 'evidence-caption', class: 'mono' }),
    error: h('p', { id: 'evidence-error', class: 'error', role: 'alert', hidden: true }),
    summary: scrollRegion('Fidelity per session', { id: 'fidelity-summary' }),
    fidelityCsv: h(
      'button',
      { type: 'button', id: 'fidelity-csv', class: 'button quiet', disabled: true },
      'Download the per-neuron table (CSV)',
    ),
  };
  ui.hover.append(ui.img, ui.caption);
  root.append(
    h(
      'p',
      {},
      'Does the model predict the real neuron? For the current neuron, the model’s predictions for the held-out images 601–1200 of its recording session, against the spike counts recorded for those images (averaged over repeats). The authors fitted the readout on images 1–600 only.',
    ),
    h('div', { class: 'population-head' }, ui.run, ui.csv, ui.status),
    h('div', { class: 'evidence-layout' }, ui.scatter, h('div', { class: 'evidence-side' }, ui.r, ui.hover)),
    ui.error,
    h('h3', { class: 'section-title' }, 'Every neuron at once'),
    h(
      'p',
      { class: 'fineprint' },
      'Median correlation between model and recording on the held-out images, per session, as computed when this build converted the models (the same computation as ',
      h('code', {}, 'cortexlens evaluate'),
      '; the button above recomputes one neuron live).',
    ),
    ui.summary,
    ui.fidelityCsv,
  );
  return ui;
}

// Whether this build can compare `entry` with its recordings: {ok, entry, text} (text: what the status line says).
function recordingsOf(entry, gallery) {
  const ok = entry?.kind === 'neuron' && gallery.sessions.some((s) => s.session === entry.session && s.responses);
  const text = ok
    ? `Neuron ${entry.id}: 600 held-out images of session ${entry.session}.`
    : entry?.kind === 'neuron'
      ? `The images or recordings of session ${entry.session} are not in this build (session 211022’s images are not public).`
      : 'Pick a recorded neuron: the evidence needs its recordings.';
  return { ok, entry, text };
}

function showIdle(ui, { ok, text }) {
  ui.run.disabled = !ok;
  ui.csv.disabled = true;
  ui.r.textContent = '';
  delete ui.r.dataset.r;
  ui.hover.hidden = true;
  clearError(ui.error);
  ui.status.textContent = text;
  ui.scatter.getContext('2d').clearRect(0, 0, ui.scatter.width, ui.scatter.height);
}

function showResult(ui, ev) {
  ui.r.replaceChildren(`r = ${ev.r.toFixed(3)}`, h('br'), `r² = ${ev.r2.toFixed(3)}`);
  ui.r.dataset.r = String(ev.r);
  ui.status.textContent = `${ev.images.length} held-out images, float model, ${(ev.ms / 1000).toFixed(1)} s. Hover a point to see its image.`;
  ui.csv.disabled = false;
  ui.run.disabled = false;
  clearError(ui.error);
}

function showPoint(ui, ev, i, session) {
  ui.hover.hidden = false;
  ui.img.src = ev.images[i].url;
  ui.img.alt = `Session ${session} image ${ev.images[i].number}`;
  ui.caption.textContent = `image ${ev.images[i].number}\npredicted ${ev.predicted[i].toFixed(4)}\nrecorded ${ev.recorded[i].toFixed(3)}`;
}

// The recorded responses of entry's session, and the model's predictions for the same images in the worker, which
// also computes r. -> the store's `evidence` value.
// Exported for the lesson player, which computes r for a question when the Evidence tab has not.
export async function evaluate(app, entry, say) {
  say('Fetching the recorded responses…');
  const response = await fetch(asset(`data/responses_${entry.session}.json`));
  if (!response.ok) throw new Error(`data/responses_${entry.session}.json: HTTP ${response.status}`);
  const table = await response.json();
  const recorded = table.responses[entry.neuron];
  const images = [];
  for (let n = table.images.first; n <= table.images.last; ++n)
    images.push({ number: n, url: asset(`gallery/${entry.session}/image${String(n).padStart(4, '0')}.jpg`) });
  const started = performance.now();
  const result = await app.worker.request(
    'evaluate',
    { ...app.catalog.modelRef(entry), session: entry.session, images, recorded },
    {
      onProgress: ({ done, total }) => say(`Running the model on image ${done} of ${total}…`),
    },
  );
  return {
    entryId: entry.id,
    images,
    recorded,
    predicted: result.predicted,
    r: result.r,
    r2: result.r2,
    ms: performance.now() - started,
  };
}

function downloadEvidenceCsv(ev, catalog) {
  const session = catalog.entry(ev.entryId)?.session;
  downloadCsv(
    `cortexlens-evidence-${ev.entryId}.csv`,
    ['session', 'image', 'predicted', 'recorded'],
    ev.images.map((im, i) => [session, im.number, ev.predicted[i], ev.recorded[i]]),
  );
}

const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  return n ? (n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2) : NaN;
};
const withFidelity = (catalog) => catalog.neurons().filter((e) => catalog.fidelity(e)?.floatVsRecordedR != null);

// The per-session summary reviewers look for first (the paper's headline figure is the median r per session).
function renderFidelitySummary(ui, catalog) {
  const rows = withFidelity(catalog);
  ui.fidelityCsv.disabled = !rows.length;
  if (!rows.length) {
    ui.summary.replaceChildren(
      h(
        'p',
        { class: 'fineprint' },
        'This build has no fidelity figures (they come from the model-pack step with the published data).',
      ),
    );
    return;
  }
  const sessions = [...new Set(rows.map((e) => e.session))];
  const num = (text) => h('td', { class: 'num' }, text);
  const line = (label, list) => {
    const f = list.map(catalog.fidelity);
    const r = f.map((x) => x.floatVsRecordedR);
    const r8 = f.map((x) => x.int8VsRecordedR).filter(Number.isFinite);
    const q = f.map((x) => x.int8VsFloatR).filter(Number.isFinite);
    return h(
      'tr',
      {},
      h('th', { scope: 'row' }, label),
      num(String(list.length)),
      num(median(r).toFixed(3)),
      num((median(r) ** 2).toFixed(3)),
      num(r8.length ? median(r8).toFixed(3) : '—'),
      num(q.length ? Math.min(...q).toFixed(4) : '—'),
    );
  };
  const heads = [
    'session',
    'neurons',
    'median r (float)',
    'median r² (float)',
    'median r (int8)',
    'lowest r(int8, float)',
  ];
  ui.summary.replaceChildren(
    h(
      'table',
      { class: 'layer-table', id: 'fidelity-table' },
      h('thead', {}, h('tr', {}, ...heads.map((t, i) => h('th', { scope: 'col', class: i ? 'num' : null }, t)))),
      h(
        'tbody',
        {},
        ...sessions.map((s) =>
          line(
            s,
            rows.filter((e) => e.session === s),
          ),
        ),
        line('all', rows),
      ),
    ),
  );
}

function downloadFidelityCsv(catalog) {
  downloadCsv(
    'cortexlens-fidelity.csv',
    ['neuron', 'session', 'number', 'params', 'r_float', 'r_int8', 'r_int8_vs_float', 'images'],
    withFidelity(catalog).map((e) => {
      const f = catalog.fidelity(e);
      return [e.id, e.session, e.neuron, e.params, f.floatVsRecordedR, f.int8VsRecordedR, f.int8VsFloatR, f.images];
    }),
  );
}
