// Writes the page's non-code assets into the site folder:
//   gallery/own/*.png          the project's own test images, generated here by code (gratings, dots, ...)
//   gallery/<session>/imageNNNN.jpg   the test sessions' images, copied from the licensed data (never committed)
//   data/responses_<session>.json     recorded repeat-averaged responses for images 601-1200
//   gallery/index.json         what the gallery lists
// Usage: node scripts/site/assets.mjs --out build/site [--data DIR]   (DIR absent or missing: own images only)
import fs from 'node:fs';
import path from 'node:path';
import { unzipSync, zlibSync } from 'fflate';

const args = Object.fromEntries(
  process.argv.slice(2).flatMap((a, i, all) => (a.startsWith('--') ? [[a.slice(2), all[i + 1]]] : [])),
);
const out = args.out;
if (!out) {
  console.error('usage: assets.mjs --out DIR [--data DIR]');
  process.exit(2);
}
const dataDir = args.data && fs.existsSync(path.join(args.data, 'sessions')) ? args.data : null;
const SESSIONS = ['190923', '201025', '210225'];
const HELD_OUT = [601, 1200];

// --- PNG writer (RGB8, one IDAT, zlib from fflate) ---
const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
export function encodePng(width, height, rgb) {
  const raw = new Uint8Array(height * (width * 3 + 1));
  for (let y = 0; y < height; ++y) raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (width * 3 + 1) + 1);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2; // 8-bit truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlibSync(raw, { level: 9 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

// --- the project's own images: deterministic functions of (x, y), 224 x 224 so the crop has room to move ---
const SIDE = 224;
const grey = (v) => [v, v, v];
const clamp = (v) => Math.max(0, Math.min(255, Math.round(v)));
const OWN = [
  {
    id: 'grating-vertical',
    title: 'Vertical grating (8 cycles)',
    f: (x) => grey(clamp(128 + 100 * Math.sin((2 * Math.PI * 8 * x) / SIDE))),
  },
  {
    id: 'grating-oblique',
    title: 'Oblique grating (45°, 6 cycles)',
    f: (x, y) => grey(clamp(128 + 100 * Math.sin((2 * Math.PI * 6 * (x + y)) / (SIDE * Math.SQRT2)))),
  },
  {
    id: 'grating-red-green',
    title: 'Red/green horizontal grating',
    f: (_x, y) => {
      const s = Math.sin((2 * Math.PI * 5 * y) / SIDE);
      return [clamp(128 + 110 * s), clamp(128 - 110 * s), 90];
    },
  },
  { id: 'dot-centre', title: 'Bright dot, centre', f: (x, y) => grey(Math.hypot(x - 112, y - 112) < 18 ? 240 : 40) },
  {
    id: 'dots-grid',
    title: 'Grid of dark dots',
    f: (x, y) => grey(Math.hypot((x % 37) - 18, (y % 37) - 18) < 8 ? 20 : 220),
  },
  {
    id: 'checkerboard',
    title: 'Checkerboard (8 x 8)',
    f: (x, y) => grey((Math.floor(x / 28) + Math.floor(y / 28)) % 2 ? 230 : 25),
  },
  {
    id: 'concentric',
    title: 'Concentric rings',
    f: (x, y) => grey(clamp(128 + 110 * Math.cos(Math.hypot(x - 112, y - 112) / 5))),
  },
  {
    id: 'colour-blob',
    title: 'Orange blob on blue',
    f: (x, y) => {
      const g = Math.exp(-((x - 90) ** 2 + (y - 130) ** 2) / (2 * 30 ** 2));
      return [clamp(40 + 215 * g), clamp(70 + 90 * g), clamp(160 - 140 * g)];
    },
  },
];

function writeOwnImages() {
  const dir = path.join(out, 'gallery/own');
  fs.mkdirSync(dir, { recursive: true });
  return OWN.map(({ id, title, f }) => {
    const rgb = new Uint8Array(SIDE * SIDE * 3);
    for (let y = 0; y < SIDE; ++y) for (let x = 0; x < SIDE; ++x) rgb.set(f(x, y), (y * SIDE + x) * 3);
    fs.writeFileSync(path.join(dir, `${id}.png`), encodePng(SIDE, SIDE, rgb));
    return { id: `own/${id}`, url: `gallery/own/${id}.png`, title, source: 'own' };
  });
}

// --- NumPy .npy (version 1-3, little-endian float64/float32, C order) ---
export function readNpy(buffer) {
  const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  if (String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY') throw new Error('not a .npy file');
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (fortran) throw new Error('Fortran-order .npy is not supported');
  const offset = bytes.byteOffset + start + headerLen;
  const count = shape.reduce((a, b) => a * b, 1);
  const copy = bytes.buffer.slice(offset, offset + count * (descr === '<f8' ? 8 : 4));
  if (descr === '<f8') return { shape, data: new Float64Array(copy) };
  if (descr === '<f4') return { shape, data: new Float32Array(copy) };
  throw new Error(`unsupported .npy dtype ${descr}`);
}

function copySession(session) {
  const zipPath = path.join(dataDir, 'sessions', `images_${session}.zip`);
  if (!fs.existsSync(zipPath)) return null;
  const dir = path.join(out, 'gallery', session);
  fs.mkdirSync(dir, { recursive: true });
  // images_190923.zip holds images_190923/imageNNNN.jpg; the others hold imageNNNN.jpg at the root: accept both.
  const entries = unzipSync(fs.readFileSync(zipPath), { filter: (f) => /(^|\/)image\d{4}\.jpg$/.test(f.name) });
  const numbers = [];
  for (const [name, data] of Object.entries(entries)) {
    const file = path.basename(name);
    fs.writeFileSync(path.join(dir, file), data);
    numbers.push(Number(file.slice(5, 9)));
  }
  numbers.sort((a, b) => a - b);
  return numbers;
}

function writeResponses(session) {
  const npyPath = path.join(dataDir, 'sessions', `responses_repeat_averaged_${session}.npy`);
  if (!fs.existsSync(npyPath)) return false;
  const { shape, data } = readNpy(fs.readFileSync(npyPath));
  const [neurons, imageCount] = shape;
  const [first, last] = HELD_OUT;
  const rows = [];
  for (let n = 0; n < neurons; ++n)
    rows.push(Array.from(data.subarray(n * imageCount + first - 1, n * imageCount + last)));
  fs.mkdirSync(path.join(out, 'data'), { recursive: true });
  fs.writeFileSync(
    path.join(out, 'data', `responses_${session}.json`),
    JSON.stringify({
      session,
      images: { first, last },
      neurons,
      description:
        'Recorded spike counts (100 ms bins) averaged over repeats; row i is neuron i, column j is image first+j.',
      responses: rows,
    }),
  );
  return true;
}

const index = { own: writeOwnImages(), sessions: [] };
if (dataDir) {
  for (const session of SESSIONS) {
    const numbers = copySession(session);
    if (!numbers) continue;
    index.sessions.push({
      session,
      numbers: [numbers[0], numbers.at(-1)],
      count: numbers.length,
      responses: writeResponses(session),
    });
  }
}
fs.writeFileSync(path.join(out, 'gallery/index.json'), JSON.stringify(index));
console.log(
  `assets: ${index.own.length} own images; sessions ${index.sessions.map((s) => `${s.session} (${s.count})`).join(', ') || 'none (no data)'}`,
);
