// "Your model": a .keras or .clm file from this computer, checked and described by the worker's importer, then added
// to the store's `entries` so the picker, "One neuron" and the model card treat it like any other model. Nothing is
// uploaded: the file goes from the browser to the worker.
import { h, showError, clearError, formatNumber, dropTarget } from '../dom.js';
import { layerTable } from '../model-card.js';

const MAX_BYTES = 64 * 1024 * 1024;

export default {
  id: 'own',
  title: 'Your model',
  keys: ['ownOutput'],
  mount(root, app) {
    const { store, worker } = app;
    const ui = buildDom(root);
    let loaded = 0; // files this page has handed to the worker: each gets its own key, so none replaces another

    async function load(file) {
      clearError(ui.error);
      ui.result.replaceChildren();
      if (file.size > MAX_BYTES) {
        showError(ui.error, `${file.name} is ${(file.size / 1048576).toFixed(0)} MB; models up to 64 MB are accepted.`);
        return;
      }
      ui.status.textContent = `Reading ${file.name}…`;
      const bytes = await file.arrayBuffer();
      const n = ++loaded;
      const key = `own:${n}`;
      try {
        const info = await worker.request('loadModel', { key, bytes, name: file.name }, { transfer: [bytes] });
        // The worker may be restarted (out of memory, crash): the file is read again to load the model into the
        // new one, so the user's model stays usable without choosing it again.
        worker.remember(key, async () => {
          const again = await file.arrayBuffer();
          return { payload: { key, bytes: again, name: file.name }, transfer: [again] };
        });
        const entry = {
          id: `own-${n}`,
          kind: 'own',
          name: file.name.replace(/\.(keras|clm)$/i, ''),
          workerKey: key,
          precision: info.precision === 'int8' ? 'int8' : 'float',
          outputs: info.outputNames,
          params: info.params,
          fileBytes: file.size,
          info,
        };
        store.set({ entries: [...store.get('entries'), entry] });
        // A later file is on its way: it owns the status line and the description (this one stays in the picker).
        if (n !== loaded) return;
        store.set({ ownOutput: 0 });
        ui.status.textContent = describe(file, info);
        ui.result.replaceChildren(...resultDom(entry, info, store));
      } catch (e) {
        if (n !== loaded) return;
        ui.status.textContent = '';
        showError(ui.error, `${file.name} was refused: ${e.message}`);
      }
    }

    ui.input.addEventListener('change', () => {
      const file = ui.input.files[0];
      if (file) load(file);
      ui.input.value = '';
    });
    dropTarget(ui.drop, (files) => load(files[0]));

    return {
      update() {
        const select = ui.result.querySelector('#own-output');
        if (select) select.value = String(store.get('ownOutput'));
      },
    };
  },
};

function buildDom(root) {
  const ui = {
    input: h('input', { id: 'model-input', class: 'visually-hidden', type: 'file', accept: '.keras,.clm' }),
    status: h('p', { id: 'own-status', class: 'status', role: 'status', 'aria-live': 'polite' }),
    error: h('p', { id: 'own-error', class: 'error', role: 'alert', hidden: true }),
    result: h('div', { id: 'own-result' }),
  };
  ui.drop = h(
    'div',
    { id: 'model-drop', class: 'drop-zone small-drop', tabindex: -1 },
    h('label', { class: 'button', for: 'model-input' }, 'Choose model file…'),
    ui.input,
    h('span', { class: 'fineprint' }, 'or drop it here'),
  );
  root.append(
    h(
      'p',
      {},
      'Load a model of your own: a Keras 3 ',
      h('code', {}, '.keras'),
      ' file with the same kind of layers (Conv2D, SeparableConv2D, DepthwiseConv2D, BatchNormalization, ReLU, Flatten, Dense) or a Cortex Lens ',
      h('code', {}, '.clm'),
      ' file. It is checked, described, and run on the current image. Nothing is uploaded.',
    ),
    ui.drop,
    ui.status,
    ui.error,
    ui.result,
  );
  return ui;
}

function describe(file, info) {
  const outputs = info.outputNames.length;
  return `${file.name}: valid. ${formatNumber(info.params)} parameters, ${outputs} output${outputs > 1 ? 's' : ''}, ${formatNumber(info.multiplyAdds)} multiply-adds per image, ${info.precision === 'int8' ? 'int8' : 'float32'} weights.`;
}

// The run button first (the tests press the first button here), the output choice, the layer table.
function resultDom(entry, info, store) {
  const output = h(
    'select',
    { id: 'own-output', on: { input: () => store.set({ ownOutput: Number(output.value) }) } },
    ...info.outputNames.map((name, i) => h('option', { value: String(i) }, name)),
  );
  const open = h(
    'button',
    {
      type: 'button',
      class: 'button primary',
      on: { click: () => store.set({ neuronId: entry.id, ownOutput: Number(output.value), view: 'neuron' }) },
    },
    'Run it in “One neuron”',
  );
  return [
    h('div', { class: 'population-head' }, open, h('label', { for: 'own-output' }, 'Output'), output),
    h('h3', {}, entry.name),
    layerTable(info),
  ];
}
