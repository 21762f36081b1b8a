// The page's shell: the store, the workers, the link, and the views of web/src/views/index.js mounted into their
// places. It knows no view by name: each declares its id, its tab title (or its slot) and the store keys it uses.
import { createStore } from './store.js';
import { schema } from './state.js';
import { readLink, keepLinkInStep } from './link.js';
import { WorkerClient, WorkerPool } from './workers.js';
import { createCatalog } from './catalog.js';
import { startServices } from './services.js';
import { views } from './views/index.js';
import { h, $, nextTask } from './dom.js';
import { asset } from './build.js';

const store = createStore(schema);
const worker = new WorkerClient(asset('worker.js'));
const pool = new WorkerPool(worker, Math.min(4, navigator.hardwareConcurrency || 2));
const timings = { scriptStart: performance.now() };
const writeLinkNow = keepLinkInStep(store);
const app = { store, worker, pool, timings, catalog: createCatalog(store), writeLinkNow };
// For the browser tests and the curious: `state` is a fresh read-only copy of the store at each access.
window.cortexLens = {
  app,
  store,
  worker,
  pool,
  timings,
  get state() {
    return store.snapshot();
  },
};

// Each mounted view: {view, instance, root, tab?, pending: Set of keys changed while it was hidden}.
const mounted = [];
const tabbed = () => mounted.filter((m) => m.tab);

function show(viewId, focus = false) {
  const target = tabbed().find((m) => m.view.id === viewId) || tabbed()[0];
  for (const m of tabbed()) {
    const on = m === target;
    m.tab.setAttribute('aria-selected', String(on));
    m.tab.tabIndex = on ? 0 : -1;
    m.root.hidden = !on;
  }
  if (focus) target.tab.focus();
  flush(target);
}

// A hidden view hears nothing: its changes wait until it is shown (a hidden chart needs no redraw, and a hidden
// population view must not start 219 models).
function flush(m) {
  if (!m.pending.size || (m.tab && m.root.hidden)) return;
  const changed = m.pending;
  m.pending = new Set();
  m.instance.update?.(changed);
}

// Views are built in the order of views/index.js, in slices of about 10 ms with a task boundary between them: built
// in one go, the sixteen views and the module evaluation before them held the main thread for 70-150 ms, and a
// 25 ms slice plus the page's first layout (17-29 ms) still made one task over 50 ms in about half the loads.
async function mountViews() {
  const tablist = $('view-tabs');
  await nextTask(); // the module evaluation before this is a task of its own
  let sliceStart = performance.now();
  for (const view of views) {
    if (performance.now() - sliceStart > 10) {
      await nextTask();
      sliceStart = performance.now();
    }
    const slot = view.title ? $('view-panels') : $(`slot-${view.slot}`);
    const root = h('div', { id: `view-${view.id}`, class: view.title ? 'view' : `slot-view ${view.id}` });
    let tab = null;
    if (view.title) {
      tab = h(
        'button',
        { role: 'tab', id: `tab-${view.id}`, 'aria-controls': root.id, 'aria-selected': 'false', tabindex: '-1' },
        view.title,
      );
      root.setAttribute('role', 'tabpanel');
      root.setAttribute('aria-labelledby', tab.id);
      root.hidden = true;
      tab.addEventListener('click', () => store.set({ view: view.id }));
      tablist.append(tab);
    }
    slot.append(root);
    const instance = view.mount(root, app) || {};
    const m = { view, instance, root, tab, pending: new Set(view.keys) };
    mounted.push(m);
    store.subscribe(view.keys, (changed) => {
      for (const k of changed) m.pending.add(k);
      flush(m);
    });
  }
  tablist.addEventListener('keydown', (event) => {
    const list = tabbed();
    const i = list.findIndex((m) => m.view.id === store.get('view'));
    const j = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: list.length - 1 }[event.key];
    if (j === undefined) return;
    event.preventDefault();
    const next = list[(j + list.length) % list.length].view.id;
    store.set({ view: next });
    show(next, true);
  });
  store.subscribe(['view'], () => show(store.get('view')));
}

async function start() {
  const { patch, ignored } = readLink(schema, location.hash);
  await mountViews();
  const known = new Set(tabbed().map((m) => m.view.id));
  if (patch.view && !known.has(patch.view)) {
    ignored.push(`view=${patch.view}`);
    delete patch.view;
  }
  if (ignored.length || patch.image?.missing)
    store.set({ linkProblems: { ignored, image: patch.image?.missing ? patch.image.title : null } });
  // The first tab is laid out before anything loads, so the results arriving later move nothing below them.
  show(store.get('view'));
  await startServices(app, patch);
  for (const m of mounted) if (!m.tab) flush(m);
  show(store.get('view'));
  window.addEventListener('resize', () => {
    for (const m of mounted) if (!m.tab || !m.root.hidden) m.instance.resize?.();
  });
  document.documentElement.dataset.ready = 'true';
}

start();
