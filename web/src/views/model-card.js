// "Model card": what the selected model is, how big, where its weights came from, how well it does, whom to credit.
// The worker describes the model (layers, parameters, multiply-adds) as it loads it; the card is drawn by
// web/src/model-card.js, which "Your model" shares for its layer table.
import { h } from '../dom.js';
import { renderModelCard } from '../model-card.js';

export default {
  id: 'card',
  title: 'Model card',
  keys: ['neuronId', 'entries', 'manifest'],
  mount(root, app) {
    const { store, catalog, worker } = app;
    const card = h('div', { id: 'card' });
    root.append(card);
    let shownFor = null; // the entry the card describes (a card is redrawn only for another model)

    async function show() {
      const entry = catalog.current();
      if (!entry) {
        shownFor = null;
        card.replaceChildren(h('p', { class: 'fineprint' }, 'No model selected.'));
        return;
      }
      if (entry === shownFor) return;
      shownFor = entry;
      // A reply for a neuron that is no longer selected is dropped: the newer selection's card is on its way.
      const ticket = store.ticket(['neuronId']);
      card.replaceChildren(h('p', { class: 'fineprint' }, 'Loading the model…'));
      try {
        const info = await worker.request('loadModel', catalog.modelRef(entry));
        if (!ticket.current()) return;
        card.replaceChildren(renderModelCard(entry, info, store.get('manifest')));
      } catch (e) {
        if (!ticket.current()) return;
        shownFor = null; // a failed card is retried when the tab is next updated
        card.replaceChildren(h('p', { class: 'error', role: 'alert' }, `Cannot describe ${entry.id}: ${e.message}`));
      }
    }

    return {
      update() {
        show();
      },
    };
  },
};
