// Preferred images by synthesis (the authors' recipe or a Fourier parameterization), and four solutions from
// consecutive seeds. The settings are store keys (a link reproduces an image); the same seed gives the same pixels
// here and in `cortexlens synth`.
import { h } from '../../dom.js';
import { SIDE, canvas, drawRgb, downloadCanvas } from '../../draw.js';
import { row, labelled, figure, bind, integerIn, checkbox, numberSelect, options } from './controls.js';
import { stepRun, targetSelector, withReason } from './run.js';

const TARGET = ['targetLayer', 'targetChannel'];
const SETTINGS = ['synthRecipe', 'synthGoal', 'synthSteps', 'synthSeed', 'synthGrey', ...TARGET];
const DIVERSE = { count: 4, steps: 200, chunk: 25 };

const INTRO =
  "The authors' recipe (Cowley et al.): white noise, then gradient steps on the response, normalized and blurred, clipped to valid pixels, blurred every 50 steps; the best image is kept. The alternative optimizes a Fourier-space image with decorrelated colour under random jitter and scale (Olah et al., Distill 2017). The same seed gives the same image here and in the command line (cortexlens synth).";

// The setting controls, each bound to its store key; sync() writes the store into them.
function settingControls(store) {
  const c = {
    recipe: h(
      'select',
      { id: 'viz-recipe' },
      ...options([
        ['authors', "authors' recipe"],
        ['fourier', 'Fourier + decorrelated colour'],
      ]),
    ),
    goal: h(
      'select',
      { id: 'viz-direction' },
      ...options([
        ['max', 'maximize'],
        ['min', 'minimize'],
      ]),
    ),
    steps: h('input', { id: 'viz-steps', type: 'number', min: 1, max: 5000, value: 1000, class: 'viz-number' }),
    seed: h('input', { id: 'viz-seed', type: 'number', min: 0, value: 1, class: 'viz-number' }),
    grey: h('input', { id: 'viz-grey', type: 'checkbox' }),
    target: h('select', { id: 'viz-target' }, ...options([[-1, 'model output']])),
    channel: h('input', { id: 'viz-channel', type: 'number', min: 0, value: 0, class: 'viz-number-short' }),
  };
  const syncs = [
    bind(store, 'synthRecipe', c.recipe),
    bind(store, 'synthGoal', c.goal),
    bind(store, 'synthSteps', c.steps, integerIn(1, 5000)),
    bind(store, 'synthSeed', c.seed, integerIn(0, 2 ** 31 - 1)),
    bind(store, 'synthGrey', c.grey, checkbox),
    bind(store, 'targetLayer', c.target, numberSelect),
    bind(store, 'targetChannel', c.channel, integerIn(0, 4095)),
  ];
  return {
    ...c,
    sync: () => {
      for (const sync of syncs) sync();
    },
  };
}

function runOptions(store, { steps, seed }) {
  return {
    recipe: store.get('synthRecipe'),
    minimize: store.get('synthGoal') === 'min',
    steps,
    seed,
    grayscale: store.get('synthGrey'),
    selector: targetSelector(store),
  };
}

// The section's elements (ids kept from the old panel: the browser tests drive them).
function elements(store) {
  const el = {
    controls: settingControls(store),
    start: h('button', { id: 'viz-synth-start', type: 'button', class: 'button primary' }, 'Synthesize'),
    cancel: h('button', { id: 'viz-synth-cancel', type: 'button', class: 'button', disabled: true }, 'Cancel'),
    download: h(
      'button',
      { id: 'viz-synth-download', type: 'button', class: 'button', disabled: true },
      'Download PNG',
    ),
    progress: h('progress', { id: 'viz-synth-progress', max: 1, value: 0, class: 'viz-progress' }),
    live: canvas(SIDE, SIDE, 'Synthesized image, current step', 224),
    best: canvas(SIDE, SIDE, 'Synthesized image, best so far', 224),
    text: h('p', { id: 'viz-synth-text', class: 'mono' }),
    diverse: h('button', { id: 'viz-diverse', type: 'button', class: 'button' }, 'Four diverse solutions (seeds)'),
    diverseRow: h('div', { id: 'viz-diverse-row', class: 'viz-strip' }),
  };
  el.live.id = 'viz-synth-live';
  el.best.id = 'viz-synth-best';
  return el;
}

function layout(el) {
  const { controls } = el;
  return [
    h('p', { class: 'fineprint' }, INTRO),
    row(
      labelled('Recipe', controls.recipe),
      labelled('Goal', controls.goal),
      labelled('Steps', controls.steps),
      labelled('Seed', controls.seed),
      labelled('Grayscale', controls.grey),
    ),
    row(labelled('Target', controls.target), labelled('output / channel', controls.channel)),
    row(el.start, el.cancel, el.download, el.progress),
    row(
      figure(el.live, h('figcaption', { class: 'fineprint' }, 'current')),
      figure(el.best, h('figcaption', { class: 'fineprint' }, 'best')),
    ),
    el.text,
    row(el.diverse),
    el.diverseRow,
  ];
}

// One run with the store's settings. section: {ctx, el, runs: the {cancelled} controls of the runs in flight}.
async function synthesize({ ctx, el, runs }, { seed, steps, chunk, settings, onFrame }) {
  const control = { cancelled: false };
  runs.add(control);
  el.cancel.disabled = false;
  try {
    const options = runOptions(ctx.store, { steps, seed });
    return await stepRun(ctx, { kind: 'synth', options, settings, count: chunk, control, onFrame });
  } finally {
    runs.delete(control);
    el.cancel.disabled = runs.size === 0;
  }
}

async function synthesizeOne(section) {
  const { ctx, el } = section;
  const { store } = ctx;
  ctx.clearFail();
  el.start.disabled = true;
  el.download.disabled = true;
  const steps = store.get('synthSteps');
  const selector = targetSelector(store);
  el.progress.max = steps;
  el.progress.value = 0;
  try {
    const r = await synthesize(section, {
      seed: store.get('synthSeed'),
      steps,
      chunk: 10,
      settings: SETTINGS,
      onFrame: (f) => {
        drawRgb(el.live, f.image);
        el.progress.value = f.step;
        el.text.textContent = `step ${f.step} / ${f.steps}: best ${f.bestResponse.toFixed(3)} (${f.msPerStep.toFixed(1)} ms per step)`;
      },
    });
    if (r.stopped) {
      el.text.textContent = withReason(el.text.textContent, r.stopped);
      return;
    }
    drawRgb(el.best, r.best);
    // A finished run's settings are still the store's (a change would have stopped it).
    el.download.dataset.name = `synth-${store.get('neuronId') || 'model'}-${store.get('synthRecipe')}-${store.get('synthGoal')}-seed${store.get('synthSeed')}.png`;
    el.download.disabled = false;
    el.text.textContent = `${r.steps} steps, ${ctx.describe(r.bestResponse, selector)}; ${((r.msPerStep * r.steps) / 1000).toFixed(1)} s in the worker (${r.msPerStep.toFixed(1)} ms per step)`;
    el.text.dataset.response = String(r.bestResponse);
    el.text.dataset.msPerStep = String(r.msPerStep);
  } catch (e) {
    ctx.fail('synthesis', e);
  } finally {
    el.start.disabled = false;
  }
}

// Four runs from consecutive seeds, one after the other: different solutions show what the neuron tolerates.
async function synthesizeDiverse(section) {
  const { ctx, el } = section;
  ctx.clearFail();
  el.diverse.disabled = true;
  el.diverseRow.replaceChildren();
  const base = ctx.store.get('synthSeed');
  try {
    for (let k = 0; k < DIVERSE.count; ++k) {
      const c = canvas(SIDE, SIDE, `Solution with seed ${base + k}`, 112);
      const caption = h('figcaption', { class: 'mono fineprint' }, `seed ${base + k}`);
      el.diverseRow.append(figure(c, caption));
      const r = await synthesize(section, {
        seed: base + k,
        steps: DIVERSE.steps,
        chunk: DIVERSE.chunk,
        settings: SETTINGS.filter((key) => key !== 'synthSteps'),
        onFrame: (f) => drawRgb(c, f.image),
      });
      if (r.stopped) {
        caption.textContent = withReason(caption.textContent, r.stopped);
        break;
      }
      drawRgb(c, r.best);
      caption.textContent = `seed ${base + k}: ${r.bestResponse.toFixed(2)}`;
    }
  } catch (e) {
    ctx.fail('diverse solutions', e);
  } finally {
    el.diverse.disabled = false;
  }
}

// The images shown belong to the previous neuron: they go. A run in flight stops itself at its next chunk and
// appends why to its text, so the text stays while one runs.
function forgetResults({ el, runs }) {
  for (const c of [el.live, el.best]) c.getContext('2d').clearRect(0, 0, c.width, c.height);
  el.diverseRow.replaceChildren();
  el.download.disabled = true;
  el.progress.value = 0;
  if (!runs.size) el.text.textContent = '';
  delete el.text.dataset.response;
}

// The target list names the model's layers.
async function listTargets({ ctx, el }) {
  const { store } = ctx;
  const ticket = store.ticket(['neuronId']);
  let layers = [];
  try {
    layers = await ctx.weights();
  } catch {
    /* no model yet: only the output can be chosen */
  }
  if (!ticket.current()) return;
  el.controls.target.replaceChildren(
    ...options([[-1, 'model output'], ...layers.map((l, i) => [i, `layer ${i}: ${l.name} (channel mean)`])]),
  );
  if (layers.length && store.get('targetLayer') >= layers.length) store.set({ targetLayer: -1 });
  el.controls.sync();
}

export default {
  id: 'synthesis',
  title: 'Preferred images: synthesis',
  keys: ['neuronId', 'entries', ...SETTINGS],
  mount(root, ctx) {
    const el = elements(ctx.store);
    const section = { ctx, el, runs: new Set() };
    const cancelAll = () => {
      for (const control of section.runs) control.cancelled = true;
    };
    el.start.addEventListener('click', () => synthesizeOne(section));
    el.diverse.addEventListener('click', () => synthesizeDiverse(section));
    el.cancel.addEventListener('click', cancelAll);
    el.download.addEventListener('click', () => downloadCanvas(el.best, el.download.dataset.name || 'synth.png'));
    root.append(...layout(el));
    return {
      update(changed) {
        if (changed.has('neuronId')) forgetResults(section);
        if (changed.has('neuronId') || changed.has('entries')) listTargets(section);
        el.controls.sync();
      },
      unmount: cancelAll,
    };
  },
};
