// Hostile and awkward files, made here by code at test time (nothing committed): images and model files a visitor
// might bring, each with what the page must do with it. Used by tests/browser/hostile.test.mjs.
import zlib from 'node:zlib';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';

const u32be = (n) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];

function pngChunk(type, data) {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), Buffer.from(data)]);
  return Buffer.concat([Buffer.from(u32be(data.length)), body, Buffer.from(u32be(zlib.crc32(body)))]);
}

// A PNG from its IHDR fields and already-compressed IDAT data.
function png(width, height, { bitDepth = 8, colourType = 2 } = {}, idat) {
  const ihdr = [...u32be(width), ...u32be(height), bitDepth, colourType, 0, 0, 0];
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
    pngChunk('IEND', []),
  ]);
}

// Rows of RGB pixels from pixel(x, y) -> [r, g, b] (8 or 16 bits per sample), filter type 0.
function rgbPng(width, height, pixel, bitDepth = 8) {
  const bytesPerSample = bitDepth / 8;
  const rows = Buffer.alloc(height * (1 + width * 3 * bytesPerSample));
  let o = 0;
  for (let y = 0; y < height; ++y) {
    rows[o++] = 0;
    for (let x = 0; x < width; ++x)
      for (const v of pixel(x, y)) {
        if (bytesPerSample === 2) rows.writeUInt16BE(v, o);
        else rows[o] = v;
        o += bytesPerSample;
      }
  }
  return png(width, height, { bitDepth }, zlib.deflateSync(rows));
}

// 12000 x 12000 RGB of zeros: 432 MB of pixels in a ~420 KB file, deflated row by row (zlib in C, streamed) so the
// test never holds them.
async function decompressionBomb(side = 12000) {
  const deflate = zlib.createDeflate({ level: 9 });
  const parts = [];
  deflate.on('data', (chunk) => parts.push(chunk));
  const done = new Promise((resolve, reject) => {
    deflate.on('end', resolve);
    deflate.on('error', reject);
  });
  const row = Buffer.alloc(1 + side * 3);
  for (let y = 0; y < side; ++y)
    if (!deflate.write(row)) await new Promise((resolve) => deflate.once('drain', resolve));
  deflate.end();
  await done;
  return png(side, side, {}, Buffer.concat(parts));
}

// A baseline JPEG with 4 components (Adobe APP14, transform 0 = plain CMYK) of one flat 8x8 block: each component's
// block is a DC coefficient only, coded with one-symbol Huffman tables (DC: category `cat`; AC: end of block).
function cmykJpeg([c, m, y, k]) {
  const seg = (marker, body) =>
    Buffer.from([0xff, marker, ((body.length + 2) >> 8) & 255, (body.length + 2) & 255, ...body]);
  const quant = seg(0xdb, [0x00, ...new Array(64).fill(1)]);
  const sof = seg(0xc0, [8, 0, 8, 0, 8, 4, ...[1, 2, 3, 4].flatMap((id) => [id, 0x11, 0])]);
  // DC table 0: categories 0..11, each a 4-bit code (0000 = category 0, ...); AC table 0: end of block, code '0'.
  const dht = seg(0xc4, [
    0x00,
    0,
    0,
    0,
    12,
    ...new Array(12).fill(0),
    ...Array.from({ length: 12 }, (_, i) => i),
    0x10,
    1,
    ...new Array(15).fill(0),
    0x00,
  ]);
  const adobe = seg(0xee, [...Buffer.from('Adobe'), 0, 100, 0, 0, 0, 0, 0]); // transform 0: CMYK
  const sos = seg(0xda, [4, ...[1, 2, 3, 4].flatMap((id) => [id, 0x00]), 0, 63, 0]);
  // Adobe CMYK JPEGs store inverted values (255 = no ink). A block's level is 128 + DC / 8 with these unit tables;
  // each component's first block codes its DC itself (the difference from 0).
  let bits = '';
  for (const ink of [c, m, y, k]) {
    const dc = (255 - ink - 128) * 8;
    const category = dc === 0 ? 0 : Math.abs(dc).toString(2).length;
    const amount = category === 0 ? '' : (dc > 0 ? dc : dc + 2 ** category - 1).toString(2).padStart(category, '0');
    bits += `${category.toString(2).padStart(4, '0')}${amount}0`; // DC category, its bits, AC end of block
  }
  while (bits.length % 8) bits += '1';
  const scan = [];
  for (let i = 0; i < bits.length; i += 8) {
    const byte = Number.parseInt(bits.slice(i, i + 8), 2);
    scan.push(byte);
    if (byte === 0xff) scan.push(0x00);
  }
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    adobe,
    quant,
    sof,
    dht,
    sos,
    Buffer.from(scan),
    Buffer.from([0xff, 0xd9]),
  ]);
}

// An animated GIF89a: `frames` frames of a 4 x 4 image in one colour each, LZW with a clear code before every pixel
// pair so the code size stays 3 bits.
function animatedGif(colours) {
  const palette = [...colours.flat(), ...new Array((4 - colours.length) * 3).fill(0)];
  const header = [...Buffer.from('GIF89a'), 4, 0, 4, 0, 0xf1, 0, 0, ...palette];
  const loop = [0x21, 0xff, 11, ...Buffer.from('NETSCAPE2.0'), 3, 1, 0, 0, 0];
  const frames = colours.flatMap((_, index) => {
    const control = [0x21, 0xf9, 4, 0, 10, 0, 0, 0];
    const descriptor = [0x2c, 0, 0, 0, 0, 4, 0, 4, 0, 0];
    // Codes (3 bits each, least significant bit first): clear (4), then pixels, a clear before every second pixel,
    // end (5).
    const codes = [];
    for (let p = 0; p < 16; ++p) {
      if (p % 2 === 0) codes.push(4);
      codes.push(index);
    }
    codes.push(5);
    const bytes = [];
    let acc = 0;
    let n = 0;
    for (const code of codes) {
      acc |= code << n;
      n += 3;
      while (n >= 8) {
        bytes.push(acc & 255);
        acc >>= 8;
        n -= 8;
      }
    }
    if (n) bytes.push(acc & 255);
    return [...control, ...descriptor, 2, bytes.length, ...bytes, 0];
  });
  return Buffer.from([...header, ...loop, ...frames, 0x3b]);
}

// A .keras archive (zip) of config.json text and optional entries; `bombConfigBytes` makes config.json that many
// bytes of spaces around a valid config, deflated (a 300 MB entry in a ~300 KB file).
function kerasArchive(configText, { extra = {}, level = 0 } = {}) {
  return Buffer.from(
    zipSync(
      {
        'config.json': [strToU8(configText), { level }],
        'metadata.json': strToU8('{"keras_version": "3.6.0"}'),
        ...extra,
      },
      { level: 0 },
    ),
  );
}

function kerasZipBomb(bytes = 300 * 1024 * 1024) {
  const config = Buffer.alloc(bytes, 0x20);
  config.write('{"class_name": "Functional", "config": {"layers": []}}', 0);
  return kerasArchive(config.toString('latin1'), { level: 9 });
}

// The demo .keras (models/demo, made by our own code) with its config.json replaced: the weights file is real, so the
// reader gets as far as the config.
function withConfig(demoKeras, configText) {
  const entries = unzipSync(new Uint8Array(demoKeras));
  return Buffer.from(zipSync({ ...entries, 'config.json': strToU8(configText) }, { level: 0 }));
}

// The demo's config with its first Conv2D asking for a billion filters.
function billionFilters(demoKeras) {
  const config = JSON.parse(strFromU8(unzipSync(new Uint8Array(demoKeras))['config.json']));
  const conv = config.config.layers.find((l) => l.class_name === 'Conv2D');
  conv.config.filters = 1e9;
  return withConfig(demoKeras, JSON.stringify(config));
}

// Every hostile image: [file name, bytes, what the page must say (RegExp) or 'accepted' (a valid image it decodes)].
export async function hostileImages() {
  return [
    ['claims-60000x60000.png', png(60000, 60000, {}, zlib.deflateSync(Buffer.alloc(16))), /60000/],
    ['bomb-12000x12000.png', await decompressionBomb(), /12000.*(megapixel|pixels)|megapixel/i],
    ['random-bytes.jpg', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24)), /.+/],
    ['empty.jpg', Buffer.alloc(0), /empty|0 bytes/i],
    ['truncated.jpg', cmykJpeg([0, 0, 0, 0]).subarray(0, 120), /.+/],
    ['cmyk.jpg', cmykJpeg([0, 200, 200, 0]), 'accepted'],
    ['sixteen-bit.png', rgbPng(16, 16, (x, y) => [x * 4096, y * 4096, 65535], 16), 'accepted'],
    [
      'animated.gif',
      animatedGif([
        [255, 0, 0],
        [0, 0, 255],
      ]),
      'accepted',
    ],
    ['one-pixel.png', rgbPng(1, 1, () => [200, 100, 50]), 'accepted'],
    ['5000x1.png', rgbPng(5000, 1, (x) => [x % 256, 128, 0]), 'accepted'],
  ];
}

// Every hostile model file: [file name, bytes, what the page must say]. demoKeras: models/demo/demo_dot_detector.keras.
export function hostileModels(demoKeras) {
  return [
    ['zip-bomb.keras', kerasZipBomb(), /config\.json.*(MB|bytes)/i],
    ['billion-filters.keras', billionFilters(demoKeras), /filters|1000000000|limit/i],
    [
      'nested-brackets.keras',
      withConfig(demoKeras, `${'['.repeat(200000)}${']'.repeat(200000)}`),
      /config|nest|deep|JSON/i,
    ],
    ['random.keras', Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 40503) & 255)), /not a \.keras file|zip/i],
  ];
}

// `bytes` of a .clm with byte `offset` changed and its CRC-32 made right again, so the reader gets past the checksum
// and meets the damaged field itself.
export function corruptClm(bytes, offset, value) {
  const copy = Buffer.from(bytes);
  copy[offset] = value;
  copy.writeUInt32LE(zlib.crc32(copy.subarray(0, copy.length - 4)), copy.length - 4);
  return copy;
}
