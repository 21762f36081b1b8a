// Drawing RGB images and value maps into canvases, pixel for pixel: the model sees 112 x 112 pixels, and a map is
// shown at its own resolution and scaled up by CSS (image-rendering: pixelated, class `viz-canvas` in styles.css),
// so what a canvas holds is exactly what was computed (the tests read canvases back).
import { h, downloadBlob } from './dom.js';

export const SIDE = 112;

// A canvas of width x height pixels shown displaySide CSS pixels wide; its height follows (class `viz-canvas`:
// height auto). A size computed per canvas goes through the CSSOM, which the page's Content-Security-Policy allows.
export function canvas(width, height, label, displaySide = width) {
  const c = h('canvas', { width, height, role: 'img', 'aria-label': label, class: 'viz-canvas' });
  c.style.width = `${displaySide}px`;
  return c;
}

// RGB (height, width, 3) bytes -> the canvas (its pixels, not its display size).
export function drawRgb(target, pixels, width = SIDE, height = SIDE) {
  const ctx = target.getContext('2d');
  const image = ctx.createImageData(width, height);
  for (let i = 0, j = 0; i < width * height; ++i, j += 3) {
    image.data[4 * i] = pixels[j];
    image.data[4 * i + 1] = pixels[j + 1];
    image.data[4 * i + 2] = pixels[j + 2];
    image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

// Signed values: blue (negative) - white - red (positive), symmetric around 0, so white always means 0 whatever
// the scale; unsigned (activations after ReLU): black to yellow.
export function colourOf(v, scale, signed) {
  if (signed) {
    const t = Math.max(-1, Math.min(1, v / (scale || 1)));
    return t >= 0
      ? [255, Math.round(255 * (1 - t)), Math.round(255 * (1 - t))]
      : [Math.round(255 * (1 + t)), Math.round(255 * (1 + t)), 255];
  }
  const t = Math.max(0, Math.min(1, v / (scale || 1)));
  return [Math.round(255 * Math.min(1, 1.6 * t)), Math.round(255 * t * t), Math.round(90 * (1 - t))];
}

export function maxAbs(data) {
  let m = 0;
  for (const v of data) m = Math.max(m, Math.abs(v));
  return m;
}

// An (h, w) map read at `stride` from `offset` (one channel of an interleaved (h, w, c) tensor) -> RGBA ImageData.
// Without `scale` the map's own largest |value| is the full colour.
export function mapImage(ctx, data, h, w, { signed = true, scale, stride = 1, offset = 0, alpha = 255 } = {}) {
  const image = ctx.createImageData(w, h);
  let s = scale;
  if (s === undefined) {
    s = 0;
    for (let i = 0; i < h * w; ++i) s = Math.max(s, Math.abs(data[i * stride + offset]));
  }
  for (let i = 0; i < h * w; ++i) {
    const [r, g, b] = colourOf(data[i * stride + offset], s, signed);
    image.data[4 * i] = r;
    image.data[4 * i + 1] = g;
    image.data[4 * i + 2] = b;
    image.data[4 * i + 3] = alpha;
  }
  return image;
}

// The map into the canvas, resized to the map's pixels.
export function drawMap(target, data, h, w, options) {
  target.width = w;
  target.height = h;
  const ctx = target.getContext('2d');
  ctx.putImageData(mapImage(ctx, data, h, w, options), 0, 0);
}

// One channel of a map into a canvas already sized for it (the tiles of a grid share one scale).
export function drawChannel(target, data, h, w, options) {
  const ctx = target.getContext('2d');
  ctx.putImageData(mapImage(ctx, data, h, w, options), 0, 0);
}

export function downloadCanvas(source, name) {
  source.toBlob((blob) => downloadBlob(blob, name), 'image/png');
}
