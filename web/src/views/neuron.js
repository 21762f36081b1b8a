// "One neuron": the neuron picker, and the current neuron's response to the current input: the percentile among its
// responses to reference natural images, the distribution, the raw int8 and float32 outputs. Every number comes from
// the store (services.js predicts); clicking a neuron is store.set({neuronId}).
import { h, showError, clearError, formatNumber, afterNextFrame } from '../dom.js';
import { drawDistribution } from '../charts.js';
import { percentileOf, ordinal } from '../reference.js';
import { portraitImage, PORTRAIT_CREDIT } from '../portraits.js';
import { galleryImage } from '../services.js';

const PUBLISHED_NEURONS = 219;
const PRECISIONS = ['int8', 'float'];
const MARK = { current: '#c2570c', other: '#8a6d4f' };

function pickerDom() {
  const search = h('input', {
    id: 'neuron-search',
    type: 'search',
    placeholder: 'e.g. 201025 or 190923 n4',
    autocomplete: 'off',
    'aria-controls': 'neuron-list',
  });
  const session = h('select', { id: 'neuron-session' }, h('option', { value: '' }, 'All sessions'));
  const minR = h(
    'select',
    { id: 'neuron-min-r' },
    h('option', { value: '' }, 'Any fidelity'),
    ...['0.3', '0.5', '0.7'].map((r) => h('option', { value: r }, `Model vs neuron r ≥ ${r}`)),
  );
  const sort = h(
    'select',
    { id: 'neuron-sort' },
    h('option', { value: 'id' }, 'Session, number'),
    h('option', { value: 'fidelity' }, 'Fidelity (r on held-out images)'),
    h('option', { value: 'params' }, 'Parameters'),
    h('option', { value: 'response' }, 'Response to this image'),
  );
  const list = h('ul', {
    id: 'neuron-list',
    class: 'neuron-list',
    role: 'listbox',
    'aria-label': 'Neurons',
    tabindex: 0,
  });
  const buildNote = h('p', { id: 'build-note', class: 'fineprint' });
  const root = h(
    'div',
    { class: 'picker' },
    h('label', { for: 'neuron-search' }, 'Neuron'),
    search,
    h(
      'div',
      { class: 'picker-filters' },
      h('label', { for: 'neuron-session', class: 'visually-hidden' }, 'Session'),
      session,
      h('label', { for: 'neuron-min-r', class: 'visually-hidden' }, 'Minimum fidelity'),
      minR,
      h('label', { for: 'neuron-sort', class: 'visually-hidden' }, 'Sort by'),
      sort,
    ),
    list,
    buildNote,
  );
  return { root, search, session, minR, sort, list, buildNote };
}

function resultDom() {
  const radio = (value, label) => h('label', {}, h('input', { type: 'radio', name: 'precision', value }), ` ${label}`);
  const row = (p, label) =>
    h(
      'tr',
      { id: `row-${p}` },
      h('th', { scope: 'row' }, label),
      h('td', { class: 'mono', id: `raw-${p}` }, '—'),
      h('td', { id: `pct-${p}` }, '—'),
      h('td', { id: `ms-${p}` }, '—'),
    );
  const ui = {
    title: h('h3', { id: 'neuron-title' }, '—'),
    sub: h('p', { id: 'neuron-sub', class: 'fineprint' }),
    percentile: h('span', { id: 'percentile', class: 'big-number' }, '—'),
    percentileText: h('span', { id: 'percentile-text', class: 'percentile-text' }),
    distribution: h('canvas', {
      id: 'distribution',
      class: 'chart',
      width: 640,
      height: 220,
      role: 'img',
      'aria-label': "Distribution of the neuron's responses to reference natural images, with this image marked",
    }),
    precision: h(
      'div',
      { class: 'precision', role: 'radiogroup', 'aria-label': 'Arithmetic' },
      radio('int8', 'int8 (8-bit weights, a third of the download)'),
      radio('float', 'float32 (the original weights)'),
    ),
    table: h(
      'table',
      { class: 'raw-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Arithmetic', 'Raw model output', 'Percentile', 'Time'].map((t) => h('th', { scope: 'col' }, t)),
        ),
      ),
      h('tbody', {}, row('int8', 'int8'), row('float', 'float32')),
    ),
    copy: h('button', { type: 'button', id: 'copy-link', class: 'button quiet small' }, 'Copy a link to this view'),
    copyStatus: h('span', { id: 'copy-status', class: 'fineprint', role: 'status', 'aria-live': 'polite' }),
    linkNote: h('p', { id: 'neuron-link-note', class: 'note', hidden: '' }),
    error: h('p', { id: 'neuron-error', class: 'error', role: 'alert', hidden: '' }),
    portrait: h('section', {
      id: 'neuron-portrait',
      class: 'neuron-portrait',
      'aria-labelledby': 'neuron-portrait-title',
    }),
  };
  ui.root = h(
    'div',
    { class: 'neuron-result' },
    ui.title,
    ui.sub,
    h(
      'div',
      { class: 'neuron-result-row' },
      h(
        'div',
        { class: 'neuron-prediction' },
        h('div', { class: 'percentile-line' }, ui.percentile, ui.percentileText),
        ui.distribution,
      ),
      ui.portrait,
    ),
    ui.precision,
    ui.table,
    h(
      'p',
      { class: 'note' },
      h('strong', {}, 'About the raw number:'),
      ' the authors note that a compact model’s absolute level and scale are not meaningful (some outputs are negative). What matches the neuron is how the response varies across images, so the page shows where this image falls among the model’s responses to reference natural images.',
    ),
    h('p', { class: 'share-line' }, ui.copy, ' ', ui.copyStatus),
    ui.linkNote,
    ui.error,
  );
  return ui;
}

// The entries the picker lists for the store's query, session, minimum r and order.
function pickerEntries(store, catalog) {
  const query = store
    .get('pickerQuery')
    .trim()
    .toLowerCase()
    .split(/[\s_]+/)
    .filter(Boolean);
  const session = store.get('pickerSession');
  const minR = Number(store.get('pickerMinR') || -Infinity);
  const sort = store.get('pickerSort');
  const population = store.get('population');
  const fid = (e) => catalog.fidelity(e)?.floatVsRecordedR ?? -Infinity;
  let list = catalog.entries().filter((e) => e.kind !== 'shared' && e.kind !== 'shared-size');
  if (session) list = list.filter((e) => e.session === session);
  if (Number.isFinite(minR)) list = list.filter((e) => fid(e) >= minR);
  if (query.length)
    list = list.filter((e) => {
      const text = `${e.id} ${e.name || ''} ${e.session || ''} n${e.neuron ?? ''} ${e.kind}`.toLowerCase();
      return query.every((q) => text.includes(q));
    });
  if (sort === 'fidelity') list.sort((a, b) => fid(b) - fid(a));
  else if (sort === 'params') list.sort((a, b) => (b.params || 0) - (a.params || 0));
  else if (sort === 'response')
    list.sort((a, b) => (population.get(b.id)?.percentile ?? -1) - (population.get(a.id)?.percentile ?? -1));
  const meta = (e) =>
    sort === 'fidelity'
      ? fid(e) > -Infinity
        ? `r ${fid(e).toFixed(2)}`
        : ''
      : sort === 'params'
        ? e.params
          ? formatNumber(e.params)
          : ''
        : sort === 'response'
          ? population.has(e.id)
            ? ordinal(population.get(e.id).percentile)
            : ''
          : e.kind !== 'neuron'
            ? e.kind
            : '';
  return list.map((e) => ({ entry: e, meta: meta(e) }));
}

function linkNoteText(problems) {
  if (!problems) return '';
  const parts = [];
  if (problems.image)
    parts.push(
      `This link was made with a local image (${problems.image}), which links never carry: showing the default image; the rest of the link applies.`,
    );
  if (problems.ignored?.length)
    parts.push(`Part of this link could not be used and was ignored: ${problems.ignored.join(', ')}.`);
  return parts.join(' ');
}

// The keys the result panel draws from; the view hears these and the picker's.
const RESULT_KEYS = [
  'entries',
  'neuronId',
  'precision',
  'results',
  'resultsOf',
  'resultsError',
  'manifest',
  'manifestError',
  'ownOutput',
];
const KEYS = [...RESULT_KEYS, 'linkProblems', 'pickerQuery', 'pickerSession', 'pickerMinR', 'pickerSort', 'population'];

export default {
  id: 'neuron',
  title: 'One neuron',
  keys: KEYS,
  mount(root, app) {
    const { store } = app;
    const ui = resultDom();
    const picker = neuronPicker(app);
    root.append(h('div', { class: 'neuron-layout' }, picker.root, ui.root));
    for (const radio of ui.precision.querySelectorAll('input'))
      radio.addEventListener('change', () => store.set({ precision: radio.value }));
    ui.copy.addEventListener('click', () => copyLink(app, ui));

    return {
      update(heard) {
        if (!store.get('manifest')) return; // still starting: the placeholders stay, nothing to list yet
        // The first update after start-up draws everything (what changed before it was skipped above).
        const changed = heard.has('manifest') ? new Set(KEYS) : heard;
        picker.update(changed);
        if (changed.has('linkProblems')) {
          ui.linkNote.textContent = linkNoteText(store.get('linkProblems'));
          ui.linkNote.hidden = !ui.linkNote.textContent;
        }
        // The picker's keys and the population's progress (a new Map per chunk) leave the result as it is.
        if (RESULT_KEYS.some((k) => changed.has(k))) {
          renderError(store, ui);
          renderResult(app, ui);
        }
        // The gallery arrives with the manifest (services.js), so the first update has it.
        if (changed.has('neuronId') || changed.has('entries')) renderPortrait(app, ui);
      },
      resize: () => renderResult(app, ui),
    };
  },
};

// The picker: its controls write the store's picker keys, the list is drawn from them (so a link's query and
// filters show too), and a click or an arrow key selects: store.set({neuronId}).
function neuronPicker({ store, catalog }) {
  const picker = pickerDom();
  const controls = {
    pickerQuery: picker.search,
    pickerSession: picker.session,
    pickerMinR: picker.minR,
    pickerSort: picker.sort,
  };
  for (const [key, control] of Object.entries(controls))
    control.addEventListener('input', () => store.set({ [key]: control.value }));
  picker.list.addEventListener('click', (event) => {
    const id = event.target.closest('li[data-id]')?.dataset.id;
    if (id) store.set({ neuronId: id });
  });
  picker.list.addEventListener('keydown', (event) => {
    const items = [...picker.list.querySelectorAll('li[data-id]')];
    if (!items.length) return;
    const i = items.findIndex((li) => li.dataset.id === store.get('neuronId'));
    const step = { ArrowDown: 1, ArrowUp: -1, PageDown: 10, PageUp: -10 }[event.key];
    const jumps = { Home: 0, End: items.length - 1 };
    const j = step ? Math.max(0, Math.min(items.length - 1, i < 0 ? 0 : i + step)) : jumps[event.key];
    if (j === undefined) return;
    event.preventDefault();
    store.set({ neuronId: items[j].dataset.id });
  });

  function renderSessions() {
    const sessions = [...new Set(catalog.neurons().map((e) => e.session))];
    picker.session.replaceChildren(
      h('option', { value: '' }, 'All sessions'),
      ...sessions.map((s) => h('option', { value: s }, `Session ${s}`)),
    );
    picker.session.value = store.get('pickerSession');
    const count = catalog.neurons().length;
    picker.buildNote.textContent =
      count === 0
        ? 'This copy was built without the published models: it offers the project’s demo model and any model you load yourself.'
        : count < PUBLISHED_NEURONS
          ? `This copy holds ${count} of the ${PUBLISHED_NEURONS} published neuron models.`
          : '';
  }

  function renderList() {
    const rows = pickerEntries(store, catalog);
    picker.list.replaceChildren(
      ...rows.map(({ entry: e, meta }) =>
        h(
          'li',
          { role: 'option', id: `opt-${e.id}`, 'aria-selected': 'false', 'data-id': e.id },
          h('span', {}, e.kind === 'neuron' ? `${e.session} · n${e.neuron}` : e.name || e.id),
          h('span', { class: 'meta' }, meta),
        ),
      ),
    );
    if (!rows.length) picker.list.append(h('li', {}, 'No model matches.'));
    markSelected();
  }

  function markSelected() {
    const id = store.get('neuronId');
    for (const li of picker.list.children) li.setAttribute('aria-selected', String(li.dataset.id === id));
    const selected = id && picker.list.querySelector(`li[data-id="${CSS.escape(id)}"]`);
    picker.list.setAttribute('aria-activedescendant', selected ? selected.id : '');
    // After the next frame, which lays the page out anyway: called here, scrollIntoView forced the page's first
    // layout into the update that set the neuron at start-up, and called inside the frame, into the frame's task.
    if (selected) afterNextFrame(() => selected.isConnected && selected.scrollIntoView({ block: 'nearest' }));
  }

  const listKeys = ['entries', 'pickerQuery', 'pickerSession', 'pickerMinR', 'pickerSort'];
  return {
    root: picker.root,
    update(changed) {
      if (changed.has('entries')) renderSessions();
      for (const [key, control] of Object.entries(controls))
        if (changed.has(key) && control.value !== store.get(key)) control.value = store.get(key);
      const sortedByResponse = changed.has('population') && store.get('pickerSort') === 'response';
      if (listKeys.some((k) => changed.has(k)) || sortedByResponse) renderList();
      else if (changed.has('neuronId')) markSelected();
    },
  };
}

function renderError(store, ui) {
  const failure = store.get('resultsError');
  const message =
    store.get('manifestError') || (failure && failure.neuronId === store.get('neuronId') ? failure.message : null);
  if (message) showError(ui.error, message);
  else clearError(ui.error);
}

// The title, the percentile, the distribution and the raw outputs of the current neuron: only results computed
// for it are shown (services.js drops replies for a neuron or input no longer current).
function renderResult({ store, catalog }, ui) {
  const entry = catalog.current();
  if (!store.get('manifest')) return; // still starting: the placeholders stay
  if (!entry) {
    ui.title.textContent = 'No model in this build';
    ui.percentileText.textContent =
      'This copy of the page was built without any model. Load one of your own in “Your model”.';
    return;
  }
  const precision = store.get('precision');
  const session = entry.session
    ? `session ${entry.session}, neuron ${entry.neuron}`
    : entry.kind === 'demo'
      ? 'the project’s own demo model (not a recorded neuron)'
      : entry.kind === 'own'
        ? 'your model'
        : '';
  const fid = catalog.fidelity(entry);
  ui.title.textContent = entry.kind === 'neuron' ? `Neuron ${entry.id}` : entry.name || entry.id;
  ui.sub.textContent = [
    session,
    fid?.floatVsRecordedR != null ? `model vs recorded r = ${fid.floatVsRecordedR.toFixed(3)} on held-out images` : '',
    entry.params ? `${formatNumber(entry.params)} parameters` : '',
  ]
    .filter(Boolean)
    .join(' · ');
  const k = entry.kind === 'own' ? store.get('ownOutput') : 0;
  const quantiles = catalog.quantiles(entry, k);
  const rows = store.get('resultsOf')?.neuronId === entry.id ? store.get('results') : {};
  const shown = rows[precision] || rows.float || rows.int8;
  const value = shown ? shown.outputs[k] : NaN;
  const pct = percentileOf(value, quantiles);
  for (const p of PRECISIONS) {
    const r = rows[p];
    ui.table.querySelector(`#raw-${p}`).textContent = r
      ? r.outputs[k].toFixed(5)
      : catalog.hasPrecision(entry, p)
        ? '…'
        : 'not in this build';
    ui.table.querySelector(`#pct-${p}`).textContent =
      r && quantiles ? `${percentileOf(r.outputs[k], quantiles).toFixed(1)}` : '—';
    ui.table.querySelector(`#ms-${p}`).textContent = r ? `${r.ms.toFixed(1)} ms` : '—';
    ui.table.querySelector(`#row-${p}`).classList.toggle('current', p === precision);
  }
  for (const radio of ui.precision.querySelectorAll('input')) {
    radio.disabled = !catalog.hasPrecision(entry, radio.value);
    radio.checked = radio.value === precision;
  }
  renderPercentile(store, ui, { pct, value, shown });
  // The precision in front is drawn thick and warm; float is dashed either way, so the two never look alike.
  const marks = PRECISIONS.filter((p) => rows[p]).map((p) => ({
    value: rows[p].outputs[k],
    color: p === precision ? MARK.current : MARK.other,
    label: `${p} ${rows[p].outputs[k].toFixed(3)}`,
    row: p === 'int8' ? 0 : 1,
    dash: p === 'float' ? [4, 3] : null,
    width: p === precision ? 3 : 1.5,
  }));
  // Drawn after the next frame: the chart reads its width, and read here, after the texts above changed, that forced
  // the page's first layout into this task (25-35 ms at start-up); drawn inside that frame, it added 10 ms to it.
  ui.cancelDistribution?.();
  ui.cancelDistribution = afterNextFrame(() => drawDistribution(ui.distribution, quantiles, marks));
  ui.distribution.dataset.value = Number.isFinite(value) ? String(value) : '';
  ui.percentile.dataset.percentile = Number.isFinite(pct) ? String(pct) : '';
}

function renderPercentile(store, ui, { pct, value, shown }) {
  if (Number.isFinite(pct)) {
    const count = store.get('manifest')?.referenceImages?.count;
    ui.percentile.textContent = ordinal(pct);
    ui.percentileText.textContent =
      pct <= 0
        ? 'percentile: this image drives the model less than every reference natural image.'
        : pct >= 100
          ? 'percentile: this image drives the model more than every reference natural image.'
          : `percentile: this image drives the model more than about ${Math.round(pct)}% of the ${count ? `${formatNumber(count)} ` : ''}reference natural images.`;
  } else {
    ui.percentile.textContent = shown ? value.toFixed(3) : '—';
    ui.percentileText.textContent = shown
      ? 'raw output only: this model has no reference distribution in this build, so no percentile can be given.'
      : '';
  }
}

async function copyLink({ store, writeLinkNow }, ui) {
  writeLinkNow();
  const local = store.get('image') && store.get('image').source !== 'gallery';
  try {
    await navigator.clipboard.writeText(location.href);
    ui.copyStatus.textContent = local
      ? 'Link copied. Your own image is not in it: it never leaves this computer.'
      : 'Link copied: it opens this neuron, image and crop.';
  } catch {
    ui.copyStatus.textContent = `Copy this address: ${location.href}`;
  }
}

// What the model likes, before any click: its preferred and anti-preferred images (the portrait the site build
// synthesized, entry.portrait) with their responses, and its strongest natural images of the gallery, each a button
// that shows that image to the neuron.
function renderPortrait({ store, catalog }, ui) {
  const entry = catalog.current();
  const p = entry?.portrait;
  ui.portrait.hidden = !p;
  if (!p) return ui.portrait.replaceChildren();
  const figure = (which, caption, response) =>
    h(
      'figure',
      { class: `portrait-figure portrait-${which}` },
      portraitImage(entry, which, {
        lazy: false,
        alt: `${which === 'max' ? 'Preferred' : 'Anti-preferred'} image of the model of ${entry.id}`,
      }),
      h(
        'figcaption',
        {},
        caption,
        h('span', { class: 'mono', id: `neuron-portrait-${which}-response` }, response.toFixed(3)),
      ),
    );
  const gallery = store.get('gallery');
  const natural = (p.top || [])
    .slice(0, 3)
    .map((t) => ({ ...t, found: galleryImage(gallery, t.image) }))
    .filter((t) => t.found);
  ui.portrait.replaceChildren(
    h('h4', { id: 'neuron-portrait-title' }, 'What the model responds to'),
    h(
      'div',
      { class: 'portrait-pair' },
      figure('max', 'Preferred: ', p.maxResponse),
      figure('min', 'Anti-preferred: ', p.minResponse),
    ),
    natural.length
      ? h(
          'div',
          { class: 'portrait-natural' },
          h('span', { class: 'fineprint' }, `Strongest of ${formatNumber(p.images)} gallery images ranked (try one):`),
          h(
            'div',
            { class: 'portrait-natural-row' },
            ...natural.map((t, i) =>
              h(
                'button',
                {
                  type: 'button',
                  class: 'portrait-natural-button',
                  id: `neuron-portrait-top-${i}`,
                  title: `Show ${t.found.title || t.image} (response ${t.response.toFixed(3)})`,
                  on: { click: () => store.set({ image: { source: 'gallery', key: t.image }, crop: null }) },
                },
                h('img', {
                  src: t.found.url,
                  alt: `${t.found.title || t.image}`,
                  width: 56,
                  height: 56,
                  loading: 'lazy',
                }),
              ),
            ),
          ),
        )
      : null,
    h(
      'p',
      { class: 'fineprint' },
      `Found by gradient ascent on the model (the authors’ recipe, best of ${p.seeds} seeds × ${p.steps} steps); responses in the model’s arbitrary units. The real neurons were shown images made this way in the paper’s experiments, not here. `,
      PORTRAIT_CREDIT,
    ),
  );
}
