// Our engine (native CLI and the wasm module) against the TensorFlow.js implementation of Keras semantics, on the
// same inputs. Inputs are decoded once by our wasm module (stb_image, the decoder the page and the CLI share), so
// the comparison is about the layers, not about JPEG decoders. Used by engine-vs-tfjs.test.mjs (a few dozen
// images, every model, CI) and as a command that sweeps images 601-1200:
//   node tests/reference/engine-vs-tfjs.mjs [--images 601-1200] [--models PATTERN] [--no-native]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readKerasArchive } from '../../web/lib/keras-archive.js';
import { buildTfjsModel, predict as predictTfjs } from './tfjs-model.mjs';
import { unzipSync } from 'fflate';
import { dataDirectory, REPO_ROOT } from './inputs.mjs';
import { loadCortexLens } from '../wasm/module.mjs';

export const SESSIONS_WITH_IMAGES = ['190923', '201025', '210225'];
export const nativeCli = process.env.CORTEXLENS_CLI ?? path.join(REPO_ROOT, 'build/release/native/cortexlens');

/** All published model files: 219 per-neuron then 8 shared. */
export function publishedModels(data = dataDirectory()) {
  const perNeuron = fs
    .readdirSync(path.join(data, 'compact_models'))
    .filter((f) => f.endsWith('.keras'))
    .sort()
    .map((f) => path.join(data, 'compact_models', f));
  const sharedDir = path.join(data, 'shared_compact_models/from_ensemble_model');
  const shared = fs
    .readdirSync(sharedDir)
    .filter((f) => f.endsWith('.keras'))
    .sort()
    .map((f) => path.join(sharedDir, f));
  return [...perNeuron, ...shared];
}

/**
 * Test images: JPEG bytes and our decoded recentred inputs.
 * @returns {{names: string[], jpegs: Uint8Array[], inputs: Float32Array}} inputs (N, 112, 112, 3)
 */
export function loadImages(cl, numbers, data = dataDirectory()) {
  const names = [],
    jpegs = [];
  for (const session of SESSIONS_WITH_IMAGES) {
    // The published archives differ: 190923 keeps its images in images_<session>/, the others at the root.
    const wanted = new Set(numbers.map((n) => `image${String(n).padStart(4, '0')}.jpg`));
    const zip = new Uint8Array(fs.readFileSync(path.join(data, 'sessions', `images_${session}.zip`)));
    const files = unzipSync(zip, { filter: (f) => wanted.has(path.basename(f.name)) });
    const byBase = new Map(Object.entries(files).map(([name, bytes]) => [path.basename(name), bytes]));
    for (const base of wanted) {
      if (!byBase.has(base)) throw new Error(`images_${session}.zip has no ${base}`);
      names.push(`${session}/${base}`);
      jpegs.push(byBase.get(base));
    }
  }
  const inputs = new Float32Array(jpegs.length * 112 * 112 * 3);
  for (const [i, bytes] of jpegs.entries()) inputs.set(cl.imageToInput(bytes, null).input, i * 112 * 112 * 3);
  return { names, jpegs, inputs };
}

function nativePredict(modelFile, jpegPaths) {
  const csv = execFileSync(nativeCli, ['predict', modelFile, ...jpegPaths], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const rows = csv.trim().split('\n').slice(1);
  return rows.map((row) => row.split(',').slice(1).map(Number));
}

/**
 * Compares one model. Returns per engine the worst |ours - tfjs| divided by the standard deviation of that
 * output's tfjs responses over the images (the tolerance is 1e-4 of the response's spread).
 */
export async function compareModel(cl, file, images, jpegPaths) {
  const archive = await readKerasArchive(new Uint8Array(fs.readFileSync(file)));
  const name = path.basename(file, '.keras');
  const reference = await buildTfjsModel(archive.configText, archive.tensors);
  const count = images.inputs.length / (112 * 112 * 3);
  const tfjs = await predictTfjs(reference, images.inputs, { batchSize: 16 });
  reference.dispose();
  const outputs = tfjs.length / count;

  const model = cl.loadKeras(archive.configText, archive.tensors, name);
  const wasm = new Float32Array(tfjs.length);
  try {
    for (let i = 0; i < count; ++i)
      wasm.set(model.predict(images.inputs.subarray(i * 112 * 112 * 3, (i + 1) * 112 * 112 * 3)), i * outputs);
  } finally {
    model.delete();
  }
  const native = jpegPaths ? Float32Array.from(nativePredict(file, jpegPaths).flat()) : null;

  const result = { name, outputs, images: count, wasm: { worstRatio: 0, worstAbs: 0 }, native: null };
  if (native) result.native = { worstRatio: 0, worstAbs: 0 };
  for (let o = 0; o < outputs; ++o) {
    let mean = 0;
    for (let i = 0; i < count; ++i) mean += tfjs[i * outputs + o] / count;
    let variance = 0;
    for (let i = 0; i < count; ++i) variance += (tfjs[i * outputs + o] - mean) ** 2 / count;
    const std = Math.sqrt(variance);
    for (const [engine, values] of [
      ['wasm', wasm],
      ['native', native],
    ]) {
      if (!values) continue;
      for (let i = 0; i < count; ++i) {
        const diff = Math.abs(values[i * outputs + o] - tfjs[i * outputs + o]);
        const r = result[engine];
        r.worstAbs = Math.max(r.worstAbs, diff);
        r.worstRatio = Math.max(r.worstRatio, std > 0 ? diff / std : diff > 0 ? Infinity : 0);
      }
    }
  }
  return result;
}

/** Writes the JPEGs to a temporary folder for the native CLI; returns their paths. */
export function writeTempJpegs(images) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cortexlens-cmp-'));
  return images.jpegs.map((bytes, i) => {
    const file = path.join(dir, images.names[i].replace(/\//g, '_'));
    fs.writeFileSync(file, bytes);
    return file;
  });
}

async function main() {
  const args = process.argv.slice(2);
  const range = args[args.indexOf('--images') + 1] ?? '601-1200';
  const [first, last] = (args.includes('--images') ? range : '601-1200').split('-').map(Number);
  const filter = args.includes('--models') ? new RegExp(args[args.indexOf('--models') + 1]) : /./;
  const useNative = !args.includes('--no-native') && fs.existsSync(nativeCli);
  const cl = await loadCortexLens();
  const numbers = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  const images = loadImages(cl, numbers);
  const jpegPaths = useNative ? writeTempJpegs(images) : null;
  let worst = { ratio: 0 };
  const started = Date.now();
  for (const file of publishedModels().filter((f) => filter.test(path.basename(f)))) {
    const r = await compareModel(cl, file, images, jpegPaths);
    for (const engine of ['wasm', 'native']) {
      if (r[engine] && r[engine].worstRatio >= worst.ratio)
        worst = { ratio: r[engine].worstRatio, abs: r[engine].worstAbs, engine, model: r.name };
    }
    console.log(
      `${r.name}: wasm ${r.wasm.worstRatio.toExponential(2)} (abs ${r.wasm.worstAbs.toExponential(2)})` +
        (r.native
          ? `, native ${r.native.worstRatio.toExponential(2)} (abs ${r.native.worstAbs.toExponential(2)})`
          : ''),
    );
  }
  console.log(
    `worst |ours - tfjs| / std over images ${first}-${last} of ${SESSIONS_WITH_IMAGES.join(', ')}: ` +
      `${worst.ratio.toExponential(3)} (abs ${worst.abs?.toExponential(3)}, ${worst.engine}, ${worst.model}); ` +
      `tolerance 1e-4; ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  process.exitCode = worst.ratio <= 1e-4 ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
