// "Your image": file picker, drag and drop, paste, camera, gallery, and the square crop the model sees.
// The worker decodes each file once (stb_image, as the command line does) and keeps the full-resolution pixels; the
// page gets a small preview to draw, and asks the worker for the 112x112 input whenever the crop changes.
import { $, h, showError, clearError } from './dom.js';

const MAX_FILE_BYTES = 100 * 1024 * 1024;  // the core's ImageLimits::max_file_bytes
const GALLERY_PAGE = 40;

export function setupImagePanel({ worker, onInput }) {
  const stage = $('crop-stage'), canvas = $('source-canvas'), frame = $('crop-frame');
  let img = null;    // {key, title, imageId, width, height, preview}
  let crop = null;   // {x, y, side}
  let inFlight = false, again = false;
  let gallery = { own: [], sessions: [] }, galleryShown = 0;

  const status = (text) => { $('image-status').textContent = text; };

  async function loadBytes(bytes, { key, title }, wantedCrop = null) {
    clearError($('image-error'));
    status(`Decoding ${title}…`);
    try {
      const decoded = await worker.request('decodeImage', { bytes, name: title }, { transfer: [bytes] });
      img = { key, title, ...decoded };
      crop = validCrop(wantedCrop) || centred();
      $('drop-hint').hidden = true;
      status(`${title}: ${decoded.width} × ${decoded.height} ${decoded.format.toUpperCase()}${decoded.orientation > 1 ? ` (turned upright from EXIF orientation ${decoded.orientation})` : ''}.`);
      drawSource();
      for (const b of $('gallery-grid').querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.key === key));
      requestCrop();
    } catch (e) {
      // The previous image, crop and results stay as they were.
      status(img ? `Still showing ${img.title}.` : '');
      showError($('image-error'), e.message);
    }
  }

  async function loadFile(file) {
    if (!file) return;
    if (file.size > MAX_FILE_BYTES) {
      showError($('image-error'), `${file.name} is ${(file.size / 1048576).toFixed(0)} MB; images up to ${MAX_FILE_BYTES / 1048576} MB are accepted.`);
      return;
    }
    await loadBytes(await file.arrayBuffer(), { key: `local:${file.name}`, title: file.name || 'pasted image' });
  }

  function galleryUrl(key) {
    const own = gallery.own.find((o) => o.id === key);
    if (own) return { url: own.url, title: own.title };
    const m = /^(\d{6})\/(\d{1,4})$/.exec(key || '');
    if (m && gallery.sessions.some((s) => s.session === m[1])) return { url: `gallery/${m[1]}/image${m[2].padStart(4, '0')}.jpg`, title: `session ${m[1]}, image ${Number(m[2])}` };
    return null;
  }

  async function chooseGallery(key, wantedCrop = null) {
    const found = galleryUrl(key) || galleryUrl(gallery.own[0]?.id);
    if (!found) return;
    try {
      const response = await fetch(found.url);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      await loadBytes(await response.arrayBuffer(), { key: galleryUrl(key) ? key : gallery.own[0].id, title: found.title }, wantedCrop);
    } catch (e) {
      showError($('image-error'), `Could not fetch ${found.url}: ${e.message}`);
    }
  }

  // --- crop geometry ---
  function centred() {
    const side = Math.min(img.width, img.height);
    return { x: Math.floor((img.width - side) / 2), y: Math.floor((img.height - side) / 2), side };
  }
  function validCrop(c) {
    if (!c || !img) return null;
    return c.side >= 1 && c.x >= 0 && c.y >= 0 && c.x + c.side <= img.width && c.y + c.side <= img.height ? c : null;
  }
  function clampCrop(c) {
    const maxSide = Math.min(img.width, img.height);
    const side = Math.round(Math.max(Math.min(maxSide, 8), Math.min(maxSide, c.side)));
    return { side, x: Math.round(Math.max(0, Math.min(img.width - side, c.x))), y: Math.round(Math.max(0, Math.min(img.height - side, c.y))) };
  }
  function geometry() {
    const size = stage.clientWidth || 300;
    const s = size / Math.max(img.width, img.height);
    return { size, s, ox: (size - img.width * s) / 2, oy: (size - img.height * s) / 2 };
  }

  function drawSource() {
    if (!img) return;
    const { size, s, ox, oy } = geometry();
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(size * dpr); canvas.height = Math.round(size * dpr);
    const ctx = canvas.getContext('2d');
    const p = img.preview;
    const data = new ImageData(p.width, p.height);
    for (let i = 0, j = 0; i < p.pixels.length; i += 3, j += 4) { data.data[j] = p.pixels[i]; data.data[j + 1] = p.pixels[i + 1]; data.data[j + 2] = p.pixels[i + 2]; data.data[j + 3] = 255; }
    const tmp = new OffscreenCanvas(p.width, p.height);
    tmp.getContext('2d').putImageData(data, 0, 0);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(tmp, ox, oy, img.width * s, img.height * s);
    placeFrame();
  }

  function placeFrame() {
    if (!img || !crop) { frame.classList.add('off'); return; }
    const { s, ox, oy } = geometry();
    frame.classList.remove('off');
    frame.style.left = `${ox + crop.x * s}px`;
    frame.style.top = `${oy + crop.y * s}px`;
    frame.style.width = frame.style.height = `${crop.side * s}px`;
    frame.setAttribute('aria-valuemin', '1');
    frame.setAttribute('aria-valuemax', String(Math.min(img.width, img.height)));
    frame.setAttribute('aria-valuenow', String(crop.side));
    frame.setAttribute('aria-valuetext', `square of ${crop.side} pixels at ${crop.x}, ${crop.y}`);
    $('crop-readout').textContent = `crop x ${crop.x}, y ${crop.y}, side ${crop.side} of ${img.width} × ${img.height}  (cortexlens predict … --crop ${crop.x},${crop.y},${crop.side})`;
    $('crop-size').value = String(Math.round((100 * crop.side) / Math.min(img.width, img.height)));
  }

  function setCrop(c) {
    crop = clampCrop(c);
    placeFrame();
    requestCrop();
  }

  // One crop request at a time; moves made meanwhile collapse into one follow-up request.
  async function requestCrop() {
    if (!img) return;
    if (inFlight) { again = true; return; }
    inFlight = true;
    const asked = { ...crop }, image = img;
    try {
      const { input, pixels } = await worker.request('cropImage', { imageId: image.imageId, crop: asked });
      drawSeen(pixels);
      onInput({ input, pixels, crop: asked, image: { key: image.key, title: image.title, imageId: image.imageId, width: image.width, height: image.height } });
    } catch (e) {
      showError($('image-error'), e.message);
    } finally {
      inFlight = false;
      if (again) { again = false; requestCrop(); }
    }
  }

  function drawSeen(pixels) {
    const data = new ImageData(112, 112);
    for (let i = 0, j = 0; i < pixels.length; i += 3, j += 4) { data.data[j] = pixels[i]; data.data[j + 1] = pixels[i + 1]; data.data[j + 2] = pixels[i + 2]; data.data[j + 3] = 255; }
    $('seen-canvas').getContext('2d').putImageData(data, 0, 0);
  }

  // --- pointer, wheel and keyboard on the crop ---
  let drag = null;
  frame.addEventListener('pointerdown', (event) => {
    if (!img) return;
    event.preventDefault();
    frame.setPointerCapture(event.pointerId);
    drag = { mode: event.target.id === 'crop-handle' ? 'resize' : 'move', x: event.clientX, y: event.clientY, start: { ...crop } };
  });
  frame.addEventListener('pointermove', (event) => {
    if (!drag) return;
    const { s } = geometry();
    const dx = (event.clientX - drag.x) / s, dy = (event.clientY - drag.y) / s;
    if (drag.mode === 'move') setCrop({ ...drag.start, x: drag.start.x + dx, y: drag.start.y + dy });
    else {
      const side = Math.min(drag.start.side + Math.max(dx, dy), img.width - drag.start.x, img.height - drag.start.y);
      setCrop({ ...drag.start, side });
    }
  });
  const endDrag = () => { drag = null; };
  frame.addEventListener('pointerup', endDrag);
  frame.addEventListener('pointercancel', endDrag);
  stage.addEventListener('wheel', (event) => {
    if (!img) return;
    event.preventDefault();
    resizeBy(event.deltaY < 0 ? 0.95 : 1 / 0.95);
  }, { passive: false });
  function resizeBy(factor) {
    const side = crop.side * factor, cx = crop.x + crop.side / 2, cy = crop.y + crop.side / 2;
    setCrop({ x: cx - side / 2, y: cy - side / 2, side });
  }
  frame.addEventListener('keydown', (event) => {
    if (!img) return;
    const step = Math.max(1, Math.round(crop.side * (event.shiftKey ? 0.2 : 0.05)));
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[event.key]) { event.preventDefault(); setCrop({ ...crop, x: crop.x + moves[event.key][0], y: crop.y + moves[event.key][1] }); }
    else if (event.key === '+' || event.key === '=') { event.preventDefault(); resizeBy(1 / 0.95); }
    else if (event.key === '-') { event.preventDefault(); resizeBy(0.95); }
  });
  $('crop-size').addEventListener('input', () => {
    if (!img) return;
    const side = (Number($('crop-size').value) / 100) * Math.min(img.width, img.height);
    const cx = crop.x + crop.side / 2, cy = crop.y + crop.side / 2;
    setCrop({ x: cx - side / 2, y: cy - side / 2, side });
  });
  $('centre-button').addEventListener('click', () => { if (img) setCrop(centred()); });
  new ResizeObserver(() => drawSource()).observe(stage);

  // --- sources ---
  $('file-input').addEventListener('change', () => { loadFile($('file-input').files[0]); $('file-input').value = ''; });
  const zone = $('drop-zone').closest('section');
  zone.addEventListener('dragover', (event) => { event.preventDefault(); $('drop-zone').classList.add('dragging'); });
  zone.addEventListener('dragleave', (event) => { if (!zone.contains(event.relatedTarget)) $('drop-zone').classList.remove('dragging'); });
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    $('drop-zone').classList.remove('dragging');
    const file = event.dataTransfer.files[0];
    if (file) loadFile(file);
    else showError($('image-error'), 'Nothing to read in what was dropped: drop an image file (JPEG, PNG, GIF or BMP).');
  });
  // Anything dropped outside the panels would make the browser navigate away from the page (and the user's work).
  window.addEventListener('dragover', (event) => event.preventDefault());
  window.addEventListener('drop', (event) => event.preventDefault());
  document.addEventListener('paste', (event) => {
    const file = [...(event.clipboardData?.files || [])].find((f) => f.type.startsWith('image/'));
    if (file) { event.preventDefault(); loadFile(file); }
  });

  let stream = null;
  $('camera-button').addEventListener('click', async () => {
    clearError($('image-error'));
    if (!navigator.mediaDevices?.getUserMedia) { showError($('image-error'), 'This browser offers no camera here (a camera needs https or localhost).'); return; }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
      $('camera-video').srcObject = stream;
      $('camera-box').hidden = false;
      $('snap-button').focus();
    } catch (e) {
      showError($('image-error'), `The camera could not be opened: ${e.message}`);
    }
  });
  function closeCamera() {
    stream?.getTracks().forEach((t) => t.stop());
    stream = null;
    $('camera-video').srcObject = null;
    $('camera-box').hidden = true;
  }
  $('camera-close').addEventListener('click', closeCamera);
  $('snap-button').addEventListener('click', async () => {
    const video = $('camera-video');
    if (!video.videoWidth) { showError($('image-error'), 'The camera has not delivered a picture yet; try again in a moment.'); return; }
    const snap = new OffscreenCanvas(video.videoWidth, video.videoHeight);
    snap.getContext('2d').drawImage(video, 0, 0);
    const blob = await snap.convertToBlob({ type: 'image/png' });
    closeCamera();
    await loadBytes(await blob.arrayBuffer(), { key: 'local:camera', title: 'camera snapshot' });
  });

  // --- gallery ---
  function setGallery(index) {
    gallery = index;
    const select = $('gallery-source');
    select.replaceChildren(h('option', { value: 'own' }, 'Patterns made by this project'),
      ...index.sessions.map((s) => h('option', { value: s.session }, `Session ${s.session} natural images (${s.count})`)));
    // Natural images first when the build has them: they are what the neurons were recorded with.
    select.value = index.sessions.length ? index.sessions[0].session : 'own';
    select.addEventListener('input', () => { galleryShown = 0; $('gallery-grid').replaceChildren(); showMore(); });
    $('gallery-more').addEventListener('click', showMore);
    $('gallery-note').textContent = index.sessions.length
      ? 'Natural images: the stimuli shown to the monkeys in the test sessions (from the authors’ repository). Images 1–600 were used to fit the models’ readout; 601–1200 are held out.'
      : 'This build has no natural images from the recordings (it was built without the published data).';
    showMore();
  }
  function showMore() {
    const source = $('gallery-source').value;
    const grid = $('gallery-grid');
    let items;
    if (source === 'own') items = gallery.own.map((o) => ({ key: o.id, url: o.url, title: o.title }));
    else {
      const s = gallery.sessions.find((x) => x.session === source);
      items = [];
      // Held-out images first: those are the ones the evidence tab compares against.
      const order = [];
      for (let n = 601; n <= s.numbers[1]; ++n) order.push(n);
      for (let n = s.numbers[0]; n <= Math.min(600, s.numbers[1]); ++n) order.push(n);
      for (const n of order.slice(galleryShown, galleryShown + GALLERY_PAGE)) items.push({ key: `${source}/${n}`, url: `gallery/${source}/image${String(n).padStart(4, '0')}.jpg`, title: `session ${source}, image ${n}` });
      galleryShown += items.length;
      $('gallery-more').hidden = galleryShown >= order.length;
    }
    if (source === 'own') $('gallery-more').hidden = true;
    grid.append(...items.map((it) => {
      const b = h('button', { type: 'button', 'data-key': it.key, 'aria-pressed': String(img?.key === it.key), title: it.title },
        h('img', { src: it.url, alt: it.title, loading: 'lazy', width: 56, height: 56 }));
      b.addEventListener('click', () => chooseGallery(it.key));
      return b;
    }));
  }

  return { setGallery, chooseGallery, loadFile };
}
