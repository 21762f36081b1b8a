// The strip of every recorded neuron, lit by where the shared model's response puts each one among its reference
// natural images. A tile shows the neuron's preferred image when the manifest has one (entry.portrait.max), else its
// number on a plain tile; either way its colour (or brightness) follows the response. The image is the atlas's own
// (web/src/portraits.js); the tile differs because it is lit by a response many times a second.
//
// Why a canvas: with 219 <img> tiles restyled several times a second, the browser's style recalculation, layerizing
// and painting of 219 semi-transparent images took 10-30 ms of a frame, and with the trace's redraw or a garbage
// collection in the same frame made tasks over 50 ms. Now one canvas holds every tile's picture, drawn in one pass,
// and the buttons over it (clicks, keyboard, names, the current tile's outline) never change style while it runs.
import { h, nextTask } from '../dom.js';
import { colourOf } from '../draw.js';
import { asset } from '../build.js';

// Black or white, whichever contrasts more with the background (WCAG relative luminance): the palette's middle is
// orange, where a fixed threshold on the percentile leaves white text under the 4.5:1 contrast ratio.
function inkOn(r, g, b) {
  const linear = (c) => (c / 255 <= 0.04045 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
  const l = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? '#000' : '#fff';
}

const UNLIT = '#dde1e6'; // a tile with no response yet (the page's neutral tile colour)

// A tile's picture: fetched and decoded into an ImageBitmap, off the main thread. An <img> (even after its
// decode()) was decoded again on the main thread when first drawn on the canvas: 219 portraits made the paint that
// first showed them 15-30 ms longer. One that fails to load keeps its numbered tile.
function loadPortrait(tile, onDecoded) {
  tile.loading = fetch(asset(tile.url))
    .then((response) => (response.ok ? response.blob() : Promise.reject(new Error(`HTTP ${response.status}`))))
    .then((blob) => createImageBitmap(blob))
    .then(
      (bitmap) => {
        tile.image = bitmap;
        // Said on the button (once per tile) so tests and tools know the canvas shows the picture, not the number.
        tile.button.dataset.portrait = 'decoded';
        onDecoded(tile);
      },
      () => {},
    );
}

// Requested a few at a time, a task apart: the 219 requests at once (their set-up and the decodes' completions on
// the main thread) made the task that first showed the strip 60-110 ms long.
const PORTRAITS_PER_TASK = 6;
async function loadPortraits(tiles, onDecoded) {
  let started = 0;
  for (const tile of tiles) {
    if (!tile.url || tile.loading) continue;
    loadPortrait(tile, onDecoded);
    if (++started % PORTRAITS_PER_TASK === 0) await nextTask();
  }
}

// entries: the manifest's neuron entries, in strip order; onPick(id) when a tile is clicked.
export function neuronTiles(entries, onPick) {
  const canvas = h('canvas', { class: 'live-tiles-canvas', 'aria-hidden': 'true' });
  const element = h('div', { class: 'live-tiles', id: 'live-tiles' }, canvas);
  // id -> { entry, button, url (portrait), loading, image (an ImageBitmap once the strip was first shown),
  // p (whole percentile|null), rect (the button's box in the strip, CSS pixels) }
  const tiles = new Map();
  for (const e of entries) {
    // The visible number is a word of the name (WCAG 2.5.3, label in name); it is drawn on the canvas.
    const label = e.session ? `neuron ${e.neuron} of session ${e.session} (${e.id}): follow it` : `${e.id}: follow it`;
    const url = e.portrait?.max;
    const button = h('button', {
      type: 'button',
      class: `live-tile${url ? ' portrait' : ''}`,
      'data-id': e.id,
      'aria-label': label,
      title: label,
    });
    tiles.set(e.id, { entry: e, button, url, loading: null, image: null, p: null, rect: null });
    element.append(button);
  }
  element.addEventListener('click', (event) => {
    const id = event.target.closest('button[data-id]')?.dataset.id;
    if (id) onPick(id);
  });

  const context = canvas.getContext('2d');
  let size = { width: 0, height: 0 };
  let framePending = false;
  // Tiles to draw in the next frame: only those whose percentile or picture changed (while the portraits arrive,
  // a few per task, redrawing all 219 for each batch made the frames that first showed the strip long).
  const dirty = new Set();

  function drawTile(tile) {
    const { x, y, width, height } = tile.rect;
    context.clearRect(x, y, width, height);
    const image = tile.image;
    if (image) {
      // Dim to bright as the response climbs among the natural images; full brightness until a response arrives.
      context.globalAlpha = tile.p === null ? 1 : 0.25 + 0.75 * (tile.p / 100);
      context.drawImage(image, x, y, width, height);
      context.globalAlpha = 1;
      return;
    }
    const [r, g, b] = tile.p === null ? [221, 225, 230] : colourOf(tile.p, 100, false);
    context.fillStyle = tile.p === null ? UNLIT : `rgb(${r} ${g} ${b})`;
    context.fillRect(x, y, width, height);
    context.fillStyle = inkOn(r, g, b);
    context.fillText(String(tile.entry.neuron ?? tile.entry.id), x + width / 2, y + height / 2, width - 2);
  }

  function drawDirty() {
    framePending = false;
    if (!size.width) return; // not laid out yet: measure() draws every tile once it is
    for (const tile of dirty) if (tile.rect) drawTile(tile);
    dirty.clear();
  }
  const redraw = (tile) => {
    dirty.add(tile);
    if (framePending) return;
    framePending = true;
    requestAnimationFrame(drawDirty);
  };

  // Layout is read only here, when the strip's size changes (shown, resized, the grid re-flowed), never per paint.
  function measure() {
    const width = element.clientWidth;
    const height = element.clientHeight;
    size = { width, height };
    if (!width) return;
    const scale = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    context.setTransform(scale, 0, 0, scale, 0, 0);
    context.font = '600 11px ui-monospace, monospace';
    context.textAlign = 'center';
    context.textBaseline = 'middle';
    for (const tile of tiles.values()) {
      const b = tile.button;
      tile.rect = { x: b.offsetLeft, y: b.offsetTop, width: b.offsetWidth, height: b.offsetHeight };
    }
    // The portraits are fetched once the strip is first on screen (the service worker caches them).
    loadPortraits([...tiles.values()], redraw);
    // Resizing cleared the canvas: every tile is drawn again.
    for (const tile of tiles.values()) dirty.add(tile);
    drawDirty();
  }
  if (typeof ResizeObserver === 'function') new ResizeObserver(measure).observe(element);

  return {
    element,
    // percentiles: Map id -> 0..100 (NaN or missing: the tile goes back to unlit), shown to the whole percentile:
    // the canvas tile is redrawn and the button's data-p (what tests and tools read) set only when that changes.
    // Colour: black (bottom of the natural images) to yellow (top), the palette of the page's unsigned maps.
    set(percentiles) {
      for (const [id, tile] of tiles) {
        const raw = percentiles.get(id);
        const p = Number.isFinite(raw) ? Math.round(raw) : null;
        if (p === tile.p) continue;
        tile.p = p;
        if (p === null) delete tile.button.dataset.p;
        else tile.button.dataset.p = String(p);
        redraw(tile);
      }
    },
    mark(id) {
      for (const [tid, tile] of tiles) tile.button.classList.toggle('current', tid === id);
    },
  };
}
