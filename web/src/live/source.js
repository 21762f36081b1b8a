// Where live frames come from: the camera (getUserMedia) or a video file the browser decodes (<video>), and the
// square of each frame the model sees. Frames are taken as the video presents them (requestVideoFrameCallback,
// or requestAnimationFrame where the browser lacks it) and cut with createImageBitmap, which the worker receives
// by transfer: the main thread never touches the pixels.

// The camera's refusals, in words a visitor can act on. -> message
export function cameraMessage(error) {
  const name = error?.name || '';
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError')
    return 'The camera was not allowed. To use it, allow the camera for this page in the browser (the icon in the address bar) and press Start camera again. Everything else on the page works without it, and a video file works too.';
  if (name === 'NotFoundError' || name === 'DevicesNotFoundError' || name === 'OverconstrainedError')
    return 'No camera was found on this device. You can choose a video file instead.';
  if (name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError')
    return 'The camera is busy or could not start (another program or tab may be using it). Close that and press Start camera again, or choose a video file.';
  return `The camera could not be opened (${error?.message || name || 'unknown error'}). You can choose a video file instead.`;
}

// crop: {size: % of the frame's short side, x, y: % of the room left to move in} -> {x, y, side} in video pixels.
export function cropRect(video, crop) {
  const w = video.videoWidth;
  const hgt = video.videoHeight;
  const side = Math.max(8, Math.round((Math.min(w, hgt) * crop.size) / 100));
  return {
    x: Math.round(((w - side) * crop.x) / 100),
    y: Math.round(((hgt - side) * crop.y) / 100),
    side,
  };
}

// Calls onFrame(video, now) once per frame the video presents, until stop() is called.
export function frameLoop(video, onFrame) {
  let handle = null;
  let stopped = false;
  const byVideo = typeof video.requestVideoFrameCallback === 'function';
  const next = () => {
    if (stopped) return;
    handle = byVideo ? video.requestVideoFrameCallback(tick) : requestAnimationFrame(tick);
  };
  const tick = (now) => {
    if (stopped) return;
    onFrame(video, now);
    next();
  };
  next();
  return {
    stop() {
      stopped = true;
      if (handle == null) return;
      if (byVideo) video.cancelVideoFrameCallback(handle);
      else cancelAnimationFrame(handle);
    },
  };
}

// The square the model sees, as an ImageBitmap of its own pixels (no resampling: the core resizes it, as the CLI
// does). -> Promise<ImageBitmap>
export function grabSquare(video, crop) {
  const r = cropRect(video, crop);
  return createImageBitmap(video, r.x, r.y, r.side, r.side);
}

// A video file's duration; a recording made in a browser (MediaRecorder webm) often states none (Infinity) until
// the end has been read, so the video is sent there once to learn it. -> Promise<number> seconds
export async function videoDuration(video) {
  if (Number.isFinite(video.duration) && video.duration > 0) return video.duration;
  await new Promise((resolve) => {
    const done = () => {
      if (!Number.isFinite(video.duration)) return;
      video.removeEventListener('durationchange', done);
      resolve();
    };
    video.addEventListener('durationchange', done);
    video.currentTime = 1e9;
  });
  return video.duration;
}

// Seeks and resolves once the frame at `time` is what the video shows. -> Promise
export function seekTo(video, time) {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      video.removeEventListener('seeked', onSeeked);
      video.removeEventListener('error', onError);
    };
    const onSeeked = () => {
      cleanup();
      resolve();
    };
    const onError = () => {
      cleanup();
      reject(new Error(`the video could not be read at ${time.toFixed(2)} s`));
    };
    video.addEventListener('seeked', onSeeked);
    video.addEventListener('error', onError);
    video.currentTime = time;
  });
}
