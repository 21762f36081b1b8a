// Ablation: switch channels off or scale them (the store's `ablations`), and see the response to the current image
// and to a small gallery change. The controls' layer, channel and scale are store keys too, so an activation map's
// click can set them.
import { h } from '../../dom.js';
import { WorkerClient } from '../../workers.js';
import { row, labelled, bind, integerIn, numberSelect, options } from './controls.js';
import { asset } from '../../build.js';

const OWN_PATTERNS = 8; // the page's own patterns in the gallery
const REFERENCE_EACH = 3; // the model's top and bottom reference natural images in the gallery

const INTRO =
  'Scale one channel of one layer (0 = off, 100 = unchanged, 200 = doubled); the responses to the current image and to the gallery update at once. Changes add up until Reset.';

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

// The gallery the ablation is also shown on: the page's own patterns, plus the model's reference top and bottom
// natural images when the build has them. Inputs come from the engine (decodeImage + cropImage), so they are
// exactly what the model sees elsewhere on the page. An image that cannot be loaded is left out.
async function loadGallery(ctx) {
  const items = ctx.store
    .get('gallery')
    .own.slice(0, OWN_PATTERNS)
    .map((own) => ({ label: own.title || own.id, url: asset(own.url) }));
  const ref = ctx.catalog.reference(ctx.entry(), 0);
  for (const [kind, list] of [
    ['top', ref?.top],
    ['bottom', ref?.bottom],
  ])
    for (const { image } of (list || []).slice(0, REFERENCE_EACH)) {
      const [session, number] = String(image).split('/');
      items.push({ label: `${kind}: ${image}`, url: asset(`gallery/${session}/image${number}.jpg`) });
    }
  // A worker of its own decodes them: the page's worker keeps only a few decoded images, and the user's photo must
  // stay among them (moving the crop re-crops it there).
  const decoder = new WorkerClient(ctx.worker.url);
  const loaded = [];
  try {
    for (const item of items) {
      try {
        const bytes = await (await fetch(item.url)).arrayBuffer();
        const { imageId } = await decoder.request('decodeImage', { bytes, name: item.url }, { transfer: [bytes] });
        const { input } = await decoder.request('cropImage', { imageId, crop: null });
        loaded.push({ ...item, input });
      } catch {
        /* left out */
      }
    }
  } finally {
    decoder.terminate();
  }
  return loaded;
}

// The controls bound to their store keys, and the result elements (ids kept from the old panel: the tests use them).
function elements(store) {
  const el = {
    layer: h('select', { id: 'viz-abl-layer' }),
    channel: h('select', { id: 'viz-abl-channel' }),
    scale: h('input', { id: 'viz-abl-scale', type: 'range', min: 0, max: 200, value: 0 }),
    apply: h('button', { id: 'viz-abl-apply', type: 'button', class: 'button' }, 'Apply'),
    reset: h('button', { id: 'viz-abl-reset', type: 'button', class: 'button' }, 'Reset'),
    list: h('ul', { id: 'viz-abl-list', class: 'mono fineprint' }),
    text: h('p', { id: 'viz-abl-text', class: 'mono' }),
    table: h('table', { id: 'viz-abl-gallery', class: 'mono fineprint' }),
  };
  const syncs = [
    bind(store, 'ablationLayer', el.layer, numberSelect),
    bind(store, 'ablationChannel', el.channel, numberSelect),
    bind(store, 'ablationScale', el.scale, integerIn(0, 200)),
  ];
  el.sync = () => {
    for (const sync of syncs) sync();
  };
  return el;
}

// What the section remembers of the worker's answers for the current model and image (never user settings):
// memo = {layers: vizWeights, gallery: {key, promise of items}, plain: {ticket, promise of the unchanged responses}}.
function galleryFor({ ctx, memo }, ref) {
  const key = `${ref.key}|${ctx.store.get('gallery').own.length}`;
  if (memo.gallery?.key !== key) memo.gallery = { key, promise: loadGallery(ctx) };
  return memo.gallery.promise;
}

function fillChannels({ ctx, el, memo }) {
  const { store } = ctx;
  const l = memo.layers?.[store.get('ablationLayer')];
  if (!l) return;
  const count = l.output[2];
  if (el.channel.options.length !== count)
    el.channel.replaceChildren(...options(Array.from({ length: count }, (_, i) => [i, String(i)])));
  if (store.get('ablationChannel') >= count) store.set({ ablationChannel: 0 });
}

function showList({ ctx, el, memo }) {
  const line = (a) => `layer ${a.layer} (${memo.layers?.[a.layer]?.name ?? ''}) channel ${a.channel} × ${a.scale}`;
  el.list.replaceChildren(...ctx.store.get('ablations').map((a) => h('li', {}, line(a))));
}

function showResults({ ctx, el }, items, before, after, changes) {
  el.table.replaceChildren(
    h('tr', {}, h('th', {}, 'gallery image'), h('th', {}, 'response'), h('th', {}, 'with the changes')),
    ...items.map((g, i) =>
      h(
        'tr',
        {},
        h('td', {}, g.label),
        h('td', {}, before.each[i].toFixed(3)),
        h('td', { 'data-after': after.each[i] }, after.each[i].toFixed(3)),
      ),
    ),
  );
  const [b, a] = [before.outputs[0], after.outputs[0]];
  el.text.textContent = `${ctx.describe(b)} → with ${plural(changes, 'change')}: ${ctx.describe(a)}`;
  el.text.dataset.before = String(b);
  el.text.dataset.after = String(a);
}

// The responses with and without the store's ablations; only the latest request's are shown. The unchanged ones
// are asked once per neuron and image, not at every click.
async function refresh(section) {
  const { ctx, memo } = section;
  const { store, worker } = ctx;
  const ref = ctx.model();
  const input = store.get('input');
  if (!ref || !input) return;
  const ticket = store.ticket(['neuronId', 'input', 'ablations', 'gallery']);
  const ablations = store.get('ablations');
  try {
    const items = await galleryFor(section, ref);
    if (!ticket.current()) return;
    const inputs = items.map((g) => g.input);
    if (!memo.plain?.ticket.current()) {
      const promise = worker.request('vizAblate', { ...ref, input, ablations: [], inputs });
      memo.plain = { ticket: store.ticket(['neuronId', 'input', 'gallery']), promise };
    }
    const before = await memo.plain.promise;
    const after = ablations.length ? await worker.request('vizAblate', { ...ref, input, ablations, inputs }) : before;
    if (ticket.current()) showResults(section, items, before, after, ablations.length);
  } catch (e) {
    if (ticket.current()) ctx.fail('ablation', e);
  }
}

// The model's layers name the choices; then the responses follow.
async function loadLayers(section) {
  const { ctx, el, memo } = section;
  const { store } = ctx;
  const ticket = store.ticket(['neuronId']);
  memo.layers = null;
  try {
    const layers = await ctx.weights();
    if (!ticket.current()) return;
    memo.layers = layers;
    el.layer.replaceChildren(...options(layers.map((l, i) => [i, `${i}: ${l.name}`])));
    if (store.get('ablationLayer') >= layers.length) store.set({ ablationLayer: 0 });
    fillChannels(section);
    el.sync();
    showList(section);
    refresh(section);
  } catch (e) {
    if (ticket.current()) ctx.fail('ablation', e);
  }
}

// Apply reads the controls themselves (what the user sees); the store then holds both them and the change.
function apply({ ctx, el, memo }) {
  const { store } = ctx;
  const a = { layer: Number(el.layer.value), channel: Number(el.channel.value), scale: Number(el.scale.value) / 100 };
  if (!memo.layers?.[a.layer] || !Number.isInteger(a.channel)) return;
  const others = store.get('ablations').filter((x) => x.layer !== a.layer || x.channel !== a.channel);
  const ablations = a.scale === 1 ? others : [...others, a];
  store.set({
    ablationLayer: a.layer,
    ablationChannel: a.channel,
    ablationScale: Math.round(a.scale * 100),
    ablations,
  });
}

// Ablations name channels of one model: switching to another neuron clears them. A link that opens a neuron with
// its ablations sets both at once, from no neuron, and is kept. -> the unsubscribe function.
function clearOnNeuronSwitch(store) {
  let shown = store.get('neuronId');
  return store.subscribe(['neuronId'], () => {
    const next = store.get('neuronId');
    if (shown != null && next !== shown) store.set({ ablations: [] });
    shown = next;
  });
}

export default {
  id: 'ablation',
  title: 'Ablation: switch channels off or scale them',
  keys: ['neuronId', 'entries', 'input', 'gallery', 'ablations', 'ablationLayer', 'ablationChannel', 'ablationScale'],
  mount(root, ctx) {
    const { store } = ctx;
    const el = elements(store);
    const section = { ctx, el, memo: { layers: null, gallery: null, plain: null } };
    el.apply.addEventListener('click', () => apply(section));
    el.scale.addEventListener('change', () => apply(section));
    el.reset.addEventListener('click', () => store.set({ ablations: [] }));
    root.append(
      h('p', { class: 'fineprint' }, INTRO),
      row(
        labelled('Layer', el.layer),
        labelled('Channel', el.channel),
        labelled('Scale %', el.scale),
        el.apply,
        el.reset,
      ),
      el.text,
      el.list,
      el.table,
    );
    return {
      update(changed) {
        if (changed.has('neuronId') || changed.has('entries')) {
          loadLayers(section); // then refreshes
        } else {
          if (changed.has('ablationLayer')) fillChannels(section);
          if (['input', 'ablations', 'gallery'].some((k) => changed.has(k))) refresh(section);
        }
        el.sync();
        showList(section);
      },
      unmount: clearOnNeuronSwitch(store),
    };
  },
};
