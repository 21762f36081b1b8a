// The worker's handler of the "Live" view: one camera or video frame, already cut to its square on the page (an
// ImageBitmap, transferred: no pixel copy on the main thread), through the same core resize and recentring as
// `cortexlens predict` (cropToInput), then the current neuron's model. Each frame is one message; the page keeps at
// most one in flight and one waiting (web/PROTOCOL.md, "Live frames").

let canvas = null; // reused: a new OffscreenCanvas per frame would cost more than the read

// ImageBitmap -> {width, height, pixels: Uint8Array RGB} and the canvas that holds it (for the PNG of a freeze).
function readFrame(frame) {
  const { width, height } = frame;
  if (!width || !height) throw new Error('the frame is empty (0 pixels); the camera or video has not started yet');
  if (!canvas || canvas.width !== width || canvas.height !== height) canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(frame, 0, 0);
  frame.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const pixels = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; j < pixels.length; i += 4, j += 3) {
    pixels[j] = rgba[i];
    pixels[j + 1] = rgba[i + 1];
    pixels[j + 2] = rgba[i + 2];
  }
  return { width, height, pixels };
}

export const liveHandlers = {
  // {frame: ImageBitmap (the square crop, any side), key?, url?, png?} -> {pixels: Uint8Array (112, 112, 3),
  //   input: Float32Array recentred, outputs: Float32Array | null, png: Blob | null, receivedAt, ms}
  async liveFrame({ frame, key, url, png = false }, _progress, context) {
    const receivedAt = performance.timeOrigin + performance.now();
    if (typeof ImageBitmap === 'undefined' || !(frame instanceof ImageBitmap))
      throw new Error('liveFrame needs {frame: ImageBitmap}, the square crop of a video frame');
    const cl = await context.cortexLens();
    const t0 = performance.now();
    const image = readFrame(frame);
    const { input, pixels } = cl.cropToInput(image, null);
    let outputs = null;
    if (key) {
      const entry = await context.ensureModel({ key, url });
      outputs = context.runModel(cl, entry, input);
    }
    // The square as read, lossless: decoding it again (the image view's path) gives these pixels exactly.
    const file = png ? await canvas.convertToBlob({ type: 'image/png' }) : null;
    const transfer = [pixels.buffer, input.buffer];
    if (outputs) transfer.push(outputs.buffer);
    return {
      result: { pixels, input, outputs, png: file, receivedAt, ms: performance.now() - t0 },
      transfer,
    };
  },
};
