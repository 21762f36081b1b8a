// The int8 model files the page fetches (the packs built by `cortexlens pack`) against TensorFlow.js running the
// ORIGINAL float .keras model: the independent check of the int8 path, on the same 24 images as the float check.
// Our int8 engine runs natively (the CLI) and in wasm; both are compared with the TF.js float responses.
// Used by int8-vs-tfjs.test.mjs and as a command:
//   node tests/reference/int8-vs-tfjs.mjs [--packs DIR] [--models PATTERN]
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readKerasArchive } from '../../web/lib/keras-archive.js';
import { buildTfjsModel, predict as predictTfjs } from './tfjs-model.mjs';
import { dataDirectory, REPO_ROOT } from './inputs.mjs';
import { loadImages, nativeCli, publishedModels, writeTempJpegs } from './engine-vs-tfjs.mjs';
import { loadCortexLens } from '../wasm/module.mjs';

export const NUMBERS = [601, 677, 753, 829, 905, 981, 1057, 1133];
export const packsDirectory = () => process.env.CORTEXLENS_PACKS_DIR ?? path.join(REPO_ROOT, 'build/site/models');

// The stated tolerances of the int8 path against the float reference, per output over the 24 images (8 per
// session), the spread being the standard deviation of the float responses over the images:
//   Pearson r >= 0.99 (the bound on the worst model),
//   RMS of (int8 - float) <= 0.2 of the spread (measured up to 0.12; r 0.99 alone would allow about 0.14),
//   and wasm and native int8 agree to 1e-5 of the spread (they run the same integer kernels and float epilogue).
// The largest single-image error is reported, not bounded: on 24 images it measures the tail of one model
// (0.38 of the spread for 211022_n40, whose r is 0.997), not the int8 path.
export const MIN_R = 0.99;
export const MAX_RMS_OF_SPREAD = 0.2;
export const MAX_WASM_NATIVE_OF_SPREAD = 1e-5;

/** int8 files of the pack that come from published models: [{name, int8Path, kerasPath}]. */
export function packedInt8Models(packs = packsDirectory(), data = dataDirectory()) {
  const manifestPath = path.join(packs, 'manifest.json');
  if (!fs.existsSync(manifestPath)) return [];
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  const keras = new Map(publishedModels(data).map((f) => [path.basename(f, '.keras'), f]));
  return manifest.models
    .filter((m) => m.files?.int8 && keras.has(m.name))
    .map((m) => ({ name: m.name, int8Path: path.join(packs, m.files.int8), kerasPath: keras.get(m.name) }));
}

function pearson(a, b) {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n,
    mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0,
    saa = 0,
    sbb = 0;
  for (let i = 0; i < n; ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/**
 * One model: per output, r and worst |int8 - tfjs| / spread for wasm and native, and the largest |wasm - native|.
 * @returns {{name, outputs, minR, worstOfSpread, worstOutput, wasmVsNative}}
 */
export async function compareInt8Model(cl, model, images, jpegPaths) {
  const archive = await readKerasArchive(new Uint8Array(fs.readFileSync(model.kerasPath)));
  const reference = await buildTfjsModel(archive.configText, archive.tensors);
  const count = images.inputs.length / (112 * 112 * 3);
  const tfjs = await predictTfjs(reference, images.inputs, { batchSize: 16 });
  reference.dispose();
  const outputs = tfjs.length / count;

  const loaded = cl.loadModelFile(new Uint8Array(fs.readFileSync(model.int8Path)));
  const wasm = new Float32Array(tfjs.length);
  try {
    if (cl.modelPrecision(loaded) !== 'int8') throw new Error(`${model.int8Path} is not an int8 model file`);
    for (let i = 0; i < count; ++i) {
      wasm.set(
        cl.predictWithPrecision(loaded, images.inputs.subarray(i * 112 * 112 * 3, (i + 1) * 112 * 112 * 3), 'int8'),
        i * outputs,
      );
    }
  } finally {
    loaded.delete();
  }
  const csv = execFileSync(nativeCli, ['predict', model.int8Path, ...jpegPaths, '--precision', 'int8'], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  const native = Float32Array.from(
    csv
      .trim()
      .split('\n')
      .slice(1)
      .flatMap((row) => row.split(',').slice(1).map(Number)),
  );

  const result = {
    name: model.name,
    outputs,
    minR: 1,
    rmsOfSpread: 0,
    worstOfSpread: 0,
    worstOutput: '',
    wasmVsNative: 0,
  };
  for (let o = 0; o < outputs; ++o) {
    const column = (values) => Array.from({ length: count }, (_, i) => values[i * outputs + o]);
    const f = column(tfjs);
    const mean = f.reduce((s, v) => s + v, 0) / count;
    const spread = Math.sqrt(f.reduce((s, v) => s + (v - mean) ** 2, 0) / count);
    for (const values of [wasm, native]) {
      const q = column(values);
      const r = pearson(q, f);
      const worst = Math.max(...q.map((v, i) => Math.abs(v - f[i]))) / spread;
      const rms = Math.sqrt(q.reduce((s, v, i) => s + (v - f[i]) ** 2, 0) / count) / spread;
      if (r < result.minR) result.minR = r;
      result.rmsOfSpread = Math.max(result.rmsOfSpread, rms);
      if (worst > result.worstOfSpread) {
        result.worstOfSpread = worst;
        result.worstOutput = `output ${o}`;
      }
    }
    for (let i = 0; i < count; ++i) {
      result.wasmVsNative = Math.max(
        result.wasmVsNative,
        Math.abs(wasm[i * outputs + o] - native[i * outputs + o]) / spread,
      );
    }
  }
  return result;
}

export async function prepareImages() {
  const cl = await loadCortexLens();
  const images = loadImages(cl, NUMBERS);
  return { cl, images, jpegPaths: writeTempJpegs(images) };
}

async function main() {
  const args = process.argv.slice(2);
  const packs = args.includes('--packs') ? args[args.indexOf('--packs') + 1] : packsDirectory();
  const filter = args.includes('--models') ? new RegExp(args[args.indexOf('--models') + 1]) : /./;
  const models = packedInt8Models(packs).filter((m) => filter.test(m.name));
  if (!models.length)
    throw new Error(`no int8 model files of published models in ${packs}/manifest.json (run scripts/build_site.sh)`);
  const { cl, images, jpegPaths } = await prepareImages();
  let minR = 1,
    rms = 0,
    worst = 0,
    wasmVsNative = 0;
  for (const model of models) {
    const r = await compareInt8Model(cl, model, images, jpegPaths);
    minR = Math.min(minR, r.minR);
    rms = Math.max(rms, r.rmsOfSpread);
    worst = Math.max(worst, r.worstOfSpread);
    wasmVsNative = Math.max(wasmVsNative, r.wasmVsNative);
    console.log(
      `${r.name}: min r ${r.minR.toFixed(5)}, |int8 - tfjs float| RMS ${r.rmsOfSpread.toFixed(4)}, largest ` +
        `${r.worstOfSpread.toFixed(4)} of the spread; |wasm - native| ${r.wasmVsNative.toExponential(2)} of the spread`,
    );
  }
  console.log(
    `${models.length} int8 models vs TF.js float on ${NUMBERS.length * 3} images: min r ${minR.toFixed(5)} (bound ${MIN_R}), ` +
      `largest RMS error ${rms.toFixed(4)} of the spread (bound ${MAX_RMS_OF_SPREAD}), largest single error ${worst.toFixed(4)}, ` +
      `largest |wasm - native| ${wasmVsNative.toExponential(2)} of the spread (bound ${MAX_WASM_NATIVE_OF_SPREAD})`,
  );
  process.exitCode = minR >= MIN_R && rms <= MAX_RMS_OF_SPREAD && wasmVsNative <= MAX_WASM_NATIVE_OF_SPREAD ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
