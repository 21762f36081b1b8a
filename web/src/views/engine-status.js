// A notice above the page when the engine cannot run: it never started (the .wasm could not be fetched or compiled),
// or it had to be restarted (its worker died or its module trapped). It says what happened; after a restart, that
// the user's image, neuron and view are kept (requests that were in flight failed with the same reason in their own
// views, and the current prediction runs again by itself: src/services.js).
import { h } from '../dom.js';

export default {
  id: 'engine-status',
  slot: 'status',
  keys: ['engine', 'engineReset'],
  mount(root, app) {
    const text = h('p', { id: 'engine-status-text' });
    const reload = h('button', { type: 'button', id: 'engine-status-reload', class: 'button', hidden: true }, 'Reload');
    const dismiss = h('button', { type: 'button', id: 'engine-status-dismiss', class: 'button quiet' }, 'Dismiss');
    const notice = h('div', { id: 'engine-status-notice', class: 'notice', hidden: true }, text, reload, dismiss);
    root.append(notice);
    dismiss.addEventListener('click', () => {
      notice.hidden = true;
    });
    reload.addEventListener('click', () => location.reload());
    return {
      update() {
        const failed = app.store.get('engine')?.error;
        const reset = app.store.get('engineReset');
        notice.hidden = !failed && !reset;
        reload.hidden = !failed;
        if (failed)
          text.textContent = `${failed}. Nothing can be computed on this page until it starts: reload to try again (a browser without WebAssembly cannot run it).`;
        else if (reset) {
          const times = reset.count > 1 ? ` (${reset.count} times this visit)` : '';
          text.textContent = `The engine restarted${times}: ${reset.reason}. Your image, neuron and view are kept; work that was running when it stopped has to be started again.`;
        }
      },
    };
  },
};
