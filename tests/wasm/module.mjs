// Loads the built wasm module under node the way the page's worker does, and locates the data folder.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const wasmDir = path.resolve(process.env.CORTEXLENS_WASM_DIR || path.join(repoRoot, 'build/wasm/wasm'));
export const dataDir = path.resolve(process.env.CORTEXLENS_DATA_DIR || path.join(repoRoot, '../shared/data/v4'));
export const hasData = fs.existsSync(path.join(dataDir, 'golden_responses.json'));
export const noDataReason = `published V4 data not found at ${dataDir} (set CORTEXLENS_DATA_DIR)`;

export async function loadCortexLens() {
  const require = createRequire(import.meta.url);
  const createCortexLens = require(path.join(wasmDir, 'cortexlens.js'));
  // Node 20's fetch() cannot load a file path, so hand the module its bytes.
  return createCortexLens({ wasmBinary: fs.readFileSync(path.join(wasmDir, 'cortexlens.wasm')) });
}

// The model lab's module (wasm/bind_prune.cpp: pruning), which the page's worker loads when the lab first runs.
export async function loadLab() {
  const require = createRequire(import.meta.url);
  const createCortexLensLab = require(path.join(wasmDir, 'cortexlens-lab.js'));
  return createCortexLensLab({ wasmBinary: fs.readFileSync(path.join(wasmDir, 'cortexlens-lab.wasm')) });
}

// The threaded module (cortexlens-mt, built by scripts/build.sh into build/wasm-mt), or null when it was not built.
// Its pthread workers keep node alive: call cl.PThread.terminateAllThreads() when done.
export const threadedWasmDir = path.resolve(
  process.env.CORTEXLENS_WASM_MT_DIR || path.join(repoRoot, 'build/wasm-mt/wasm'),
);
export async function loadThreadedCortexLens() {
  const script = path.join(threadedWasmDir, 'cortexlens-mt.js');
  if (!fs.existsSync(script)) return null;
  const require = createRequire(import.meta.url);
  return require(script)({ wasmBinary: fs.readFileSync(path.join(threadedWasmDir, 'cortexlens-mt.wasm')) });
}

// The golden "pattern" input of golden_responses.json: x[h][w][c] = 100 sin(0.1 h + 0.2 w + c), float32.
export function goldenPattern() {
  const x = new Float32Array(112 * 112 * 3);
  for (let h = 0; h < 112; ++h)
    for (let w = 0; w < 112; ++w)
      for (let c = 0; c < 3; ++c)
        x[(h * 112 + w) * 3 + c] = 100 * Math.sin(Math.fround(Math.fround(0.1 * h) + Math.fround(0.2 * w) + c));
  return x;
}

export function modelPath(key) {
  if (key.startsWith('shared_compact_model'))
    return path.join(dataDir, 'shared_compact_models/from_ensemble_model', `${key.split(' ')[0]}.keras`);
  return path.join(dataDir, 'compact_models', `${key}.keras`);
}

// A float64 .npy array (the published responses): {shape: [rows, cols], data: Float64Array}.
export function readNpyFloat64(file) {
  const bytes = fs.readFileSync(file);
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  if (!/'descr': '<f8'/.test(header)) throw new Error(`${file}: not a little-endian float64 array`);
  const shape = /'shape': \((\d+), (\d+)\)/.exec(header).slice(1).map(Number);
  const start = 10 + headerLength;
  return {
    shape,
    data: new Float64Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + bytes.length)),
  };
}
