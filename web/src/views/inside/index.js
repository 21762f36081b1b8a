// "Inside the neuron": one <details> per section of this folder. Adding a section = one file and one line in
// `sections`. A section is
//   {id, title, keys: [store keys it hears], mount(root, ctx) -> {update(changed), onOpen?(), unmount?()}}
// and talks to the others only through the store (e.g. an activation map's click sets `ablations` and opens the
// ablation section through `insideOpen`). Which sections are open is the store's `insideOpen`, in step with the
// <details> both ways. A closed section hears nothing: the keys that changed meanwhile are delivered when it is
// opened, so a closed section never asks the worker for maps nobody sees (as the shell does with hidden tabs).
// ctx = {app, store, worker, catalog, entry(), model() (the reference visualizations use), weights() (vizWeights,
// cached per model), describe(value, selector), fail(what, error), clearFail()}.
import { h } from '../../dom.js';
import { describeResponse } from '../../reference.js';
import synthesis from './synthesis.js';
import blocks from './blocks.js';
import natural from './natural.js';
import where from './where.js';
import activations from './activations.js';
import weights from './weights.js';
import ablation from './ablation.js';

export const sections = [synthesis, blocks, natural, where, activations, weights, ablation];

const WEIGHTS_KEPT = 4; // models whose vizWeights stay cached (a few MB each at most)

// What every section gets: the app, the model visualizations use, its weights (cached), and one error line.
function createContext(app, errorBox) {
  const weightsByModel = new Map(); // model key -> Promise of vizWeights: a model's weights never change
  const ctx = {
    app,
    store: app.store,
    worker: app.worker,
    catalog: app.catalog,
    entry: () => app.catalog.current(),
    // Visualizations use the float model when the build has it (gradients of the int8 kernels are not defined),
    // else the entry's own precision; a loaded file is named by its worker key.
    model() {
      const entry = ctx.entry();
      if (!entry) return null;
      // null as well when the build lacks the entry's file (the neuron view reports that).
      try {
        return app.catalog.modelRef(
          entry,
          app.catalog.hasPrecision(entry, 'float') ? 'float' : entry.precision || 'int8',
        );
      } catch {
        return null;
      }
    },
    weights(ref = ctx.model()) {
      if (!ref) return Promise.reject(new Error('choose a neuron first'));
      let layers = weightsByModel.get(ref.key);
      if (!layers) {
        layers = app.worker.request('vizWeights', ref);
        weightsByModel.set(ref.key, layers);
        layers.catch(() => weightsByModel.delete(ref.key));
        if (weightsByModel.size > WEIGHTS_KEPT) weightsByModel.delete(weightsByModel.keys().next().value);
      }
      return layers;
    },
    // The response put into words: percentiles only mean something for a model output, not a layer's channel mean.
    // selector: what produced the value (run.js targetSelector); by default the model's first output.
    describe(value, { layer = -1, channel = 0 } = {}) {
      return describeResponse(value, layer < 0 ? app.catalog.quantiles(ctx.entry(), channel) : null);
    },
    fail(what, e) {
      errorBox.textContent = `${what}: ${e?.message || e}`;
      errorBox.hidden = false;
    },
    clearFail() {
      errorBox.hidden = true;
    },
  };
  return ctx;
}

export default {
  id: 'inside',
  title: 'Inside the neuron',
  keys: [...new Set(['insideOpen', 'neuronId', 'entries', ...sections.flatMap((s) => s.keys)])],
  mount(root, app) {
    const { store } = app;
    const status = h('p', { class: 'fineprint viz-status', role: 'status' });
    const errorBox = h('p', { class: 'error', role: 'alert', hidden: true });
    const ctx = createContext(app, errorBox);
    const order = sections.map((s) => s.id);

    // The <details> was opened or closed by the user: the store follows (in section order, so links are stable).
    function setOpen(id, open) {
      const list = store.get('insideOpen');
      if (open === list.includes(id)) return;
      store.set({
        insideOpen: open ? order.filter((x) => x === id || list.includes(x)) : list.filter((x) => x !== id),
      });
    }

    function flush(m) {
      if (!m.details.open || !m.pending.size) return;
      const changed = m.pending;
      m.pending = new Set();
      m.instance.update?.(changed);
    }

    const mounted = sections.map((section) => {
      const details = h(
        'details',
        { class: 'viz-section', id: `viz-section-${section.id}` },
        h('summary', {}, h('strong', {}, section.title)),
      );
      const m = { section, details, pending: new Set(section.keys), instance: {} };
      m.instance = section.mount(details, ctx) || {};
      return m;
    });
    // The `open` attribute is watched rather than the 'toggle' event, which comes a task later: a section opened by
    // a script (a test, another section's link) shows its content at once.
    const opened = new MutationObserver((records) => {
      for (const m of mounted.filter((x) => records.some((r) => r.target === x.details))) {
        setOpen(m.section.id, m.details.open);
        if (!m.details.open) continue;
        flush(m);
        m.instance.onOpen?.();
      }
    });
    for (const m of mounted) opened.observe(m.details, { attributes: true, attributeFilter: ['open'] });
    root.append(h('div', { class: 'viz-panel' }, status, errorBox, ...mounted.map((m) => m.details)));

    return {
      update(changed) {
        if (changed.has('neuronId') || changed.has('entries')) {
          const entry = ctx.entry();
          status.textContent = entry ? `Model: ${entry.name || entry.id}` : 'Choose a neuron to look inside.';
        }
        for (const m of mounted) for (const k of m.section.keys) if (changed.has(k)) m.pending.add(k);
        const open = store.get('insideOpen');
        for (const m of mounted) {
          const want = open.includes(m.section.id);
          if (m.details.open !== want) m.details.open = want; // the observer finds the store already in step
          flush(m);
        }
      },
      unmount() {
        opened.disconnect();
        for (const m of mounted) m.instance.unmount?.();
      },
    };
  },
};
