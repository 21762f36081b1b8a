// Runs bench_native on one model and returns its figures in one shape, whichever report the binary prints: the
// --json record where the binary has the flag, else its text report (builds older than --json, or branches that
// changed the kernels but not the benchmark). Dev-only, used by bench_onnx.mjs.
//
// The shape: {isa, multiplyAdds, float: pass, int8: pass | null, int8Error: string | null, hasOutputs}, where pass is
// {runs: number[] (every timed run's ms; empty from a text report), median, min (ms), output: number[] | null,
// layers: [{name, kind, multiplyAdds, medianMs, minMs}]}.

import { spawnSync } from 'node:child_process';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
};

function fromJsonPass(p) {
  return {
    runs: p.ms,
    median: median(p.ms),
    min: Math.min(...p.ms),
    output: p.output,
    layers: p.layers.map((l) => ({
      name: l.name,
      kind: l.kind,
      multiplyAdds: l.multiply_adds,
      medianMs: l.median_ms,
      minMs: l.min_ms,
    })),
  };
}

function fromJson(line) {
  const r = JSON.parse(line);
  return {
    isa: r.isa ?? null,
    multiplyAdds: r.multiply_adds,
    float: fromJsonPass(r.float),
    int8: r.int8 ? fromJsonPass(r.int8) : null,
    int8Error: r.int8_error ?? null,
    hasOutputs: true,
  };
}

// The text report of bench_native.cpp (one model): the "plan reused" lines and the per-layer table. Throws, quoting
// the report, when the lines it needs are not there, rather than guessing.
function fromText(stdout) {
  const num = String.raw`(\d+(?:\.\d+)?)`;
  const header = stdout.match(new RegExp(String.raw`^\S.*: ${num} M multiply-adds$`, 'm'));
  const float = stdout.match(new RegExp(String.raw`^\s+plan reused \(batch 1\)\s+${num} ms.*\(min ${num} ms\)`, 'm'));
  const int8 = stdout.match(new RegExp(String.raw`^\s+int8 plan reused\s+${num} ms.*\(min ${num} ms\)`, 'm'));
  const int8Error = stdout.match(/^\s+int8: (.*)$/m);
  if (!header || !float) {
    throw new Error(`cannot read bench_native's report (no --json in this build, and the text changed):\n${stdout}`);
  }
  const layers = { float: [], int8: [] };
  const layerLine = new RegExp(
    String.raw`^\s+(int8 )?(\S+)\s+(\S+)\s+(?:\(\d+,\d+,\d+\)\s+)?${num}\s+${num}\s+${num}\s+${num}\s*$`,
  );
  for (const line of stdout.split('\n')) {
    const m = line.match(layerLine);
    if (!m || m[2] === 'layer') continue;
    (m[1] ? layers.int8 : layers.float).push({
      name: m[2],
      kind: m[3],
      multiplyAdds: Number(m[4]) * 1e6,
      medianMs: Number(m[5]),
      minMs: Number(m[7]),
    });
  }
  const pass = (m, l) => ({ runs: [], median: Number(m[1]), min: Number(m[2]), output: null, layers: l });
  // 'isa NAME' in the first line, or a line '# instruction set: NAME', as the kernels' branches print it.
  const isa = stdout.match(/^# (?:bench_native:.*\bisa|instruction set:) (\w+)/m);
  return {
    isa: isa ? isa[1] : null,
    multiplyAdds: Number(header[1]) * 1e6,
    float: pass(float, layers.float),
    int8: int8 ? pass(int8, layers.int8) : null,
    int8Error: int8Error ? int8Error[1] : null,
    hasOutputs: false,
  };
}

/**
 * Runs `binary` on one model file.
 * @param {string} binary  a bench_native executable
 * @param {string} modelFile  path of the .keras file
 * @param {{runs: number, int8Dir: string|null}} opts
 * @param {{json: boolean}} mode  whether to ask for --json; set to false here when the binary turns out not to know it
 */
export function runBenchNative(binary, modelFile, opts, mode) {
  const args = ['--runs', String(opts.runs)];
  if (opts.int8Dir) args.push('--int8-dir', opts.int8Dir);
  const run = (extra) => spawnSync(binary, [...extra, ...args, modelFile], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (mode.json) {
    const r = run(['--json']);
    const record = r.status === 0 ? r.stdout.split('\n').find((line) => line.startsWith('{')) : undefined;
    if (record) return fromJson(record);
    // An older binary takes --json for a model name and fails to load it, or ignores it and prints text.
    mode.json = false;
  }
  const r = run([]);
  if (r.status !== 0) throw new Error(`${binary} failed on ${modelFile} (exit ${r.status}): ${r.stderr || r.error}`);
  return fromText(r.stdout);
}
