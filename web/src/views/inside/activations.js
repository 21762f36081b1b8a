// Every channel of one layer for the current image. A click on a channel switches it off in the ablation section
// (through the store: `ablations`, the ablation controls' keys and `insideOpen`).
import { h } from '../../dom.js';
import { canvas, drawChannel, maxAbs } from '../../draw.js';
import { row, labelled, bind, numberSelect, options } from './controls.js';

// One channel's switch-off, added to the store's ablations, and the ablation section opened to show its effect.
function switchOff(store, layer, channel) {
  const ablations = store
    .get('ablations')
    .filter((a) => a.layer !== layer || a.channel !== channel)
    .concat({ layer, channel, scale: 0 });
  const open = store.get('insideOpen');
  store.set({
    ablationLayer: layer,
    ablationChannel: channel,
    ablationScale: 0,
    ablations,
    insideOpen: open.includes('ablation') ? open : [...open, 'ablation'],
  });
}

export default {
  id: 'activations',
  title: 'Activation maps of every layer',
  keys: ['neuronId', 'input', 'activationLayer'],
  mount(root, ctx) {
    const { store } = ctx;
    const layerSelect = h('select', { id: 'viz-act-layer' });
    const syncLayer = bind(store, 'activationLayer', layerSelect, numberSelect);
    const grid = h('div', { id: 'viz-act-grid', class: 'viz-tiles' });
    let activations = null; // the worker's maps for the current neuron and image: [{name, shape, data}]

    function draw() {
      grid.replaceChildren();
      const index = store.get('activationLayer');
      const l = activations?.[index];
      if (!l) return;
      const [height, width, channels] = l.shape;
      const scale = maxAbs(l.data); // one brightness scale per layer: channels compare with each other
      const side = Math.max(40, Math.min(112, Math.round(5000 / Math.max(1, channels))));
      for (let ch = 0; ch < channels; ++ch) {
        const cv = canvas(width, height, `${l.name} channel ${ch}`, side);
        cv.dataset.channel = String(ch);
        cv.classList.add('viz-clickable');
        drawChannel(cv, l.data, height, width, { signed: false, scale, stride: channels, offset: ch });
        cv.title = `${l.name}, channel ${ch} (click: switch it off in the ablation panel)`;
        cv.addEventListener('click', () => switchOff(store, index, ch));
        grid.append(cv);
      }
    }

    async function compute() {
      const ref = ctx.model();
      const input = store.get('input');
      if (!ref || !input) return;
      const ticket = store.ticket(['neuronId', 'input']);
      try {
        const layers = await ctx.worker.request('activations', { ...ref, input });
        if (!ticket.current()) return;
        activations = layers;
        layerSelect.replaceChildren(...options(layers.map((l, i) => [i, `${i}: ${l.name} (${l.shape.join('×')})`])));
        if (store.get('activationLayer') >= layers.length) store.set({ activationLayer: 0 });
        syncLayer();
        draw();
      } catch (e) {
        if (ticket.current()) ctx.fail('activations', e);
      }
    }

    root.append(
      h(
        'p',
        { class: 'fineprint' },
        'Each channel of the chosen layer for the current image (after ReLU; one brightness scale per layer). Click a map to switch that channel off below.',
      ),
      row(labelled('Layer', layerSelect)),
      grid,
    );

    return {
      update(changed) {
        syncLayer();
        // Another neuron's maps go at once; the previous image's stay until the new ones arrive (no flicker while
        // the crop moves).
        if (changed.has('neuronId')) activations = null;
        if (changed.has('neuronId') || changed.has('input')) compute();
        if (changed.has('neuronId') || changed.has('activationLayer')) draw();
      },
    };
  },
};
