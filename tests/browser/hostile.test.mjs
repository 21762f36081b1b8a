// Every door of the page against hostile files (made by tests/browser/hostile-files.mjs): images through the file
// picker, drop and paste; models through "Your model"'s picker and drop zone; .clm files with each field damaged (and
// the checksum made right, so the damage reaches the field). Each refused file gets its own clear message naming it,
// each awkward but valid image (CMYK JPEG, 16-bit PNG, animated GIF, 1x1, 5000x1) is decoded to the right colours,
// the engine never traps, and the next normal prediction is still right.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, launch, openPage, foreignRequests, siteDir, manifest, repoRoot, screenshot } from './harness.mjs';
import { hostileImages, hostileModels, corruptClm } from './hostile-files.mjs';

// Needs only the demo model, so it runs once per CI run: in scripts/test.sh's pass without the published data (or in
// the only pass, when there is none).
const onceSkip = manifest.models.some((m) => m.kind === 'neuron') && 'runs in the pass without the published data';

const noModel = (manifest.models.length === 0 && 'the build has no model at all') || onceSkip;
const demoClm = manifest.models.find((m) => m.kind === 'demo')?.files.int8;
let server, browser, page, context, requests, errors;
before(async () => {
  if (noModel) return;
  server = await startServer();
  browser = await launch();
  ({ page, context, requests, errors } = await openPage(browser, server.origin, { width: 1280, height: 900 }));
  await page.waitForFunction(() => window.cortexLens.state.predictions > 0, null, { timeout: 30000 });
});
after(async () => {
  if (noModel) return;
  assert.deepEqual(foreignRequests(requests, server.origin), [], 'no request may leave the origin');
  await context?.close();
  await browser?.close();
  server?.server.close();
});

const MIME = { '.png': 'image/png', '.jpg': 'image/jpeg', '.gif': 'image/gif', '.keras': 'application/zip' };
const mimeOf = (name) => MIME[path.extname(name)] || 'application/octet-stream';

// Sends one file through a door: 'picker' (the file input), or a drop / paste event carrying it, as a browser would.
async function send(door, name, bytes, { input = '#file-input', zone = 'drop-zone' } = {}) {
  if (door === 'picker') {
    await page.setInputFiles(input, { name, mimeType: mimeOf(name), buffer: bytes });
    return;
  }
  await page.evaluate(
    ({ door, name, type, base64, zone }) => {
      const raw = atob(base64);
      const data = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; ++i) data[i] = raw.charCodeAt(i);
      const dt = new DataTransfer();
      dt.items.add(new File([data], name, { type }));
      if (door === 'paste') document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true }));
      else
        document
          .getElementById(zone)
          .dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    },
    { door, name, type: mimeOf(name), base64: Buffer.from(bytes).toString('base64'), zone },
  );
}

const snapshot = () =>
  page.evaluate(() => {
    const s = window.cortexLens.state;
    const p = Object.keys(s.results)[0];
    return { key: s.image?.key, predictions: s.predictions, value: p ? s.results[p].outputs[0] : null, p };
  });

// What the model sees for an accepted image: the mean colour of the 112 x 112 input, and its left and right columns.
const seen = () =>
  page.evaluate(() => {
    const px = window.cortexLens.state.seenPixels;
    const mean = [0, 0, 0];
    for (let i = 0; i < px.length; ++i) mean[i % 3] += px[i] / (px.length / 3);
    return { mean: mean.map(Math.round), topLeft: [...px.slice(0, 3)], topRight: [...px.slice(111 * 3, 112 * 3)] };
  });

// The colours each accepted image must decode to (from how each was made).
const near = (a, b, tol = 3) => a.every((v, i) => Math.abs(v - b[i]) <= tol);
const expected = {
  'cmyk.jpg': (s) => near(s.mean, [255, 55, 55]), // Adobe CMYK (0, 200, 200, 0): red
  'sixteen-bit.png': (s) => s.mean[2] === 255 && s.topLeft[0] < 24 && s.topRight[0] > 220, // 16 bits -> 8, x ramp
  'animated.gif': (s) => near(s.mean, [255, 0, 0], 0), // the first frame
  'one-pixel.png': (s) => near(s.mean, [200, 100, 50], 0),
  '5000x1.png': (s) => near(s.mean, [2499 % 256, 128, 0], 0), // the centred 1-pixel square
};

test('hostile images through the file picker, drop and paste', { skip: noModel }, async () => {
  const before = await snapshot();
  for (const [name, bytes, want] of await hostileImages()) {
    for (const door of ['picker', 'drop', 'paste']) {
      const label = `${name} by ${door}`;
      const start = await snapshot();
      await page.evaluate(() => window.cortexLens.store.set({ imageError: null }));
      await send(door, name, bytes);
      if (want === 'accepted') {
        await page.waitForFunction(
          ([key, n]) => window.cortexLens.state.image?.key === key && window.cortexLens.state.predictions > n,
          [`local:${name}`, start.predictions],
          { timeout: 30000 },
        );
        const s = await seen();
        assert.ok(expected[name](s), `${label}: decoded to ${JSON.stringify(s)}`);
        assert.equal(await page.locator('#image-error').isVisible(), false, `${label}: no error`);
      } else {
        await page.waitForFunction(() => !document.getElementById('image-error').hidden, null, { timeout: 30000 });
        const message = await page.textContent('#image-error');
        assert.match(message, want, `${label}: ${message}`);
        assert.ok(message.includes(name) || /empty|0 bytes/.test(message), `${label} is named: ${message}`);
        assert.equal((await snapshot()).key, start.key, `${label}: the previous image stays`);
      }
    }
  }
  // The next normal image is predicted as before.
  await page.evaluate(
    (key) => window.cortexLens.store.set({ image: { source: 'gallery', key }, crop: null }),
    before.key,
  );
  await page.waitForFunction(
    ([key, n]) => window.cortexLens.state.image?.key === key && window.cortexLens.state.predictions > n,
    [before.key, (await snapshot()).predictions],
    { timeout: 30000 },
  );
  await page.waitForTimeout(200);
  assert.equal((await snapshot()).value, before.value, 'the same prediction for the same image afterwards');
  assert.equal(await page.evaluate(() => window.cortexLens.state.engineReset), null, 'the engine never trapped');
  await screenshot(page, 'hostile-images-after');
});

test('hostile model files through "Your model"', { skip: noModel }, async () => {
  const demoKeras = fs.readFileSync(path.join(repoRoot, 'models/demo/demo_dot_detector.keras'));
  await page.evaluate(() => window.cortexLens.store.set({ view: 'own' }));
  const clm = demoClm && fs.readFileSync(path.join(siteDir, 'models', demoClm));
  const damaged = clm
    ? [
        ['bad-magic.clm', corruptClm(clm, 0, 0x58), /magic/i],
        ['bad-version.clm', corruptClm(clm, 8, 0x7f), /version/i],
        ['bad-sections.clm', corruptClm(clm, 16, 0xff), /section/i],
      ]
    : [];
  for (const [name, bytes, want] of [...hostileModels(demoKeras), ...damaged]) {
    for (const door of ['picker', 'drop']) {
      const label = `${name} by ${door}`;
      await page.evaluate(() => {
        document.getElementById('own-error').hidden = true;
      });
      await send(door, name, bytes, { input: '#model-input', zone: 'model-drop' });
      await page.waitForFunction(() => !document.getElementById('own-error').hidden, null, { timeout: 60000 });
      const message = await page.textContent('#own-error');
      assert.match(message, want, `${label}: ${message}`);
      assert.ok(message.includes(name), `${label} is named: ${message}`);
    }
  }
  assert.equal(await page.evaluate(() => window.cortexLens.state.engineReset), null, 'the engine never trapped');
  await screenshot(page, 'hostile-models-after');
});

// Past the checksum, every field of the .clm is checked: one byte at a time is changed (all of the header and the
// first section, then every 29th byte), and the reader must answer each with a message or a model that loads; never
// a trap, a hang or an internal JavaScript error.
test('a .clm with each field damaged, checksum made right', {
  skip: (noModel || !demoClm) && 'no demo model',
}, async () => {
  const clm = fs.readFileSync(path.join(siteDir, 'models', demoClm));
  const offsets = [];
  for (let i = 0; i < clm.length - 4; i += i < 160 ? 1 : 29) offsets.push(i);
  const files = offsets.map((o) => corruptClm(clm, o, clm[o] ^ 0xa5).toString('base64'));
  const outcomes = await page.evaluate(async (list) => {
    const { worker } = window.cortexLens;
    const results = [];
    for (let i = 0; i < list.length; ++i) {
      const raw = atob(list[i]);
      const bytes = new Uint8Array(raw.length);
      for (let k = 0; k < raw.length; ++k) bytes[k] = raw.charCodeAt(k);
      const key = `hostile:${i}`;
      try {
        await worker.request(
          'loadModel',
          { key, bytes: bytes.buffer, name: `damaged-${i}.clm` },
          { transfer: [bytes.buffer] },
        );
        await worker.request('forgetModel', { key });
        results.push({ ok: true });
      } catch (e) {
        results.push({ ok: false, message: e.message });
      }
    }
    return results;
  }, files);
  // A damaged weight that moves the embedded test vector's output less than its tolerance is a valid file (no reader
  // can tell); the fixed header (magic, version, flags, section count) and the section walk are always refused.
  for (const [i, o] of outcomes.entries())
    if (offsets[i] < 20) assert.equal(o.ok, false, `offset ${offsets[i]} (the fixed header) is refused`);
  const refused = outcomes.filter((o) => !o.ok).length;
  console.log(
    `damaged .clm files: ${refused} of ${outcomes.length} refused, the rest valid (weights within the test vector)`,
  );
  for (const [i, o] of outcomes.entries()) {
    if (o.ok) continue;
    assert.ok(o.message.length > 10, `offset ${offsets[i]}: a message`);
    assert.doesNotMatch(
      o.message,
      /undefined|RuntimeError|Aborted|is not a function|of null/,
      `offset ${offsets[i]}: ${o.message}`,
    );
  }
  assert.equal(await page.evaluate(() => window.cortexLens.state.engineReset), null, 'the engine never trapped');
  // And the page still predicts.
  await page.evaluate(() => window.cortexLens.store.set({ view: 'neuron' }));
  const n = (await snapshot()).predictions;
  await page.evaluate(() => {
    const { crop, image } = window.cortexLens.state;
    const c = crop || { x: 0, y: 0, side: Math.min(image.width, image.height) };
    window.cortexLens.store.set({ crop: { ...c, side: Math.max(8, c.side - 2) } });
  });
  await page.waitForFunction((k) => window.cortexLens.state.predictions > k, n, { timeout: 30000 });
  assert.deepEqual(
    errors.filter((e) => !/Failed to load resource/.test(e)),
    [],
    'no console error',
  );
});
