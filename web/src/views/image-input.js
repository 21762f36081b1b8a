// "Your image": file picker, drag and drop, paste, camera, gallery, and the square crop the model sees.
// The worker decodes each file once (stb_image, as the command line does) and keeps the full-resolution pixels; the
// view gets a small preview to draw, and asks the worker for the 112x112 input whenever the crop changes.
//
// The store's `image` and `crop` say what is shown; this view is not their only writer (a link, a lesson, a test may
// set them). An `image` this view did not load itself (a gallery key without an imageId) is fetched and decoded; a
// `crop` it did not ask for is cut. Either way the result lands in `input` and `seenPixels`.
import { h, showError, clearError } from '../dom.js';
import { galleryImage } from '../services.js';
import { asset } from '../build.js';

const MAX_FILE_BYTES = 100 * 1024 * 1024; // the core's ImageLimits::max_file_bytes
const GALLERY_PAGE = 40;

function imageAreaDom() {
  const canvas = h('canvas', { id: 'source-canvas', width: 300, height: 300 });
  const handle = h('span', { class: 'crop-handle', id: 'crop-handle', 'aria-hidden': 'true' });
  const frame = h(
    'div',
    {
      id: 'crop-frame',
      class: 'crop-frame off',
      role: 'slider',
      tabindex: 0,
      'aria-label': 'Crop position (arrow keys move, + and − resize)',
      'aria-valuetext': '',
    },
    handle,
  );
  const hint = h(
    'p',
    { id: 'drop-hint', class: 'drop-hint' },
    'Drop an image here, paste one (Ctrl+V), or choose below.',
  );
  const stage = h(
    'div',
    { id: 'crop-stage', class: 'crop-stage', 'aria-label': 'The image with the square the model sees' },
    canvas,
    frame,
    hint,
  );
  const zone = h('div', { id: 'drop-zone', class: 'drop-zone', tabindex: -1 }, stage);
  return { canvas, frame, hint, stage, zone };
}

function controlsDom() {
  const fileInput = h('input', {
    id: 'file-input',
    class: 'visually-hidden',
    type: 'file',
    accept: 'image/jpeg,image/png,image/gif,image/bmp',
  });
  const cameraButton = h('button', { type: 'button', id: 'camera-button', class: 'button' }, 'Camera');
  const centreButton = h('button', { type: 'button', id: 'centre-button', class: 'button quiet' }, 'Centre crop');
  const actions = h(
    'div',
    { class: 'image-actions' },
    h('label', { class: 'button', for: 'file-input' }, 'Choose image…'),
    fileInput,
    cameraButton,
    centreButton,
  );
  const video = h('video', { id: 'camera-video', autoplay: '', playsinline: '', muted: '' });
  const snapButton = h('button', { type: 'button', id: 'snap-button', class: 'button primary' }, 'Take snapshot');
  const closeButton = h('button', { type: 'button', id: 'camera-close', class: 'button quiet' }, 'Close camera');
  const cameraBox = h(
    'div',
    { id: 'camera-box', class: 'camera-box', hidden: '' },
    video,
    h('div', { class: 'image-actions' }, snapButton, closeButton),
  );
  const size = h('input', { id: 'crop-size', type: 'range', min: 8, max: 100, value: 100 });
  const readout = h('output', { id: 'crop-readout', class: 'mono' });
  const cropControls = h(
    'div',
    { class: 'crop-controls' },
    h('label', { for: 'crop-size' }, 'Crop size'),
    size,
    readout,
  );
  const seen = h('canvas', {
    id: 'seen-canvas',
    width: 112,
    height: 112,
    'aria-label': 'The 112 by 112 pixel image the model sees',
  });
  const sees = h(
    'figure',
    { class: 'model-sees' },
    seen,
    h(
      'figcaption',
      {},
      'What the model sees: ',
      h('strong', {}, '112 × 112'),
      ' pixels, about the size of a V4 receptive field neighbourhood. Image files stay on this computer.',
    ),
  );
  const status = h('p', { id: 'image-status', class: 'status', role: 'status', 'aria-live': 'polite' });
  const error = h('p', { id: 'image-error', class: 'error', role: 'alert', hidden: '' });
  return {
    fileInput,
    cameraButton,
    centreButton,
    actions,
    video,
    snapButton,
    closeButton,
    cameraBox,
    size,
    readout,
    cropControls,
    seen,
    sees,
    status,
    error,
  };
}

function galleryDom() {
  const source = h('select', { id: 'gallery-source' });
  const grid = h('div', { id: 'gallery-grid', class: 'gallery-grid' });
  const more = h(
    'button',
    { type: 'button', class: 'button quiet small gallery-more', id: 'gallery-more', hidden: '' },
    'More images',
  );
  const note = h('p', { class: 'fineprint', id: 'gallery-note' });
  const details = h(
    'details',
    { class: 'gallery', id: 'gallery', open: '' },
    h('summary', {}, 'Gallery'),
    h('div', { class: 'gallery-head' }, h('label', { for: 'gallery-source' }, 'Show'), source),
    grid,
    more,
    note,
  );
  return { source, grid, more, note, details };
}

function toImageData(pixels, width, height) {
  const data = new ImageData(width, height);
  for (let i = 0, j = 0; i < pixels.length; i += 3, j += 4) {
    data.data[j] = pixels[i];
    data.data[j + 1] = pixels[i + 1];
    data.data[j + 2] = pixels[i + 2];
    data.data[j + 3] = 255;
  }
  return data;
}

const sameCrop = (a, b) => a === b || (a && b && a.x === b.x && a.y === b.y && a.side === b.side);

export default {
  id: 'image-input',
  slot: 'image',
  keys: ['image', 'crop', 'gallery', 'engine', 'imageError', 'imageFile'],
  mount(root, app) {
    const { store } = app;
    const area = imageAreaDom();
    const ui = controlsDom();
    const gal = galleryDom();
    root.append(
      h('h2', { id: 'image-title' }, '1. Your image'),
      area.zone,
      ui.actions,
      ui.cameraBox,
      ui.cropControls,
      ui.sees,
      ui.status,
      ui.error,
      gal.details,
    );
    // On a phone the gallery would push the results a screen down; it starts folded there.
    if (window.matchMedia('(max-width: 860px)').matches) gal.details.open = false;

    // What this view has decoded: {image (the store value it wrote), preview, crop (of the last input it made)}. The
    // preview is kept here, not in the store: it is only this view's drawing of the picture (up to 720 px, 1.5 MB).
    // generation: bumped by every load, so only the newest load (a file or a key of the store) writes its result.
    const view = { shown: null, generation: 0 };
    const crop = cropper(app, area, ui, view);
    const loader = imageLoader(app, area, ui, view);
    const gallery = galleryPanel(store, gal);
    listenToCrop(area, ui, {
      geometry: () => view.shown && crop.geometry(view.shown.image),
      image: () => view.shown?.image,
      crop: crop.current,
      setCrop: crop.set,
      centred,
    });
    listenToSources(area, ui, {
      loadFile: loader.loadFile,
      refuse: loader.refuse,
      clear: () => store.set({ imageError: null }),
    });
    new ResizeObserver(() => crop.drawSource()).observe(area.stage);

    return {
      update(changed) {
        if (changed.has('gallery')) gallery.fill();
        const handed = store.get('imageFile');
        if (changed.has('imageFile') && handed) {
          store.set({ imageFile: null });
          loader.loadFile(handed.file, handed.source, handed.title);
        }
        if (changed.has('imageError')) {
          const message = store.get('imageError');
          if (message) showError(ui.error, message);
          else clearError(ui.error);
        }
        if (changed.has('engine') && store.get('engine')?.error) showError(ui.error, store.get('engine').error);
        const image = store.get('image');
        if (changed.has('image')) {
          gallery.markPressed(image?.key);
          if (image && image !== view.shown?.image) {
            if (image.imageId == null) loader.loadFromStore(image);
            return; // the decoded image comes back through the store
          }
          crop.drawSource();
        }
        if ((changed.has('image') || changed.has('crop')) && image && image === view.shown?.image) {
          const wanted = store.get('crop');
          if (wanted && !validCrop(wanted, image)) {
            crop.set(wanted); // a crop from outside (a hand-edited link) that does not fit this image: clamped
            return;
          }
          crop.placeFrame();
          crop.request();
        }
      },
      resize: () => crop.drawSource(),
    };
  },
};

// --- crop geometry (pure) ---
function centred(image) {
  const side = Math.min(image.width, image.height);
  return { x: Math.floor((image.width - side) / 2), y: Math.floor((image.height - side) / 2), side };
}
function validCrop(c, image) {
  if (!c) return null;
  return c.side >= 1 && c.x >= 0 && c.y >= 0 && c.x + c.side <= image.width && c.y + c.side <= image.height ? c : null;
}
function clampCrop(c, image) {
  const maxSide = Math.min(image.width, image.height);
  const side = Math.round(Math.max(Math.min(maxSide, 8), Math.min(maxSide, c.side)));
  return {
    side,
    x: Math.round(Math.max(0, Math.min(image.width - side, c.x))),
    y: Math.round(Math.max(0, Math.min(image.height - side, c.y))),
  };
}

// Loading: a File (picker, drop, paste, camera) or a gallery key the store names -> decoded in the worker -> the
// store's image and crop. A load the user or the store has moved on from (a newer load started) writes nothing.
function imageLoader({ store, worker }, area, ui, view) {
  const status = (text) => {
    ui.status.textContent = text;
  };
  const claim = () => {
    const mine = ++view.generation;
    return () => view.generation === mine;
  };
  // After a failed load: the store names what is shown again, so image, crop and input keep describing one picture
  // (a gallery key this load superseded, or the one that failed, is not what the model sees).
  const backToShown = () => {
    if (store.get('image') !== (view.shown?.image ?? null))
      store.set({ image: view.shown?.image ?? null, crop: view.shown?.crop ?? null });
  };

  // reread() -> Promise of the file's bytes again: the worker keeps the decoded pixels, and a restarted worker (see
  // WorkerClient.onReset) has lost them, so the view decodes the same file again before its next crop.
  async function decode(bytes, image, wantedCrop, stillWanted, reread) {
    status(`Decoding ${image.title}…`);
    const decoded = await worker.request('decodeImage', { bytes, name: image.title }, { transfer: [bytes] });
    if (!stillWanted()) return;
    const full = { ...image, imageId: decoded.imageId, width: decoded.width, height: decoded.height };
    view.shown = {
      image: full,
      preview: decoded.preview,
      crop: null,
      imageId: decoded.imageId,
      generation: worker.generation,
      reread,
    };
    area.hint.hidden = true;
    status(
      `${image.title}: ${decoded.width} × ${decoded.height} ${decoded.format.toUpperCase()}${decoded.orientation > 1 ? ` (turned upright from EXIF orientation ${decoded.orientation})` : ''}.`,
    );
    store.set({ image: full, crop: validCrop(wantedCrop, full) || centred(full), imageError: null });
  }

  function refuse(message) {
    // The previous image, crop and results stay as they were. Shown here too: the same message twice in a row is
    // no change to the store.
    status(view.shown ? `Still showing ${view.shown.image.title}.` : '');
    store.set({ imageError: message });
    showError(ui.error, message);
  }

  async function loadFile(file, source = 'local', named = null) {
    if (!file) return;
    if (file.size > MAX_FILE_BYTES) {
      refuse(
        `${file.name} is ${(file.size / 1048576).toFixed(0)} MB; images up to ${MAX_FILE_BYTES / 1048576} MB are accepted.`,
      );
      return;
    }
    const title = named || (source === 'camera' ? 'camera snapshot' : file.name || 'pasted image');
    const image = { source, key: source === 'camera' ? 'local:camera' : `local:${title}`, title };
    const stillWanted = claim();
    try {
      await decode(await file.arrayBuffer(), image, null, stillWanted, () => file.arrayBuffer());
    } catch (e) {
      if (!stillWanted()) return;
      backToShown();
      refuse(e.message);
    }
  }

  // The store names an image this view has not decoded (a gallery key from a link, a click, a lesson).
  async function loadFromStore(image) {
    const found = galleryImage(store.get('gallery'), image.key);
    const stillWanted = claim();
    const wantedCrop = store.get('crop');
    try {
      if (!found) throw new Error(`the gallery of this build has no image ${image.key}`);
      const fetchBytes = async () => {
        const response = await fetch(found.url);
        if (!response.ok) throw new Error(`could not fetch ${found.url}: HTTP ${response.status}`);
        return response.arrayBuffer();
      };
      const bytes = await fetchBytes();
      if (!stillWanted()) return;
      const shownImage = { source: 'gallery', key: image.key, title: found.title };
      await decode(bytes, shownImage, wantedCrop, stillWanted, fetchBytes);
    } catch (e) {
      if (!stillWanted()) return;
      backToShown();
      refuse(e.message);
    }
  }

  return { loadFile, loadFromStore, refuse };
}

// The picture with its crop frame, and the 112x112 input cut from the full image for the store's crop.
function cropper({ store, worker }, area, ui, view) {
  // One crop request at a time; moves made meanwhile collapse into one follow-up request, which reads the store
  // when it is sent (so it is always the newest image and crop).
  const requests = { inFlight: false, again: false };

  function geometry(image) {
    const size = area.stage.clientWidth || 300;
    const s = size / Math.max(image.width, image.height);
    return { size, s, ox: (size - image.width * s) / 2, oy: (size - image.height * s) / 2 };
  }
  const current = () => store.get('crop') || (view.shown && centred(view.shown.image));

  function drawSource() {
    if (!view.shown) return;
    const { image, preview } = view.shown;
    const { size, s, ox, oy } = geometry(image);
    const dpr = window.devicePixelRatio || 1;
    area.canvas.width = Math.round(size * dpr);
    area.canvas.height = Math.round(size * dpr);
    const ctx = area.canvas.getContext('2d');
    const tmp = new OffscreenCanvas(preview.width, preview.height);
    tmp.getContext('2d').putImageData(toImageData(preview.pixels, preview.width, preview.height), 0, 0);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(tmp, ox, oy, image.width * s, image.height * s);
    placeFrame();
  }

  function placeFrame() {
    const crop = current();
    if (!view.shown || !crop) {
      area.frame.classList.add('off');
      return;
    }
    const { image } = view.shown;
    const { s, ox, oy } = geometry(image);
    const frame = area.frame;
    frame.classList.remove('off');
    frame.style.left = `${ox + crop.x * s}px`;
    frame.style.top = `${oy + crop.y * s}px`;
    frame.style.width = frame.style.height = `${crop.side * s}px`;
    frame.setAttribute('aria-valuemin', '1');
    frame.setAttribute('aria-valuemax', String(Math.min(image.width, image.height)));
    frame.setAttribute('aria-valuenow', String(crop.side));
    frame.setAttribute('aria-valuetext', `square of ${crop.side} pixels at ${crop.x}, ${crop.y}`);
    ui.readout.textContent = `crop x ${crop.x}, y ${crop.y}, side ${crop.side} of ${image.width} × ${image.height}  (cortexlens predict … --crop ${crop.x},${crop.y},${crop.side})`;
    ui.size.value = String(Math.round((100 * crop.side) / Math.min(image.width, image.height)));
  }

  function set(c) {
    if (!view.shown) return;
    const crop = clampCrop(c, view.shown.image);
    if (!sameCrop(crop, store.get('crop'))) store.set({ crop });
  }

  async function request() {
    if (!view.shown || store.get('image') !== view.shown.image) return;
    if (requests.inFlight) {
      requests.again = true;
      return;
    }
    requests.inFlight = true;
    const shown = view.shown;
    const crop = current();
    try {
      if (shown.generation !== worker.generation) {
        const bytes = await shown.reread();
        const decoded = await worker.request('decodeImage', { bytes, name: shown.image.title }, { transfer: [bytes] });
        Object.assign(shown, { imageId: decoded.imageId, generation: worker.generation });
      }
      const { input, pixels } = await worker.request('cropImage', { imageId: shown.imageId, crop });
      // A reply for an image no longer shown is dropped; one for an older crop of this image is shown meanwhile
      // (the picture follows a drag), and the follow-up brings the newest.
      if (store.get('image') === shown.image) {
        shown.crop = crop;
        ui.seen.getContext('2d').putImageData(toImageData(pixels, 112, 112), 0, 0);
        store.set({ input, seenPixels: pixels, inputOf: { image: shown.image, crop } });
      }
    } catch (e) {
      if (store.get('image') === shown.image) showError(ui.error, e.message);
    } finally {
      requests.inFlight = false;
      if (requests.again) {
        requests.again = false;
        request();
      }
    }
  }

  return { geometry, current, drawSource, placeFrame, set, request };
}

// The gallery: the build's patterns and each session's natural images, in pages of 40; a click names the image in
// the store (the view's update loads it).
function galleryPanel(store, gal) {
  let shownCount = 0;
  function items(source) {
    const gallery = store.get('gallery');
    if (source === 'own')
      return {
        list: gallery.own.map((o) => ({ key: o.id, url: asset(o.url), title: o.title })),
        total: gallery.own.length,
      };
    const s = gallery.sessions.find((x) => x.session === source);
    // Held-out images first: those are the ones the evidence tab compares against.
    const order = [];
    for (let n = 601; n <= s.numbers[1]; ++n) order.push(n);
    for (let n = s.numbers[0]; n <= Math.min(600, s.numbers[1]); ++n) order.push(n);
    const list = order.slice(shownCount, shownCount + GALLERY_PAGE).map((n) => ({
      key: `${source}/${n}`,
      url: asset(`gallery/${source}/image${String(n).padStart(4, '0')}.jpg`),
      title: `session ${source}, image ${n}`,
    }));
    return { list, total: order.length };
  }
  function showMore() {
    const { list, total } = items(gal.source.value);
    shownCount += list.length;
    gal.more.hidden = shownCount >= total;
    const key = store.get('image')?.key;
    gal.grid.append(
      ...list.map((it) =>
        h(
          'button',
          { type: 'button', 'data-key': it.key, 'aria-pressed': String(key === it.key), title: it.title },
          h('img', { src: it.url, alt: it.title, loading: 'lazy', width: 56, height: 56 }),
        ),
      ),
    );
  }
  function restart() {
    shownCount = 0;
    gal.grid.replaceChildren();
    showMore();
  }
  function fill() {
    const gallery = store.get('gallery');
    gal.source.replaceChildren(
      h('option', { value: 'own' }, 'Patterns made by this project'),
      ...gallery.sessions.map((s) =>
        h('option', { value: s.session }, `Session ${s.session} natural images (${s.count})`),
      ),
    );
    // Natural images first when the build has them: they are what the neurons were recorded with.
    gal.source.value = gallery.sessions.length ? gallery.sessions[0].session : 'own';
    gal.note.textContent = gallery.sessions.length
      ? 'Natural images: the stimuli shown to the monkeys in the test sessions (from the authors’ repository). Images 1–600 were used to fit the models’ readout; 601–1200 are held out.'
      : 'This build has no natural images from the recordings (it was built without the published data).';
    restart();
  }
  gal.source.addEventListener('input', restart);
  gal.more.addEventListener('click', showMore);
  gal.grid.addEventListener('click', (event) => {
    const key = event.target.closest('button[data-key]')?.dataset.key;
    if (key) store.set({ image: { source: 'gallery', key }, crop: null });
  });
  const markPressed = (key) => {
    for (const b of gal.grid.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.key === key));
  };
  return { fill, markPressed };
}

// Pointer, wheel and keyboard on the crop frame, the size slider and the centre button. All of them only ask for a
// crop (setCrop clamps it and writes the store); the view's update does the rest.
function listenToCrop(area, ui, { geometry, image, crop, setCrop, centred }) {
  const { frame, stage } = area;
  let drag = null;
  frame.addEventListener('pointerdown', (event) => {
    if (!image()) return;
    event.preventDefault();
    frame.setPointerCapture(event.pointerId);
    drag = {
      mode: event.target.id === 'crop-handle' ? 'resize' : 'move',
      x: event.clientX,
      y: event.clientY,
      start: { ...crop() },
    };
  });
  frame.addEventListener('pointermove', (event) => {
    if (!drag) return;
    const { s } = geometry();
    const dx = (event.clientX - drag.x) / s;
    const dy = (event.clientY - drag.y) / s;
    if (drag.mode === 'move') setCrop({ ...drag.start, x: drag.start.x + dx, y: drag.start.y + dy });
    else
      setCrop({
        ...drag.start,
        side: Math.min(drag.start.side + Math.max(dx, dy), image().width - drag.start.x, image().height - drag.start.y),
      });
  });
  const endDrag = () => {
    drag = null;
  };
  frame.addEventListener('pointerup', endDrag);
  frame.addEventListener('pointercancel', endDrag);
  const resizeBy = (factor) => {
    const c = crop();
    const side = c.side * factor;
    setCrop({ x: c.x + c.side / 2 - side / 2, y: c.y + c.side / 2 - side / 2, side });
  };
  stage.addEventListener(
    'wheel',
    (event) => {
      if (!image()) return;
      event.preventDefault();
      resizeBy(event.deltaY < 0 ? 0.95 : 1 / 0.95);
    },
    { passive: false },
  );
  frame.addEventListener('keydown', (event) => {
    if (!image()) return;
    const c = crop();
    const step = Math.max(1, Math.round(c.side * (event.shiftKey ? 0.2 : 0.05)));
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[event.key]) {
      event.preventDefault();
      setCrop({ ...c, x: c.x + moves[event.key][0], y: c.y + moves[event.key][1] });
    } else if (event.key === '+' || event.key === '=') {
      event.preventDefault();
      resizeBy(1 / 0.95);
    } else if (event.key === '-') {
      event.preventDefault();
      resizeBy(0.95);
    }
  });
  ui.size.addEventListener('input', () => {
    if (!image()) return;
    const c = crop();
    const side = (Number(ui.size.value) / 100) * Math.min(image().width, image().height);
    setCrop({ x: c.x + c.side / 2 - side / 2, y: c.y + c.side / 2 - side / 2, side });
  });
  ui.centreButton.addEventListener('click', () => {
    if (image()) setCrop(centred(image()));
  });
}

// File picker, drop, paste and camera: each hands a File to loadFile.
function listenToSources(area, ui, { loadFile, refuse, clear }) {
  ui.fileInput.addEventListener('change', () => {
    loadFile(ui.fileInput.files[0]);
    ui.fileInput.value = '';
  });
  const zone = area.zone.closest('section');
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    area.zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', (event) => {
    if (!zone.contains(event.relatedTarget)) area.zone.classList.remove('dragging');
  });
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    area.zone.classList.remove('dragging');
    const file = event.dataTransfer.files[0];
    if (file) loadFile(file);
    else refuse('Nothing to read in what was dropped: drop an image file (JPEG, PNG, GIF or BMP).');
  });
  // Anything dropped outside the panels would make the browser navigate away from the page (and the user's work).
  window.addEventListener('dragover', (event) => event.preventDefault());
  window.addEventListener('drop', (event) => event.preventDefault());
  document.addEventListener('paste', (event) => {
    const file = [...(event.clipboardData?.files || [])].find((f) => f.type.startsWith('image/'));
    if (file) {
      event.preventDefault();
      loadFile(file);
    }
  });

  let stream = null;
  ui.cameraButton.addEventListener('click', async () => {
    clear();
    if (!navigator.mediaDevices?.getUserMedia) {
      refuse('This browser offers no camera here (a camera needs https or localhost).');
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
      ui.video.srcObject = stream;
      ui.cameraBox.hidden = false;
      ui.snapButton.focus();
    } catch (e) {
      refuse(`The camera could not be opened: ${e.message}`);
    }
  });
  function closeCamera() {
    for (const track of stream?.getTracks() || []) track.stop();
    stream = null;
    ui.video.srcObject = null;
    ui.cameraBox.hidden = true;
  }
  ui.closeButton.addEventListener('click', closeCamera);
  ui.snapButton.addEventListener('click', async () => {
    const video = ui.video;
    if (!video.videoWidth) {
      refuse('The camera has not delivered a picture yet; try again in a moment.');
      return;
    }
    const snap = new OffscreenCanvas(video.videoWidth, video.videoHeight);
    snap.getContext('2d').drawImage(video, 0, 0);
    const blob = await snap.convertToBlob({ type: 'image/png' });
    closeCamera();
    await loadFile(new File([blob], 'camera snapshot', { type: 'image/png' }), 'camera');
  });
}
