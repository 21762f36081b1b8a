// Every piece of page state, declared once: its type, its initial value and, for what a user sets, how it travels in
// a link (web/src/link.js). A link parameter that does not decode (a hand-edited or hostile link) is ignored and
// reported; the rest of the link still applies.
//
// link.encode(value) -> string, or null when the value is the initial one (kept out of the link);
// link.decode(text) -> the value, or undefined when the text is not a valid value.

// A decoder may carry `expected`: what a valid value looks like, for the messages of a lesson file that holds a bad one
// (web/src/lessons/parse.js).
const described = (decode, expected) => Object.assign(decode, { expected });
const int = (min, max) =>
  described((text) => {
    const n = Number(text);
    return Number.isInteger(n) && n >= min && n <= max ? n : undefined;
  }, `an integer from ${min} to ${max}`);
const oneOf = (...choices) =>
  described((text) => (choices.includes(text) ? text : undefined), `one of ${choices.join(', ')}`);
const plain = (fallback) => (value) => (value === fallback ? null : String(value));
const flag = {
  encode: (v) => (v ? '1' : null),
  decode: described((t) => (t === '1' ? true : t === '0' ? false : undefined), '1 (on) or 0 (off)'),
};
const ID = /^[\w.:-]{1,80}$/;

export const schema = {
  // ---- what the user chose ----
  // The tab shown: the id of a registered view (web/src/views/index.js).
  view: {
    initial: 'neuron',
    link: { param: 'view', encode: plain('neuron'), decode: (t) => (ID.test(t) ? t : undefined) },
  },
  // Manifest id of the selected model ('190923_n0', 'demo_dot_detector', 'own-1' for a loaded file), or null.
  neuronId: {
    initial: null,
    link: {
      param: 'neuron',
      encode: (v) => (v && !v.startsWith('own-') ? v : null),
      decode: (t) => (ID.test(t) ? t : undefined),
    },
  },
  // Arithmetic shown in front: 'int8' | 'float'.
  precision: { initial: 'int8', link: { param: 'precision', encode: plain('int8'), decode: oneOf('int8', 'float') } },
  // The image: {source: 'gallery' | 'local' | 'camera', key, title, imageId, width, height} or null.
  //   gallery keys: 'SESSION/NUMBER' (a recorded session's image) or a pattern id from gallery/index.json;
  //   local and camera images never leave the computer, so the link names them without their pixels.
  image: {
    initial: null,
    link: {
      param: 'image',
      encode: (v) => (!v ? null : v.source === 'gallery' ? v.key : `${v.source}:${v.title || ''}`.slice(0, 120)),
      decode: (t) =>
        /^(local|camera):/.test(t)
          ? { source: t.split(':')[0], key: null, title: t.slice(t.indexOf(':') + 1), missing: true }
          : /^[\w./-]{1,80}$/.test(t)
            ? { source: 'gallery', key: t }
            : undefined,
    },
  },
  // Square crop in upright pixels of the full image: {x, y, side}, or null for the centred square.
  crop: {
    initial: null,
    link: {
      param: 'crop',
      encode: (v) => (v ? `${v.x},${v.y},${v.side}` : null),
      decode: (t) => {
        const [x, y, side] = t.split(',').map(Number);
        return t.split(',').length === 3 && [x, y, side].every(Number.isInteger) && x >= 0 && y >= 0 && side >= 1
          ? { x, y, side }
          : undefined;
      },
    },
  },
  // The neuron picker: free-text query, session filter, minimum model-vs-recording r ('' = any), sort order.
  pickerQuery: { initial: '', link: { param: 'q', encode: plain(''), decode: (t) => t.slice(0, 80) } },
  pickerSession: {
    initial: '',
    link: { param: 'session', encode: plain(''), decode: (t) => (/^\d{6}$/.test(t) ? t : undefined) },
  },
  pickerMinR: { initial: '', link: { param: 'minr', encode: plain(''), decode: oneOf('0.3', '0.5', '0.7') } },
  pickerSort: {
    initial: 'id',
    link: { param: 'sort', encode: plain('id'), decode: oneOf('id', 'fidelity', 'params', 'response') },
  },
  // Output of a loaded multi-output model shown in "One neuron" (index into its outputs).
  ownOutput: { initial: 0 },

  // ---- Inside the neuron ----
  // Which sections are open: ids of web/src/views/inside/ sections.
  insideOpen: {
    initial: ['synthesis'],
    link: {
      param: 'open',
      encode: (v) => (v.length === 1 && v[0] === 'synthesis' ? null : v.join('.') || '-'),
      decode: (t) => (t === '-' ? [] : t.split('.').every((s) => /^[a-z]{1,20}$/.test(s)) ? t.split('.') : undefined),
    },
  },
  synthRecipe: {
    initial: 'authors',
    link: { param: 'recipe', encode: plain('authors'), decode: oneOf('authors', 'fourier') },
  },
  synthGoal: { initial: 'max', link: { param: 'goal', encode: plain('max'), decode: oneOf('max', 'min') } },
  synthSteps: { initial: 1000, link: { param: 'steps', encode: plain(1000), decode: int(1, 5000) } },
  synthSeed: { initial: 1, link: { param: 'seed', encode: plain(1), decode: int(0, 2 ** 31 - 1) } },
  synthGrey: { initial: false, link: { param: 'grey', ...flag } },
  // What synthesis, block images and saliency drive: layer -1 = the model output, else an executable layer's
  // channel mean; channel = output index or channel.
  targetLayer: { initial: -1, link: { param: 'layer', encode: plain(-1), decode: int(-1, 63) } },
  targetChannel: { initial: 0, link: { param: 'channel', encode: plain(0), decode: int(0, 4095) } },
  overlayKind: {
    initial: 'saliency',
    link: { param: 'map', encode: plain('saliency'), decode: oneOf('saliency', 'occlusion', 'readout') },
  },
  overlayOpacity: { initial: 60, link: { param: 'opacity', encode: plain(60), decode: int(0, 100) } },
  activationLayer: { initial: 0, link: { param: 'act', encode: plain(0), decode: int(0, 63) } },
  // Channels switched off or scaled: [{layer, channel, scale}], scale 0 = off, 1 = unchanged.
  ablations: {
    initial: [],
    link: {
      param: 'ablate',
      encode: (v) => (v.length ? v.map((a) => `${a.layer}:${a.channel}:${a.scale}`).join('.') : null),
      decode: (t) => {
        const list = t.split('.').map((s) => s.split(':').map(Number));
        const ok =
          list.length <= 64 &&
          list.every(
            (a) =>
              a.length === 3 &&
              Number.isInteger(a[0]) &&
              a[0] >= 0 &&
              Number.isInteger(a[1]) &&
              a[1] >= 0 &&
              Number.isFinite(a[2]) &&
              a[2] >= 0 &&
              a[2] <= 2,
          );
        return ok ? list.map(([layer, channel, scale]) => ({ layer, channel, scale })) : undefined;
      },
    },
  },
  // The ablation controls: the layer, channel and scale (percent: 0 = off, 100 = unchanged, 200 = doubled) that
  // Apply adds to `ablations`; an activation map's click sets them too.
  ablationLayer: { initial: 0 },
  ablationChannel: { initial: 0 },
  ablationScale: { initial: 0 },

  // ---- a lesson (web/src/lessons/) ----
  // The lesson open in the lesson panel: a built-in lesson's id ('meet-a-neuron'), 'url:<same-origin path>.md' for a
  // teacher's file on the site, 'file:<name>' for a file the user opened (not in links: its text is on this computer
  // only), or null.
  lessonId: {
    initial: null,
    link: {
      param: 'lesson',
      encode: (v) => (v && !v.startsWith('file:') ? v : null),
      decode: described(
        (t) => (/^[a-z0-9-]{1,60}$/.test(t) || /^url:(?!\/\/)[\w./~%-]{1,200}\.md$/.test(t) ? t : undefined),
        'a lesson id ([a-z0-9-]) or url:<path on this site>.md',
      ),
    },
  },
  // The step shown: 0 = the lesson's cover, 1..n its steps. Not in links: a lesson link opens at step 1, and a
  // student coming back resumes from the progress kept in the browser (web/src/lessons/storage.js).
  lessonStep: { initial: 0 },
  // The parsed lesson (web/src/lessons/parse.js) or null; why the lesson asked for could not be opened, or null.
  lesson: { initial: null },
  lessonError: { initial: null },
  // The student's answers to the open lesson: {[step]: {kind, given, correct: true | false | null, tries, value?}}.
  lessonAnswers: { initial: () => ({}) },

  // ---- what the page loaded or computed (not in links: a link recomputes them) ----
  // models/manifest.json as read ({models: [], referenceImages, ...}); entries = its models plus loaded files.
  manifest: { initial: null },
  entries: { initial: () => [] },
  // gallery/index.json: {own: [{id, url, title}], sessions: [{session, count, numbers: [first, last], responses}]}.
  gallery: { initial: () => ({ own: [], sessions: [] }) },
  // The engine as the first worker reported it: {ready, threads, channelMeans} or {error}.
  engine: { initial: null },
  // What the model sees for image + crop: Float32Array (112, 112, 3) recentred, and its Uint8Array (112, 112, 3).
  input: { initial: null },
  seenPixels: { initial: null },
  // The current neuron's outputs on input: {int8?: {outputs, ms}, float?: {outputs, ms}}.
  results: { initial: () => ({}) },
  predictions: { initial: 0 }, // predictions shown so far (the tests wait on it)
  // All neurons on one input: Map id -> {percentile, raw, exact}; populationInput = the input it belongs to.
  population: { initial: () => new Map() },
  populationInput: { initial: null },
  // The current neuron against its recordings: {entryId, images, recorded, predicted, r, r2, ms} or null.
  evidence: { initial: null },
  // A link part that could not be honoured: {image?: 'photo.jpg' (a local image, not in links), ignored: [params]}.
  linkProblems: { initial: null },
  // Why models/manifest.json could not be read (the page still runs models the user loads), or null.
  manifestError: { initial: null },
  // Why the image asked for (a file, a gallery key of a link) could not be loaded, or null: the previous one stays.
  imageError: { initial: null },
  // What `results` belong to: {neuronId, input} (the input object itself); a view shows results only for its neuron.
  resultsOf: { initial: null },
  // A prediction of the current neuron that failed: {neuronId, message}, or null.
  resultsError: { initial: null },
};
