// The live values a lesson's questions name (web/lessons/FORMAT.md), computed from the store, i.e. from what the
// views show at that moment: the same model, image, crop and precision give every student the same number. What
// the page has not computed yet (the evidence of a neuron, all neurons on an image) is asked for here or named in
// a `waiting` message; nothing is estimated.
import { formatNumber } from '../dom.js';
import { percentileOf } from '../reference.js';
import { evaluate } from '../views/evidence.js';

// The store keys a live value is computed from: the player re-reads them when any of these changes.
export const LIVE_KEYS = [
  'neuronId',
  'input',
  'precision',
  'results',
  'resultsOf',
  'evidence',
  'population',
  'populationInput',
  'entries',
];

export function createLive(app) {
  const { store, catalog } = app;
  let evaluating = null; // the entry id whose evidence this module is computing

  // The current neuron's output on the current input at the current precision: {value} or {waiting}.
  function output() {
    const entry = catalog.current();
    if (!entry) return { waiting: 'Pick a neuron first.' };
    const input = store.get('input');
    if (!input) return { waiting: 'Waiting for the image to load…' };
    const of = store.get('resultsOf');
    const result = store.get('results')[store.get('precision')];
    if (!result || of?.neuronId !== entry.id || of?.input !== input)
      return { waiting: `Waiting for ${entry.id}’s prediction on this image…` };
    return { value: result.outputs[store.get('ownOutput')] ?? result.outputs[0], entry };
  }

  function evidence(key) {
    const entry = catalog.current();
    if (entry?.kind !== 'neuron') return { waiting: 'This needs a recorded neuron: pick one of the 219.' };
    const ev = store.get('evidence');
    if (ev && ev.entryId === entry.id) return { value: ev[key] };
    const session = store.get('gallery').sessions.find((s) => s.session === entry.session);
    if (!session?.responses)
      return { waiting: `The recordings of session ${entry.session} are not in this build, so r cannot be computed.` };
    if (evaluating !== entry.id) {
      evaluating = entry.id;
      const ticket = store.ticket(['neuronId']);
      evaluate(app, entry, () => {})
        .then((result) => {
          if (ticket.current()) store.set({ evidence: result });
        })
        .catch(() => {})
        .finally(() => {
          if (evaluating === entry.id) evaluating = null;
        });
    }
    return { waiting: `Comparing ${entry.id} with its recordings (600 images)…` };
  }

  const values = {
    response: () => output(),
    percentile: () => {
      const o = output();
      if (o.waiting) return o;
      const quantiles = catalog.quantiles(o.entry, store.get('ownOutput'));
      if (!quantiles) return { waiting: `${o.entry.id} has no reference natural images, so no percentile.` };
      return { value: percentileOf(o.value, quantiles) };
    },
    r: () => evidence('r'),
    r2: () => evidence('r2'),
    params: () => {
      const entry = catalog.current();
      return Number.isFinite(entry?.params) ? { value: entry.params } : { waiting: 'Pick a neuron first.' };
    },
    populationAbove90: () => {
      const neurons = catalog.neurons();
      if (!neurons.length) return { waiting: 'This build holds no per-neuron models.' };
      const input = store.get('input');
      const population = store.get('population');
      const exact = [...population.values()].filter((p) => p.exact);
      if (!input || store.get('populationInput') !== input || exact.length < neurons.length)
        return {
          waiting: `Waiting for all ${neurons.length} neurons on this image (${exact.length} so far): the “All neurons” tab computes them.`,
          openView: 'population',
        };
      return { value: exact.filter((p) => p.percentile >= 90).length };
    },
  };

  // name -> {value: number} | {waiting: text, openView?: a view that computes it}
  return {
    read(name) {
      const f = values[name];
      if (!f) return { waiting: `Unknown live value ${name}.` };
      const result = f();
      return result.waiting ? result : { value: result.value };
    },
  };
}

// How a live value is written for a student: counts and parameter counts whole, the rest to 3 significant places
// after the point (percentiles to one decimal).
export function formatLive(name, value) {
  if (!Number.isFinite(value)) return '—';
  if (name === 'params' || name === 'populationAbove90') return formatNumber(value);
  if (name === 'percentile') return value.toFixed(1);
  return value.toFixed(3);
}
