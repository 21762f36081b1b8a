// "Atlas": every neuron model as its portrait, the model's preferred image (synthesized with the site: `cortexlens
// portraits`, entry.portrait), searchable and sortable; a tile opens the neuron in "One neuron".
import { h, formatNumber } from '../dom.js';
import { portraitTile, portraitStrength, PORTRAIT_CITATION } from '../portraits.js';

const SORTS = {
  id: 'Session, number',
  fidelity: 'Fidelity (r on held-out images)',
  params: 'Model size (parameters)',
  strength: 'Drive of the preferred image',
};

export default {
  id: 'atlas',
  title: 'Atlas',
  keys: ['entries', 'atlasQuery', 'atlasSession', 'atlasSort'],
  mount(root, app) {
    const { store } = app;
    const ui = buildDom(root);
    const controls = { atlasQuery: ui.search, atlasSession: ui.session, atlasSort: ui.sort };
    for (const [key, control] of Object.entries(controls))
      control.addEventListener('input', () => store.set({ [key]: control.value }));
    const open = (entry) => store.set({ neuronId: entry.id, view: 'neuron' });

    return {
      update(changed) {
        if (changed.has('entries')) renderSessions(app, ui);
        for (const [key, control] of Object.entries(controls))
          if (changed.has(key) && control.value !== store.get(key)) control.value = store.get(key);
        renderGrid(app, ui, open);
      },
    };
  },
};

function buildDom(root) {
  const ui = {
    search: h('input', {
      id: 'atlas-search',
      type: 'search',
      placeholder: 'e.g. 201025 or n12',
      autocomplete: 'off',
      'aria-controls': 'atlas-grid',
    }),
    session: h('select', { id: 'atlas-session' }, h('option', { value: '' }, 'All sessions')),
    sort: h(
      'select',
      { id: 'atlas-sort' },
      ...Object.entries(SORTS).map(([value, label]) => h('option', { value }, label)),
    ),
    count: h('p', { id: 'atlas-count', class: 'fineprint', role: 'status', 'aria-live': 'polite' }),
    grid: h('ul', { id: 'atlas-grid', class: 'portrait-grid', 'aria-label': 'Neuron portraits' }),
  };
  root.append(
    h(
      'p',
      { class: 'lead' },
      'Each tile is one recorded V4 neuron, shown by its model’s preferred image: the picture the neuron’s compact model responds to most, found by gradient ascent on the model (the authors’ recipe). In the paper, images made this way drove the real neurons more than randomly chosen natural images in most tested cases. Open a tile to see the neuron, its anti-preferred image and its strongest natural images.',
    ),
    h(
      'div',
      { class: 'atlas-controls' },
      h('label', { for: 'atlas-search' }, 'Search'),
      ui.search,
      h('label', { for: 'atlas-session', class: 'visually-hidden' }, 'Session'),
      ui.session,
      h('label', { for: 'atlas-sort' }, 'Sort by'),
      ui.sort,
    ),
    ui.count,
    ui.grid,
    h('p', { class: 'fineprint', id: 'atlas-credit' }, PORTRAIT_CITATION),
  );
  return ui;
}

function renderSessions({ store, catalog }, ui) {
  const sessions = [...new Set(catalog.neurons().map((e) => e.session))];
  ui.session.replaceChildren(
    h('option', { value: '' }, 'All sessions'),
    ...sessions.map((s) => h('option', { value: s }, `Session ${s}`)),
  );
  ui.session.value = store.get('atlasSession');
}

// The entries shown for the store's query, session and order: the recorded neurons, or the demo in a build without
// them (so a build without the published data still shows what an atlas is).
export function atlasEntries({ store, catalog }) {
  const words = store
    .get('atlasQuery')
    .trim()
    .toLowerCase()
    .split(/[\s_·]+/)
    .filter(Boolean);
  const session = store.get('atlasSession');
  const sort = store.get('atlasSort');
  const fid = (e) => catalog.fidelity(e)?.floatVsRecordedR ?? -Infinity;
  const strength = (e) => (Number.isFinite(portraitStrength(e)) ? portraitStrength(e) : -Infinity);
  let list = catalog.neurons();
  if (!list.length) list = catalog.entries().filter((e) => e.kind === 'demo');
  if (session) list = list.filter((e) => e.session === session);
  if (words.length)
    list = list.filter((e) => {
      const text = `${e.id} ${e.name || ''} ${e.session || ''} n${e.neuron ?? ''}`.toLowerCase();
      return words.every((w) => text.includes(w));
    });
  // Models without a value (-Infinity: no recordings for r) go last, in session order (`|| 0`: -Inf - -Inf is NaN).
  const by = (value) => (a, b) => value(b) - value(a) || 0;
  list = [...list];
  if (sort === 'fidelity') list.sort(by(fid));
  else if (sort === 'params') list.sort(by((e) => e.params || 0));
  else if (sort === 'strength') list.sort(by(strength));
  const meta = (e) => {
    if (sort === 'params') return e.params ? `${formatNumber(e.params)} params` : '';
    if (sort === 'strength') return Number.isFinite(portraitStrength(e)) ? `${portraitStrength(e).toFixed(1)}×` : '';
    return fid(e) > -Infinity ? `r ${fid(e).toFixed(2)}` : '';
  };
  return list.map((entry) => ({ entry, meta: meta(entry) }));
}

function renderGrid(app, ui, open) {
  const rows = atlasEntries(app);
  const all = app.catalog.neurons().length;
  const withPortrait = rows.filter((r) => r.entry.portrait).length;
  ui.grid.replaceChildren(
    ...rows.map(({ entry, meta }) => h('li', {}, portraitTile(entry, { onOpen: open, meta, idPrefix: 'atlas' }))),
  );
  const sort = app.store.get('atlasSort');
  ui.count.textContent = !rows.length
    ? 'No neuron matches.'
    : `${rows.length === all || !all ? `${rows.length}` : `${rows.length} of ${all}`} ${all ? 'neurons' : 'model (this build has no recorded neurons: the demo only)'}` +
      (withPortrait < rows.length ? `; ${rows.length - withPortrait} without a portrait in this build` : '') +
      (sort === 'strength'
        ? '. Drive: how far the preferred image lifts the model above its median natural image, in units of the best natural image’s lift (1× = as strong as the best).'
        : '.');
  ui.grid.dataset.count = String(rows.length);
}
