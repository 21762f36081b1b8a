// Benchmark: our wasm engine against TensorFlow.js (wasm backend, XNNPACK, SIMD, 1 thread, BN folded into fused
// conv + bias + ReLU ops) in one node process, on the same models and the same inputs. See bench/README.md.
//
//   node bench/bench.mjs [--runs N] [--models a,b,c] [--batches 1,32] [--int8-dir DIR]
//   env: CORTEXLENS_WASM_DIR (default build/wasm/wasm), CORTEXLENS_DATA_DIR (default ../shared/data/v4)
//   --int8-dir: a folder of <model>.clm int8 files (`cortexlens convert MODEL -o DIR/<model>.clm --precision int8`,
//   derived from the licensed data, so kept in a build folder); adds our int8 path (predictWithPrecision) as a row.
//
// Prints per model and batch size: median milliseconds per call (>= 20 timed runs after warm-up), images/s,
// G multiply-adds/s, that as a share of the measured wasm f32x4 multiply-add peak, and our time / TF.js time.
// Both engines first run the same input and must agree (max |difference| printed), so the times compare the
// same computation.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { readKerasArchive } from '../web/lib/keras-archive.js';
import { loadCortexLens, modelPath, wasmDir, hasData, noDataReason } from '../tests/wasm/module.mjs';
import { tf, initBackend } from '../tests/reference/tfjs-model.mjs';
import { buildFusedModel } from './tfjs-fused.mjs';

const DEFAULT_MODELS = [
  'compact_model_190923_neuron0',
  // The per-neuron model with the most multiply-adds (73.1 M; `cortexlens info` over all 219).
  'compact_model_190923_neuron21',
  'shared_compact_model_100filters',
];

function parseArgs(argv) {
  const opts = { runs: 30, models: DEFAULT_MODELS, batches: [1, 32], int8Dir: null };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--runs') opts.runs = Math.max(20, Number.parseInt(next(), 10));
    else if (a === '--models') opts.models = next().split(',');
    else if (a === '--batches') opts.batches = next().split(',').map(Number);
    else if (a === '--int8-dir') opts.int8Dir = next();
    else throw new Error(`unknown argument ${a}; expected --runs N, --models a,b, --batches 1,32 or --int8-dir DIR`);
  }
  return opts;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
};

// Runs the engines' calls alternately, so that load from other processes on a shared machine falls on both alike;
// returns per engine the median and the minimum in ms.
async function timeInterleaved(warmup, runs, fns) {
  for (let i = 0; i < warmup; ++i) for (const fn of fns) await fn();
  const ms = fns.map(() => []);
  for (let i = 0; i < runs; ++i) {
    for (let k = 0; k < fns.length; ++k) {
      const j = (i + k) % fns.length; // alternate which engine goes first
      const t0 = performance.now();
      await fns[j]();
      ms[j].push(performance.now() - t0);
    }
  }
  return ms.map((m) => ({ median: median(m), min: Math.min(...m) }));
}

// Distinct images for a batch, so nothing can be cached between them: the golden pattern with a phase per image.
function inputs(count) {
  const n = 112 * 112 * 3;
  const x = new Float32Array(count * n);
  for (let b = 0; b < count; ++b)
    for (let h = 0; h < 112; ++h)
      for (let w = 0; w < 112; ++w)
        for (let c = 0; c < 3; ++c) x[b * n + (h * 112 + w) * 3 + c] = 100 * Math.sin(0.1 * h + 0.2 * w + c + 0.37 * b);
  return x;
}

// Measured f32x4 mul + add peak of this wasm engine (bench/bench_peak.cpp), in G multiply-adds/s.
async function measurePeak() {
  const require = createRequire(import.meta.url);
  const dir = path.join(wasmDir, '..', 'bench');
  const create = require(path.join(dir, 'bench_peak.js'));
  const mod = await create({ wasmBinary: fs.readFileSync(path.join(dir, 'bench_peak.wasm')) });
  const iterations = 2_000_000;
  mod._peak_f32x4_multiply_adds(iterations, 0.5); // tier-up warm-up
  const rates = [];
  for (let i = 0; i < 21; ++i) {
    const t0 = performance.now();
    const madds = mod._peak_f32x4_multiply_adds(iterations, 0.5);
    rates.push(madds / ((performance.now() - t0) * 1e6));
  }
  return { median: median(rates), best: Math.max(...rates) };
}

const fmt = (v, d = 2) => v.toFixed(d);

// biome-ignore lint/complexity/noExcessiveLinesPerFunction: the benchmark's script: one measurement after another, in the order they are printed
async function main() {
  if (!hasData) {
    console.log(`bench: skipped, ${noDataReason}`);
    return;
  }
  const opts = parseArgs(process.argv.slice(2));
  setThreadsCount(1);
  await initBackend('wasm');
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  const cl = await loadCortexLens();
  const peak = await measurePeak();

  console.log(`# node ${process.version}, ${opts.runs} timed runs after warm-up, medians; single thread`);
  console.log(`# ours: ${path.relative(process.cwd(), wasmDir)}/cortexlens.wasm (wasm SIMD128)`);
  console.log(
    `# TF.js ${tf.version.tfjs} backend ${tf.getBackend()} (SIMD ${simd}, multithread support ${threads}, ` +
      'threads set to 1), BN folded into fused conv/depthwise/matMul + bias + ReLU',
  );
  console.log(
    `# wasm f32x4 mul+add peak (bench_peak): median ${fmt(peak.median, 1)}, best ${fmt(peak.best, 1)} G multiply-adds/s`,
  );
  console.log('# ms/call: median (and min) over the runs; images/s, G m-adds/s from the median; % peak: of the best');
  console.log("# peak figure; ours/TF.js: ratio of medians (and of minimums). The engines' runs alternate.");
  console.log('');
  const widths = [34, 5, 9, 10, 9, 10, 10, 10, 8, 10, 9];
  console.log(
    [
      'model',
      'batch',
      'engine',
      'ms/call',
      'min ms',
      'ms/image',
      'images/s',
      'G m-adds/s',
      '% peak',
      'ours/TF.js',
      '(of mins)',
    ]
      .map((h, i) => (i === 0 ? h.padEnd(widths[i]) : h.padStart(widths[i])))
      .join(' '),
  );

  for (const key of opts.models) {
    const archive = await readKerasArchive(new Uint8Array(fs.readFileSync(modelPath(key))));
    const ours = cl.loadKeras(archive.configText, archive.tensors, key);
    const fused = buildFusedModel(archive.configText, archive.tensors);
    const int8File = opts.int8Dir && path.join(opts.int8Dir, `${key}.clm`);
    let ours8 = null;
    if (int8File && fs.existsSync(int8File)) {
      if (!cl.loadModelFile) throw new Error('this wasm build has no loadModelFile binding for int8 files');
      ours8 = cl.loadModelFile(new Uint8Array(fs.readFileSync(int8File)));
    } else if (int8File) {
      console.log(`# ${int8File} not found: no int8 row for ${key}`);
    }
    try {
      const madds = ours.info().multiplyAdds;
      const perImage = 112 * 112 * 3;
      const maxBatch = Math.max(...opts.batches);
      const x = inputs(maxBatch);

      // Same computation check: one image through both engines.
      const one = x.subarray(0, perImage);
      const a = ours.predict(one);
      const b = tf.tidy(() => fused.run(tf.tensor(one, [1, 112, 112, 3]))).dataSync();
      let maxDiff = 0;
      for (let i = 0; i < a.length; ++i) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
      if (a.length !== b.length || !(maxDiff < 1e-3)) {
        throw new Error(`${key}: engines disagree (outputs ${a.length} vs ${b.length}, max |diff| ${maxDiff})`);
      }

      for (const batch of opts.batches) {
        const xs = x.subarray(0, batch * perImage);
        const images = Array.from({ length: batch }, (_, i) => xs.subarray(i * perImage, (i + 1) * perImage));
        const engines = [
          [
            'ours',
            () => {
              for (const img of images) ours.predict(img);
            },
          ],
          [
            'TF.js',
            async () => {
              const y = tf.tidy(() => fused.run(tf.tensor(xs, [batch, 112, 112, 3])));
              await y.data();
              y.dispose();
            },
          ],
        ];
        if (ours8) {
          engines.push([
            'ours int8',
            () => {
              for (const img of images) cl.predictWithPrecision(ours8, img, 'int8');
            },
          ]);
        }
        const times = await timeInterleaved(
          3,
          opts.runs,
          engines.map((e) => e[1]),
        );
        const tfT = times[1];
        const row = (engine, t) => {
          const gmacs = (madds * batch) / (t.median * 1e6);
          const mine = engine !== 'TF.js';
          console.log(
            [
              key.padEnd(34),
              String(batch).padStart(5),
              engine.padStart(9),
              fmt(t.median).padStart(10),
              fmt(t.min).padStart(9),
              fmt(t.median / batch).padStart(10),
              fmt((1000 * batch) / t.median, 1).padStart(10),
              fmt(gmacs).padStart(10),
              fmt((100 * gmacs) / peak.best, 1).padStart(8),
              (mine ? fmt(t.median / tfT.median, 3) : '').padStart(10),
              (mine ? fmt(t.min / tfT.min, 3) : '').padStart(9),
            ].join(' '),
          );
        };
        for (const [i, [name]] of engines.entries()) row(name, times[i]);
      }
      let note = `${fmt(madds / 1e6, 1)} M multiply-adds/image; float engines agree to ${maxDiff.toExponential(1)}`;
      if (ours8) {
        const q = cl.predictWithPrecision(ours8, one, 'int8');
        let d8 = 0;
        for (let i = 0; i < q.length; ++i) d8 = Math.max(d8, Math.abs(q[i] - a[i]));
        note += `; int8 vs float max |diff| ${d8.toExponential(1)}`;
      }
      console.log(`${''.padEnd(34)} (${note})`);
    } finally {
      ours.delete();
      ours8?.delete();
      fused.dispose();
    }
  }
}

await main();
