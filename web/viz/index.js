// The feature-visualization panels ("Inside the neuron"): preferred images (synthesis, diverse seeds, block images),
// natural top/bottom images, where the model looks (saliency, occlusion, readout overlays), activation maps,
// weights (first-layer filters, depthwise kernels, pointwise mixing matrices, readout maps) and ablation.
// Everything is computed by the page's worker (handlers in web/viz/worker.js and the page's own 'activations').
// Styles are set through the CSSOM (el.style), which the page's Content-Security-Policy (style-src 'self') allows.

const SIDE = 112;

// ---- small DOM and drawing helpers ----

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'style') Object.assign(node.style, v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c != null && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}

function canvas(width, height, label, displaySide) {
  const c = el('canvas', { width, height, role: 'img', 'aria-label': label, class: 'viz-canvas' });
  c.style.width = `${displaySide ?? width}px`;
  c.style.height = `${((displaySide ?? width) * height) / width}px`;
  c.style.imageRendering = 'pixelated';
  c.style.border = '1px solid #8884';
  return c;
}

// RGB (H, W, 3) bytes -> the canvas (sized W x H).
function drawRgb(target, pixels, width = SIDE, height = SIDE) {
  const ctx = target.getContext('2d');
  const image = ctx.createImageData(width, height);
  for (let i = 0, j = 0; i < width * height; ++i, j += 3) {
    image.data[4 * i] = pixels[j]; image.data[4 * i + 1] = pixels[j + 1]; image.data[4 * i + 2] = pixels[j + 2]; image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

// Signed values: blue (negative) - white - red (positive), symmetric around 0; unsigned: black to yellow.
function colourOf(v, scale, signed) {
  if (signed) {
    const t = Math.max(-1, Math.min(1, v / (scale || 1)));
    return t >= 0 ? [255, Math.round(255 * (1 - t)), Math.round(255 * (1 - t))] : [Math.round(255 * (1 + t)), Math.round(255 * (1 + t)), 255];
  }
  const t = Math.max(0, Math.min(1, v / (scale || 1)));
  return [Math.round(255 * Math.min(1, 1.6 * t)), Math.round(255 * t * t), Math.round(90 * (1 - t))];
}

function maxAbs(data) { let m = 0; for (const v of data) m = Math.max(m, Math.abs(v)); return m; }

// A (h, w) map (values at stride `stride` from `offset`) into an RGBA ImageData.
function mapImage(ctx, data, h, w, { signed = true, scale, stride = 1, offset = 0, alpha = 255 } = {}) {
  const image = ctx.createImageData(w, h);
  let s = scale;
  if (s === undefined) { s = 0; for (let i = 0; i < h * w; ++i) s = Math.max(s, Math.abs(data[i * stride + offset])); }
  for (let i = 0; i < h * w; ++i) {
    const [r, g, b] = colourOf(data[i * stride + offset], s, signed);
    image.data[4 * i] = r; image.data[4 * i + 1] = g; image.data[4 * i + 2] = b; image.data[4 * i + 3] = alpha;
  }
  return image;
}

function drawMap(target, data, h, w, options) {
  target.width = w; target.height = h;
  const ctx = target.getContext('2d');
  ctx.putImageData(mapImage(ctx, data, h, w, options), 0, 0);
}

function downloadCanvas(source, name) {
  source.toBlob((blob) => {
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: name });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }, 'image/png');
}

// Percentile of a response among the reference natural images (quantiles at 0, 1, ..., 100 %).
function percentileOf(value, quantiles) {
  if (!Array.isArray(quantiles) || quantiles.length < 2) return null;
  if (value <= quantiles[0]) return 0;
  const n = quantiles.length - 1;
  if (value >= quantiles[n]) return 100;
  for (let i = 1; i <= n; ++i)
    if (value <= quantiles[i]) return (100 / n) * (i - 1 + (value - quantiles[i - 1]) / Math.max(1e-12, quantiles[i] - quantiles[i - 1]));
  return 100;
}

function referenceOf(entry, output = 0) {
  const ref = entry?.reference;
  if (!ref) return null;
  return Array.isArray(ref) ? ref[output] ?? null : ref;
}

function describe(value, entry, output) {
  const q = referenceOf(entry, output)?.quantiles;
  const p = percentileOf(value, q);
  const raw = `response ${value.toFixed(3)}`;
  if (p === null) return raw;
  if (p >= 100) return `${raw} (above every reference natural image)`;
  if (p <= 0) return `${raw} (below every reference natural image)`;
  return `${raw} (percentile ${p.toFixed(1)} of reference natural images)`;
}

function section(title, open, ...body) {
  return el('details', { class: 'viz-section', open }, el('summary', {}, el('strong', {}, title)), ...body);
}

function row(...children) { return el('div', { style: { display: 'flex', flexWrap: 'wrap', gap: '0.6rem', alignItems: 'center', margin: '0.4rem 0' } }, ...children); }

function labelled(text, control) { return el('label', { style: { display: 'inline-flex', gap: '0.3rem', alignItems: 'center' } }, text, control); }

// ---- the panel ----

export function mountVizPanel(container, { worker, getState, onStateChange }) {
  const status = el('p', { class: 'fineprint viz-status', role: 'status' });
  const errorBox = el('p', { class: 'error', role: 'alert', hidden: true });
  const fail = (what, e) => { errorBox.textContent = `${what}: ${e.message || e}`; errorBox.hidden = false; };
  const clearFail = () => { errorBox.hidden = true; };
  const modelRef = () => getState().model;
  let info = null;          // the model's weights per layer (vizWeights), for the "inside" views and selectors
  let infoKey = null;

  async function ensureWeights() {
    const ref = modelRef();
    if (!ref) throw new Error('choose a neuron first');
    if (infoKey !== ref.key) { info = await worker.request('vizWeights', ref); infoKey = ref.key; }
    return info;
  }

  // ---------------- synthesis ----------------
  const recipe = el('select', { id: 'viz-recipe' }, el('option', { value: 'authors' }, "authors' recipe"), el('option', { value: 'fourier' }, 'Fourier + decorrelated colour'));
  const direction = el('select', { id: 'viz-direction' }, el('option', { value: 'max' }, 'maximize'), el('option', { value: 'min' }, 'minimize'));
  const steps = el('input', { id: 'viz-steps', type: 'number', min: 1, max: 5000, value: 1000, style: { width: '5rem' } });
  const seed = el('input', { id: 'viz-seed', type: 'number', min: 0, value: 1, style: { width: '5rem' } });
  const grey = el('input', { id: 'viz-grey', type: 'checkbox' });
  const target = el('select', { id: 'viz-target' }, el('option', { value: '-1' }, 'model output'));
  const channel = el('input', { id: 'viz-channel', type: 'number', min: 0, value: 0, style: { width: '4rem' } });
  const start = el('button', { id: 'viz-synth-start', type: 'button', class: 'button primary' }, 'Synthesize');
  const cancel = el('button', { id: 'viz-synth-cancel', type: 'button', class: 'button', disabled: true }, 'Cancel');
  const download = el('button', { id: 'viz-synth-download', type: 'button', class: 'button', disabled: true }, 'Download PNG');
  const progress = el('progress', { id: 'viz-synth-progress', max: 1, value: 0, style: { width: '14rem' } });
  const live = canvas(SIDE, SIDE, 'Synthesized image, current step', 224);
  live.id = 'viz-synth-live';
  const best = canvas(SIDE, SIDE, 'Synthesized image, best so far', 224);
  best.id = 'viz-synth-best';
  const synthText = el('p', { id: 'viz-synth-text', class: 'mono' });
  const diverse = el('button', { id: 'viz-diverse', type: 'button', class: 'button' }, 'Four diverse solutions (seeds)');
  const diverseRow = el('div', { id: 'viz-diverse-row', style: { display: 'flex', gap: '0.5rem', flexWrap: 'wrap' } });
  let activeRun = null;

  function selectorFromControls() {
    const layer = Number(target.value);
    return layer < 0 ? { layer: -1, channel: Number(channel.value) || 0 } : { layer, channel: Number(channel.value) || 0 };
  }

  async function runSynthesis({ seedValue, stepsValue, onFrame, chunk = 10 }) {
    const ref = modelRef();
    if (!ref) throw new Error('choose a neuron first');
    const options = { recipe: recipe.value, minimize: direction.value === 'min', steps: stepsValue, seed: seedValue, grayscale: grey.checked, selector: selectorFromControls() };
    const { runId } = await worker.request('vizRunStart', { ...ref, kind: 'synth', options });
    const run = { runId, cancelled: false };
    activeRun = run;
    try {
      for (;;) {
        if (run.cancelled) return { cancelled: true };
        const r = await worker.request('vizRunAdvance', { runId, count: chunk });
        onFrame?.(r);
        if (r.done) return r;
      }
    } finally {
      worker.request('vizRunStop', { runId }).catch(() => {});
      if (activeRun === run) activeRun = null;
    }
  }

  start.addEventListener('click', async () => {
    clearFail();
    start.disabled = true; cancel.disabled = false; download.disabled = true;
    const total = Math.max(1, Math.min(5000, Number(steps.value) || 1000));
    progress.max = total; progress.value = 0;
    try {
      const r = await runSynthesis({
        seedValue: Math.max(0, Number(seed.value) || 0), stepsValue: total,
        onFrame: (f) => {
          drawRgb(live, f.image);
          progress.value = f.step;
          synthText.textContent = `step ${f.step} / ${f.steps}: best ${f.bestResponse.toFixed(3)} (${f.msPerStep.toFixed(1)} ms per step)`;
        },
      });
      if (r.cancelled) { synthText.textContent += ' — cancelled'; return; }
      drawRgb(best, r.best);
      download.disabled = false;
      const state = getState();
      synthText.textContent = `${r.steps} steps, ${describe(r.bestResponse, state.entry, 0)}; ${(r.msPerStep * r.steps / 1000).toFixed(1)} s in the worker (${r.msPerStep.toFixed(1)} ms per step)`;
      synthText.dataset.response = String(r.bestResponse);
      synthText.dataset.msPerStep = String(r.msPerStep);
    } catch (e) {
      fail('synthesis', e);
    } finally {
      start.disabled = false; cancel.disabled = true;
    }
  });
  cancel.addEventListener('click', () => { if (activeRun) activeRun.cancelled = true; });
  download.addEventListener('click', () => downloadCanvas(best, `synth-${getState().neuronId || 'model'}-${recipe.value}-${direction.value}-seed${seed.value}.png`));
  diverse.addEventListener('click', async () => {
    clearFail();
    diverse.disabled = true; cancel.disabled = false;
    diverseRow.replaceChildren();
    try {
      const base = Math.max(0, Number(seed.value) || 0);
      for (let k = 0; k < 4; ++k) {
        const c = canvas(SIDE, SIDE, `Solution with seed ${base + k}`, 112);
        const caption = el('figcaption', { class: 'mono fineprint' }, `seed ${base + k}`);
        diverseRow.append(el('figure', { style: { margin: 0 } }, c, caption));
        const r = await runSynthesis({ seedValue: base + k, stepsValue: 200, chunk: 25, onFrame: (f) => drawRgb(c, f.image) });
        if (r.cancelled) break;
        drawRgb(c, r.best);
        caption.textContent = `seed ${base + k}: ${r.bestResponse.toFixed(2)}`;
      }
    } catch (e) {
      fail('diverse solutions', e);
    } finally {
      diverse.disabled = false; cancel.disabled = true;
    }
  });

  const synthSection = section('Preferred images: synthesis', true,
    el('p', { class: 'fineprint' }, "The authors' recipe (Cowley et al.): white noise, then gradient steps on the response, normalized and blurred, clipped to valid pixels, blurred every 50 steps; the best image is kept. The alternative optimizes a Fourier-space image with decorrelated colour under random jitter and scale (Olah et al., Distill 2017). The same seed gives the same image here and in the command line (cortexlens synth)."),
    row(labelled('Recipe', recipe), labelled('Goal', direction), labelled('Steps', steps), labelled('Seed', seed), labelled('Grayscale', grey)),
    row(labelled('Target', target), labelled('output / channel', channel)),
    row(start, cancel, download, progress),
    row(el('figure', { style: { margin: 0 } }, live, el('figcaption', { class: 'fineprint' }, 'current')), el('figure', { style: { margin: 0 } }, best, el('figcaption', { class: 'fineprint' }, 'best'))),
    synthText, row(diverse), diverseRow);

  // ---------------- block images ----------------
  const blocksStart = el('button', { id: 'viz-blocks-start', type: 'button', class: 'button' }, 'Build block image');
  const blocksCancel = el('button', { id: 'viz-blocks-cancel', type: 'button', class: 'button', disabled: true }, 'Cancel');
  const blocksProgress = el('progress', { id: 'viz-blocks-progress', max: 1, value: 0, style: { width: '14rem' } });
  const blocksCanvas = canvas(SIDE, SIDE, 'Block image', 224);
  blocksCanvas.id = 'viz-blocks-canvas';
  const blocksText = el('p', { id: 'viz-blocks-text', class: 'mono' });
  let blocksRun = null;
  blocksStart.addEventListener('click', async () => {
    clearFail();
    const ref = modelRef();
    if (!ref) return;
    blocksStart.disabled = true; blocksCancel.disabled = false;
    const run = { cancelled: false };
    blocksRun = run;
    let runId = null;
    try {
      ({ runId } = await worker.request('vizRunStart', { ...ref, kind: 'blocks', options: { blocks: 20, minimize: direction.value === 'min', selector: selectorFromControls() } }));
      blocksProgress.max = 20;
      for (;;) {
        if (run.cancelled) { blocksText.textContent += ' — cancelled'; break; }
        const r = await worker.request('vizRunAdvance', { runId, count: 1 });
        drawRgb(blocksCanvas, r.image);
        blocksProgress.value = r.step;
        blocksText.textContent = `${r.step} blocks: response ${r.startResponse.toFixed(3)} (grey) → ${r.response.toFixed(3)}`;
        blocksText.dataset.response = String(r.response);
        if (r.done) break;
      }
    } catch (e) {
      fail('block image', e);
    } finally {
      if (runId) worker.request('vizRunStop', { runId }).catch(() => {});
      blocksStart.disabled = false; blocksCancel.disabled = true;
    }
  });
  blocksCancel.addEventListener('click', () => { if (blocksRun) blocksRun.cancelled = true; });
  const blocksSection = section('Preferred images: coloured blocks', false,
    el('p', { class: 'fineprint' }, 'Start from mean grey and add, one at a time, the block (position, size 28/14/7 px, colour from eight) that raises the response most; candidates are ranked by the gradient, the best 16 evaluated exactly.'),
    row(blocksStart, blocksCancel, blocksProgress), blocksCanvas, blocksText);

  // ---------------- natural images ----------------
  const naturalBox = el('div', { id: 'viz-natural' });
  function showNatural() {
    const { entry } = getState();
    const ref = referenceOf(entry, 0);
    if (!ref?.top?.length) { naturalBox.replaceChildren(el('p', { class: 'fineprint' }, 'This build has no reference natural images for this model.')); return; }
    const strip = (title, list) => el('div', {}, el('p', {}, el('strong', {}, title)),
      el('div', { style: { display: 'flex', gap: '0.4rem', flexWrap: 'wrap' } }, ...list.map(({ image, response }) => {
        const [session, number] = String(image).split('/');
        const img = el('img', { src: `gallery/${session}/image${number}.jpg`, alt: `natural image ${image}`, width: 84, height: 84 });
        return el('figure', { style: { margin: 0 } }, img, el('figcaption', { class: 'mono fineprint' }, `${image}: ${Number(response).toFixed(2)} (${(percentileOf(response, ref.quantiles) ?? 0).toFixed(0)}%)`));
      })));
    naturalBox.replaceChildren(strip('Most preferred', ref.top), strip('Least preferred', ref.bottom));
  }
  const naturalSection = section('Natural preferred and anti-preferred images', false, naturalBox);

  // ---------------- where it looks ----------------
  const overlayKind = el('select', { id: 'viz-overlay-kind' }, el('option', { value: 'saliency' }, 'gradient × input'), el('option', { value: 'occlusion' }, 'occlusion (16 px grey patch)'), el('option', { value: 'readout' }, 'readout map'));
  const opacity = el('input', { id: 'viz-opacity', type: 'range', min: 0, max: 100, value: 60 });
  const overlayCanvas = canvas(SIDE * 2, SIDE * 2, 'Image with the attribution overlay', 336);
  overlayCanvas.id = 'viz-overlay';
  const overlayText = el('p', { id: 'viz-overlay-text', class: 'mono fineprint' });
  let overlay = null;  // {data, h, w}
  function drawOverlay() {
    const { pixels } = getState();
    const ctx = overlayCanvas.getContext('2d');
    ctx.imageSmoothingEnabled = false;
    ctx.clearRect(0, 0, overlayCanvas.width, overlayCanvas.height);
    if (pixels) {
      const base = document.createElement('canvas'); base.width = SIDE; base.height = SIDE;
      drawRgb(base, pixels);
      ctx.drawImage(base, 0, 0, overlayCanvas.width, overlayCanvas.height);
    }
    if (!overlay) return;
    const layer = document.createElement('canvas');
    drawMap(layer, overlay.data, overlay.h, overlay.w, { signed: true });
    ctx.globalAlpha = Number(opacity.value) / 100;
    ctx.imageSmoothingEnabled = overlay.h < SIDE;  // coarse maps (readout 28x28) are smoothed, pixel maps not
    ctx.drawImage(layer, 0, 0, overlayCanvas.width, overlayCanvas.height);
    ctx.globalAlpha = 1;
  }
  async function computeOverlay() {
    const state = getState();
    if (!state.model || !state.input) return;
    const payload = { ...state.model, input: state.input.slice(), selector: { layer: -1, channel: 0 } };
    overlayText.textContent = 'computing…';
    try {
      if (overlayKind.value === 'saliency') {
        const m = await worker.request('vizSaliency', payload);
        overlay = { data: m.data, h: m.shape[0], w: m.shape[1] };
        overlayText.textContent = `gradient × input, summed over colour (red raises the response, blue lowers it); response ${m.value.toFixed(3)}`;
      } else if (overlayKind.value === 'occlusion') {
        const m = await worker.request('vizOcclusion', payload);
        overlay = { data: m.perPixel.data, h: m.perPixel.shape[0], w: m.perPixel.shape[1] };
        overlayText.textContent = `occlusion: drop in response when a 16 px grey patch covers each place (red: the patch hurt); baseline ${m.baseline.toFixed(3)}, ${m.rows * m.cols} patches`;
      } else {
        const m = await worker.request('vizReadout', { ...payload, output: 0 });
        overlay = { data: m.data, h: m.shape[0], w: m.shape[1] };
        const total = m.data.reduce((a, b) => a + b, m.bias);
        overlayText.textContent = `readout: last layer's activations × readout weights per location (${m.shape[0]}×${m.shape[1]}); map sum + bias = ${total.toFixed(4)}, the response`;
        overlayText.dataset.total = String(total);
      }
      overlayText.dataset.kind = overlayKind.value;
      drawOverlay();
    } catch (e) {
      overlay = null; drawOverlay();
      overlayText.textContent = '';
      fail(overlayKind.value, e);
    }
  }
  overlayKind.addEventListener('input', computeOverlay);
  opacity.addEventListener('input', drawOverlay);
  const whereSection = section('Where it looks, for the current image', false,
    row(labelled('Map', overlayKind), labelled('Opacity', opacity)), overlayCanvas, overlayText);
  whereSection.addEventListener('toggle', () => { if (whereSection.open) computeOverlay(); });

  // ---------------- activation maps ----------------
  const actLayer = el('select', { id: 'viz-act-layer' });
  const actGrid = el('div', { id: 'viz-act-grid', style: { display: 'flex', flexWrap: 'wrap', gap: '3px' } });
  let activations = null;
  function drawActivations() {
    actGrid.replaceChildren();
    if (!activations) return;
    const l = activations[Number(actLayer.value) || 0];
    if (!l) return;
    const [h, w, c] = l.shape;
    const scale = maxAbs(l.data);
    const side = Math.max(40, Math.min(112, Math.round(5000 / Math.max(1, c))));
    for (let ch = 0; ch < c; ++ch) {
      const cv = canvas(w, h, `${l.name} channel ${ch}`, side);
      cv.dataset.channel = String(ch);
      const ctx = cv.getContext('2d');
      ctx.putImageData(mapImage(ctx, l.data, h, w, { signed: false, scale, stride: c, offset: ch }), 0, 0);
      cv.title = `${l.name}, channel ${ch} (click: switch it off in the ablation panel)`;
      cv.addEventListener('click', () => { ablLayer.value = String(Number(actLayer.value)); fillAblChannels(); ablChannel.value = String(ch); ablScale.value = '0'; applyAblation(); });
      actGrid.append(cv);
    }
  }
  async function computeActivations() {
    const state = getState();
    if (!state.model || !state.input) return;
    try {
      activations = await worker.request('activations', { ...state.model, input: state.input.slice() });
      if (actLayer.options.length !== activations.length)
        actLayer.replaceChildren(...activations.map((l, i) => el('option', { value: i }, `${i}: ${l.name} (${l.shape.join('×')})`)));
      drawActivations();
    } catch (e) { fail('activations', e); }
  }
  actLayer.addEventListener('input', drawActivations);
  const actSection = section('Activation maps of every layer', false,
    el('p', { class: 'fineprint' }, 'Each channel of the chosen layer for the current image (after ReLU; one brightness scale per layer). Click a map to switch that channel off below.'),
    row(labelled('Layer', actLayer)), actGrid);
  actSection.addEventListener('toggle', () => { if (actSection.open) computeActivations(); });

  // ---------------- weights ----------------
  const weightsBox = el('div', { id: 'viz-weights' });
  async function showWeights() {
    try {
      const layers = await ensureWeights();
      weightsBox.replaceChildren();
      const first = layers[0];
      if (first?.kind === 'conv2d' && first.shape[2] === 3) {
        // First-layer filters as RGB images: each filter scaled so its largest |weight| maps to +-127 around grey.
        const [kh, kw, , out] = first.shape;
        const tiles = [];
        for (let o = 0; o < out; ++o) {
          let m = 0;
          for (let i = 0; i < kh * kw * 3; ++i) m = Math.max(m, Math.abs(first.weights[i * out + o]));
          const px = new Uint8Array(kh * kw * 3);
          for (let i = 0; i < kh * kw * 3; ++i) px[i] = Math.round(128 + 127 * first.weights[i * out + o] / (m || 1));
          const cv = canvas(kw, kh, `first-layer filter ${o}`, 40);
          drawRgb(cv, px, kw, kh);
          tiles.push(cv);
        }
        weightsBox.append(el('p', {}, el('strong', {}, `First layer: ${out} filters, ${kh}×${kw} RGB`)), el('div', { id: 'viz-filters', style: { display: 'flex', flexWrap: 'wrap', gap: '3px' } }, ...tiles));
      }
      layers.forEach((l, i) => {
        if (l.kind === 'depthwise_conv2d' && l.shape[0] * l.shape[1] <= 81) {
          const [kh, kw, c] = l.shape;
          const scale = maxAbs(l.weights);
          const tiles = [];
          for (let ch = 0; ch < c; ++ch) {
            const cv = canvas(kw, kh, `${l.name} kernel ${ch}`, 32);
            const ctx = cv.getContext('2d');
            ctx.putImageData(mapImage(ctx, l.weights, kh, kw, { signed: true, scale, stride: c, offset: ch }), 0, 0);
            tiles.push(cv);
          }
          weightsBox.append(el('p', {}, el('strong', {}, `Layer ${i} (${l.name}): ${c} depthwise ${kh}×${kw} kernels`)), el('div', { class: 'viz-depthwise', style: { display: 'flex', flexWrap: 'wrap', gap: '3px' } }, ...tiles));
        } else if (l.kind === 'conv2d' && l.shape[0] === 1 && l.shape[1] === 1 && i > 0) {
          // Pointwise mixing (the paper's consolidation): rows = input channels, columns = output channels.
          const [, , cin, cout] = l.shape;
          const cv = canvas(cout, cin, `${l.name} mixing matrix ${cin} by ${cout}`, Math.min(420, cout * 5));
          cv.classList.add('viz-mixing');
          drawMap(cv, l.weights, cin, cout, { signed: true });
          weightsBox.append(el('p', {}, el('strong', {}, `Layer ${i} (${l.name}): pointwise mixing ${cin} → ${cout}`), el('span', { class: 'fineprint' }, ' rows: input channels, columns: output channels; red positive, blue negative')), cv);
        } else if (l.kind === 'dense' && l.input[0] > 1) {
          // Readout weights as one (H, W) map per input channel, for the first output.
          const [h, w, c] = l.input;
          const units = l.output[2];
          const scale = maxAbs(l.weights);
          const tiles = [];
          for (let ch = 0; ch < c; ++ch) {
            const cv = canvas(w, h, `readout weights for channel ${ch}`, 56);
            const ctx = cv.getContext('2d');
            ctx.putImageData(mapImage(ctx, l.weights, h, w, { signed: true, scale, stride: c * units, offset: ch * units }), 0, 0);
            tiles.push(cv);
          }
          weightsBox.append(el('p', {}, el('strong', {}, `Readout (${l.name}): ${h}×${w} weights for each of ${c} channels`)), el('div', { id: 'viz-readout-weights', style: { display: 'flex', flexWrap: 'wrap', gap: '3px' } }, ...tiles));
        }
      });
    } catch (e) { fail('weights', e); }
  }
  const weightsSection = section('Inside the model: filters, kernels, mixing, readout', false, weightsBox);
  weightsSection.addEventListener('toggle', () => { if (weightsSection.open) showWeights(); });

  // ---------------- ablation ----------------
  const ablLayer = el('select', { id: 'viz-abl-layer' });
  const ablChannel = el('select', { id: 'viz-abl-channel' });
  const ablScale = el('input', { id: 'viz-abl-scale', type: 'range', min: 0, max: 200, value: 0 });
  const ablApply = el('button', { id: 'viz-abl-apply', type: 'button', class: 'button' }, 'Apply');
  const ablReset = el('button', { id: 'viz-abl-reset', type: 'button', class: 'button' }, 'Reset');
  const ablList = el('ul', { id: 'viz-abl-list', class: 'mono fineprint' });
  const ablText = el('p', { id: 'viz-abl-text', class: 'mono' });
  const ablGallery = el('table', { id: 'viz-abl-gallery', class: 'mono fineprint' });
  let ablations = [];
  // The gallery the ablation is also shown on: the page's own patterns, plus the model's reference top and bottom
  // natural images when the build has them. Inputs come from the page's worker (decodeImage + cropImage), so they
  // are exactly what the model sees elsewhere on the page.
  let galleryInputs = null;
  let galleryFor = null;
  async function loadGallery() {
    const state = getState();
    if (galleryFor === state.model?.key && galleryInputs) return galleryInputs;
    const items = [];
    try {
      const index = await (await fetch('gallery/index.json')).json();
      for (const own of (index.own || []).slice(0, 8)) items.push({ label: own.title || own.id, url: own.url });
    } catch (e) { /* no gallery in this build */ }
    const ref = referenceOf(state.entry, 0);
    for (const [kind, list] of [['top', ref?.top], ['bottom', ref?.bottom]])
      for (const { image } of (list || []).slice(0, 3)) {
        const [session, number] = String(image).split('/');
        items.push({ label: `${kind}: ${image}`, url: `gallery/${session}/image${number}.jpg` });
      }
    const loaded = [];
    for (const item of items) {
      try {
        const bytes = await (await fetch(item.url)).arrayBuffer();
        const { imageId } = await worker.request('decodeImage', { bytes, name: item.url }, { transfer: [bytes] });
        const { input } = await worker.request('cropImage', { imageId, crop: null });
        loaded.push({ ...item, input });
      } catch (e) { /* an image that cannot be loaded is left out */ }
    }
    galleryInputs = loaded;
    galleryFor = state.model?.key;
    return loaded;
  }
  function fillAblChannels() {
    const l = info?.[Number(ablLayer.value)];
    if (!l) return;
    const keep = ablChannel.value;
    ablChannel.replaceChildren(...Array.from({ length: l.output[2] }, (_, c) => el('option', { value: c }, String(c))));
    if (keep && Number(keep) < l.output[2]) ablChannel.value = keep;
  }
  async function refreshAblation() {
    const state = getState();
    if (!state.model || !state.input) return;
    try {
      const gallery = await loadGallery();
      const inputs = gallery.map((g) => g.input.slice());
      const plain = await worker.request('vizAblate', { ...state.model, input: state.input.slice(), ablations: [], inputs });
      const r = await worker.request('vizAblate', { ...state.model, input: state.input.slice(), ablations, inputs: gallery.map((g) => g.input.slice()) });
      ablGallery.replaceChildren(el('tr', {}, el('th', {}, 'gallery image'), el('th', {}, 'response'), el('th', {}, 'with the changes')),
        ...gallery.map((g, i) => el('tr', {}, el('td', {}, g.label), el('td', {}, plain.each[i].toFixed(3)), el('td', { 'data-after': r.each[i] }, r.each[i].toFixed(3)))));
      const before = plain.outputs[0], after = r.outputs[0];
      ablText.textContent = `${describe(before, state.entry, 0)} → with ${ablations.length} change${ablations.length === 1 ? '' : 's'}: ${describe(after, state.entry, 0)}`;
      ablText.dataset.before = String(before);
      ablText.dataset.after = String(after);
      ablList.replaceChildren(...ablations.map((a) => el('li', {}, `layer ${a.layer} (${info?.[a.layer]?.name ?? ''}) channel ${a.channel} × ${a.scale}`)));
    } catch (e) { fail('ablation', e); }
  }
  function applyAblation() {
    const a = { layer: Number(ablLayer.value), channel: Number(ablChannel.value), scale: Number(ablScale.value) / 100 };
    ablations = ablations.filter((x) => x.layer !== a.layer || x.channel !== a.channel).concat(a.scale === 1 ? [] : [a]);
    refreshAblation();
  }
  ablLayer.addEventListener('input', fillAblChannels);
  ablApply.addEventListener('click', applyAblation);
  ablScale.addEventListener('change', applyAblation);
  ablReset.addEventListener('click', () => { ablations = []; refreshAblation(); });
  const ablSection = section('Ablation: switch channels off or scale them', false,
    el('p', { class: 'fineprint' }, 'Scale one channel of one layer (0 = off, 100 = unchanged, 200 = doubled); the responses to the current image and to the gallery update at once. Changes add up until Reset.'),
    row(labelled('Layer', ablLayer), labelled('Channel', ablChannel), labelled('Scale %', ablScale), ablApply, ablReset), ablText, ablList, ablGallery);
  ablSection.addEventListener('toggle', async () => {
    if (!ablSection.open) return;
    try {
      await ensureWeights();
      if (ablLayer.options.length !== info.length)
        ablLayer.replaceChildren(...info.map((l, i) => el('option', { value: i }, `${i}: ${l.name}`)));
      fillAblChannels();
      refreshAblation();
    } catch (e) { fail('ablation', e); }
  });

  // ---------------- assembly and state changes ----------------
  container.append(el('div', { class: 'viz-panel' }, status, errorBox, synthSection, blocksSection, naturalSection, whereSection, actSection, weightsSection, ablSection));

  async function onState() {
    const state = getState();
    status.textContent = state.entry ? `Model: ${state.entry.name || state.neuronId}` : 'Choose a neuron to look inside.';
    if (modelRef()?.key !== infoKey) {
      info = null; infoKey = null; ablations = [];
      try {
        const layers = await ensureWeights();
        target.replaceChildren(el('option', { value: '-1' }, 'model output'), ...layers.map((l, i) => el('option', { value: i }, `layer ${i}: ${l.name} (channel mean)`)));
      } catch (e) { /* no model yet */ }
    }
    showNatural();
    if (whereSection.open) computeOverlay();
    else drawOverlay();
    if (actSection.open) computeActivations();
    if (weightsSection.open) showWeights();
    if (ablSection.open) { ablLayer.replaceChildren(...(info || []).map((l, i) => el('option', { value: i }, `${i}: ${l.name}`))); fillAblChannels(); refreshAblation(); }
  }
  onStateChange(() => { onState(); });
  onState();
}
