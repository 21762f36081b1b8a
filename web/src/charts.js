// Small canvas charts (no chart library: these three drawings are ~200 lines, a library would be ~50 KB gzip).
// Every chart draws at the canvas's CSS width times devicePixelRatio, so it is sharp on phones.

const COLORS = {
  ink: '#17212b',
  soft: '#4a5866',
  grid: '#e4dfd3',
  fill: '#9fb8d0',
  accent: '#0b5cad',
  warm: '#c2570c',
  shared: '#8aa6c1',
};

function setup(canvas, aspect) {
  const dpr = window.devicePixelRatio || 1;
  const width = Math.max(200, canvas.clientWidth || canvas.width);
  const height = Math.round(width * aspect);
  if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.font = '12px system-ui, sans-serif';
  return { ctx, width, height };
}

function niceTicks(min, max, count = 5) {
  const span = max - min || 1;
  const step0 = span / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) || mag * 10;
  const ticks = [];
  for (let t = Math.ceil(min / step) * step; t <= max + 1e-12; t += step) ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return ticks;
}

const fmt = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(2));

/** The reference distribution as a histogram built from its percentiles (each gap between neighbouring
 * percentiles holds 1% of the images), with the current response marked. */
export function drawDistribution(canvas, quantiles, marks = []) {
  const { ctx, width, height } = setup(canvas, 0.34);
  // The top band holds the title and the marks' labels, so no label sits on the bars.
  const pad = { l: 12, r: 12, t: 44, b: 30 };
  if (!quantiles) {
    ctx.fillStyle = COLORS.soft;
    ctx.fillText('No reference distribution for this model in this build.', pad.l, height / 2);
    return;
  }
  const lo = quantiles[0],
    hi = quantiles[quantiles.length - 1];
  const marksIn = marks.filter((m) => Number.isFinite(m.value));
  const min = Math.min(lo, ...marksIn.map((m) => m.value)),
    max = Math.max(hi, ...marksIn.map((m) => m.value));
  const span = max - min || 1;
  const x = (v) => pad.l + ((v - min) / span) * (width - pad.l - pad.r);
  // 40 equal-width bins; the mass of each comes from the percentile function.
  const bins = 40,
    mass = new Float64Array(bins);
  const binW = (hi - lo) / bins || 1;
  for (let i = 0; i + 1 < quantiles.length; ++i) {
    const a = quantiles[i],
      b = quantiles[i + 1],
      share = 1 / (quantiles.length - 1);
    if (b <= a) {
      mass[Math.min(bins - 1, Math.floor((a - lo) / binW))] += share;
      continue;
    }
    for (let k = Math.max(0, Math.floor((a - lo) / binW)); k < bins && lo + k * binW < b; ++k) {
      const overlap = Math.min(b, lo + (k + 1) * binW) - Math.max(a, lo + k * binW);
      if (overlap > 0) mass[k] += (share * overlap) / (b - a);
    }
  }
  const peak = Math.max(...mass) || 1;
  const base = height - pad.b;
  ctx.fillStyle = COLORS.fill;
  for (let k = 0; k < bins; ++k) {
    const h = (mass[k] / peak) * (base - pad.t);
    ctx.fillRect(x(lo + k * binW) + 0.5, base - h, Math.max(1, x(lo + (k + 1) * binW) - x(lo + k * binW) - 1), h);
  }
  ctx.strokeStyle = COLORS.grid;
  ctx.beginPath();
  ctx.moveTo(pad.l, base + 0.5);
  ctx.lineTo(width - pad.r, base + 0.5);
  ctx.stroke();
  ctx.fillStyle = COLORS.soft;
  ctx.textAlign = 'center';
  for (const t of niceTicks(min, max, 6)) ctx.fillText(fmt(t), x(t), base + 16);
  ctx.textAlign = 'left';
  ctx.fillText('reference natural images: model response →', pad.l, 14);
  for (const m of marksIn) {
    ctx.strokeStyle = m.color || COLORS.warm;
    ctx.lineWidth = m.width || 3;
    ctx.setLineDash(m.dash || []);
    ctx.beginPath();
    ctx.moveTo(x(m.value), 22 + (m.row || 0) * 12);
    ctx.lineTo(x(m.value), base);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.lineWidth = 1;
    if (m.label) {
      ctx.fillStyle = m.color || COLORS.warm;
      ctx.textAlign = x(m.value) > width * 0.7 ? 'right' : 'left';
      ctx.fillText(m.label, x(m.value) + (ctx.textAlign === 'right' ? -6 : 6), 30 + (m.row || 0) * 12);
      ctx.textAlign = 'left';
    }
  }
}

/** Percentiles of every neuron, sorted descending. bars: [{id, percentile, exact}]; returns the layout so the
 * caller can map a pointer position to a bar. */
export function drawPopulation(canvas, bars, selectedId) {
  const { ctx, width, height } = setup(canvas, 0.36);
  const pad = { l: 34, r: 8, t: 10, b: 22 };
  const base = height - pad.b;
  const plotH = base - pad.t;
  ctx.strokeStyle = COLORS.grid;
  ctx.fillStyle = COLORS.soft;
  ctx.textAlign = 'right';
  for (const t of [0, 25, 50, 75, 100]) {
    const y = base - (t / 100) * plotH;
    ctx.beginPath();
    ctx.moveTo(pad.l, y + 0.5);
    ctx.lineTo(width - pad.r, y + 0.5);
    ctx.stroke();
    ctx.fillText(String(t), pad.l - 6, y + 4);
  }
  ctx.textAlign = 'left';
  const sorted = bars.filter((b) => Number.isFinite(b.percentile)).sort((a, b) => b.percentile - a.percentile);
  const n = Math.max(sorted.length, 1);
  const step = (width - pad.l - pad.r) / n;
  sorted.forEach((b, i) => {
    const h = (b.percentile / 100) * plotH;
    ctx.fillStyle = b.id === selectedId ? COLORS.warm : b.exact ? COLORS.accent : COLORS.shared;
    ctx.fillRect(pad.l + i * step, base - h, Math.max(1, step - (step > 3 ? 1 : 0)), h);
  });
  ctx.fillStyle = COLORS.soft;
  ctx.fillText(`${sorted.length} neurons, sorted by percentile`, pad.l, height - 6);
  return { sorted, pad, step, width, height };
}

// An axis label longer than its axis (a phone) loses its parenthesis: 'recorded response (spikes ...)' -> 'recorded
// response'; the units stay in the CSV and on wider screens.
function fitLabel(ctx, label = '', room) {
  return ctx.measureText(label).width <= room ? label : label.replace(/\s*\(.*\)\s*$/, '');
}

/** Predicted vs recorded, with the least-squares line. Returns a function mapping a pointer to the nearest point. */
export function drawScatter(canvas, xs, ys, { xLabel, yLabel, highlight = -1 } = {}) {
  const { ctx, width, height } = setup(canvas, 0.75);
  const pad = { l: 52, r: 12, t: 12, b: 40 };
  const ext = (v) => {
    let a = Infinity,
      b = -Infinity;
    for (const t of v) {
      if (t < a) a = t;
      if (t > b) b = t;
    }
    const m = (b - a) * 0.05 || 1;
    return [a - m, b + m];
  };
  const [x0, x1] = ext(xs),
    [y0, y1] = ext(ys);
  const px = (v) => pad.l + ((v - x0) / (x1 - x0)) * (width - pad.l - pad.r);
  const py = (v) => height - pad.b - ((v - y0) / (y1 - y0)) * (height - pad.t - pad.b);
  ctx.strokeStyle = COLORS.grid;
  ctx.fillStyle = COLORS.soft;
  ctx.textAlign = 'center';
  for (const t of niceTicks(x0, x1)) {
    ctx.beginPath();
    ctx.moveTo(px(t), pad.t);
    ctx.lineTo(px(t), height - pad.b);
    ctx.stroke();
    ctx.fillText(fmt(t), px(t), height - pad.b + 14);
  }
  ctx.textAlign = 'right';
  for (const t of niceTicks(y0, y1)) {
    ctx.beginPath();
    ctx.moveTo(pad.l, py(t));
    ctx.lineTo(width - pad.r, py(t));
    ctx.stroke();
    ctx.fillText(fmt(t), pad.l - 6, py(t) + 4);
  }
  ctx.textAlign = 'center';
  ctx.fillText(fitLabel(ctx, xLabel, width - pad.l - pad.r), (pad.l + width - pad.r) / 2, height - 6);
  ctx.save();
  ctx.translate(12, (pad.t + height - pad.b) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(fitLabel(ctx, yLabel, height - pad.t - pad.b), 0, 0);
  ctx.restore();
  ctx.fillStyle = 'rgba(11, 92, 173, 0.45)';
  for (let i = 0; i < xs.length; ++i) {
    ctx.beginPath();
    ctx.arc(px(xs[i]), py(ys[i]), 2.6, 0, 2 * Math.PI);
    ctx.fill();
  }
  // Least-squares line of recorded on predicted, to show the trend (r does not depend on it).
  let mx = 0,
    my = 0;
  for (let i = 0; i < xs.length; ++i) {
    mx += xs[i];
    my += ys[i];
  }
  mx /= xs.length;
  my /= xs.length;
  let sxy = 0,
    sxx = 0;
  for (let i = 0; i < xs.length; ++i) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  const slope = sxx ? sxy / sxx : 0;
  ctx.strokeStyle = COLORS.warm;
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(px(x0), py(my + slope * (x0 - mx)));
  ctx.lineTo(px(x1), py(my + slope * (x1 - mx)));
  ctx.stroke();
  ctx.lineWidth = 1;
  if (highlight >= 0) {
    ctx.strokeStyle = COLORS.ink;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(px(xs[highlight]), py(ys[highlight]), 6, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.lineWidth = 1;
  }
  return (cx, cy) => {
    let best = -1,
      bestD = 15 * 15;
    for (let i = 0; i < xs.length; ++i) {
      const d = (px(xs[i]) - cx) ** 2 + (py(ys[i]) - cy) ** 2;
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
    return best;
  };
}
