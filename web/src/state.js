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
const VARY = /^[a-z0-9]{1,20}=[-+0-9.e:,]{1,400}$/i;
const SET = /^([a-z0-9]{1,20}=[-+0-9.e#a-f]{1,20},?){0,12}$/i;
// The keep-others penalty weights the Smallest change view offers.
export const PENALTIES = [0.1, 0.3, 1, 3, 10, 30, 100];

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
        if (t === 'none') return []; // a lesson step that switches every channel back on (links never need it)
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

  // ---- Tuning (parametric probes, web/src/views/tuning.js) ----
  // The stimulus family; the swept parameter(s) in the CLI's --vary syntax ('' = the family's default sweep,
  // web/src/probes.js; probeVary2 '' = a tuning curve, else a heatmap); fixed values in --set syntax ('a=1,b=2').
  probeFamily: {
    initial: 'grating',
    link: { param: 'probe', encode: plain('grating'), decode: oneOf('grating', 'dots', 'bar', 'uniform') },
  },
  probeVary: { initial: '', link: { param: 'vary', encode: plain(''), decode: (t) => (VARY.test(t) ? t : undefined) } },
  probeVary2: {
    initial: '',
    link: { param: 'vary2', encode: plain(''), decode: (t) => (VARY.test(t) ? t : undefined) },
  },
  probeSet: { initial: '', link: { param: 'set', encode: plain(''), decode: (t) => (SET.test(t) ? t : undefined) } },
  // Whether all neurons run through the shared model beside the current neuron (a user's click; kept in links).
  probeAll: { initial: false, link: { param: 'all', ...flag } },

  // ---- Nearly identical images (views/path.js) ----
  // The path: 'transform' (the image and its transformed copy) or 'blend' (the image and a second one).
  pathMode: {
    initial: 'transform',
    link: { param: 'pmode', encode: plain('transform'), decode: oneOf('transform', 'blend') },
  },
  // The transform (cortexlens/image_path.hpp) and its full amount; each kind's amount range is checked in the core.
  pathTransform: {
    initial: 'shift',
    link: {
      param: 'ptf',
      encode: plain('shift'),
      decode: oneOf('shift', 'scale', 'rotate', 'contrast', 'blur', 'noise'),
    },
  },
  pathAmount: {
    initial: 2,
    link: {
      param: 'pamt',
      encode: plain(2),
      decode: (t) => (/^-?\d{1,3}(\.\d{1,4})?$/.test(t) ? Number(t) : undefined),
    },
  },
  pathSteps: { initial: 9, link: { param: 'psteps', encode: plain(9), decode: int(2, 64) } },
  pathSeed: { initial: 1, link: { param: 'pseed', encode: plain(1), decode: int(0, 2 ** 31 - 1) } },
  // The second image of a blend: a gallery key ('201025/0650', a pattern id), or null for the default.
  pathSecond: {
    initial: null,
    link: { param: 'pimg2', encode: (v) => v || null, decode: (t) => (/^[\w./-]{1,80}$/.test(t) ? t : undefined) },
  },
  // The last path computed: {neuronId, input (the store's input it started from), settings, steps, pixels,
  // amounts, responses, percentiles, distances, ms}, or null.
  pathResult: { initial: null },

  // ---- Compression explorer (views/compression.js) ----
  // The shared model the slider points at, by filters in layers 0-2: 5, 10, 25, 35, 50, 75, 100 or 200.
  compressionFilters: {
    initial: 100,
    link: {
      param: 'filters',
      encode: plain(100),
      decode: (t) => ([5, 10, 25, 35, 50, 75, 100, 200].includes(Number(t)) ? Number(t) : undefined),
    },
  },
  // Predictions of the current input by every shared size and the neuron's own model: {neuronId, input,
  // rows: [{id, filters, precision, response, percentile}]}, or null.
  compressionPredictions: { initial: null },

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

  // ---- Smallest change (web/src/views/perturb.js) ----
  // The L-infinity budget in pixel levels, the direction, the gradient steps, and the keep-others penalty (its
  // weight one of PENALTIES: a select, so a link cannot ask for an unbounded one).
  perturbEpsilon: { initial: 4, link: { param: 'eps', encode: plain(4), decode: int(1, 16) } },
  perturbGoal: { initial: 'raise', link: { param: 'pgoal', encode: plain('raise'), decode: oneOf('raise', 'lower') } },
  perturbSteps: { initial: 100, link: { param: 'esteps', encode: plain(100), decode: int(1, 1000) } },
  perturbKeep: { initial: false, link: { param: 'keep', ...flag } },
  perturbPenalty: {
    initial: 1,
    link: {
      param: 'penalty',
      encode: plain(1),
      decode: (t) => (PENALTIES.includes(Number(t)) && t.trim() !== '' ? Number(t) : undefined),
    },
  },

  // ---- Model lab (web/src/views/lab.js) ----
  // The neuron to prune (a published neuron's id; '' until the manifest lists them), the number of fitting images
  // (150, 300 or 600: every 12th, 6th or 3rd of images 1-600 of the three sessions) and the steps run.
  labNeuron: { initial: '', link: { param: 'lab', encode: plain(''), decode: (t) => (ID.test(t) ? t : undefined) } },
  labFit: {
    initial: 150,
    link: {
      param: 'labfit',
      encode: plain(150),
      decode: (t) => ([150, 300, 600].includes(Number(t)) ? Number(t) : undefined),
    },
  },
  labMode: { initial: 'all', link: { param: 'labsteps', encode: plain('all'), decode: oneOf('all', 'step1') } },
  // ---- Live (web/src/views/live.js) ----
  // Which camera a phone opens: 'environment' (the back one) or 'user' (the front one).
  liveFacing: {
    initial: 'environment',
    link: { param: 'facing', encode: plain('environment'), decode: oneOf('environment', 'user') },
  },
  // The square of each frame the model sees: size in % of the frame's short side (20..100), and x, y in % of the room
  // left to move it in (50 = centred).
  liveCrop: {
    initial: { size: 100, x: 50, y: 50 },
    link: {
      param: 'lcrop',
      encode: (v) => (v.size === 100 && v.x === 50 && v.y === 50 ? null : `${v.size},${v.x},${v.y}`),
      decode: described((t) => {
        const parts = t.split(',').map(Number);
        const [size, x, y] = parts;
        return parts.length === 3 &&
          parts.every(Number.isInteger) &&
          size >= 20 &&
          size <= 100 &&
          x >= 0 &&
          x <= 100 &&
          y >= 0 &&
          y <= 100
          ? { size, x, y }
          : undefined;
      }, 'SIZE,X,Y: the size 20..100, x and y 0..100 (percent)'),
    },
  },
  // Whether the saliency overlay follows the live frames, and whether the shared model lights the strip of all
  // neurons (each takes worker time; a slow phone may want the one neuron alone).
  liveSaliency: { initial: true, link: { param: 'lsal', encode: (v) => (v ? null : '0'), decode: flag.decode } },
  liveStrip: { initial: true, link: { param: 'lstrip', encode: (v) => (v ? null : '0'), decode: flag.decode } },
  // A whole video file through the current neuron: {neuronId, title, rate (frames per second of video), times,
  // responses, percentiles, ms} or null.
  liveAnalysis: { initial: null },
  // A picture another view hands to the image view (a frozen live frame): {file: File, source: 'camera' | 'local',
  // title}; the image view decodes it through its own path and sets it back to null.
  imageFile: { initial: null },

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
  // What `input` was cut from: {image (the store's image object), crop}. `crop` is what the user asked for and can
  // run ahead of `input` while a crop is being cut; equal crops here and in `crop` mean the input is up to date.
  inputOf: { initial: null },
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
  // The current neuron's last sweep: {neuronId, request (the payload it answered), points, outputs, responses,
  // stimuli, values, ms} or {neuronId, error}; probePopulation the same for the shared model (all neurons).
  probeResult: { initial: null },
  probePopulation: { initial: null },
  // What `results` belong to: {neuronId, input} (the input object itself); a view shows results only for its neuron.
  resultsOf: { initial: null },
  // A prediction of the current neuron that failed: {neuronId, message}, or null.
  resultsError: { initial: null },
  // The main worker was restarted (it died, or its module trapped): {count, reason} of the latest, or null.
  engineReset: { initial: null },

  // ---- Atlas (web/src/views/atlas.js): the portrait grid's free-text query, session filter and order ----
  atlasQuery: { initial: '', link: { param: 'aq', encode: plain(''), decode: (t) => t.slice(0, 80) } },
  atlasSession: {
    initial: '',
    link: { param: 'asession', encode: plain(''), decode: (t) => (/^\d{6}$/.test(t) ? t : undefined) },
  },
  atlasSort: {
    initial: 'id',
    link: { param: 'asort', encode: plain('id'), decode: oneOf('id', 'fidelity', 'params', 'strength') },
  },
};
