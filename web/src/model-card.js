// The model card: what the model is, how big, where its weights came from, how well it does, whom to credit. Drawn for
// the "Model card" view (views/model-card.js); its layer table also describes a loaded file in views/own-model.js.
import { h, svg, formatNumber, formatBytes, scrollRegion } from './dom.js';

// The teacher the compact models were distilled from: an ensemble of deep networks (the paper: ~60 M parameters).
const TEACHER_PARAMS = 60e6;

// One box per layer of the executable model; box height follows the spatial size, width the channel count.
function architecture(info) {
  const layers = info.layers;
  const W = 760,
    H = 210,
    gap = 10;
  const maxSide = Math.max(...layers.map((l) => l.output[0]), info.input[0]);
  const maxC = Math.max(...layers.map((l) => l.output[2]), 3);
  const boxes = [
    { name: 'image', kind: 'input', out: info.input },
    ...layers.map((l) => ({ name: l.name, kind: l.kind, out: l.output, k: l.kernel, s: l.stride })),
  ];
  const unit = (W - gap * (boxes.length - 1)) / boxes.length;
  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: 'arch',
    role: 'img',
    'aria-label': `Architecture: ${boxes.map((b) => `${b.name} ${b.out.join('x')}`).join(', ')}`,
  });
  boxes.forEach((b, i) => {
    const x = i * (unit + gap);
    const bh = 24 + (b.out[0] / maxSide) * 110;
    const bw = Math.max(10, Math.min(unit, 10 + (Math.sqrt(b.out[2]) / Math.sqrt(maxC)) * (unit - 10)));
    const y = 20 + (134 - bh) / 2;
    const fill =
      b.kind === 'input'
        ? '#d9d4c7'
        : /dense|pool/.test(b.kind)
          ? '#c2570c'
          : /depthwise/.test(b.kind)
            ? '#8aa6c1'
            : '#0b5cad';
    root.append(svg('rect', { x: x + (unit - bw) / 2, y, width: bw, height: bh, rx: 4, fill, opacity: 0.9 }));
    const label = (text, dy, weight) =>
      root.append(
        svg(
          'text',
          {
            x: x + unit / 2,
            y: 170 + dy,
            'text-anchor': 'middle',
            'font-size': boxes.length > 9 ? 10 : 11,
            fill: '#17212b',
            'font-weight': weight || 400,
          },
          text,
        ),
      );
    const short =
      b.kind === 'input'
        ? 'image'
        : b.kind === 'conv2d'
          ? b.k?.[0] === 1
            ? 'mix 1×1'
            : `conv ${b.k[0]}×${b.k[1]}`
          : b.kind === 'depthwise_conv2d'
            ? `depth ${b.k[0]}×${b.k[1]}`
            : b.kind === 'dense'
              ? 'readout'
              : b.kind.replace(/_/g, ' ');
    label(short, 0, 600);
    label(b.out[0] === 1 && b.out[1] === 1 ? `${b.out[2]} out` : `${b.out[0]}²×${b.out[2]}`, 14);
    if (b.s && b.s[0] > 1) label(`stride ${b.s[0]}`, 28);
  });
  return root;
}

export function layerTable(info) {
  return scrollRegion(
    'Layers of the model',
    {},
    h(
      'table',
      { class: 'layer-table' },
      h(
        'caption',
        { class: 'fineprint' },
        'Layers as in the original Keras model (BatchNormalization is folded into the convolutions when the model is loaded).',
      ),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'layer'),
          h('th', { scope: 'col' }, 'type'),
          h('th', { scope: 'col' }, 'output'),
          h('th', { scope: 'col', class: 'num' }, 'parameters'),
        ),
      ),
      h(
        'tbody',
        {},
        ...info.sourceLayers.map((l) =>
          h(
            'tr',
            {},
            h('td', { class: 'mono' }, l.name),
            h('td', {}, l.className),
            h('td', { class: 'mono' }, l.output.join('×')),
            h('td', { class: 'num' }, formatNumber(l.params)),
          ),
        ),
      ),
      h(
        'tfoot',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'row', colspan: 3 }, 'total'),
          h('td', { class: 'num' }, formatNumber(info.params)),
        ),
      ),
    ),
  );
}

const r3 = (v) => (Number.isFinite(v) ? v.toFixed(3) : '—');

// The card's fidelity rows: against the recorded responses for the published models, int8 against float on
// held-out synthetic images for the demo (it models no recorded neuron).
function fidelityRows(entry, fid) {
  const fidelity = [];
  if (fid && entry.kind === 'demo') {
    fidelity.push(['int8 vs float predictions', `r = ${fid.int8VsFloatR != null ? fid.int8VsFloatR.toFixed(5) : '—'}`]);
    if (fid.maxDifferenceOfSpread != null)
      fidelity.push([
        'largest |int8 − float|',
        `${(100 * fid.maxDifferenceOfSpread).toFixed(2)}% of the float responses’ range`,
      ]);
    fidelity.push(['on images', `${fid.images} (${fid.imageCount} images held out from calibration)`]);
  } else if (fid) {
    fidelity.push([
      'model vs recorded (float)',
      `r = ${r3(fid.floatVsRecordedR)}, r² = ${r3(fid.floatVsRecordedR ** 2)}`,
    ]);
    fidelity.push(['model vs recorded (int8)', `r = ${r3(fid.int8VsRecordedR)}`]);
    fidelity.push(['int8 vs float predictions', `r = ${fid.int8VsFloatR != null ? fid.int8VsFloatR.toFixed(5) : '—'}`]);
    fidelity.push([
      'on images',
      `${fid.images || `${entry.session} 601-1200`} (${fid.imageCount || 600} images held out from fitting)`,
    ]);
  } else {
    fidelity.push([
      'fidelity',
      entry.kind === 'neuron'
        ? 'not computed in this build (needs the model-pack step); the Evidence tab computes it live'
        : 'not applicable',
    ]);
  }
  return fidelity;
}

export function renderModelCard(entry, info, manifest) {
  const fid = Array.isArray(entry.fidelity) ? null : entry.fidelity;
  const files = entry.files || {};
  const sizes = Object.entries(entry.bytes || {})
    .map(([k, v]) => `${k === 'keras' ? '.keras' : k}: ${formatBytes(v)}`)
    .join(' · ');
  const facts = [
    [
      'what',
      entry.kind === 'neuron'
        ? `compact model of V4 neuron ${entry.neuron} recorded in session ${entry.session}`
        : entry.kind === 'shared'
          ? 'shared compact model predicting all 219 neurons'
          : entry.kind === 'demo'
            ? 'the project’s own demo model: weights constructed by code, not fitted to any neuron'
            : 'a model you loaded',
    ],
    [
      'parameters',
      `${formatNumber(info.params)} (the ensemble teacher it was distilled from: about ${formatNumber(TEACHER_PARAMS / 1e6)} million, ${formatNumber(TEACHER_PARAMS / info.params)}× more)`,
    ],
    ['multiply-adds per image', formatNumber(info.multiplyAdds)],
    [
      'filters per layer',
      (
        entry.filters ||
        info.layers.filter((l) => /conv/.test(l.kind) && !/depthwise/.test(l.kind)).map((l) => l.output[2])
      ).join(' → '),
    ],
    ['input', '112 × 112 RGB, minus the channel means (116.2, 109.3, 100.4)'],
    ['files', sizes || '—'],
  ];
  if (entry.kind !== 'demo' && entry.kind !== 'own') {
    facts.push([
      'weights from',
      `${manifest?.source || 'cowleygroup/V4_compact_models'}: ${entry.name}.keras (GPL-3.0), converted at build time by cortexlens${files.int8 ? ', int8 weights quantized per output channel' : ''}`,
    ]);
    facts.push([
      'cite',
      manifest?.citation || 'Cowley, Stan, Pillow & Smith, Nature 2026, doi:10.1038/s41586-026-10150-1',
    ]);
  }
  const fidelity = fidelityRows(entry, fid);
  const dl = (rows) => h('dl', {}, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  return h(
    'div',
    {},
    h('h3', {}, entry.kind === 'neuron' ? `Model card: neuron ${entry.id}` : `Model card: ${entry.name || entry.id}`),
    scrollRegion('Architecture of the model', { class: 'arch-wrap' }, architecture(info)),
    h(
      'div',
      { class: 'card-grid' },
      h('div', {}, dl(facts)),
      h(
        'div',
        {},
        h('h4', {}, 'Fidelity'),
        dl(fidelity),
        h(
          'p',
          { class: 'fineprint' },
          'What the model can say: how strongly this neuron tends to respond to one image relative to others. What it cannot say: firing rates in spikes per second, responses outside the 112×112 window, or responses to video, depth or attention effects.',
        ),
      ),
    ),
    h('h4', {}, 'Layers'),
    layerTable(info),
  );
}
