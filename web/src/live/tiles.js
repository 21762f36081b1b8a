// The strip of every recorded neuron, lit by where the shared model's response puts each one among its reference
// natural images. A tile shows the neuron's preferred image when the manifest has one (entry.portrait.max), else its
// number on a plain tile; either way its colour (or brightness) follows the response. The image is the atlas's own
// (web/src/portraits.js); the tile differs because it is lit by a response many times a second.
import { h } from '../dom.js';
import { colourOf } from '../draw.js';
import { portraitImage } from '../portraits.js';

// Black or white, whichever contrasts more with the background (WCAG relative luminance): the palette's middle is
// orange, where a fixed threshold on the percentile leaves white text under the 4.5:1 contrast ratio.
function inkOn(r, g, b) {
  const linear = (c) => (c / 255 <= 0.04045 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
  const l = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? '#000' : '#fff';
}

// entries: the manifest's neuron entries, in strip order; onPick(id) when a tile is clicked.
export function neuronTiles(entries, onPick) {
  const tiles = new Map();
  const element = h('div', { class: 'live-tiles', id: 'live-tiles' });
  for (const e of entries) {
    // The visible number is a word of the name (WCAG 2.5.3, label in name).
    const label = e.session ? `neuron ${e.neuron} of session ${e.session} (${e.id}): follow it` : `${e.id}: follow it`;
    const portrait = e.portrait?.max;
    const tile = h(
      'button',
      {
        type: 'button',
        class: `live-tile${portrait ? ' portrait' : ''}`,
        'data-id': e.id,
        'aria-label': label,
        title: label,
      },
      portrait ? portraitImage(e, 'max') : String(e.neuron ?? e.id),
    );
    tiles.set(e.id, tile);
    element.append(tile);
  }
  element.addEventListener('click', (event) => {
    const id = event.target.closest('button[data-id]')?.dataset.id;
    if (id) onPick(id);
  });
  return {
    element,
    // percentiles: Map id -> 0..100 (NaN or missing: the tile goes grey), shown to the whole percentile (data-p).
    // Colour: black (bottom of the natural images) to yellow (top), the palette of the page's unsigned maps.
    set(percentiles) {
      // A tile is restyled only when its whole percentile changes: each style write costs a style recalculation of
      // the tile, and 219 of them a frame were most of the strip's time.
      for (const [id, tile] of tiles) {
        const raw = percentiles.get(id);
        const p = Number.isFinite(raw) ? Math.round(raw) : null;
        const shown = p === null ? '' : String(p);
        if (tile.dataset.p === shown || (p === null && !('p' in tile.dataset))) continue;
        if (p === null) {
          tile.style.background = '';
          tile.style.opacity = '';
          delete tile.dataset.p;
          continue;
        }
        if (tile.classList.contains('portrait')) tile.style.opacity = String(0.25 + 0.75 * (p / 100));
        else {
          const [r, g, b] = colourOf(p, 100, false);
          tile.style.background = `rgb(${r} ${g} ${b})`;
          tile.style.color = inkOn(r, g, b);
        }
        tile.dataset.p = shown;
      }
    },
    mark(id) {
      for (const [tid, tile] of tiles) tile.classList.toggle('current', tid === id);
    },
  };
}
