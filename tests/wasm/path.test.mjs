// Nearly identical images in the wasm module under node: for every transform (and a blend) the module the page
// loads draws the same pixels as `cortexlens path` (FNV-1a hash per step, as the CLI prints them) and, through the
// int8 demo model, gives the same responses. Needs no published data: the images are BMP files written here.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { loadCortexLens, repoRoot } from './module.mjs';
import { fnv1a32Hex } from '../../web/src/hash.js';

const cl = await loadCortexLens();
const cliPath = process.env.CORTEXLENS_CLI ?? path.join(repoRoot, 'build/release/native/cortexlens');
const hasCli = fs.existsSync(cliPath);
const demoModel = path.join(repoRoot, 'models/demo/demo_dot_detector.clm');

// A 24-bit BMP (bottom-up rows padded to 4 bytes) of width x height, pixel(x, y) -> [r, g, b].
function bmp(width, height, pixel) {
  const row = Math.ceil((width * 3) / 4) * 4;
  const bytes = Buffer.alloc(54 + row * height);
  bytes.write('BM', 0, 'latin1');
  bytes.writeUInt32LE(bytes.length, 2);
  bytes.writeUInt32LE(54, 10);
  bytes.writeUInt32LE(40, 14);
  bytes.writeInt32LE(width, 18);
  bytes.writeInt32LE(height, 22);
  bytes.writeUInt16LE(1, 26);
  bytes.writeUInt16LE(24, 28);
  bytes.writeUInt32LE(row * height, 34);
  for (let y = 0; y < height; ++y)
    for (let x = 0; x < width; ++x) {
      const [r, g, b] = pixel(x, y);
      const at = 54 + (height - 1 - y) * row + x * 3;
      bytes[at] = b;
      bytes[at + 1] = g;
      bytes[at + 2] = r;
    }
  return bytes;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cortexlens-path-'));
// Not 112 x 112, so the crop and resize are part of what must agree; a dot, stripes and a gradient.
const first = path.join(dir, 'first.bmp');
fs.writeFileSync(
  first,
  bmp(150, 128, (x, y) => {
    const dot = (x - 70) ** 2 + (y - 60) ** 2 < 64 ? 120 : 0;
    return [(x * 3 + dot) % 256, ((x >> 3) % 2) * 90 + y, (200 - y + dot) & 255];
  }),
);
const second = path.join(dir, 'second.bmp');
fs.writeFileSync(
  second,
  bmp(112, 112, (x, y) => [(x * y) % 256, 255 - x * 2, (y * 5) % 256]),
);

function runCli(args) {
  const out = execFileSync(cliPath, ['path', demoModel, ...args], { encoding: 'utf8' })
    .trim()
    .split('\n');
  assert.equal(out[0], 'step,fraction,amount,response,percentile,population_distance,pixels_fnv1a');
  return out.slice(1).map((line) => {
    const [step, fraction, amount, response, , , hash] = line.split(',');
    return { step: Number(step), fraction: Number(fraction), amount: Number(amount), response: Number(response), hash };
  });
}

function pageSide(transform, secondFile, steps) {
  const firstPixels = cl.imageToInput(new Uint8Array(fs.readFileSync(first)), null).pixels;
  const secondPixels = secondFile ? cl.imageToInput(new Uint8Array(fs.readFileSync(secondFile)), null).pixels : null;
  const image = (pixels) => ({ width: 112, height: 112, pixels });
  const out = cl.imagePath(image(firstPixels), secondPixels ? image(secondPixels) : null, transform, steps);
  const model = cl.loadModelFile(new Uint8Array(fs.readFileSync(demoModel)));
  try {
    const frame = 112 * 112 * 3;
    return Array.from({ length: steps }, (_, i) => {
      const pixels = out.pixels.subarray(i * frame, (i + 1) * frame);
      const { input } = cl.cropToInput(image(pixels), null);
      return {
        hash: fnv1a32Hex(pixels),
        amount: out.amounts[i],
        response: cl.predictWithPrecision(model, input, 'int8')[0],
      };
    });
  } finally {
    model.delete();
  }
}

const cases = [
  ['shift', 2],
  ['shift', -1.5],
  ['scale', 1.05],
  ['rotate', 3],
  ['contrast', 0.8],
  ['blur', 1],
  ['noise', 4],
];
for (const [kind, amount] of cases) {
  test(`${kind}=${amount}: the page's pixels and int8 responses are the CLI's`, {
    skip: !hasCli && `native CLI not found at ${cliPath} (set CORTEXLENS_CLI)`,
  }, () => {
    const steps = 4;
    const cli = runCli([first, '--transform', `${kind}=${amount}`, '--steps', String(steps), '--seed', '3']);
    const page = pageSide({ kind, amount, seed: 3 }, null, steps);
    assert.deepEqual(
      page.map((p) => p.hash),
      cli.map((c) => c.hash),
    );
    assert.deepEqual(
      page.map((p) => Math.fround(p.response)),
      cli.map((c) => Math.fround(c.response)),
    );
    assert.equal(page[steps - 1].amount, amount);
    // The path moves: the last image differs from the first.
    assert.notEqual(page[0].hash, page[steps - 1].hash);
  });
}

test("a blend: the page's pixels are the CLI's", {
  skip: !hasCli && `native CLI not found at ${cliPath} (set CORTEXLENS_CLI)`,
}, () => {
  const cli = runCli([first, second, '--steps', '5']);
  const page = pageSide(null, second, 5);
  assert.deepEqual(
    page.map((p) => p.hash),
    cli.map((c) => c.hash),
  );
  assert.deepEqual(
    page.map((p) => p.amount),
    [0, 0.25, 0.5, 0.75, 1],
  );
});

test('bad path requests are JS errors that say what was expected', () => {
  const image = { width: 112, height: 112, pixels: new Uint8Array(112 * 112 * 3) };
  assert.throws(() => cl.imagePath(image, null, { kind: 'twist', amount: 1 }, 4), /unknown transform 'twist'/);
  assert.throws(() => cl.imagePath(image, null, { kind: 'scale', amount: 9 }, 4), /expected 0.25..4/);
  assert.throws(() => cl.imagePath(image, null, { kind: 'shift', amount: 1 }, 1), /expected 2..256/);
  assert.throws(() => cl.imagePath(image, image, { kind: 'shift', amount: 1 }, 4), /not both or neither/);
  assert.throws(
    () => cl.imagePath({ width: 112, height: 112, pixels: new Uint8Array(5) }, null, { kind: 'shift', amount: 1 }, 4),
    /width \* height \* 3/,
  );
  assert.throws(
    () => cl.populationDistance(new Float32Array(3), new Float32Array(2), [0, 0, 0], [1, 1, 1]),
    /one of each per output/,
  );
});
