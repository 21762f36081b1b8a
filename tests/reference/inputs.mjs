// Inputs for the reference: where the published data lives, the golden "pattern" image, JPEG decoding.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import { decode as decodeJpegTurbo } from '@cwasm/jpeg-turbo';
import { unzipSync } from 'fflate';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// The published data is licensed input that never enters the repository, so its folder is configurable.
export function dataDirectory() {
  return path.resolve(process.env.CORTEXLENS_DATA_DIR || path.join(REPO_ROOT, '../shared/data/v4'));
}

export function hasData() {
  return fs.existsSync(path.join(dataDirectory(), 'golden_responses.json'));
}

export const IMAGE_SIZE = 112;
// What the models were trained with: the input is the 0..255 pixel minus these (R, G, B) means.
export const CHANNEL_MEANS = [116.222, 109.27, 100.381];

/** The golden pattern: (112, 112, 3), x[h][w][c] = 100 sin(0.1 h + 0.2 w + c), already recentred. */
export function patternInput() {
  const x = new Float32Array(IMAGE_SIZE * IMAGE_SIZE * 3);
  for (let h = 0; h < IMAGE_SIZE; ++h) {
    for (let w = 0; w < IMAGE_SIZE; ++w) {
      for (let c = 0; c < 3; ++c) x[(h * IMAGE_SIZE + w) * 3 + c] = 100 * Math.sin(0.1 * h + 0.2 * w + 1.0 * c);
    }
  }
  return x;
}

/**
 * Decodes a 112x112 JPEG and recentres it.
 * libjpeg-turbo (compiled to wasm, default islow IDCT and fancy chroma upsampling) gives the same pixels as the
 * libjpeg behind PIL that produced the golden image responses (checked: identical on images 601-605 of 190923).
 * jpeg-js was tried first and dropped: it upsamples chroma without filtering, up to 50 levels off libjpeg,
 * which moved responses by up to 0.12 and made the image check meaningless.
 * @param {Uint8Array} bytes
 * @returns {Float32Array} (112, 112, 3) recentred RGB
 */
export function decodeJpegRecentred(bytes) {
  const img = decodeJpegTurbo(bytes); // RGBA, (H, W, 4)
  if (img.width !== IMAGE_SIZE || img.height !== IMAGE_SIZE) {
    throw new Error(`image is ${img.width}x${img.height}; expected ${IMAGE_SIZE}x${IMAGE_SIZE}`);
  }
  const x = new Float32Array(IMAGE_SIZE * IMAGE_SIZE * 3);
  for (let p = 0; p < IMAGE_SIZE * IMAGE_SIZE; ++p) {
    for (let c = 0; c < 3; ++c) x[p * 3 + c] = img.data[p * 4 + c] - CHANNEL_MEANS[c];
  }
  return x;
}

/** Reads named entries (e.g. 'images_190923/image0601.jpg') from a session's image zip without extracting it. */
export function readZipEntries(zipPath, names) {
  const wanted = new Set(names);
  const files = unzipSync(new Uint8Array(fs.readFileSync(zipPath)), { filter: (f) => wanted.has(f.name) });
  return names.map((n) => {
    if (!files[n]) throw new Error(`${zipPath} has no entry ${n}`);
    return files[n];
  });
}
