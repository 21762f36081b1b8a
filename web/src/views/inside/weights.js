// The model's weights as pictures: first-layer filters as RGB images, depthwise kernels, pointwise mixing matrices
// (the paper's consolidation) and the readout's spatial maps.
import { h } from '../../dom.js';
import { canvas, drawRgb, drawMap, drawChannel, maxAbs } from '../../draw.js';

const heading = (text, note) =>
  h('p', {}, h('strong', {}, text), note ? h('span', { class: 'fineprint' }, note) : null);
const tiles = (attrs, list) =>
  h('div', { ...attrs, class: ['viz-tiles', attrs.class].filter(Boolean).join(' ') }, ...list);

// First-layer filters as RGB images: each filter scaled so its largest |weight| maps to +-127 around grey.
function firstLayerFilters(first) {
  const [kh, kw, , out] = first.shape;
  const list = [];
  for (let o = 0; o < out; ++o) {
    let m = 0;
    for (let i = 0; i < kh * kw * 3; ++i) m = Math.max(m, Math.abs(first.weights[i * out + o]));
    const px = new Uint8Array(kh * kw * 3);
    for (let i = 0; i < kh * kw * 3; ++i) px[i] = Math.round(128 + (127 * first.weights[i * out + o]) / (m || 1));
    const cv = canvas(kw, kh, `first-layer filter ${o}`, 40);
    drawRgb(cv, px, kw, kh);
    list.push(cv);
  }
  return [heading(`First layer: ${out} filters, ${kh}×${kw} RGB`), tiles({ id: 'viz-filters' }, list)];
}

function depthwiseKernels(l, i) {
  const [kh, kw, c] = l.shape;
  const scale = maxAbs(l.weights);
  const list = [];
  for (let ch = 0; ch < c; ++ch) {
    const cv = canvas(kw, kh, `${l.name} kernel ${ch}`, 32);
    drawChannel(cv, l.weights, kh, kw, { signed: true, scale, stride: c, offset: ch });
    list.push(cv);
  }
  return [
    heading(`Layer ${i} (${l.name}): ${c} depthwise ${kh}×${kw} kernels`),
    tiles({ class: 'viz-depthwise' }, list),
  ];
}

// Pointwise mixing: rows = input channels, columns = output channels.
function mixingMatrix(l, i) {
  const [, , cin, cout] = l.shape;
  const cv = canvas(cout, cin, `${l.name} mixing matrix ${cin} by ${cout}`, Math.min(420, cout * 5));
  cv.classList.add('viz-mixing');
  drawMap(cv, l.weights, cin, cout, { signed: true });
  return [
    heading(
      `Layer ${i} (${l.name}): pointwise mixing ${cin} → ${cout}`,
      ' rows: input channels, columns: output channels; red positive, blue negative',
    ),
    cv,
  ];
}

// Readout weights as one (H, W) map per input channel, for the first output.
function readoutMaps(l) {
  const [height, width, c] = l.input;
  const units = l.output[2];
  const scale = maxAbs(l.weights);
  const list = [];
  for (let ch = 0; ch < c; ++ch) {
    const cv = canvas(width, height, `readout weights for channel ${ch}`, 56);
    drawChannel(cv, l.weights, height, width, { signed: true, scale, stride: c * units, offset: ch * units });
    list.push(cv);
  }
  return [
    heading(`Readout (${l.name}): ${height}×${width} weights for each of ${c} channels`),
    tiles({ id: 'viz-readout-weights' }, list),
  ];
}

function pictures(layers) {
  const parts = [];
  if (layers[0]?.kind === 'conv2d' && layers[0].shape[2] === 3) parts.push(...firstLayerFilters(layers[0]));
  layers.forEach((l, i) => {
    if (l.kind === 'depthwise_conv2d' && l.shape[0] * l.shape[1] <= 81) parts.push(...depthwiseKernels(l, i));
    else if (l.kind === 'conv2d' && l.shape[0] === 1 && l.shape[1] === 1 && i > 0) parts.push(...mixingMatrix(l, i));
    else if (l.kind === 'dense' && l.input[0] > 1) parts.push(...readoutMaps(l));
  });
  return parts;
}

export default {
  id: 'weights',
  title: 'Inside the model: filters, kernels, mixing, readout',
  keys: ['neuronId', 'entries'],
  mount(root, ctx) {
    const box = h('div', { id: 'viz-weights' });
    root.append(box);
    return {
      async update() {
        const ticket = ctx.store.ticket(['neuronId']);
        box.replaceChildren();
        if (!ctx.entry()) return;
        try {
          const layers = await ctx.weights();
          if (ticket.current()) box.replaceChildren(...pictures(layers));
        } catch (e) {
          if (ticket.current()) ctx.fail('weights', e);
        }
      },
    };
  },
};
