// Ablation: switch channels off or scale them (the store's `ablations`), and see the response to the current image
// and to a small gallery change. The controls' layer, channel and scale are store keys too, so an activation map's
// click can set them.
import { h } from '../../dom.js';
import { row, labelled, bind, integerIn, numberSelect, options } from './controls.js';

const OWN_PATTERNS = 8; // the page's own patterns in the gallery
const REFERENCE_EACH = 3; // the model's top and bottom reference natural images in the gallery

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

// The gallery the ablation is also shown on: the page's own patterns, plus the model's reference top and bottom
// natural images when the build has them. Inputs come from the worker (decodeImage + cropImage), so they are
// exactly what the model sees elsewhere on the page. An image that cannot be loaded is left out.
async function loadGallery(ctx) {
  const items = ctx.store.get('gallery').own.slice(0, OWN_PATTERNS).map((own) => ({ label: own.title || own.id, url: own.url }));
  const ref = ctx.catalog.reference(ctx.entry(), 0);
  for (const [kind, list] of [['top', ref?.top], ['bottom', ref?.bottom]])
    for (const { image } of (list || []).slice(0, REFERENCE_EACH)) {
      const [session, number] = String(image).split('/');
      items.push({ label: `${kind}: ${image}`, url: `gallery/${session}/image${number}.jpg` });
    }
  const loaded = [];
  for (const item of items) {
    try {
      const bytes = await (await fetch(item.url)).arrayBuffer();
      const { imageId } = await ctx.worker.request('decodeImage', { bytes, name: item.url }, { transfer: [bytes] });
      const { input } = await ctx.worker.request('cropImage', { imageId, crop: null });
      loaded.push({ ...item, input });
    } catch { /* left out */ }
  }
  return loaded;
}

function controlsOf(store) {
  const c = {
    layer: h('select', { id: 'viz-abl-layer' }),
    channel: h('select', { id: 'viz-abl-channel' }),
    scale: h('input', { id: 'viz-abl-scale', type: 'range', min: 0, max: 200, value: 0 }),
    apply: h('button', { id: 'viz-abl-apply', type: 'button', class: 'button' }, 'Apply'),
    reset: h('button', { id: 'viz-abl-reset', type: 'button', class: 'button' }, 'Reset'),
  };
  const syncs = [
    bind(store, 'ablationLayer', c.layer, numberSelect),
    bind(store, 'ablationChannel', c.channel, numberSelect),
    bind(store, 'ablationScale', c.scale, integerIn(0, 200)),
  ];
  return { ...c, sync: () => syncs.forEach((sync) => sync()) };
}

export default {
  id: 'ablation',
  title: 'Ablation: switch channels off or scale them',
  keys: ['neuronId', 'entries', 'input', 'gallery', 'ablations', 'ablationLayer', 'ablationChannel', 'ablationScale'],
  mount(root, ctx) {
    const { store, worker } = ctx;
    const c = controlsOf(store);
    const list = h('ul', { id: 'viz-abl-list', class: 'mono fineprint' });
    const text = h('p', { id: 'viz-abl-text', class: 'mono' });
    const table = h('table', { id: 'viz-abl-gallery', class: 'mono fineprint' });
    let layers = null; // the current model's vizWeights (layer names, channel counts)
    let gallery = null; // {key: model key and gallery size, promise of [{label, url, input}]}
    let plain = null; // {ticket on neuron and input, promise of the responses without changes}

    function galleryFor(ref) {
      const key = `${ref.key}|${store.get('gallery').own.length}`;
      if (gallery?.key !== key) gallery = { key, promise: loadGallery(ctx) };
      return gallery.promise;
    }

    function fillChannels() {
      const l = layers?.[store.get('ablationLayer')];
      if (!l) return;
      const count = l.output[2];
      if (c.channel.options.length !== count) c.channel.replaceChildren(...options(Array.from({ length: count }, (_, i) => [i, String(i)])));
      if (store.get('ablationChannel') >= count) store.set({ ablationChannel: 0 });
    }

    function showList() {
      list.replaceChildren(...store.get('ablations').map((a) => h('li', {}, `layer ${a.layer} (${layers?.[a.layer]?.name ?? ''}) channel ${a.channel} × ${a.scale}`)));
    }

    function showResults(items, before, after, changes) {
      table.replaceChildren(h('tr', {}, h('th', {}, 'gallery image'), h('th', {}, 'response'), h('th', {}, 'with the changes')),
        ...items.map((g, i) => h('tr', {}, h('td', {}, g.label), h('td', {}, before.each[i].toFixed(3)), h('td', { 'data-after': after.each[i] }, after.each[i].toFixed(3)))));
      const [b, a] = [before.outputs[0], after.outputs[0]];
      text.textContent = `${ctx.describe(b)} → with ${plural(changes, 'change')}: ${ctx.describe(a)}`;
      text.dataset.before = String(b);
      text.dataset.after = String(a);
    }

    // The responses with and without the store's ablations; only the latest request's are shown.
    async function refresh() {
      const ref = ctx.model();
      const input = store.get('input');
      if (!ref || !input) return;
      const ticket = store.ticket(['neuronId', 'input', 'ablations', 'gallery']);
      const ablations = store.get('ablations');
      try {
        const items = await galleryFor(ref);
        if (!ticket.current()) return;
        const inputs = items.map((g) => g.input);
        if (!plain?.ticket.current()) plain = { ticket: store.ticket(['neuronId', 'input', 'gallery']), promise: worker.request('vizAblate', { ...ref, input, ablations: [], inputs }) };
        const before = await plain.promise;
        const after = ablations.length ? await worker.request('vizAblate', { ...ref, input, ablations, inputs }) : before;
        if (ticket.current()) showResults(items, before, after, ablations.length);
      } catch (e) {
        if (ticket.current()) ctx.fail('ablation', e);
      }
    }

    async function loadLayers() {
      const ticket = store.ticket(['neuronId']);
      layers = null;
      try {
        const loaded = await ctx.weights();
        if (!ticket.current()) return;
        layers = loaded;
        c.layer.replaceChildren(...options(layers.map((l, i) => [i, `${i}: ${l.name}`])));
        if (store.get('ablationLayer') >= layers.length) store.set({ ablationLayer: 0 });
        fillChannels();
        c.sync();
        showList();
        refresh();
      } catch (e) {
        if (ticket.current()) ctx.fail('ablation', e);
      }
    }

    // Apply reads the controls themselves (what the user sees), then the store holds both them and the change.
    function apply() {
      const a = { layer: Number(c.layer.value), channel: Number(c.channel.value), scale: Number(c.scale.value) / 100 };
      if (!layers?.[a.layer] || !Number.isInteger(a.channel)) return;
      const ablations = store.get('ablations').filter((x) => x.layer !== a.layer || x.channel !== a.channel).concat(a.scale === 1 ? [] : [a]);
      store.set({ ablationLayer: a.layer, ablationChannel: a.channel, ablationScale: Math.round(a.scale * 100), ablations });
    }

    c.apply.addEventListener('click', apply);
    c.scale.addEventListener('change', apply);
    c.reset.addEventListener('click', () => store.set({ ablations: [] }));
    // Ablations name channels of one model: switching to another neuron clears them. A link that opens a neuron
    // with its ablations sets both at once from no neuron, which is kept.
    let shownNeuron = store.get('neuronId');
    const unsubscribe = store.subscribe(['neuronId'], () => {
      const next = store.get('neuronId');
      if (shownNeuron != null && next !== shownNeuron) store.set({ ablations: [] });
      shownNeuron = next;
    });

    root.append(
      h('p', { class: 'fineprint' }, 'Scale one channel of one layer (0 = off, 100 = unchanged, 200 = doubled); the responses to the current image and to the gallery update at once. Changes add up until Reset.'),
      row(labelled('Layer', c.layer), labelled('Channel', c.channel), labelled('Scale %', c.scale), c.apply, c.reset), text, list, table);

    return {
      update(changed) {
        if (changed.has('neuronId') || changed.has('entries')) {
          loadLayers(); // then refreshes
        } else {
          if (changed.has('ablationLayer')) fillChannels();
          if (['input', 'ablations', 'gallery'].some((k) => changed.has(k))) refresh();
        }
        c.sync();
        showList();
      },
      unmount: unsubscribe,
    };
  },
};
