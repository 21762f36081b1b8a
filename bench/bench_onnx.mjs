// Benchmark: our native engine (bench_native, float and int8) against ONNX Runtime's native CPU build (npm
// onnxruntime-node) on the same models and the same input, in one run. See bench/README.md.
//
//   node bench/bench_onnx.mjs [--runs N] [--rounds R] [--models a,b,c] [--int8-dir DIR] [--no-int8] [--ort-profile]
//   env: CORTEXLENS_BENCH_NATIVE (default build/release/bench/bench_native), CORTEXLENS_CLI (default
//   build/release/native/cortexlens, makes the int8 files), CORTEXLENS_DATA_DIR (default ../shared/data/v4);
//   CORTEXLENS_ISA passes through to bench_native where it reads it.
//
// ONNX Runtime runs batch 1 on one thread (intra- and inter-op), graph optimization 'all', sequential execution,
// on the model exported by onnx-export.mjs (BatchNorm folded, so it fuses conv + bias + ReLU). Our times come from
// bench_native --json (plan reused, C++ timing); ONNX Runtime's are wall time around session.run() in node, so they
// include the binding's per-call cost, measured separately on a one-value graph and printed. The engines cannot
// alternate call by call (two processes), so they alternate per model and round: each round runs ours then ONNX
// Runtime, or the other way round, and the figures pool every round. Min over all runs is the robust figure on a
// shared machine (preemption only adds time); the median says how loaded it was.
//
// The int8 files (derived from the licensed models) are made once with `cortexlens convert --precision int8` into
// DIR (default build/bench-onnx/int8) and reused. Before timing, ONNX Runtime's output must agree with our float
// output on the pattern image; the run fails otherwise.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { dataDir, goldenPattern, hasData, modelPath, noDataReason, repoRoot } from '../tests/wasm/module.mjs';
import { runBenchNative } from './native-runner.mjs';
import { kerasFileToOnnx } from './onnx-export.mjs';

const DEFAULT_MODELS = [
  'compact_model_190923_neuron0',
  // The per-neuron model with the most multiply-adds (73.1 M; `cortexlens info` over all 219).
  'compact_model_190923_neuron21',
  'shared_compact_model_100filters',
];
// The targets: our time / ONNX Runtime's time at batch 1, one thread.
const TARGETS = { float: 1.0, int8: 0.5 };
// Agreement required before timing, relative to the largest |output|: float32 engines summing in different orders
// differ by ~1e-6; a wrong padding or weight layout differs by far more.
const MAX_RELATIVE_DIFF = 1e-3;

const benchNative = path.resolve(
  process.env.CORTEXLENS_BENCH_NATIVE || path.join(repoRoot, 'build/release/bench/bench_native'),
);
// Whether bench_native knows --json; runBenchNative clears it for a binary that does not.
const nativeMode = { json: true };
const cli = path.resolve(process.env.CORTEXLENS_CLI || path.join(repoRoot, 'build/release/native/cortexlens'));

function parseArgs(argv) {
  const opts = { runs: 50, rounds: 3, models: DEFAULT_MODELS, int8Dir: path.join(repoRoot, 'build/bench-onnx/int8') };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--runs') opts.runs = Math.max(50, Number.parseInt(next(), 10));
    else if (a === '--rounds') opts.rounds = Math.max(1, Number.parseInt(next(), 10));
    else if (a === '--models') opts.models = next().split(',');
    else if (a === '--int8-dir') opts.int8Dir = path.resolve(next());
    else if (a === '--no-int8') opts.int8Dir = null;
    else if (a === '--ort-profile') opts.ortProfile = true;
    else {
      throw new Error(
        `unknown argument ${a}; expected --runs N (>= 50), --rounds R, --models a,b, --int8-dir DIR, --no-int8 or --ort-profile`,
      );
    }
  }
  return opts;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
};
const fmt = (v, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : '-');
const loadavg = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

function requireFile(file, what, how) {
  if (!fs.existsSync(file)) throw new Error(`${what} not found at ${file}: ${how}`);
}

// Makes DIR/<model>.clm (int8) for each model that lacks one; calibration reads the session images, so this takes a
// minute or more per model, once.
function ensureInt8Files(dir, models) {
  fs.mkdirSync(dir, { recursive: true });
  for (const key of models) {
    const out = path.join(dir, `${key}.clm`);
    if (fs.existsSync(out)) continue;
    requireFile(cli, 'the cortexlens CLI (for the int8 files)', 'build it, set CORTEXLENS_CLI, or pass --no-int8');
    console.log(`# making ${path.relative(process.cwd(), out)} (cortexlens convert --precision int8) ...`);
    const r = spawnSync(cli, ['convert', modelPath(key), '-o', out, '--precision', 'int8', '--data', dataDir], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`cortexlens convert ${key} failed: ${r.stderr || r.error}`);
  }
}

const sessionOptions = {
  executionProviders: ['cpu'],
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
};

// The image as ONNX Conv wants it: (1, C, H, W), transposed once here, outside any timing.
function nchwInput([channels, height, width]) {
  const hwc = goldenPattern();
  if (hwc.length !== channels * height * width) throw new Error(`input (${channels}, ${height}, ${width}) expected`);
  const chw = new Float32Array(hwc.length);
  for (let h = 0; h < height; ++h)
    for (let w = 0; w < width; ++w)
      for (let c = 0; c < channels; ++c) chw[(c * height + h) * width + w] = hwc[(h * width + w) * channels + c];
  return new ort.Tensor('float32', chw, [1, channels, height, width]);
}

async function timeOrt(session, feeds, runs) {
  for (let i = 0; i < 5; ++i) await session.run(feeds);
  const ms = [];
  for (let i = 0; i < runs; ++i) {
    const t0 = performance.now();
    await session.run(feeds);
    ms.push(performance.now() - t0);
  }
  return ms;
}

// The node types ONNX Runtime actually runs after its optimizer (FusedConv, the NCHWc Conv and Reorder nodes, ...),
// read back from the optimized model it writes; says whether it ran its fused graph.
async function optimizedOps(bytes, tmpDir) {
  const file = path.join(tmpDir, 'optimized.onnx');
  // Severity 3 (errors only): ONNX Runtime warns that an NCHWc-optimized model is specific to this CPU, which is the
  // point here.
  const session = await ort.InferenceSession.create(bytes, {
    ...sessionOptions,
    optimizedModelFilePath: file,
    logSeverityLevel: 3,
  });
  await session.release();
  const model = onnxProto.onnx.ModelProto.decode(fs.readFileSync(file));
  const counts = new Map();
  for (const n of model.graph.node) {
    const op =
      n.domain && n.domain !== 'ai.onnx' ? `${n.domain.replace(/^com\.microsoft\./, '')}:${n.opType}` : n.opType;
    counts.set(op, (counts.get(op) ?? 0) + 1);
  }
  return [...counts].map(([op, n]) => `${op} x${n}`).join(', ');
}

// ONNX Runtime's own per-node times (its profiler, min over `runs` runs), to say which of its kernels limits it; the
// profiler's overhead stays out of the timed runs, which use another session.
async function ortNodeTimes(bytes, feeds, runs, tmpDir) {
  const prefix = path.join(tmpDir, `profile-${Date.now()}`);
  const session = await ort.InferenceSession.create(bytes, {
    ...sessionOptions,
    enableProfiling: true,
    profileFilePrefix: prefix,
  });
  for (let i = 0; i < runs; ++i) await session.run(feeds);
  session.endProfiling();
  await session.release();
  const file = fs.readdirSync(tmpDir).find((f) => path.join(tmpDir, f).startsWith(prefix));
  const nodes = new Map();
  for (const e of JSON.parse(fs.readFileSync(path.join(tmpDir, file), 'utf8'))) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const name = `${e.name.replace(/_kernel_time$/, '')} (${e.args.op_name})`;
    nodes.set(name, Math.min(nodes.get(name) ?? Number.POSITIVE_INFINITY, e.dur / 1000));
  }
  return [...nodes];
}

// The cost of one session.run() call from node on a graph that does nothing: the part of ONNX Runtime's figures
// that is the binding, not the model.
async function ortCallOverhead() {
  const { onnx } = onnxProto;
  const info = (name) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } });
  const bytes = onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: onnx.Version.IR_VERSION,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'overhead',
        node: [{ opType: 'Relu', input: ['input'], output: ['output'] }],
        input: [info('input')],
        output: [info('output')],
      },
    }),
  ).finish();
  const session = await ort.InferenceSession.create(bytes, sessionOptions);
  const ms = await timeOrt(session, { input: new ort.Tensor('float32', new Float32Array(1), [1]) }, 200);
  await session.release();
  return { median: median(ms), min: Math.min(...ms) };
}

function compareOutputs(ours, theirs) {
  if (ours.length !== theirs.length) return { maxDiff: Number.POSITIVE_INFINITY, relative: Number.POSITIVE_INFINITY };
  let maxDiff = 0;
  let scale = 0;
  for (let i = 0; i < ours.length; ++i) {
    maxDiff = Math.max(maxDiff, Math.abs(ours[i] - theirs[i]));
    scale = Math.max(scale, Math.abs(ours[i]));
  }
  return { maxDiff, relative: maxDiff / Math.max(scale, 1e-30) };
}

function fail(message) {
  console.error(`bench_onnx: ${message}`);
  process.exit(1);
}

// Min over the rounds of each layer's min, for the per-layer table.
function mergeLayers(merged, layers) {
  if (!merged) return layers.map((l) => ({ ...l }));
  return merged.map((m, i) => ({ ...m, minMs: Math.min(m.minMs, layers[i].minMs) }));
}

const WIDTHS = [32, 11, 10, 9, 11, 12, 9, 16];
const row = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(WIDTHS[i]) : c.padStart(WIDTHS[i]))).join(' ');

// One model: export, check agreement, then the rounds; prints its rows and returns its per-layer figures.
async function benchModel(key, opts, tmpDir) {
  const exported = await kerasFileToOnnx(modelPath(key));
  const session = await ort.InferenceSession.create(exported.bytes, sessionOptions);
  try {
    const feeds = { input: nchwInput(exported.input) };
    const ortOutput = (await session.run(feeds)).output.data;
    const graph = await optimizedOps(exported.bytes, tmpDir);
    const ms = { float: [], int8: [], ort: [] };
    const rounds = { float: [], int8: [] }; // per round {median, min}: all a text report gives
    let record = null;
    let agreement = null;
    const layers = { float: null, int8: null };
    for (let round = 0; round < opts.rounds; ++round) {
      const engines = round % 2 === 0 ? ['ours', 'ort'] : ['ort', 'ours'];
      for (const engine of engines) {
        if (engine === 'ort') {
          ms.ort.push(...(await timeOrt(session, feeds, opts.runs)));
          continue;
        }
        record = runBenchNative(opts.binary, modelPath(key), opts, nativeMode);
        if (record.hasOutputs) {
          agreement = compareOutputs(record.float.output, ortOutput);
          if (!(agreement.relative <= MAX_RELATIVE_DIFF)) {
            throw new Error(
              `${key}: ONNX Runtime and our float output disagree: ${ortOutput.length} vs ` +
                `${record.float.output.length} values, max |difference| ${agreement.maxDiff}, ${agreement.relative} ` +
                `of the largest |output| (at most ${MAX_RELATIVE_DIFF}): the export or the engine is wrong, and the ` +
                'times would not compare the same computation',
            );
          }
        }
        for (const precision of ['float', 'int8']) {
          const pass = record[precision];
          if (!pass) continue;
          ms[precision].push(...pass.runs);
          rounds[precision].push({ median: pass.median, min: pass.min });
          layers[precision] = mergeLayers(layers[precision], pass.layers);
        }
      }
    }

    const madds = record.multiplyAdds;
    // Every run pooled where bench_native gave them (--json); else the median of the rounds' medians.
    const stats = (precision) =>
      ms[precision].length
        ? { median: median(ms[precision]), min: Math.min(...ms[precision]) }
        : {
            median: median(rounds[precision].map((r) => r.median)),
            min: Math.min(...rounds[precision].map((r) => r.min)),
          };
    const ortT = stats('ort');
    const print = (engine, t, target) => {
      const ratioMin = target === undefined ? Number.NaN : t.min / ortT.min;
      const verdict = target === undefined ? '' : `<= ${target.toFixed(1)}: ${ratioMin <= target ? 'met' : 'missed'}`;
      console.log(
        row([
          engine === 'ours float' ? key : '',
          engine,
          fmt(t.median),
          fmt(t.min),
          fmt(madds / (t.min * 1e6), 2),
          target === undefined ? '' : fmt(t.median / ortT.median),
          target === undefined ? '' : fmt(ratioMin),
          verdict,
        ]),
      );
    };
    print('ours float', stats('float'), TARGETS.float);
    if (rounds.int8.length) print('ours int8', stats('int8'), TARGETS.int8);
    print('ORT float', ortT);
    let note = `${fmt(madds / 1e6, 1)} M multiply-adds, isa ${record.isa ?? 'not printed'}; `;
    note += agreement
      ? `ORT vs ours float max |diff| ${agreement.maxDiff.toExponential(1)} (${agreement.relative.toExponential(1)} relative)`
      : 'outputs not compared (this bench_native prints no --json record)';
    if (record.int8?.output) {
      const q = compareOutputs(record.float.output, record.int8.output);
      note += `; our int8 vs float ${q.maxDiff.toExponential(1)} (${q.relative.toExponential(1)} relative)`;
    }
    console.log(`${''.padEnd(WIDTHS[0])} (${note})`);
    console.log(`${''.padEnd(WIDTHS[0])} (ORT ran: ${graph})`);
    if (record.int8Error) console.log(`${''.padEnd(WIDTHS[0])} (no int8 row: ${record.int8Error})`);
    const ortNodes = opts.ortProfile ? await ortNodeTimes(exported.bytes, feeds, opts.runs, tmpDir) : null;
    return { key, layers, ortNodes };
  } finally {
    await session.release();
  }
}

function printLayers({ key, layers, ortNodes }) {
  console.log(`\n${key}: our kernels, per layer alone (min ms over all runs; G multiply-adds/s from the min)`);
  console.log('  layer                    kind              M m-adds  float ms    G/s   int8 ms    G/s');
  for (const [i, l] of layers.float.entries()) {
    const q = layers.int8?.[i];
    const m = l.multiplyAdds / 1e6;
    console.log(
      `  ${l.name.padEnd(24)} ${l.kind.padEnd(16)} ${fmt(m, 2).padStart(9)} ${fmt(l.minMs).padStart(9)} ` +
        `${fmt(m / l.minMs, 2).padStart(6)} ${q ? fmt(q.minMs).padStart(9) : ''.padStart(9)} ` +
        `${q ? fmt(m / q.minMs, 2).padStart(6) : ''}`,
    );
  }
  // Each layer lasts well under a scheduler time slice, so its min escapes preemption even on a loaded machine where a
  // whole pass of several ms rarely does: the sum estimates the unloaded pass (less the plan's input and output copies).
  const sum = (ls) => ls.reduce((t, l) => t + l.minMs, 0);
  const int8Sum = layers.int8 ? `, int8 ${fmt(sum(layers.int8))} ms` : '';
  console.log(`  sum of the layers' mins: float ${fmt(sum(layers.float))} ms${int8Sum}`);
  if (!ortNodes) return;
  console.log(
    `  ONNX Runtime's nodes (its profiler, min ms): sum ${fmt(ortNodes.reduce((t, [, ms]) => t + ms, 0))} ms`,
  );
  for (const [name, ms] of ortNodes) console.log(`    ${name.padEnd(44)} ${fmt(ms).padStart(8)}`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!hasData) fail(noDataReason);
  const how = 'build it (cmake --preset release && cmake --build --preset release) or set CORTEXLENS_BENCH_NATIVE';
  requireFile(benchNative, 'bench_native', how);
  for (const key of opts.models) requireFile(modelPath(key), `model ${key}`, 'check --models and CORTEXLENS_DATA_DIR');
  if (opts.int8Dir) ensureInt8Files(opts.int8Dir, opts.models);

  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cortexlens-onnx-'));
  try {
    // A copy, so that every round times one build even when its tree is rebuilt meanwhile (other engineers' trees).
    opts.binary = path.join(tmpDir, 'bench_native');
    fs.copyFileSync(benchNative, opts.binary);
    fs.chmodSync(opts.binary, 0o755);
    const overhead = await ortCallOverhead();
    // A short first run tells whether this bench_native has --json (other branches' builds may not).
    runBenchNative(opts.binary, modelPath(opts.models[0]), { runs: 1, int8Dir: null }, nativeMode);
    const report = nativeMode.json ? '--json' : 'text report (no --json in this build: outputs not compared)';
    console.log(`# ours: ${benchNative} ${report}; plan reused, batch 1, 1 thread`);
    console.log(
      `# ONNX Runtime ${ort.env.versions.node} (onnxruntime-node, CPU provider): batch 1, intra-op and inter-op ` +
        "threads 1, graph optimization 'all', sequential; model from bench/onnx-export.mjs (BatchNorm folded)",
    );
    console.log(
      `# ${opts.rounds} rounds x ${opts.runs} timed runs per engine and model after warm-up, the engines' order ` +
        'alternating per round; median and min pool all rounds',
    );
    console.log(
      `# ORT per-call cost in node (one-value Relu graph): median ${fmt(overhead.median)}, min ${fmt(overhead.min)} ms`,
    );
    console.log(`# ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores; load average ${loadavg()}`);
    console.log('# ratios: ours / ORT (of medians, of mins); targets judged on the mins (the robust figure)\n');
    console.log(row(['model', 'engine', 'median ms', 'min ms', 'G m-adds/s', 'ours/ORT med', 'of mins', 'target']));
    const perLayer = [];
    for (const key of opts.models) perLayer.push(await benchModel(key, opts, tmpDir));
    for (const l of perLayer) printLayers(l);
    console.log(`\n# load average at the end ${loadavg()}`);
  } finally {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (e) {
  fail(e.message);
}
