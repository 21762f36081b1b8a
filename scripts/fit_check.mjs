// Fit check for `cortexlens fit` (docs/PRUNING.md): responses synthesized from a known model, a published compact
// model's own predictions plus Gaussian noise at the recorded noise level, are fitted (and, with --prune, pruned by
// step 1) on the 100-filter shared model's features; the fitted model's r is then measured against the noiseless
// responses on the held-out rows (every 5th, as `fit` holds out).
//
// The recorded noise level: the recorded responses of images 601-1200 regressed on the published model's predictions
// (least squares, a + b * prediction); the residual's standard deviation is the noise added. It bounds the noise from
// above (it also holds the model's own error), so the check is, if anything, harder than the real recordings.
//
// usage: node scripts/fit_check.mjs [--neuron 190923_n0] [--seed 1] [--prune] [--cli PATH] [--data DIR] [--out DIR]
// Needs the published data and the native CLI (scripts/build.sh native). Writes only under --out (build/fit-check).
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { unzipSync } from 'fflate';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const neuronName = option('neuron', '190923_n0');
const seed = Number(option('seed', '1'));
const prune = args.includes('--prune');
const cli = path.resolve(option('cli', path.join(root, 'build/release/native/cortexlens')));
const data = path.resolve(option('data', path.join(root, '../shared/data/v4')));
const out = path.resolve(option('out', path.join(root, 'build/fit-check')));
const [, session, neuron] = /^(\d{6})_n(\d+)$/.exec(neuronName) || [];
if (!session) throw new Error(`--neuron: expected SESSION_nI such as 190923_n0, found '${neuronName}'`);
const sharedModel = path.join(data, 'shared_compact_models/from_ensemble_model/shared_compact_model_100filters.keras');
const compactModel = path.join(data, 'compact_models', `compact_model_${session}_neuron${neuron}.keras`);
const run = (argv) => execFileSync(cli, argv, { encoding: 'utf8', maxBuffer: 1 << 26 });

// The session's images as files (`predict` reads files).
const imageDir = path.join(out, `images_${session}`);
fs.mkdirSync(imageDir, { recursive: true });
const zip = unzipSync(new Uint8Array(fs.readFileSync(path.join(data, 'sessions', `images_${session}.zip`))), {
  filter: (f) => /(^|\/)image\d{4}\.jpg$/.test(f.name),
});
for (const [name, bytes] of Object.entries(zip)) fs.writeFileSync(path.join(imageDir, path.basename(name)), bytes);
const imageFile = (n) => path.join(imageDir, `image${String(n).padStart(4, '0')}.jpg`);
const numbers = Array.from({ length: 1200 }, (_, i) => i + 1);

function predict(model, list) {
  const lines = run(['predict', model, ...list.map(imageFile), '--precision', 'float'])
    .trim()
    .split('\n');
  return lines.slice(1).map((l) => Number(l.split(',')[1]));
}

function readNpyRow(file, row) {
  const bytes = fs.readFileSync(file);
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  const [, rows, cols] = /'shape': \((\d+), (\d+)\)/.exec(header).map(Number);
  if (!/'descr': '<f8'/.test(header) || row >= rows) throw new Error(`${file}: unexpected header ${header}`);
  const start = 10 + headerLength + row * cols * 8;
  return Array.from({ length: cols }, (_, j) => bytes.readDoubleLE(start + j * 8));
}

const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
function pearson(x, y) {
  const mx = mean(x),
    my = mean(y);
  let sxy = 0,
    sxx = 0,
    syy = 0;
  for (let i = 0; i < x.length; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

// A seeded normal generator (mulberry32 + Box-Muller): the same seed gives the same responses anywhere.
function normals(seedValue) {
  let s = seedValue >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

const t0 = Date.now();
const known = predict(compactModel, numbers);
const recorded = readNpyRow(path.join(data, 'sessions', `responses_repeat_averaged_${session}.npy`), Number(neuron));
const heldPred = known.slice(600),
  heldRec = recorded.slice(600, 1200);
const mp = mean(heldPred),
  mr = mean(heldRec);
let sxy = 0,
  sxx = 0;
for (let i = 0; i < 600; ++i) {
  sxy += (heldPred[i] - mp) * (heldRec[i] - mr);
  sxx += (heldPred[i] - mp) ** 2;
}
const b = sxy / sxx,
  a = mr - b * mp;
const residual = heldRec.map((v, i) => v - a - b * heldPred[i]);
const noise = Math.sqrt(mean(residual.map((v) => v * v)));
const noiseless = known.map((p) => a + b * p);
const gauss = normals(seed);
const noisy = noiseless.map((v) => v + noise * gauss());

const csv = path.join(out, `responses_${neuronName}_seed${seed}.csv`);
fs.writeFileSync(
  csv,
  `image,response\n${numbers.map((n, i) => `${session}/${String(n).padStart(4, '0')},${noisy[i]}`).join('\n')}\n`,
);
const heldRows = numbers.filter((_, i) => i % 5 === 4);
const heldIdx = heldRows.map((n) => n - 1);
const report = (label, model) => {
  const p = predict(model, heldRows);
  const rClean = pearson(
    p,
    heldIdx.map((i) => noiseless[i]),
  );
  const rNoisy = pearson(
    p,
    heldIdx.map((i) => noisy[i]),
  );
  console.log(`${label.padEnd(34)} r vs noiseless ${rClean.toFixed(4)}   r vs noisy ${rNoisy.toFixed(4)}`);
};

console.log(
  `fit check ${neuronName}: the published compact model's predictions, scaled to the recordings (a ${a.toFixed(3)}, ` +
    `b ${b.toFixed(3)}), plus noise of sd ${noise.toFixed(3)} (recorded responses' sd ${Math.sqrt(mean(heldRec.map((v) => (v - mr) ** 2))).toFixed(3)}; ` +
    `published model's r to the recordings on 601-1200 ${pearson(heldPred, heldRec).toFixed(4)}), seed ${seed}; ` +
    `${heldRows.length} held-out rows (every 5th)`,
);
console.log(
  `${'ceiling: the noisy responses'.padEnd(34)} r vs noiseless ${pearson(
    heldIdx.map((i) => noisy[i]),
    heldIdx.map((i) => noiseless[i]),
  ).toFixed(4)}`,
);
const fitted = path.join(out, `fit_${neuronName}.clm`);
const fitText = run(['fit', sharedModel, '--responses', csv, '-o', fitted, '--data', data]);
process.stdout.write(fitText.replace(/^/gm, '  | '));
report('fitted (ridge readout)', fitted);
if (prune) {
  const pruned = path.join(out, `fit_pruned_${neuronName}.clm`);
  const pruneText = run([
    'fit',
    sharedModel,
    '--responses',
    csv,
    '-o',
    pruned,
    '--prune',
    '--step1-only',
    '--data',
    data,
  ]);
  process.stdout.write(
    pruneText
      .split('\n')
      .filter((l) => !/^step 1 stage|^start/.test(l))
      .join('\n')
      .replace(/^/gm, '  | '),
  );
  report('fitted and pruned (step 1)', pruned);
}
console.log(`time ${((Date.now() - t0) / 1000).toFixed(0)} s`);
