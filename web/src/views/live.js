// "Live": the camera (or a video file) as the stimulus. Each frame's square goes to the main worker (liveFrame: the
// core's resize, then the current neuron's model), the shared model lights the strip of all neurons on a second
// worker, and a saliency map follows at a lower rate. Every lane keeps at most one frame waiting: the newest replaces
// one not yet started (src/live/lane.js), so what is shown is never more than a frame behind the camera.
// Freeze hands the frame to every other view through the image view's own decode path (store key imageFile).
import { h, showError, clearError, downloadBlob, downloadCsv } from '../dom.js';
import { percentileOf, ordinal } from '../reference.js';
import { drawRgb, drawMap, colourOf } from '../draw.js';
import { drawSeries } from '../series-chart.js';
import { latestLane } from '../live/lane.js';
import { neuronTiles } from '../live/tiles.js';
import { liveDom } from '../live/dom.js';
import { cameraMessage, cropRect, frameLoop, grabSquare, videoDuration, seekTo } from '../live/source.js';

const CITATION =
  'Models: Cowley, Stan, Pillow & Smith, "Compact deep neural network models of the visual cortex", Nature 2026, doi:10.1038/s41586-026-10150-1.';
const INTRO =
  'Point the camera at things (or play a video) and watch the current model neuron answer, frame by frame. Each frame ' +
  'is treated as a separate still image: the models were fitted to V4 responses to static images flashed one at a ' +
  'time, so they know nothing of motion, of how long something has been in view, or of where the eyes move. A real ' +
  'neuron watching a movie would also adapt and follow motion; movies are a natural next question for models like ' +
  'these, which were neither fitted nor tested on them.';
const TRACE_SECONDS = 10;
const KEEP_SECONDS = 600; // the trace's CSV holds the last 10 minutes
const STRIP_PAINT_MS = 100; // the strip of all neurons is repainted at most 10 times a second
const SALIENCY_EVERY_MS = 200; // at most 5 maps a second: each costs a few forward passes of worker time
const ANALYSIS_RATE = 10; // frames per second of video in the whole-video analysis
const VIDEO_TYPES = /^video\/|\.(mp4|m4v|webm|mov|ogv)$/i;

const isTyping = (el) => el && (/^(INPUT|TEXTAREA|SELECT|BUTTON|A|SUMMARY)$/.test(el.tagName) || el.isContentEditable);
const fileSafe = (s) => s.replace(/[^\w.-]+/g, '_');

// The models a frame runs through: the neuron's int8 file when the build has one (what "One neuron" shows first),
// the float one for saliency (gradients of the integer kernels are not defined), the shared model for the strip.
function models({ catalog, store }) {
  const ref = (e, first, second) => {
    try {
      return e ? catalog.modelRef(e, catalog.hasPrecision(e, first) ? first : second) : null;
    } catch {
      return null;
    }
  };
  const output = () => (catalog.current()?.kind === 'own' ? store.get('ownOutput') : 0);
  return {
    neuron: () => ref(catalog.current(), 'int8', catalog.current()?.precision || 'float'),
    float: () => ref(catalog.current(), 'float', catalog.current()?.precision || 'int8'),
    shared: () => ref(catalog.shared(), 'int8', 'float'),
    output,
    quantiles: () => catalog.quantiles(catalog.current(), output()),
  };
}

// ---- the three lanes ----
function neuronLane(ctx) {
  const { app, live, debug, model } = ctx;
  return latestLane(
    async (job) => {
      const ref = model.neuron();
      if (!ref) return job.frame.close();
      const sentAt = performance.now();
      const r = await app.worker.request('liveFrame', { frame: job.frame, ...ref }, { transfer: [job.frame] });
      if (job.generation !== live.generation) return;
      const doneAt = performance.now();
      const value = r.outputs[model.output()];
      const percentile = percentileOf(value, model.quantiles());
      debug.latencies.push({
        latency: doneAt - job.capturedAt, // the frame presented -> its result here
        waited: sentAt - job.capturedAt, // cut + the lane's slot
        inWorker: r.receivedAt - (performance.timeOrigin + sentAt), // posted -> the worker took it
        compute: r.ms,
      });
      if (debug.latencies.length > 600) debug.latencies.shift();
      debug.recent.push({ value, pixels: r.pixels, neuronId: app.store.get('neuronId') });
      if (debug.recent.length > 20) debug.recent.shift();
      live.rates.neuron.push(doneAt);
      live.last = { value, percentile, pixels: r.pixels };
      live.trace.push({ t: (doneAt - live.t0) / 1000, value, percentile });
      while (live.trace[0].t < live.trace.at(-1).t - KEEP_SECONDS) live.trace.shift();
      if (app.catalog.shared() && app.store.get('liveStrip'))
        ctx.strip.offer({ input: r.input, generation: job.generation });
      if (app.store.get('liveSaliency') && doneAt - live.lastSaliency >= SALIENCY_EVERY_MS) {
        // Maps start on a 200 ms grid, not 200 ms after whichever frame came next (which averaged ~4.6 a second);
        // after a pause the grid restarts near now, so no burst of catching up.
        live.lastSaliency = Math.max(live.lastSaliency + SALIENCY_EVERY_MS, doneAt - SALIENCY_EVERY_MS / 2);
        ctx.saliency.offer({ input: r.input, pixels: r.pixels, generation: job.generation });
      }
      ctx.scheduleDraw();
    },
    { drop: (job) => job.frame.close() },
  );
}

function stripLane(ctx) {
  const { app, live, model } = ctx;
  return latestLane(async (job) => {
    const shared = app.catalog.shared();
    const { outputs } = await app.pool
      .grow()
      .at(-1)
      .request('predict', { ...model.shared(), input: job.input });
    if (job.generation !== live.generation) return;
    (shared.outputs || []).forEach((id, k) => {
      ctx.stripPercentiles.set(id, percentileOf(outputs[k], app.catalog.quantiles(shared, k)));
    });
    live.rates.strip.push(performance.now());
    live.stripDirty = true;
    ctx.scheduleDraw();
  });
}

function saliencyLane(ctx) {
  const { app, live, ui, model } = ctx;
  return latestLane(async (job) => {
    const ref = model.float();
    if (!ref) return;
    const selector = { layer: -1, channel: model.output() };
    const m = await app.worker.request('vizSaliency', { ...ref, input: job.input, selector });
    if (job.generation !== live.generation) return;
    drawRgb(ui.saliency, job.pixels);
    const layer = h('canvas');
    drawMap(layer, m.data, m.shape[0], m.shape[1], { signed: true });
    const c = ui.saliency.getContext('2d');
    c.globalAlpha = 0.6;
    c.drawImage(layer, 0, 0);
    c.globalAlpha = 1;
    live.rates.saliency.push(performance.now());
  });
}

// ---- drawing at display rate ----
function showValue({ ui }, value, p) {
  ui.value.textContent = Number.isFinite(value) ? value.toFixed(3) : '—';
  ui.value.dataset.value = Number.isFinite(value) ? String(value) : '';
  ui.swatch.style.background = '';
  if (Number.isNaN(p)) {
    ui.percentile.textContent = Number.isFinite(value) ? '(no reference images for this model)' : '';
    return;
  }
  ui.percentile.textContent =
    p >= 100
      ? 'above every reference natural image'
      : p <= 0
        ? 'below every reference natural image'
        : `${ordinal(p)} percentile of natural images`;
  const [r, g, b] = colourOf(p, 100, false);
  ui.swatch.style.background = `rgb(${r} ${g} ${b})`;
}

function drawTrace({ ui, live }) {
  const end = live.trace.at(-1)?.t ?? 0;
  const shown = live.trace.filter((s) => s.t >= end - TRACE_SECONDS);
  const usePercentile = shown.length > 0 && shown.every((s) => Number.isFinite(s.percentile));
  const values = shown.map((s) => (usePercentile ? s.percentile : s.value));
  drawSeries(
    ui.trace,
    [-TRACE_SECONDS, ...shown.map((s) => s.t - end), 0],
    [{ values: [Number.NaN, ...values, Number.NaN], color: '#0b5cad', points: false }],
    {
      yMin: usePercentile ? 0 : undefined,
      yMax: usePercentile ? 100 : undefined,
      xLabel: 'seconds ago',
      yLabel: usePercentile ? 'percentile' : 'response',
      title: 'The last 10 seconds',
      xTicks: [-10, -8, -6, -4, -2, 0].map((x) => ({ x, text: String(-x) })),
      aspect: ui.trace.clientWidth < 500 ? 0.62 : 0.36, // a phone's chart needs its height to read the axis
    },
  );
}

function drawer(ctx) {
  const { ui, live } = ctx;
  const rate = (list, now) => {
    while (list.length && list[0] < now - 2000) list.shift();
    return list.length / 2;
  };
  function draw() {
    live.drawPending = false;
    const now = performance.now();
    // The trace first: it reads the layout (its canvas's width), which is still clean at the start of the frame.
    // After the text below changed, that read forced a synchronous layout every frame (27-42 ms at the start).
    drawTrace(ctx);
    if (live.frozen) showValue(ctx, live.frozen.value, live.frozen.percentile);
    else if (live.last) {
      showValue(ctx, live.last.value, live.last.percentile);
      drawRgb(ui.seen, live.last.pixels);
    }
    // The strip is repainted at most STRIP_PAINT_MS apart (its numbers still arrive at the strip's full rate): 219
    // tiles restyled at 30+ Hz made the frames that also drew the trace, or collected garbage, longer than 50 ms, and
    // nobody follows 219 tiles at that rate. A frame that skips it leaves the strip dirty for the next one.
    if (live.stripDirty && now - live.stripPaintedAt >= STRIP_PAINT_MS) {
      live.stripDirty = false;
      live.stripPaintedAt = now;
      ctx.tiles.set(ctx.stripPercentiles);
    } else if (live.stripDirty && !live.stripTimer) {
      // No newer frame may come (frozen, stopped) to draw it: a timer does.
      live.stripTimer = setTimeout(
        () => {
          live.stripTimer = null;
          ctx.scheduleDraw();
        },
        STRIP_PAINT_MS - (now - live.stripPaintedAt),
      );
    }
    const r = live.rates;
    ui.rates.textContent = live.source
      ? `${rate(r.neuron, now).toFixed(0)} frames/s · all neurons ${rate(r.strip, now).toFixed(1)}/s · maps ${rate(r.saliency, now).toFixed(1)}/s`
      : '';
  }
  return () => {
    if (live.drawPending) return;
    live.drawPending = true;
    requestAnimationFrame(draw);
  };
}

// ---- sources: starting and stopping ----
function player(ctx) {
  const { app, ui, live } = ctx;
  const { store } = app;
  function onFrame(video, now) {
    if (!video.videoWidth || live.frozen) return;
    const generation = live.generation;
    grabSquare(video, store.get('liveCrop')).then(
      (frame) => {
        if (generation !== live.generation) frame.close();
        else ctx.neuron.offer({ frame, capturedAt: now, generation });
      },
      () => {}, // a frame the browser could not cut (the source just stopped): the next one will do
    );
  }
  function begin(source) {
    Object.assign(live, { source, frozen: null, t0: performance.now(), trace: [] });
    live.generation += 1;
    live.loop = frameLoop(ui.video, onFrame);
    ui.stop.disabled = false;
    ui.freeze.disabled = false;
    ui.traceCsv.disabled = false;
    ui.freeze.textContent = 'Freeze (Space)';
    ctx.placeSquare();
  }
  function halt() {
    live.loop?.stop();
    live.loop = null;
    live.generation += 1;
    for (const lane of [ctx.neuron, ctx.strip, ctx.saliency]) lane.clear();
  }
  function stopCamera() {
    for (const track of live.stream?.getTracks() || []) track.stop();
    live.stream = null;
    if (ui.video.srcObject) ui.video.srcObject = null;
  }
  // Stops everything (the camera's light goes off); keep: come back when the tab or the view is shown again.
  function stopAll(keep = false) {
    live.resumeOnShow = keep ? live.source : null;
    halt();
    stopCamera();
    ui.video.pause();
    if (!keep) live.source = null;
    ui.stop.disabled = true;
    ui.freeze.disabled = !live.frozen;
    ui.status.textContent = keep ? 'Paused while this page or view is not shown.' : '';
    ctx.scheduleDraw();
  }
  return { begin, halt, stopCamera, stopAll };
}

function camera(ctx) {
  const { app, ui, live } = ctx;
  return async function startCamera() {
    clearError(ui.error);
    ctx.stopAll();
    live.frozen = null;
    if (!navigator.mediaDevices?.getUserMedia) {
      showError(
        ui.error,
        'This browser offers no camera here (a camera needs https or localhost). A video file works.',
      );
      return;
    }
    ui.status.textContent = 'Opening the camera…';
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: app.store.get('liveFacing') }, width: { ideal: 640 }, height: { ideal: 480 } },
        audio: false,
      });
    } catch (e) {
      ui.status.textContent = '';
      showError(ui.error, cameraMessage(e));
      return;
    }
    if (app.store.get('view') !== 'live' || document.hidden) {
      for (const track of stream.getTracks()) track.stop();
      return;
    }
    live.stream = stream;
    for (const track of stream.getVideoTracks())
      track.addEventListener('ended', () => {
        if (live.stream !== stream) return;
        ctx.stopAll();
        showError(ui.error, 'The camera stopped (it was unplugged, or another program took it).');
      });
    ui.video.removeAttribute('src');
    ui.video.srcObject = stream;
    await ui.video.play().catch(() => {}); // a muted stream may autoplay; frames flow either way
    ui.status.textContent = 'Camera on.';
    ui.analysisBox.hidden = true;
    ctx.begin('camera');
    if (document.activeElement === ui.start) ui.freeze.focus(); // Space on Start would open the camera again
  };
}

function videoFile(ctx) {
  const { app, ui, live } = ctx;
  return async function openVideo(file) {
    clearError(ui.error);
    if (!file) return;
    if (!VIDEO_TYPES.test(file.type || '') && !VIDEO_TYPES.test(file.name || '')) {
      showError(ui.error, `${file.name || 'That file'} is not a video; choose an MP4 or WebM file.`);
      return;
    }
    ctx.stopAll();
    live.frozen = null;
    if (live.videoUrl) URL.revokeObjectURL(live.videoUrl);
    live.videoUrl = URL.createObjectURL(file);
    live.videoTitle = file.name || 'video';
    const video = ui.video;
    video.srcObject = null;
    video.loop = true;
    const ready = new Promise((resolve, reject) => {
      video.addEventListener('loadeddata', resolve, { once: true });
      video.addEventListener('error', () => reject(video.error), { once: true });
    });
    video.src = live.videoUrl;
    try {
      await ready;
    } catch (e) {
      const why = e?.message ? ` (${e.message})` : '';
      showError(
        ui.error,
        `This browser cannot play ${live.videoTitle}${why}. MP4 (H.264) and WebM (VP8, VP9) play in most browsers.`,
      );
      return;
    }
    app.store.set({ liveAnalysis: null });
    ui.analysisBox.hidden = false;
    ui.status.textContent = `${live.videoTitle}: ${video.videoWidth} × ${video.videoHeight}.`;
    await video.play().catch(() => {}); // a paused video still gives frames to the analysis
    ctx.begin('video');
  };
}

// Freeze: the frame shown becomes the page's image (the image view decodes the square's PNG: the same pixels, so
// every view's prediction equals the frozen value).
function freezer(ctx) {
  const { app, ui, live, model } = ctx;
  async function freeze() {
    const video = ui.video;
    if (!live.source || live.frozen || !video.videoWidth) return;
    const source = live.source;
    ctx.halt();
    const frame = await grabSquare(video, app.store.get('liveCrop'));
    const at = video.currentTime;
    if (source === 'camera') ctx.stopCamera();
    else video.pause();
    live.source = null;
    ui.freeze.disabled = true;
    try {
      const r = await app.worker.request('liveFrame', { frame, ...model.neuron(), png: true }, { transfer: [frame] });
      const value = r.outputs ? r.outputs[model.output()] : Number.NaN;
      const title = source === 'camera' ? 'live camera frame' : `${live.videoTitle} at ${at.toFixed(2)} s`;
      live.frozen = { value, percentile: percentileOf(value, model.quantiles()), png: r.png, title, source };
      showValue(ctx, value, live.frozen.percentile); // now, not at the next frame: the status below says it is done
      drawRgb(ui.seen, r.pixels);
      ui.framePng.disabled = false;
      ui.status.textContent = `Frozen: the ${title} is now the image of every view.`;
      const file = new File([r.png], `${fileSafe(title)}.png`, { type: 'image/png' });
      app.store.set({ imageFile: { file, source: source === 'camera' ? 'camera' : 'local', title } });
    } catch (e) {
      showError(ui.error, `The frame could not be frozen: ${e.message}`);
    } finally {
      ui.stop.disabled = true;
      ui.freeze.disabled = false;
      ui.freeze.textContent = 'Resume (Space)';
      ctx.scheduleDraw();
    }
  }
  async function resume() {
    const source = live.frozen?.source;
    live.frozen = null;
    if (source === 'camera') await ctx.startCamera();
    else if (source === 'video' && ui.video.src) {
      await ui.video.play().catch(() => {});
      ctx.begin('video');
    }
  }
  return () => (live.frozen ? resume() : freeze());
}

// ---- the whole video, frame by frame at ANALYSIS_RATE ----
function analyser(ctx) {
  const { app, ui, live, model, debug } = ctx;
  return async function analyseVideo() {
    const video = ui.video;
    const ref = model.neuron();
    if (!ref || !video.src) return;
    ctx.halt();
    video.pause();
    live.source = null;
    const mine = ++live.analysing;
    const entry = app.catalog.current();
    const started = performance.now();
    ui.analyse.disabled = true;
    try {
      const duration = await videoDuration(video);
      const count = Math.max(1, Math.ceil(duration * ANALYSIS_RATE - 1e-6));
      const times = [];
      const responses = [];
      const frames = [];
      for (let i = 0; i < count; ++i) {
        if (mine !== live.analysing || app.store.get('neuronId') !== entry.id) return;
        const t = i / ANALYSIS_RATE;
        await seekTo(video, t);
        const frame = await grabSquare(video, app.store.get('liveCrop'));
        const r = await app.worker.request('liveFrame', { frame, ...ref }, { transfer: [frame] });
        times.push(t);
        responses.push(r.outputs[model.output()]);
        frames.push(r.pixels);
        if (i % 5 === 0) ui.analysisText.textContent = `Frame ${i + 1} of ${count}…`;
      }
      live.analysisFrames = frames;
      debug.analysisFrames = frames;
      const q = model.quantiles();
      const percentiles = responses.map((v) => percentileOf(v, q));
      const ms = performance.now() - started;
      app.store.set({
        liveAnalysis: {
          neuronId: entry.id,
          title: live.videoTitle,
          rate: ANALYSIS_RATE,
          times,
          responses,
          percentiles,
          ms,
          picked: 0,
        },
      });
    } catch (e) {
      showError(ui.error, `The video could not be analysed: ${e.message}`);
    } finally {
      if (mine === live.analysing) ui.analyse.disabled = false;
    }
  };
}

function drawAnalysis({ app, ui, live }) {
  const a = app.store.get('liveAnalysis');
  ui.analysisCsv.disabled = !a;
  ui.plot.hidden = !a;
  ui.plotFrame.hidden = !a;
  if (!a) return;
  const usePercentile = a.percentiles.every(Number.isFinite);
  live.plotLayout = drawSeries(
    ui.plot,
    a.times,
    [{ values: usePercentile ? a.percentiles : a.responses, color: '#0b5cad', points: a.times.length <= 200 }],
    {
      yMin: usePercentile ? 0 : undefined,
      yMax: usePercentile ? 100 : undefined,
      xLabel: 'time in the video (s)',
      yLabel: usePercentile ? 'percentile' : 'response',
      title: `${a.neuronId} on ${a.title}`,
      highlightX: a.times[a.picked],
    },
  );
  const frame = live.analysisFrames?.[a.picked];
  if (frame) drawRgb(ui.plotFrame, frame);
  const v = a.responses[a.picked];
  ui.analysisText.textContent =
    `${a.times.length} frames (${a.rate} per second of video: the frames shown at 0, ${(1 / a.rate).toFixed(1)}, ${(2 / a.rate).toFixed(1)} s …), computed in ${(a.ms / 1000).toFixed(1)} s. ` +
    `At ${a.times[a.picked].toFixed(1)} s: response ${v.toFixed(3)}${usePercentile ? `, ${ordinal(a.percentiles[a.picked])} percentile` : ''}.`;
}

function listenToAnalysis(ctx) {
  const { app, ui, live } = ctx;
  ui.plot.addEventListener('click', (event) => {
    const a = app.store.get('liveAnalysis');
    if (!a || !live.plotLayout) return;
    const x = event.clientX - ui.plot.getBoundingClientRect().left;
    const distance = (i) => Math.abs(live.plotLayout.x(a.times[i]) - x);
    let best = 0;
    for (let i = 1; i < a.times.length; ++i) if (distance(i) < distance(best)) best = i;
    app.store.set({ liveAnalysis: { ...a, picked: best } });
    seekTo(ui.video, a.times[best]).catch(() => {});
  });
  ui.analysisCsv.addEventListener('click', () => {
    const a = app.store.get('liveAnalysis');
    const cell = (p) => (Number.isFinite(p) ? p.toFixed(2) : '');
    downloadCsv(
      `${a.neuronId}-${fileSafe(a.title)}.csv`,
      ['time_s', 'response', 'percentile'],
      a.times.map((t, i) => [t.toFixed(3), a.responses[i], cell(a.percentiles[i])]),
    );
  });
  ui.analyse.addEventListener('click', ctx.analyseVideo);
}

// ---- the square on the video, the controls, hidden tab / other view ----
function squarePlacer({ app, ui }) {
  return () => {
    const video = ui.video;
    ui.square.hidden = !video.videoWidth;
    if (!video.videoWidth) return;
    const r = cropRect(video, app.store.get('liveCrop'));
    const pct = (v, of) => `${(100 * v) / of}%`;
    Object.assign(ui.square.style, {
      left: pct(r.x, video.videoWidth),
      top: pct(r.y, video.videoHeight),
      width: pct(r.side, video.videoWidth),
      height: pct(r.side, video.videoHeight),
    });
  };
}

function listenToControls(ctx) {
  const { app, ui, live } = ctx;
  const { store } = app;
  ui.video.addEventListener('loadedmetadata', ctx.placeSquare);
  ui.video.addEventListener('resize', ctx.placeSquare);
  for (const [k, input] of Object.entries(ui.sliders))
    input.addEventListener('input', () =>
      store.set({ liveCrop: { ...store.get('liveCrop'), [k]: Number(input.value) } }),
    );
  ui.start.addEventListener('click', ctx.startCamera);
  ui.stop.addEventListener('click', () => ctx.stopAll());
  ui.freeze.addEventListener('click', ctx.toggleFreeze);
  ui.facing.addEventListener('input', () => store.set({ liveFacing: ui.facing.value }));
  ui.saliencyToggle.addEventListener('input', () => store.set({ liveSaliency: ui.saliencyToggle.checked }));
  ui.stripToggle.addEventListener('input', () => store.set({ liveStrip: ui.stripToggle.checked }));
  ui.fileInput.addEventListener('change', () => {
    ctx.openVideo(ui.fileInput.files[0]);
    ui.fileInput.value = '';
  });
  ui.stage.addEventListener('dragover', (event) => event.preventDefault());
  ui.stage.addEventListener('drop', (event) => {
    event.preventDefault();
    event.stopPropagation();
    ctx.openVideo(event.dataTransfer?.files?.[0]);
  });
  ui.traceCsv.addEventListener('click', () => {
    const cell = (p) => (Number.isFinite(p) ? p.toFixed(2) : '');
    const rows = live.trace.map((s) => [s.t.toFixed(3), s.value, cell(s.percentile)]);
    downloadCsv(`live-${store.get('neuronId')}.csv`, ['time_s', 'response', 'percentile'], rows);
  });
  ui.framePng.addEventListener('click', () => {
    if (live.frozen?.png) downloadBlob(live.frozen.png, `${fileSafe(live.frozen.title)}.png`);
  });
  document.addEventListener('keydown', (event) => {
    if (event.key !== ' ' || store.get('view') !== 'live' || isTyping(event.target)) return;
    if (!live.source && !live.frozen) return;
    event.preventDefault();
    ctx.toggleFreeze();
  });
}

// A hidden tab or another view stops everything (the camera's light goes off); it comes back on return.
function watchVisibility(ctx) {
  const { app, ui, live, debug } = ctx;
  const comeBack = () => {
    if (!live.resumeOnShow || document.hidden || app.store.get('view') !== 'live') return;
    const source = live.resumeOnShow;
    live.resumeOnShow = null;
    if (source === 'camera') ctx.startCamera();
    else if (ui.video.src) ui.video.play().finally(() => ctx.begin('video'));
  };
  const leave = () => (live.source ? ctx.stopAll(true) : null);
  document.addEventListener('visibilitychange', () => (document.hidden ? leave() : comeBack()));
  app.store.subscribe(['view'], () => (app.store.get('view') !== 'live' ? leave() : comeBack()));
  // Main-thread long tasks while live, for the benchmark (PerformanceObserver 'longtask': over 50 ms).
  if (PerformanceObserver.supportedEntryTypes?.includes('longtask'))
    new PerformanceObserver((list) => {
      if (!live.source) return;
      for (const e of list.getEntries()) debug.longTasks.push(e.duration);
    }).observe({ type: 'longtask' });
}

function update(ctx, changed) {
  const { app, ui, live } = ctx;
  const { store, catalog } = app;
  const entry = catalog.current();
  if (changed.has('neuronId') || changed.has('entries') || changed.has('ownOutput')) {
    live.generation += 1; // results of the previous neuron are dropped
    Object.assign(live, { trace: [], last: null, t0: performance.now() });
    if (!live.frozen) showValue(ctx, Number.NaN, Number.NaN);
    ui.neuronName.textContent = entry
      ? `${entry.name || entry.id}${entry.session ? ` (session ${entry.session}, neuron ${entry.neuron})` : ''}`
      : 'No model selected: choose a neuron in "One neuron".';
    ctx.tiles.mark(entry?.id);
  }
  if (changed.has('entries')) {
    const tiles = neuronTiles(catalog.neurons(), (id) => store.set({ neuronId: id }));
    ctx.tiles.element.replaceWith(tiles.element);
    ctx.tiles = tiles;
    tiles.mark(entry?.id);
    const shared = catalog.shared();
    ui.stripNote.textContent = shared
      ? `Each tile is one recorded neuron, lit by where the shared model (all ${shared.outputs?.length ?? 0} neurons in one pass) puts this frame among that neuron’s responses to natural images: dark = low, yellow = high. Click a tile to follow that neuron.`
      : 'This build has no shared model (it was built without the published data), so the strip of all neurons is off.';
    ctx.tiles.element.hidden = !shared;
    ui.stripToggle.parentElement.hidden = !shared;
  }
  if (changed.has('liveCrop')) {
    for (const k of ['size', 'x', 'y']) ui.sliders[k].value = String(store.get('liveCrop')[k]);
    ctx.placeSquare();
  }
  ui.facing.value = store.get('liveFacing');
  ui.saliencyToggle.checked = store.get('liveSaliency');
  ui.stripToggle.checked = store.get('liveStrip');
  if (changed.has('liveAnalysis') || changed.has('neuronId')) {
    const a = store.get('liveAnalysis');
    if (a && a.neuronId !== store.get('neuronId')) store.set({ liveAnalysis: null });
    else drawAnalysis(ctx);
  }
  ctx.scheduleDraw();
}

export default {
  id: 'live',
  title: 'Live',
  keys: ['neuronId', 'entries', 'liveCrop', 'liveFacing', 'liveSaliency', 'liveStrip', 'liveAnalysis', 'ownOutput'],
  mount(root, app) {
    const ui = liveDom(root, { intro: INTRO, citation: CITATION, analysisRate: ANALYSIS_RATE });
    // Frames are too fast for the store: this view's own running state. What a user sets is in the store.
    const live = {
      source: null, // 'camera' | 'video' | null
      stream: null,
      loop: null,
      videoTitle: '',
      resumeOnShow: null,
      t0: 0,
      trace: [], // {t (s since start), value, percentile}
      last: null,
      frozen: null, // {value, percentile, png, title, source}
      rates: { neuron: [], strip: [], saliency: [] }, // completion times (ms), the last 2 s
      lastSaliency: 0,
      stripPaintedAt: 0,
      stripTimer: null,
      analysing: 0,
      generation: 0, // bumped when the source or neuron changes: results of older frames are dropped
    };
    // For the tests and the benchmark (window.cortexLens.timings.live): lanes, latencies, the frames fed.
    const debug = { latencies: [], recent: [], analysisFrames: [], longTasks: [] };
    app.timings.live = debug;
    const ctx = { app, ui, live, debug, model: models(app), stripPercentiles: new Map() };
    ctx.tiles = neuronTiles([], () => {}); // filled when the manifest's entries arrive (update)
    ui.stripBox.append(ctx.tiles.element);
    ctx.scheduleDraw = drawer(ctx);
    ctx.placeSquare = squarePlacer(ctx);
    Object.assign(ctx, { neuron: neuronLane(ctx), strip: stripLane(ctx), saliency: saliencyLane(ctx) });
    debug.lanes = { neuron: ctx.neuron.stats, strip: ctx.strip.stats, saliency: ctx.saliency.stats };
    Object.assign(ctx, player(ctx));
    Object.assign(ctx, { startCamera: camera(ctx), openVideo: videoFile(ctx), analyseVideo: analyser(ctx) });
    ctx.toggleFreeze = freezer(ctx);
    listenToControls(ctx);
    listenToAnalysis(ctx);
    watchVisibility(ctx);
    return {
      update: (changed) => update(ctx, changed),
      resize() {
        ctx.scheduleDraw();
        drawAnalysis(ctx);
      },
    };
  },
};
