// Where the model looks in the current image: gradient × input, occlusion by a grey patch, or the readout's
// per-location contributions, drawn over the image the model sees.
import { h } from '../../dom.js';
import { SIDE, canvas, drawRgb, drawMap } from '../../draw.js';
import { row, labelled, bind, integerIn, options } from './controls.js';
import { targetSelector } from './run.js';

// What a map depends on: a reply computed for other values is dropped (latest request wins).
const MAP_KEYS = ['neuronId', 'input', 'overlayKind', 'targetLayer', 'targetChannel'];

// One map from the worker -> {data, h, w, text, total?}.
async function computeMap(ctx, kind, payload) {
  const { worker } = ctx;
  if (kind === 'saliency') {
    const m = await worker.request('vizSaliency', payload);
    return {
      data: m.data,
      h: m.shape[0],
      w: m.shape[1],
      text: `gradient × input, summed over colour (red raises the response, blue lowers it); response ${m.value.toFixed(3)}`,
    };
  }
  if (kind === 'occlusion') {
    const m = await worker.request('vizOcclusion', payload);
    return {
      data: m.perPixel.data,
      h: m.perPixel.shape[0],
      w: m.perPixel.shape[1],
      text: `occlusion: drop in response when a 16 px grey patch covers each place (red: the patch hurt); baseline ${m.baseline.toFixed(3)}, ${m.rows * m.cols} patches`,
    };
  }
  const { layer, channel } = payload.selector;
  const m = await worker.request('vizReadout', { ...payload, output: layer < 0 ? channel : 0 });
  const total = m.data.reduce((a, b) => a + b, m.bias);
  return {
    data: m.data,
    h: m.shape[0],
    w: m.shape[1],
    total,
    text: `readout: last layer's activations × readout weights per location (${m.shape[0]}×${m.shape[1]}); map sum + bias = ${total.toFixed(4)}, the response`,
  };
}

export default {
  id: 'where',
  title: 'Where it looks, for the current image',
  keys: [...MAP_KEYS, 'seenPixels', 'overlayOpacity'],
  mount(root, ctx) {
    const { store } = ctx;
    const kind = h(
      'select',
      { id: 'viz-overlay-kind' },
      ...options([
        ['saliency', 'gradient × input'],
        ['occlusion', 'occlusion (16 px grey patch)'],
        ['readout', 'readout map'],
      ]),
    );
    const opacity = h('input', { id: 'viz-opacity', type: 'range', min: 0, max: 100, value: 60 });
    const syncKind = bind(store, 'overlayKind', kind);
    const syncOpacity = bind(store, 'overlayOpacity', opacity, integerIn(0, 100));
    const overlayCanvas = canvas(SIDE * 2, SIDE * 2, 'Image with the attribution overlay', 336);
    overlayCanvas.id = 'viz-overlay';
    const text = h('p', { id: 'viz-overlay-text', class: 'mono fineprint' });
    let overlay = null; // the last map computed for the current neuron and image: {data, h, w}

    function draw() {
      const pixels = store.get('seenPixels');
      const c = overlayCanvas.getContext('2d');
      c.imageSmoothingEnabled = false;
      c.clearRect(0, 0, overlayCanvas.width, overlayCanvas.height);
      if (pixels) {
        const base = h('canvas', { width: SIDE, height: SIDE });
        drawRgb(base, pixels);
        c.drawImage(base, 0, 0, overlayCanvas.width, overlayCanvas.height);
      }
      if (!overlay) return;
      const layer = h('canvas');
      drawMap(layer, overlay.data, overlay.h, overlay.w, { signed: true });
      c.globalAlpha = store.get('overlayOpacity') / 100;
      c.imageSmoothingEnabled = overlay.h < SIDE; // coarse maps (readout 28x28) are smoothed, pixel maps not
      c.drawImage(layer, 0, 0, overlayCanvas.width, overlayCanvas.height);
      c.globalAlpha = 1;
    }

    async function compute() {
      const ref = ctx.model();
      const input = store.get('input');
      if (!ref || !input) return;
      const ticket = store.ticket(MAP_KEYS);
      const k = store.get('overlayKind');
      text.textContent = 'computing…';
      try {
        const m = await computeMap(ctx, k, { ...ref, input, selector: targetSelector(store) });
        if (!ticket.current()) return;
        overlay = m;
        text.textContent = m.text;
        if (m.total !== undefined) text.dataset.total = String(m.total);
        text.dataset.kind = k;
        draw();
      } catch (e) {
        if (!ticket.current()) return;
        overlay = null;
        draw();
        text.textContent = '';
        ctx.fail(k, e);
      }
    }

    root.append(row(labelled('Map', kind), labelled('Opacity', opacity)), overlayCanvas, text);

    return {
      update(changed) {
        syncKind();
        syncOpacity();
        // A map of the previous neuron or image must not be drawn over the new image.
        if (changed.has('neuronId') || changed.has('input')) overlay = null;
        if (MAP_KEYS.some((key) => changed.has(key))) compute();
        draw();
      },
    };
  },
};
