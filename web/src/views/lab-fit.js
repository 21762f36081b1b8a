// "Fit your own neuron", a section of the model lab (views/lab.js): a lab's recorded responses (a CSV of image,
// response: the file `cortexlens fit` reads) become a model of their neuron, a ridge-regression readout on the
// 100-filter shared model's features (fit_neuron in the core, the same code and messages as the CLI; the worker's
// pruneFitNeuron). The fitted model saves as a .clm, opens in the other views, and the lab prunes it like a published
// neuron, on the fit's own images and held-out rows.
import { h, showError, clearError, downloadBlob, formatBytes } from '../dom.js';
import { row, labelled } from './inside/controls.js';

// The images cross to the worker whole: a cap keeps a folder of raw photos from exhausting the tab's memory.
export const OWN_IMAGES_MAX_BYTES = 400e6;
const CSV_MAX_BYTES = 16e6;
const NAME = /^[A-Za-z0-9_-]{1,40}$/;
const AUTHORS_RIDGE = 'https://github.com/cowleygroup/V4_compact_models';

export function fitElements() {
  return {
    files: h('input', {
      id: 'fit-files',
      type: 'file',
      multiple: true,
      accept: '.csv,.txt,text/csv,image/*',
    }),
    name: h('input', { id: 'fit-name', type: 'text', value: 'my_neuron', maxlength: 40, spellcheck: 'false' }),
    start: h('button', { id: 'fit-start', type: 'button', class: 'button primary' }, 'Fit the readout'),
    progress: h('progress', { id: 'fit-progress', max: 1, value: 0, class: 'viz-progress', hidden: true }),
    status: h('p', { id: 'fit-status', class: 'mono', 'aria-live': 'polite' }),
    error: h('p', { id: 'fit-error', class: 'error', role: 'alert', hidden: true }),
    save: h('button', { id: 'fit-save', type: 'button', class: 'button' }, 'Save fitted model (.clm)'),
    open: h('button', { id: 'fit-open', type: 'button', class: 'button' }, 'Open in \u201cOne neuron\u201d'),
    prune: h('button', { id: 'fit-prune', type: 'button', class: 'button' }, 'Prune it in the lab'),
    result: h('div', { id: 'fit-result', hidden: true }),
  };
}

export function fitSection(f) {
  f.result.append(row(f.save, f.open, f.prune));
  return h(
    'section',
    { id: 'fit-section', 'aria-labelledby': 'fit-heading' },
    h('h3', { id: 'fit-heading' }, 'Fit your own neuron'),
    h(
      'p',
      { class: 'fineprint' },
      'Recorded a neuron yourself? Choose a CSV file with one line per image, ',
      h('code', {}, 'image,response'),
      ' (a header line is allowed, repeats averaged first): the images are either the recorded sessions\u2019 ' +
        'images this site ships, named SESSION/NUMBER (for example ',
      h('code', {}, '190923/0001'),
      '), or your own image files, chosen together with the CSV and named by file name. The page fits a readout ' +
        "of the 100-filter shared model's features to the responses by ridge regression, the penalty chosen by " +
        '5-fold cross-validation (the authors\u2019 linear mapping, classes/class_linear_mapping_ridgereg.py in ',
      h('a', { href: AUTHORS_RIDGE, rel: 'noopener' }, 'cowleygroup/V4_compact_models'),
      '; ours is an independent implementation), holds every 5th image out, and reports r on those with its 95% ' +
        'confidence interval. At least 50 responses are needed. Nothing leaves this computer. The same fit from ' +
        'the command line: ',
      h('code', {}, 'cortexlens fit SHARED_MODEL --responses FILE.csv [--images DIR] -o my_neuron.clm'),
      '.',
    ),
    row(labelled('Responses (.csv) and your images', f.files), labelled('Name of the model', f.name)),
    row(f.start, f.progress),
    f.status,
    f.error,
    f.result,
  );
}

// Checks what the user chose before anything is read: one responses file, images within the cap, a usable name.
function chosenFiles(f, sessionsShipped) {
  const files = [...(f.files.files || [])];
  const csv = files.filter((file) => /\.(csv|txt)$/i.test(file.name));
  if (csv.length !== 1)
    throw new Error(
      `choose one responses file (.csv), found ${csv.length}${files.length ? ` among ${files.length} files` : ''}`,
    );
  if (csv[0].size > CSV_MAX_BYTES)
    throw new Error(`${csv[0].name} is ${formatBytes(csv[0].size)}, at most ${formatBytes(CSV_MAX_BYTES)}`);
  const images = files.filter((file) => file !== csv[0]);
  const bytes = images.reduce((sum, file) => sum + file.size, 0);
  if (bytes > OWN_IMAGES_MAX_BYTES)
    throw new Error(
      `the ${images.length} images are ${formatBytes(bytes)}, at most ${formatBytes(OWN_IMAGES_MAX_BYTES)}: ` +
        'resize them first (the model sees 112 x 112 pixels)',
    );
  if (!images.length && !sessionsShipped)
    throw new Error(
      'this site was built without the recorded sessions\u2019 images: choose your own images together with the CSV',
    );
  const name = f.name.value.trim();
  if (!NAME.test(name)) throw new Error(`the name '${name}' must be 1-40 letters, digits, '_' or '-'`);
  return { csv: csv[0], images, name };
}

const summary = (fit) =>
  `r on held-out images: ${fit.r.toFixed(4)} (95% CI ${fit.low.toFixed(4)} .. ${fit.high.toFixed(4)}, Fisher z); ` +
  `${fit.fitImages} images fit the readout (${fit.features} features, ridge penalty ${fit.lambda.toPrecision(3)} ` +
  `chosen by 5-fold cross-validation), ${fit.heldoutImages} held out (every 5th row)`;

// Fits the readout in the worker; the newest request wins (a second click while one runs drops the first's result).
// hooks: {shared () -> the shared model's catalog entry or null, sessionsShipped () -> bool, open (model), prune
// (fitted)}.
export function wireFit(app, f, hooks) {
  let token = 0;
  let fitted = null;
  f.start.addEventListener('click', async () => {
    const mine = ++token;
    clearError(f.error);
    delete f.status.dataset.r;
    const shared = hooks.shared();
    let chosen;
    try {
      if (!shared) throw new Error('the fit needs the 100-filter shared model, which this build does not include');
      chosen = chosenFiles(f, hooks.sessionsShipped());
    } catch (e) {
      showError(f.error, `Cannot fit: ${e.message}.`);
      return;
    }
    f.start.disabled = true;
    f.progress.hidden = false;
    f.progress.value = 0;
    f.status.textContent = 'Reading the files…';
    try {
      const text = await chosen.csv.text();
      const own = await Promise.all(
        chosen.images.map(async (file) => ({ name: file.name, bytes: await file.arrayBuffer() })),
      );
      const out = await app.worker.request(
        'pruneFitNeuron',
        {
          ...app.catalog.modelRef(shared, 'float'),
          text,
          source: chosen.csv.name,
          name: chosen.name,
          own,
        },
        {
          transfer: own.map((o) => o.bytes),
          onProgress: (p) => {
            if (mine !== token) return;
            f.progress.max = p.total;
            f.progress.value = p.done;
            f.status.textContent =
              p.phase === 'images'
                ? `Loading images: ${p.done} of ${p.total}`
                : 'Fitting the readout (5-fold cross-validation)…';
          },
        },
      );
      if (mine !== token) return;
      // The fitted model in the worker under a key of its own, for the pruning (and again after a restart).
      const key = 'lab:fitted';
      const load = () => {
        const copy = out.bytes.slice().buffer;
        return { payload: { key, bytes: copy, name: `${chosen.name}.clm` }, transfer: [copy] };
      };
      const { payload, transfer } = load();
      await app.worker.request('loadModel', payload, { transfer });
      app.worker.remember(key, async () => load());
      if (mine !== token) return;
      fitted = { ...out, name: chosen.name, key, source: chosen.csv.name };
      f.status.textContent = summary(out.fit);
      Object.assign(f.status.dataset, {
        r: String(out.fit.r),
        low: String(out.fit.low),
        high: String(out.fit.high),
        fitImages: String(out.fit.fitImages),
        heldoutImages: String(out.fit.heldoutImages),
      });
      f.result.hidden = false;
    } catch (e) {
      if (mine === token) {
        f.status.textContent = '';
        showError(f.error, `The fit stopped: ${e.message}`);
      }
    } finally {
      if (mine === token) {
        f.start.disabled = false;
        f.progress.hidden = true;
      }
    }
  });
  f.save.addEventListener('click', () => {
    if (fitted) downloadBlob(new Blob([fitted.bytes], { type: 'application/octet-stream' }), `${fitted.name}.clm`);
  });
  f.open.addEventListener('click', () => fitted && hooks.open({ bytes: fitted.bytes, name: fitted.name }, 'fitted'));
  f.prune.addEventListener('click', () => fitted && hooks.prune(fitted));
}
