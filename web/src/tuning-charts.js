// Canvas drawings of the "Tuning" view: a tuning curve with its stimuli under the axis and a percentile scale, a
// two-parameter heatmap, and the population heatmap (neurons x stimuli). Drawn at the canvas's CSS width times
// devicePixelRatio, as charts.js does.
import { colourOf } from './draw.js';
import { formatValue } from './probes.js';

const SIDE = 112;
const INK = '#17212b';
const SOFT = '#4a5866';
const GRID = '#e4dfd3';
const ACCENT = '#0b5cad';

function setup(canvas, height) {
  const dpr = window.devicePixelRatio || 1;
  const width = Math.max(240, canvas.clientWidth || canvas.width);
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height(width) * dpr);
  canvas.style.height = `${Math.round(height(width))}px`;
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height(width));
  ctx.font = '12px system-ui, sans-serif';
  return { ctx, width, height: height(width) };
}

// Stimulus k of a (points x 112 x 112 x 3) buffer as a canvas that drawImage can scale.
function stimulusCanvas(stimuli, k) {
  const c = document.createElement('canvas');
  c.width = SIDE;
  c.height = SIDE;
  const ctx = c.getContext('2d');
  const image = ctx.createImageData(SIDE, SIDE);
  const offset = k * SIDE * SIDE * 3;
  for (let i = 0; i < SIDE * SIDE; ++i) {
    image.data[4 * i] = stimuli[offset + 3 * i];
    image.data[4 * i + 1] = stimuli[offset + 3 * i + 1];
    image.data[4 * i + 2] = stimuli[offset + 3 * i + 2];
    image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
  return c;
}

// Percentile 0..100 -> blue (below the median natural image) - white (median) - red (above).
export const percentileColour = (p) => colourOf((p - 50) / 50, 1, true);
const css = ([r, g, b]) => `rgb(${r},${g},${b})`;

function niceTicks(min, max, count = 5) {
  const span = max - min || 1;
  const mag = 10 ** Math.floor(Math.log10(span / count));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) || mag * 10;
  const ticks = [];
  for (let t = Math.ceil(min / step) * step; t <= max + 1e-12; t += step) ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return ticks;
}
const fmt = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(2));

/** One neuron's tuning curve: x = the swept values, y = the response (left axis, raw model units), the reference
 * distribution's percentiles as dashed lines (right axis), the stimuli under the x axis. Returns the layout (for
 * pointer read-outs). */
export function drawCurve(canvas, { axis, responses, stimuli, quantiles, unit }) {
  const n = axis.values.length;
  const thumbsShown = Math.min(n, 16);
  const { ctx, width, height } = setup(canvas, (w) => Math.round(Math.min(420, w * 0.42)) + Math.min(64, w / 12) + 34);
  const thumb = Math.min(64, width / 12);
  const pad = { l: 62, r: 44, t: 14, b: thumb + 34 };
  const plotH = height - pad.t - pad.b;
  const xs = axis.values;
  const xmin = Math.min(...xs),
    xmax = Math.max(...xs);
  // Evenly spaced values (0:165:15) on a linear axis; a list such as 2,3,4,6,8,...,48 one slot per value, so its
  // stimuli do not pile up at the small end.
  const even = xs.every((v, i) => i < 2 || Math.abs(v - xs[i - 1] - (xs[1] - xs[0])) <= 1e-9 * (xmax - xmin || 1));
  const slot = (v) => (even ? (xmax > xmin ? (v - xmin) / (xmax - xmin) : 0.5) : n > 1 ? xs.indexOf(v) / (n - 1) : 0.5);
  const x = (v) => pad.l + slot(v) * (width - pad.l - pad.r);
  let ymin = Math.min(...responses),
    ymax = Math.max(...responses);
  if (quantiles) {
    ymin = Math.min(ymin, quantiles[1]);
    ymax = Math.max(ymax, quantiles[99]);
  }
  const margin = (ymax - ymin) * 0.06 || 1;
  ymin -= margin;
  ymax += margin;
  const y = (v) => pad.t + (1 - (v - ymin) / (ymax - ymin)) * plotH;
  ctx.strokeStyle = GRID;
  ctx.fillStyle = SOFT;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const t of niceTicks(ymin, ymax)) {
    ctx.beginPath();
    ctx.moveTo(pad.l, y(t));
    ctx.lineTo(width - pad.r, y(t));
    ctx.stroke();
    ctx.fillText(fmt(t), pad.l - 6, y(t));
  }
  // The percentile scale: where 1%, 10%, 50%, 90% and 99% of the natural reference images fall.
  if (quantiles) {
    ctx.textAlign = 'left';
    ctx.setLineDash([4, 4]);
    for (const p of [1, 10, 50, 90, 99]) {
      const v = quantiles[p];
      if (v < ymin || v > ymax) continue;
      ctx.strokeStyle = css(percentileColour(p));
      ctx.beginPath();
      ctx.moveTo(pad.l, y(v));
      ctx.lineTo(width - pad.r, y(v));
      ctx.stroke();
      ctx.fillStyle = SOFT;
      ctx.fillText(`p${p}`, width - pad.r + 6, y(v));
    }
    ctx.setLineDash([]);
  }
  ctx.strokeStyle = ACCENT;
  ctx.lineWidth = 2;
  ctx.beginPath();
  xs.forEach((v, i) => {
    if (i) ctx.lineTo(x(v), y(responses[i]));
    else ctx.moveTo(x(v), y(responses[i]));
  });
  ctx.stroke();
  ctx.lineWidth = 1;
  ctx.fillStyle = ACCENT;
  for (let i = 0; i < n; ++i) {
    ctx.beginPath();
    ctx.arc(x(xs[i]), y(responses[i]), 3, 0, 2 * Math.PI);
    ctx.fill();
  }
  // The stimuli under the axis (at most 16, evenly picked), each centred on its value.
  const every = Math.ceil(n / thumbsShown);
  const size = Math.min(thumb, ((width - pad.l - pad.r) / Math.ceil(n / every)) * 0.92);
  ctx.imageSmoothingEnabled = true;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  ctx.fillStyle = INK;
  for (let i = 0; i < n; i += every) {
    const cx = Math.max(size / 2, Math.min(width - size / 2, x(xs[i])));
    if (stimuli) ctx.drawImage(stimulusCanvas(stimuli, i), cx - size / 2, pad.t + plotH + 6, size, size);
    ctx.fillText(formatValue(xs[i]), cx, pad.t + plotH + 8 + size);
  }
  ctx.fillStyle = SOFT;
  ctx.textAlign = 'left';
  ctx.fillText(`${axis.name}${unit ? ` (${unit})` : ''}`, pad.l, height - 14);
  ctx.save();
  ctx.translate(12, pad.t + plotH / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = 'center';
  ctx.fillText('model response', 0, 0);
  ctx.restore();
  return { pad, x, xs };
}

/** Two parameters: rows = axes[0] values (top to bottom), columns = axes[1]; each cell coloured by percentile (or
 * by the raw response, min to max, without a reference); thumbnails of the first column's and first row's
 * stimuli along the axes. */
export function drawHeatmap(canvas, { axes, responses, stimuli, quantiles }) {
  const [rows, cols] = [axes[0].values.length, axes[1].values.length];
  const { ctx, width, height } = setup(canvas, (w) => Math.min(520, w * 0.8));
  const thumb = Math.min(40, (height - 40) / rows, (width - 120) / cols);
  const pad = { l: thumb + 52, r: 12, t: 8, b: thumb + 40 };
  const cw = (width - pad.l - pad.r) / cols,
    ch = (height - pad.t - pad.b) / rows;
  let lo = Infinity,
    hi = -Infinity;
  for (const v of responses) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  for (let r = 0; r < rows; ++r)
    for (let c = 0; c < cols; ++c) {
      const v = responses[r * cols + c];
      const p = quantiles ? percentileOfRef(v, quantiles) : hi > lo ? ((v - lo) / (hi - lo)) * 100 : 50;
      ctx.fillStyle = css(percentileColour(p));
      ctx.fillRect(pad.l + c * cw, pad.t + r * ch, Math.ceil(cw), Math.ceil(ch));
    }
  ctx.fillStyle = INK;
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'right';
  for (let r = 0; r < rows; ++r) {
    const cy = pad.t + (r + 0.5) * ch;
    if (stimuli) ctx.drawImage(stimulusCanvas(stimuli, r * cols), pad.l - thumb - 2, cy - thumb / 2, thumb, thumb);
    ctx.fillText(formatValue(axes[0].values[r]), pad.l - thumb - 6, cy);
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (let c = 0; c < cols; ++c) {
    const cx = pad.l + (c + 0.5) * cw;
    if (stimuli) ctx.drawImage(stimulusCanvas(stimuli, c), cx - thumb / 2, height - pad.b + 4, thumb, thumb);
    ctx.fillText(formatValue(axes[1].values[c]), cx, height - pad.b + thumb + 6);
  }
  ctx.fillStyle = SOFT;
  ctx.fillText(`${axes[1].name} →`, pad.l + (width - pad.l - pad.r) / 2, height - 16);
  ctx.save();
  ctx.translate(10, pad.t + (height - pad.t - pad.b) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(`${axes[0].name} →`, 0, 0);
  ctx.restore();
  return { pad, cw, ch, rows, cols };
}

// The same interpolation as reference.js's percentileOf (kept local so this module draws without the store).
function percentileOfRef(value, q) {
  const n = q.length - 1;
  if (value <= q[0]) return 0;
  if (value >= q[n]) return 100;
  let lo = 0,
    hi = n;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (q[mid] <= value) lo = mid;
    else hi = mid;
  }
  const span = q[hi] - q[lo];
  return ((lo + (span > 0 ? (value - q[lo]) / span : 0)) / n) * 100;
}

/** All neurons through the shared model: rows = neurons in `order`, columns = stimuli; cell colour = the neuron's
 * percentile. percentiles: Float32Array (neurons x points). The current neuron's row is marked. */
export function drawPopulationHeatmap(canvas, { order, percentiles, points, current, stimuli, labels }) {
  const rows = order.length;
  const { ctx, width, height } = setup(canvas, (w) => Math.min(560, Math.max(320, w * 0.6)));
  const thumb = stimuli ? Math.min(36, (width - 80) / points) : 0;
  const pad = { l: 14, r: 12, t: 6, b: thumb + 22 };
  const cw = (width - pad.l - pad.r) / points,
    ch = (height - pad.t - pad.b) / rows;
  for (let r = 0; r < rows; ++r) {
    const neuron = order[r];
    for (let c = 0; c < points; ++c) {
      ctx.fillStyle = css(percentileColour(percentiles[neuron * points + c]));
      ctx.fillRect(pad.l + c * cw, pad.t + r * ch, Math.ceil(cw), Math.ceil(ch) + 0.5);
    }
  }
  const currentRow = order.indexOf(current);
  if (currentRow >= 0) {
    ctx.fillStyle = INK;
    ctx.beginPath();
    const cy = pad.t + (currentRow + 0.5) * ch;
    ctx.moveTo(2, cy - 5);
    ctx.lineTo(pad.l - 2, cy);
    ctx.lineTo(2, cy + 5);
    ctx.fill();
  }
  ctx.fillStyle = INK;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  const every = Math.ceil(points / Math.max(1, Math.floor((width - pad.l - pad.r) / 40)));
  for (let c = 0; c < points; c += every) {
    const cx = pad.l + (c + 0.5) * cw;
    if (stimuli) ctx.drawImage(stimulusCanvas(stimuli, c), cx - thumb / 2, height - pad.b + 3, thumb, thumb);
    if (labels) ctx.fillText(labels[c], cx, height - pad.b + thumb + 5);
  }
  return { pad, cw, ch };
}
