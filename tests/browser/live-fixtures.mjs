// Test material for the live view, made here (never from the published data): a fake camera file with known moving
// patterns, frames written as BMP for the CLI, and the CLI's int8 predictions for many frames in one run.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { cliPath, cliIsa } from './harness.mjs';

// A YUV4MPEG2 file Chromium plays as its fake camera (--use-file-for-fake-video-capture), looping: a bright disc
// circling on a dark ground and a coloured bar sweeping across, so every frame differs. -> the file's path
export function writeCameraFile(file, { width = 320, height = 240, fps = 30, frames = 60 } = {}) {
  const cw = width / 2;
  const ch = height / 2;
  const parts = [Buffer.from(`YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`)];
  for (let f = 0; f < frames; ++f) {
    const a = (2 * Math.PI * f) / frames;
    const cx = width / 2 + (width / 4) * Math.cos(a);
    const cy = height / 2 + (height / 4) * Math.sin(a);
    const bar = ((f * width) / frames) | 0;
    const y = Buffer.alloc(width * height, 40);
    const u = Buffer.alloc(cw * ch, 128);
    const v = Buffer.alloc(cw * ch, 128);
    for (let r = 0; r < height; ++r)
      for (let c = 0; c < width; ++c) {
        if ((c - cx) ** 2 + (r - cy) ** 2 < 400) y[r * width + c] = 235;
        else if (Math.abs(c - bar) < 6) y[r * width + c] = 120;
      }
    for (let r = 0; r < ch; ++r)
      for (let c = 0; c < cw; ++c)
        if (Math.abs(2 * c - bar) < 6) {
          u[r * cw + c] = 60; // the bar is orange-red
          v[r * cw + c] = 200;
        }
    parts.push(Buffer.from('FRAME\n'), y, u, v);
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.concat(parts));
  return file;
}

// RGB (112 x 112 x 3, top row first) -> a 24-bit BMP file (rows bottom-up, BGR; 336-byte rows need no padding).
export function writeBmp(file, pixels, side = 112) {
  const row = side * 3;
  const header = Buffer.alloc(54);
  header.write('BM', 0);
  header.writeUInt32LE(54 + row * side, 2);
  header.writeUInt32LE(54, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(side, 18);
  header.writeInt32LE(side, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(24, 28);
  header.writeUInt32LE(row * side, 34);
  const body = Buffer.alloc(row * side);
  for (let y = 0; y < side; ++y)
    for (let x = 0; x < side; ++x) {
      const s = (y * side + x) * 3;
      const d = (side - 1 - y) * row + x * 3;
      body[d] = pixels[s + 2];
      body[d + 1] = pixels[s + 1];
      body[d + 2] = pixels[s];
    }
  fs.writeFileSync(file, Buffer.concat([header, body]));
  return file;
}

// `cortexlens predict MODEL IMAGE... --precision P` -> output 0 for each image, in order.
export function cliResponses(model, images, precision) {
  const out = execFileSync(cliPath, ['predict', ...cliIsa, model, ...images, '--precision', precision], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return out
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => Number(line.split(',').at(-1)));
}
