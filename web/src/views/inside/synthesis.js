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

const INTRO = "The authors' recipe (Cowley et al.): white noise, then gradient steps on the response, normalized and blurred, clipped to valid pixels, blurred every 50 steps; the best image is kept. The alternative optimizes a Fourier-space image with decorrelated colour under random jitter and scale (Olah et al., Distill 2017). The same seed gives the same image here and in the command line (cortexlens synth).";

// The setting controls, each bound to its store key; sync() writes the store into them.
function settingControls(store) {
  const c = {
    recipe: h('select', { id: 'viz-recipe' }, ...options([['authors', "authors' recipe"], ['fourier', 'Fourier + decorrelated colour']])),
    goal: h('select', { id: 'viz-direction' }, ...options([['max', 'maximize'], ['min', 'minimize']])),
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
  return { ...c, sync: () => syncs.forEach((sync) => sync()) };
}

function runOptions(store, { steps, seed }) {
  return { recipe: store.get('synthRecipe'), minimize: store.get('synthGoal') === 'min', steps, seed, grayscale: store.get('synthGrey'), selector: targetSelector(store) };
}

export default {
  id: 'synthesis',
  title: 'Preferred images: synthesis',
  keys: ['neuronId', 'entries', ...SETTINGS],
  mount(root, ctx) {
    const { store } = ctx;
    const controls = settingControls(store);
    const start = h('button', { id: 'viz-synth-start', type: 'button', class: 'button primary' }, 'Synthesize');
    const cancel = h('button', { id: 'viz-synth-cancel', type: 'button', class: 'button', disabled: true }, 'Cancel');
    const download = h('button', { id: 'viz-synth-download', type: 'button', class: 'button', disabled: true }, 'Download PNG');
    const progress = h('progress', { id: 'viz-synth-progress', max: 1, value: 0, class: 'viz-progress' });
    const live = canvas(SIDE, SIDE, 'Synthesized image, current step', 224);
    live.id = 'viz-synth-live';
    const best = canvas(SIDE, SIDE, 'Synthesized image, best so far', 224);
    best.id = 'viz-synth-best';
    const synthText = h('p', { id: 'viz-synth-text', class: 'mono' });
    const diverse = h('button', { id: 'viz-diverse', type: 'button', class: 'button' }, 'Four diverse solutions (seeds)');
    const diverseRow = h('div', { id: 'viz-diverse-row', class: 'viz-strip' });
    const runs = new Set(); // the controls ({cancelled}) of the runs in flight: Cancel stops them all
    let bestName = 'synth.png'; // the file name of the image in `best`, after the run that made it

    async function synthesize({ seed, steps, chunk, settings, onFrame }) {
      const control = { cancelled: false };
      runs.add(control);
      cancel.disabled = false;
      try {
        return await stepRun(ctx, { kind: 'synth', options: runOptions(store, { steps, seed }), settings, count: chunk, control, onFrame });
      } finally {
        runs.delete(control);
        cancel.disabled = runs.size === 0;
      }
    }

    async function synthesizeOne() {
      ctx.clearFail();
      start.disabled = true;
      download.disabled = true;
      const steps = store.get('synthSteps');
      const selector = targetSelector(store);
      progress.max = steps;
      progress.value = 0;
      try {
        const r = await synthesize({
          seed: store.get('synthSeed'), steps, chunk: 10, settings: SETTINGS,
          onFrame: (f) => {
            drawRgb(live, f.image);
            progress.value = f.step;
            synthText.textContent = `step ${f.step} / ${f.steps}: best ${f.bestResponse.toFixed(3)} (${f.msPerStep.toFixed(1)} ms per step)`;
          },
        });
        if (r.stopped) { synthText.textContent = withReason(synthText.textContent, r.stopped); return; }
        drawRgb(best, r.best);
        // A finished run's settings are still the store's (a change would have stopped it).
        bestName = `synth-${store.get('neuronId') || 'model'}-${store.get('synthRecipe')}-${store.get('synthGoal')}-seed${store.get('synthSeed')}.png`;
        download.disabled = false;
        synthText.textContent = `${r.steps} steps, ${ctx.describe(r.bestResponse, selector)}; ${((r.msPerStep * r.steps) / 1000).toFixed(1)} s in the worker (${r.msPerStep.toFixed(1)} ms per step)`;
        synthText.dataset.response = String(r.bestResponse);
        synthText.dataset.msPerStep = String(r.msPerStep);
      } catch (e) {
        ctx.fail('synthesis', e);
      } finally {
        start.disabled = false;
      }
    }

    // Four runs from consecutive seeds, one after the other: different solutions show what the neuron tolerates.
    async function synthesizeDiverse() {
      ctx.clearFail();
      diverse.disabled = true;
      diverseRow.replaceChildren();
      const base = store.get('synthSeed');
      try {
        for (let k = 0; k < DIVERSE.count; ++k) {
          const c = canvas(SIDE, SIDE, `Solution with seed ${base + k}`, 112);
          const caption = h('figcaption', { class: 'mono fineprint' }, `seed ${base + k}`);
          diverseRow.append(figure(c, caption));
          const r = await synthesize({
            seed: base + k, steps: DIVERSE.steps, chunk: DIVERSE.chunk, settings: SETTINGS.filter((key) => key !== 'synthSteps'),
            onFrame: (f) => drawRgb(c, f.image),
          });
          if (r.stopped) { caption.textContent = withReason(caption.textContent, r.stopped); break; }
          drawRgb(c, r.best);
          caption.textContent = `seed ${base + k}: ${r.bestResponse.toFixed(2)}`;
        }
      } catch (e) {
        ctx.fail('diverse solutions', e);
      } finally {
        diverse.disabled = false;
      }
    }

    // The images shown belong to the previous neuron: they go. A run in flight stops itself at its next chunk and
    // appends why to its text, so the text stays while one runs.
    function forgetResults() {
      for (const c of [live, best]) c.getContext('2d').clearRect(0, 0, c.width, c.height);
      diverseRow.replaceChildren();
      download.disabled = true;
      progress.value = 0;
      if (!runs.size) synthText.textContent = '';
      delete synthText.dataset.response;
    }

    // The target list names the model's layers.
    async function listTargets() {
      const ticket = store.ticket(['neuronId']);
      let layers = [];
      try { layers = await ctx.weights(); } catch { /* no model yet: only the output can be chosen */ }
      if (!ticket.current()) return;
      controls.target.replaceChildren(...options([[-1, 'model output'], ...layers.map((l, i) => [i, `layer ${i}: ${l.name} (channel mean)`])]));
      if (layers.length && store.get('targetLayer') >= layers.length) store.set({ targetLayer: -1 });
      controls.sync();
    }

    start.addEventListener('click', synthesizeOne);
    diverse.addEventListener('click', synthesizeDiverse);
    cancel.addEventListener('click', () => { for (const control of runs) control.cancelled = true; });
    download.addEventListener('click', () => downloadCanvas(best, bestName));

    root.append(
      h('p', { class: 'fineprint' }, INTRO),
      row(labelled('Recipe', controls.recipe), labelled('Goal', controls.goal), labelled('Steps', controls.steps), labelled('Seed', controls.seed), labelled('Grayscale', controls.grey)),
      row(labelled('Target', controls.target), labelled('output / channel', controls.channel)),
      row(start, cancel, download, progress),
      row(figure(live, h('figcaption', { class: 'fineprint' }, 'current')), figure(best, h('figcaption', { class: 'fineprint' }, 'best'))),
      synthText, row(diverse), diverseRow);

    return {
      update(changed) {
        if (changed.has('neuronId')) forgetResults();
        if (changed.has('neuronId') || changed.has('entries')) listTargets();
        controls.sync();
      },
      unmount() {
        for (const control of runs) control.cancelled = true;
      },
    };
  },
};
