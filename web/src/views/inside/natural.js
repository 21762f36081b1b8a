// The reference natural images the model answers most and least to (computed at build time: `cortexlens pack`).
import { h } from '../../dom.js';
import { percentileOf } from '../../reference.js';
import { figure } from './controls.js';

const galleryUrl = (image) => {
  const [session, number] = String(image).split('/');
  return `gallery/${session}/image${number}.jpg`;
};

function strip(title, list, quantiles) {
  return h(
    'div',
    {},
    h('p', {}, h('strong', {}, title)),
    h(
      'div',
      { class: 'viz-strip viz-natural-strip' },
      ...list.map(({ image, response }) => {
        const p = percentileOf(response, quantiles);
        return figure(
          h('img', { src: galleryUrl(image), alt: `natural image ${image}`, width: 84, height: 84 }),
          h(
            'figcaption',
            { class: 'mono fineprint' },
            `${image}: ${Number(response).toFixed(2)} (${(Number.isNaN(p) ? 0 : p).toFixed(0)}%)`,
          ),
        );
      }),
    ),
  );
}

export default {
  id: 'natural',
  title: 'Natural preferred and anti-preferred images',
  keys: ['neuronId', 'entries'],
  mount(root, ctx) {
    const box = h('div', { id: 'viz-natural' });
    root.append(box);
    return {
      update() {
        const ref = ctx.catalog.reference(ctx.entry(), 0);
        if (!ref?.top?.length) {
          box.replaceChildren(
            h('p', { class: 'fineprint' }, 'This build has no reference natural images for this model.'),
          );
          return;
        }
        box.replaceChildren(
          strip('Most preferred', ref.top, ref.quantiles),
          strip('Least preferred', ref.bottom || [], ref.quantiles),
        );
      },
    };
  },
};
