// Preferred images from coloured blocks: starting from mean grey, the worker adds one block at a time, the one that
// raises (or, with the goal "minimize", lowers) the target most. Goal and target are the synthesis section's keys.
import { h } from '../../dom.js';
import { SIDE, canvas, drawRgb } from '../../draw.js';
import { row } from './controls.js';
import { stepRun, targetSelector, withReason } from './run.js';

const BLOCKS = 20;
const SETTINGS = ['synthGoal', 'targetLayer', 'targetChannel'];

export default {
  id: 'blocks',
  title: 'Preferred images: coloured blocks',
  keys: ['neuronId'],
  mount(root, ctx) {
    const { store } = ctx;
    const start = h('button', { id: 'viz-blocks-start', type: 'button', class: 'button' }, 'Build block image');
    const cancel = h('button', { id: 'viz-blocks-cancel', type: 'button', class: 'button', disabled: true }, 'Cancel');
    const progress = h('progress', { id: 'viz-blocks-progress', max: 1, value: 0, class: 'viz-progress' });
    const blocksCanvas = canvas(SIDE, SIDE, 'Block image', 224);
    blocksCanvas.id = 'viz-blocks-canvas';
    const text = h('p', { id: 'viz-blocks-text', class: 'mono' });
    let control = null; // the run in flight's {cancelled}

    async function build() {
      ctx.clearFail();
      start.disabled = true;
      cancel.disabled = false;
      control = { cancelled: false };
      progress.max = BLOCKS;
      progress.value = 0;
      try {
        const options = { blocks: BLOCKS, minimize: store.get('synthGoal') === 'min', selector: targetSelector(store) };
        const r = await stepRun(ctx, {
          kind: 'blocks',
          options,
          settings: SETTINGS,
          count: 1,
          control,
          onFrame: (f) => {
            drawRgb(blocksCanvas, f.image);
            progress.value = f.step;
            text.textContent = `${f.step} blocks: response ${f.startResponse.toFixed(3)} (grey) → ${f.response.toFixed(3)}`;
            text.dataset.response = String(f.response);
          },
        });
        if (r.stopped) text.textContent = withReason(text.textContent, r.stopped);
      } catch (e) {
        ctx.fail('block image', e);
      } finally {
        control = null;
        start.disabled = false;
        cancel.disabled = true;
      }
    }

    start.addEventListener('click', build);
    cancel.addEventListener('click', () => {
      if (control) control.cancelled = true;
    });
    root.append(
      h(
        'p',
        { class: 'fineprint' },
        'Start from mean grey and add, one at a time, the block (position, size 28/14/7 px, colour from eight) that raises the response most; candidates are ranked by the gradient, the best 16 evaluated exactly.',
      ),
      row(start, cancel, progress),
      blocksCanvas,
      text,
    );

    return {
      update(changed) {
        // The image shown belongs to the previous neuron (a run in flight stops itself and says why).
        if (!changed.has('neuronId')) return;
        blocksCanvas.getContext('2d').clearRect(0, 0, SIDE, SIDE);
        progress.value = 0;
        if (!control) text.textContent = '';
        delete text.dataset.response;
      },
      unmount() {
        if (control) control.cancelled = true;
      },
    };
  },
};
