// Bringing an image: file picker, drop, paste, camera, crop by keyboard and by dragging, and bad files.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startServer,
  launch,
  openPage,
  foreignRequests,
  cliPredict,
  screenshot,
  siteDir,
  manifest,
  galleryIndex,
  cliAvailable,
  repoRoot,
  precisionOf,
  modelFileFor,
} from './harness.mjs';

// Every test here needs at least one model (the demo model is committed; a build without it has nothing to run).
const noModel = manifest.models.length === 0 && 'the build has no model at all';
let server, browser, page, requests, errors;
before(async () => {
  if (noModel) return;
  server = await startServer();
  browser = await launch();
  ({ page, requests, errors } = await openPage(browser, server.origin, { width: 1280, height: 900 }));
  await waitPrediction(0);
});
after(async () => {
  if (noModel) return;
  assert.deepEqual(foreignRequests(requests, server.origin), [], 'no request may leave the origin');
  assert.deepEqual(errors, []);
  await browser?.close();
  server?.server.close();
});

const entry = manifest.models.find((m) => m.kind === 'neuron') || manifest.models.find((m) => m.kind === 'demo');
const precision = entry && precisionOf(entry);
const sample = galleryIndex.sessions.length
  ? path.join(siteDir, 'gallery', galleryIndex.sessions[0].session, 'image0700.jpg')
  : path.join(siteDir, galleryIndex.own[0].url);

const predictions = () => page.evaluate(() => window.cortexLens.state.predictions || 0);
async function waitPrediction(after) {
  await page.waitForFunction(
    ([n, p]) =>
      (window.cortexLens.state.predictions || 0) > n && document.getElementById(`raw-${p}`).textContent !== '…',
    [after, precision],
    { timeout: 30000 },
  );
  // Let any follow-up crop request settle.
  await page.waitForTimeout(150);
  return page.evaluate(
    (p) => ({
      crop: window.cortexLens.state.crop,
      image: window.cortexLens.state.image,
      value: window.cortexLens.state.results[p]?.outputs[0],
    }),
    precision,
  );
}
function assertMatchesCli(file, shown) {
  if (!cliAvailable) return;
  const [cli] = cliPredict(
    modelFileFor(entry, precision),
    file,
    shown.crop,
    precision === 'int8' || entry.files.float ? precision : undefined,
  );
  assert.ok(
    Math.abs(shown.value - cli) <= 1e-6 * Math.max(1, Math.abs(cli)),
    `page ${shown.value} vs cortexlens ${cli} (${precision}, crop ${JSON.stringify(shown.crop)})`,
  );
}

async function dispatchFile(kind, file, name, type) {
  const bytes = [...fs.readFileSync(file)];
  await page.evaluate(
    ({ kind, bytes, name, type }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], name, { type }));
      if (kind === 'paste') document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true }));
      else
        document
          .getElementById('drop-zone')
          .dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    },
    { kind, bytes, name, type },
  );
}

test('file picker: the uploaded image is predicted, equal to cortexlens on its centred crop', {
  skip: noModel,
}, async () => {
  const n = await predictions();
  await page.setInputFiles('#file-input', sample);
  const shown = await waitPrediction(n);
  assert.equal(shown.image.key, `local:${path.basename(sample)}`);
  assertMatchesCli(sample, shown);
});

test('keyboard crop: arrows move and minus shrinks the square, and the prediction follows the crop', {
  skip: noModel,
}, async () => {
  // A larger image gives the crop room to move.
  const big = path.join(siteDir, galleryIndex.own.find((o) => o.id === 'own/colour-blob').url);
  let n = await predictions();
  await page.setInputFiles('#file-input', big);
  await waitPrediction(n);
  n = await predictions();
  await page.focus('#crop-frame');
  for (let i = 0; i < 4; ++i) await page.keyboard.press('-');
  for (let i = 0; i < 3; ++i) await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowDown');
  const shown = await waitPrediction(n);
  assert.ok(shown.crop.side < 224 && shown.crop.x > 0 && shown.crop.y > 0, `crop ${JSON.stringify(shown.crop)}`);
  const seen = await page.evaluate(() => document.getElementById('crop-readout').textContent);
  assert.match(seen, new RegExp(`--crop ${shown.crop.x},${shown.crop.y},${shown.crop.side}`));
  assertMatchesCli(big, shown);
});

test('dragging the crop frame moves the crop', { skip: noModel }, async () => {
  const before = await page.evaluate(() => window.cortexLens.state.crop);
  const n = await predictions();
  const box = await page.locator('#crop-frame').boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 - 25, box.y + box.height / 2 - 20, { steps: 5 });
  await page.mouse.up();
  const shown = await waitPrediction(n);
  assert.ok(
    shown.crop.x < before.x && shown.crop.y < before.y,
    `${JSON.stringify(before)} -> ${JSON.stringify(shown.crop)}`,
  );
  assertMatchesCli(path.join(siteDir, galleryIndex.own.find((o) => o.id === 'own/colour-blob').url), shown);
});

test('paste and drop load images', { skip: noModel }, async () => {
  const own = galleryIndex.own.find((o) => o.id === 'own/checkerboard');
  let n = await predictions();
  await dispatchFile('paste', path.join(siteDir, own.url), 'pasted.png', 'image/png');
  let shown = await waitPrediction(n);
  assert.equal(shown.image.key, 'local:pasted.png');
  n = await predictions();
  await dispatchFile('drop', sample, 'dropped.jpg', 'image/jpeg');
  shown = await waitPrediction(n);
  assert.equal(shown.image.key, 'local:dropped.jpg');
  assertMatchesCli(sample, shown);
});

test('camera snapshot (Chromium fake camera) becomes the image', { skip: noModel }, async () => {
  const n = await predictions();
  await page.click('#camera-button');
  await page.waitForFunction(() => document.getElementById('camera-video').videoWidth > 0, null, { timeout: 15000 });
  await page.click('#snap-button');
  const shown = await waitPrediction(n);
  assert.equal(shown.image.key, 'local:camera');
  assert.ok(shown.image.width >= 112 && Number.isFinite(shown.value));
  assert.equal(await page.isHidden('#camera-box'), true);
});

test('broken, huge and wrong files get a message and the previous image stays', { skip: noModel }, async () => {
  const n = await predictions();
  const before = await page.evaluate(
    (p) => ({ key: window.cortexLens.state.image.key, value: window.cortexLens.state.results[p].outputs[0] }),
    precision,
  );
  const cases = [
    ['truncated_jpeg_3_bytes.jpg', /.+/],
    ['png_claims_60000x60000.png', /60000/],
    ['random_4096_seed1234.bin', /.+/],
  ];
  for (const [name, pattern] of cases) {
    const file = path.join(repoRoot, 'tests/bad_inputs', name);
    if (!fs.existsSync(file)) continue;
    await page.setInputFiles('#file-input', file);
    await page.waitForFunction(() => !document.getElementById('image-error').hidden, null, { timeout: 10000 });
    const message = await page.textContent('#image-error');
    assert.match(message, pattern, `${name}: ${message}`);
    assert.match(message, new RegExp(name.replace('.', '\\.')));
    await page.evaluate(() => {
      document.getElementById('image-error').hidden = true;
    });
  }
  const after = await page.evaluate(
    (p) => ({ key: window.cortexLens.state.image.key, value: window.cortexLens.state.results[p].outputs[0] }),
    precision,
  );
  assert.deepEqual(after, before);
  assert.equal(await predictions(), n, 'no prediction ran for a refused file');
  // Still working afterwards.
  await page.setInputFiles('#file-input', sample);
  await waitPrediction(n);
  await page.setInputFiles('#file-input', path.join(repoRoot, 'tests/bad_inputs/truncated_jpeg_half.jpg'));
  await page.waitForTimeout(500);
  await screenshot(page, 'desktop-bad-image');
});
