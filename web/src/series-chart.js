// A small line/point chart for the experiment views (a path's responses, r against model size): one or more series
// over a shared x axis, drawn at the canvas's CSS width times devicePixelRatio. No chart library, as charts.js.

const COLORS = { ink: '#17212b', soft: '#4a5866', grid: '#e4dfd3' };

function ticks(min, max, count = 5) {
  const span = max - min || 1;
  const mag = 10 ** Math.floor(Math.log10(span / count));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) || mag * 10;
  const out = [];
  for (let t = Math.ceil(min / step) * step; t <= max + 1e-12; t += step) out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return out;
}

const label = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toPrecision(2));

/**
 * series: [{values: number[] (NaN = no point), color, name, dashed?, points?}] over xs (ascending);
 * options: {yMin?, yMax?, xLabel, yLabel, title, logX?, xTicks?: [{x, text}], highlightX?, aspect?}.
 * Returns the layout {x(v), y(v)} so callers can place marks.
 */
export function drawSeries(canvas, xs, series, options = {}) {
  const dpr = window.devicePixelRatio || 1;
  const width = Math.max(240, canvas.clientWidth || canvas.width);
  const height = Math.round(width * (options.aspect ?? 0.42));
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  ctx.font = '12px system-ui, sans-serif';
  const pad = { l: 52, r: 14, t: 44, b: 40 };
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  let yMin = options.yMin ?? Math.min(...all, 0);
  let yMax = options.yMax ?? Math.max(...all, 0);
  if (!(yMax > yMin)) [yMin, yMax] = [yMin - 1, yMin + 1];
  const fx = options.logX ? Math.log : (v) => v;
  const x0 = fx(xs[0]),
    x1 = fx(xs[xs.length - 1]);
  const x = (v) => pad.l + (xs.length < 2 || x1 === x0 ? 0.5 : (fx(v) - x0) / (x1 - x0)) * (width - pad.l - pad.r);
  const y = (v) => pad.t + (1 - (v - yMin) / (yMax - yMin)) * (height - pad.t - pad.b);

  drawAxes(ctx, { x, y, width, height, pad, yMin, yMax, xs }, options);
  let legendX = width - pad.r;
  ctx.textAlign = 'right';
  for (const s of [...series].reverse()) {
    if (!s.name) continue;
    ctx.fillStyle = s.color;
    ctx.fillText(s.name, legendX, 34);
    legendX -= ctx.measureText(s.name).width + 16;
  }
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.fillStyle = s.color;
    ctx.lineWidth = 2;
    ctx.setLineDash(s.dashed ? [5, 4] : []);
    ctx.beginPath();
    let drawing = false;
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) {
        drawing = false;
        return;
      }
      if (drawing) ctx.lineTo(x(xs[i]), y(v));
      else ctx.moveTo(x(xs[i]), y(v));
      drawing = true;
    });
    if (s.line !== false) ctx.stroke();
    ctx.setLineDash([]);
    if (s.points !== false)
      s.values.forEach((v, i) => {
        if (!Number.isFinite(v)) return;
        ctx.beginPath();
        ctx.arc(x(xs[i]), y(v), 3, 0, 2 * Math.PI);
        ctx.fill();
      });
  }
  return { x, y, width, height };
}

function drawAxes(ctx, { x, y, width, height, pad, yMin, yMax, xs }, options) {
  ctx.strokeStyle = COLORS.grid;
  ctx.fillStyle = COLORS.soft;
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  for (const t of ticks(yMin, yMax)) {
    ctx.beginPath();
    ctx.moveTo(pad.l, y(t));
    ctx.lineTo(width - pad.r, y(t));
    ctx.stroke();
    ctx.fillText(label(t), pad.l - 6, y(t) + 4);
  }
  ctx.textAlign = 'center';
  const xTicks = options.xTicks ?? ticks(xs[0], xs[xs.length - 1]).map((v) => ({ x: v, text: label(v) }));
  for (const t of xTicks) ctx.fillText(t.text, x(t.x), height - pad.b + 16);
  if (options.highlightX != null) {
    ctx.strokeStyle = '#c2570c';
    ctx.setLineDash([4, 3]);
    ctx.beginPath();
    ctx.moveTo(x(options.highlightX), pad.t);
    ctx.lineTo(x(options.highlightX), height - pad.b);
    ctx.stroke();
    ctx.setLineDash([]);
  }
  ctx.fillStyle = COLORS.ink;
  ctx.fillText(options.xLabel || '', pad.l + (width - pad.l - pad.r) / 2, height - 6);
  ctx.textAlign = 'left';
  ctx.fillText(options.title || '', pad.l, 16);
  ctx.save();
  ctx.translate(12, pad.t + (height - pad.t - pad.b) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = 'center';
  ctx.fillText(options.yLabel || '', 0, 0);
  ctx.restore();
}
