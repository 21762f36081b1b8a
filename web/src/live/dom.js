// The Live view's elements (ids start with `live-`). Built here so the view module holds behaviour only.
import { h } from '../dom.js';
import { SIDE } from '../draw.js';

const button = (id, text, cls = 'button', extra = {}) =>
  h('button', { type: 'button', id, class: cls, ...extra }, text);
const square = (id, label) =>
  h('canvas', { id, width: SIDE, height: SIDE, class: 'viz-canvas', role: 'img', 'aria-label': label });
const chart = (id, label, cls = 'live-chart') => h('canvas', { id, class: cls, role: 'img', 'aria-label': label });

function sourcesDom() {
  const ui = {
    start: button('live-camera', 'Start camera', 'button primary'),
    facing: h(
      'select',
      { id: 'live-facing' },
      h('option', { value: 'environment' }, 'Back camera'),
      h('option', { value: 'user' }, 'Front camera'),
    ),
    fileInput: h('input', {
      id: 'live-file',
      class: 'visually-hidden',
      type: 'file',
      accept: 'video/mp4,video/webm,video/*',
    }),
    stop: button('live-stop', 'Stop', 'button quiet', { disabled: '' }),
    freeze: button('live-freeze', 'Freeze (Space)', 'button', { disabled: '', 'aria-keyshortcuts': 'Space' }),
  };
  ui.sources = h(
    'div',
    { class: 'image-actions live-sources' },
    ui.start,
    h('label', { for: 'live-facing', class: 'visually-hidden' }, 'Which camera'),
    ui.facing,
    h('label', { class: 'button', for: 'live-file' }, 'Choose video…'),
    ui.fileInput,
    ui.stop,
    ui.freeze,
  );
  ui.privacy = h(
    'p',
    { class: 'fineprint live-privacy', id: 'live-privacy' },
    'Nothing leaves this computer: camera and video frames are computed here, in this browser, and never sent anywhere.',
  );
  ui.error = h('p', { id: 'live-error', class: 'error', role: 'alert', hidden: '' });
  ui.status = h('p', { id: 'live-status', class: 'status', role: 'status', 'aria-live': 'polite' });
  return ui;
}

function stageDom() {
  const video = h('video', { id: 'live-video', playsinline: '', muted: '', 'aria-label': 'The camera or video' });
  video.muted = true;
  const squareBox = h('div', { id: 'live-square', class: 'live-square', hidden: '' });
  const slider = (id, label, min) =>
    h(
      'label',
      { class: 'live-slider', for: id },
      label,
      h('input', { id, type: 'range', min, max: 100, step: 1, value: 50 }),
    );
  const cropControls = h(
    'div',
    { class: 'crop-controls live-crop' },
    slider('live-size', 'Square size', 20),
    slider('live-x', 'Left–right', 0),
    slider('live-y', 'Up–down', 0),
  );
  const sliders = {
    size: cropControls.querySelector('#live-size'),
    x: cropControls.querySelector('#live-x'),
    y: cropControls.querySelector('#live-y'),
  };
  return {
    video,
    square: squareBox,
    stage: h('div', { class: 'live-stage', id: 'live-stage' }, video, squareBox),
    cropControls,
    sliders,
  };
}

function readoutDom() {
  const ui = {
    seen: square('live-seen', 'The 112 by 112 pixel frame the model sees'),
    saliency: square(
      'live-saliency',
      'Where the neuron looks in a recent frame (red raises the response, blue lowers it)',
    ),
    saliencyToggle: h('input', { id: 'live-saliency-on', type: 'checkbox' }),
    value: h('output', { id: 'live-value', class: 'live-value mono' }, '—'),
    percentile: h('output', { id: 'live-percentile', class: 'live-percentile' }, ''),
    swatch: h('span', { class: 'live-swatch', id: 'live-swatch', 'aria-hidden': 'true' }),
    neuronName: h('p', { id: 'live-neuron', class: 'live-neuron' }),
    rates: h('p', { id: 'live-rates', class: 'fineprint mono' }),
    trace: chart('live-trace', 'The response over the last 10 seconds'),
    traceCsv: button('live-trace-csv', 'Trace CSV', 'button quiet small', { disabled: '' }),
    framePng: button('live-frame-png', 'Frame PNG', 'button quiet small', { disabled: '' }),
  };
  ui.readout = h(
    'div',
    { class: 'live-readout' },
    ui.neuronName,
    h('p', {}, ui.swatch, ui.value, ' ', ui.percentile),
    ui.rates,
  );
  ui.pictures = h(
    'div',
    { class: 'live-pictures' },
    h('figure', {}, ui.seen, h('figcaption', {}, 'What the model sees (112 × 112)')),
    h(
      'figure',
      {},
      ui.saliency,
      h('figcaption', {}, h('label', { for: 'live-saliency-on' }, ui.saliencyToggle, ' Where it looks')),
    ),
  );
  return ui;
}

function lowerDom(rate) {
  const ui = {
    stripNote: h('p', { class: 'fineprint', id: 'live-strip-note' }),
    stripToggle: h('input', { id: 'live-strip-on', type: 'checkbox' }),
    analyse: button('live-analyse', `Whole video, ${rate} frames a second`),
    analysisCsv: button('live-analysis-csv', 'CSV', 'button quiet small', { disabled: '' }),
    plot: chart(
      'live-plot',
      'The response over the whole video; click a point to see its frame',
      'live-chart clickable',
    ),
    plotFrame: square('live-plot-frame', 'The frame of the point chosen on the plot'),
    analysisText: h('p', { id: 'live-analysis-text', class: 'fineprint', role: 'status' }),
  };
  ui.stripBox = h(
    'section',
    { class: 'live-strip', 'aria-labelledby': 'live-strip-title' },
    h('h3', { id: 'live-strip-title' }, 'All neurons at once (the shared model)'),
    h('label', { for: 'live-strip-on' }, ui.stripToggle, ' Light them up (takes a second worker)'),
    ui.stripNote,
  );
  ui.analysisBox = h(
    'section',
    { class: 'live-analysis', id: 'live-analysis', hidden: '', 'aria-labelledby': 'live-analysis-title' },
    h('h3', { id: 'live-analysis-title' }, 'The whole video'),
    h('div', { class: 'image-actions' }, ui.analyse, ui.analysisCsv),
    ui.analysisText,
    h('div', { class: 'live-analysis-body' }, ui.plot, ui.plotFrame),
  );
  return ui;
}

// -> every element the view uses, already placed in `root` under the intro text.
export function liveDom(root, { intro, citation, analysisRate }) {
  const ui = { ...sourcesDom(), ...stageDom(), ...readoutDom(), ...lowerDom(analysisRate) };
  root.append(
    h('h2', {}, 'Live: the camera as a stimulus'),
    h('p', { class: 'lead' }, intro),
    ui.sources,
    ui.privacy,
    ui.error,
    ui.status,
    h(
      'div',
      { class: 'live-main' },
      h('div', { class: 'live-left' }, ui.stage, ui.cropControls),
      h(
        'div',
        { class: 'live-right' },
        ui.readout,
        ui.pictures,
        ui.trace,
        h('div', { class: 'image-actions' }, ui.traceCsv, ui.framePng),
      ),
    ),
    ui.stripBox,
    ui.analysisBox,
    h('p', { class: 'fineprint' }, citation),
  );
  return ui;
}
