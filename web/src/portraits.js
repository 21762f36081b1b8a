// Neuron portraits (`cortexlens portraits`, built with the site: entry.portrait in models/MANIFEST.md): the model's
// preferred image as a tile that opens the neuron. One module, so every view that shows neurons as pictures (the
// atlas, "All neurons", the live view) draws them alike.
import { h } from './dom.js';
import { asset } from './build.js';

// The paper's models; the images are ours (the same recipe, run on the models by the site build).
export const PORTRAIT_CITATION =
  'Models: Cowley, Stan, Pillow & Smith, "Compact deep neural network models of the visual cortex", Nature 2026, doi:10.1038/s41586-026-10150-1. Images: synthesized by Cortex Lens with the authors’ recipe.';

// A short name for an entry: "190923 · n4" for a recorded neuron, else its name.
export const PORTRAIT_CREDIT = 'Models: Cowley, Stan, Pillow & Smith, Nature 2026.';

export const neuronLabel = (entry) =>
  entry.kind === 'neuron' ? `${entry.session} · n${entry.neuron}` : entry.name || entry.id;

// The portrait image's element: lazy (a grid of 219 fetches only what scrolls into view), fixed size (no layout shift
// while images arrive), empty alt (the tile's text names it). `which`: 'max' | 'min'.
export function portraitImage(entry, which = 'max', { lazy = true, alt = '' } = {}) {
  const url = entry?.portrait?.[which];
  if (!url) return h('span', { class: 'portrait-missing', 'aria-hidden': 'true' }, '?');
  return h('img', {
    src: asset(url),
    alt,
    width: 112,
    height: 112,
    loading: lazy ? 'lazy' : null,
    decoding: 'async',
    class: 'portrait-img',
  });
}

// A tile for a manifest entry: a button holding the preferred image, the neuron's label and an optional second line
// (`meta`); onOpen(entry) on click or Enter/Space (a native button). An entry without a portrait (a build without
// the portraits stage, a model the user loaded) gets the same tile with a placeholder, so layouts never break.
export function portraitTile(entry, { onOpen, meta = '', lazy = true, idPrefix = 'portrait' } = {}) {
  const has = Boolean(entry.portrait?.max);
  const label = neuronLabel(entry);
  const button = h(
    'button',
    {
      type: 'button',
      class: `portrait-tile${has ? '' : ' no-portrait'}`,
      id: `${idPrefix}-${entry.id}`,
      'data-id': entry.id,
      title: has ? `Open ${label}: the model’s preferred image` : `Open ${label} (no portrait in this build)`,
    },
    portraitImage(entry, 'max', { lazy }),
    h('span', { class: 'portrait-name' }, label),
    meta ? h('span', { class: 'portrait-meta' }, meta) : null,
  );
  if (onOpen) button.addEventListener('click', () => onOpen(entry));
  return button;
}

// How strongly the preferred image drives the model, on a scale that compares across neurons (their raw outputs are
// in arbitrary units): (preferred - median natural) / (best natural - median natural), the median from the
// reference distribution. 1 = as strong as the best natural image the build ships; NaN when unknown.
export function portraitStrength(entry) {
  const p = entry?.portrait;
  const median = entry?.reference?.quantiles?.[50];
  const best = p?.top?.[0]?.response;
  if (!p || !Number.isFinite(median) || !Number.isFinite(best) || best <= median) return NaN;
  return (p.maxResponse - median) / (best - median);
}
