// Reader of Keras 3 `.keras` archives and bare `.weights.h5` files, for the page (a user drops a file; this runs in
// a module worker) and for node tests. Bytes in, plain data out; every failure is an Error whose message says what
// was found and what was expected.
//
// A `.keras` file is a zip holding config.json (the model description), metadata.json and model.weights.h5 (HDF5
// written by h5py; each variable is a dataset at layers/<snake_case class name>[_<k>]/vars/<j>).
//
// Libraries, not hand-written parsers (both pure JS, so the file runs unchanged in browsers, workers and node):
// - fflate for the zip: small (~30 KB) and its unzipSync lets us see each entry's declared size before inflating.
// - jsfive for HDF5: reads these h5py files (checked on all 227 published models) and its ES module is ~190 KB
//   including pako. h5wasm (the HDF5 C library in wasm) reads more of HDF5 but its ES module embeds a 4.2 MB
//   wasm and needs an async wasm start-up; nothing here needs the features jsfive lacks.
//
// Imports are bare specifiers: a bundler (esbuild) resolves them for the page; node resolves them from node_modules.

import { unzipSync } from 'fflate';
import * as hdf5 from 'jsfive';

/** Upper bound on one file's contents: the zip entries we inflate, and the float32 tensor data (jsfive builds a
 * plain Array of doubles first, so the transient peak is about three times this). The published models are at most
 * a few MB; the bound keeps a hostile file from claiming gigabytes. */
export const MAX_ARCHIVE_BYTES = 64 * 1024 * 1024;

// A zip's central directory can declare up to 2^32 entries; fflate walks all of them, so stop early.
const MAX_ZIP_ENTRIES = 10000;
// Bounds the walk of a hostile HDF5 group tree (jsfive follows links, so a cycle would otherwise recurse forever).
const MAX_GROUP_DEPTH = 16;
const MAX_DATASETS = 100000;

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]; // "\x89HDF\r\n\x1a\n"
const ZIP_LOCAL_HEADER = [0x50, 0x4b, 0x03, 0x04]; // "PK\3\4"
const ZIP_EMPTY_ARCHIVE = [0x50, 0x4b, 0x05, 0x06]; // "PK\5\6": an archive with no entries starts with its end record

/**
 * Reads a Keras 3 `.keras` archive.
 *
 * @param {Uint8Array} bytes  the whole file
 * @param {{maxBytes?: number}} [options]  maxBytes: allocation bound (default MAX_ARCHIVE_BYTES)
 * @returns {Promise<{configText: string, metadataText: string|null,
 *   tensors: Array<{name: string, shape: number[], data: Float32Array}>}>}
 *   configText: config.json as text (not parsed: the caller validates it);
 *   tensors: every float dataset under `layers/` of model.weights.h5 (the `optimizer/` group is training state and
 *   is skipped), named by HDF5 path without the leading slash, e.g. 'layers/conv2d/vars/0', data in row-major order
 *   of `shape` (the Keras layout, e.g. a Conv2D kernel is (kh, kw, in, out)). Sorted by name, vars in numeric order.
 * Async so that the signature survives a switch to an HDF5 reader that needs asynchronous start-up.
 */
export async function readKerasArchive(bytes, options = {}) {
  const maxBytes = options.maxBytes ?? MAX_ARCHIVE_BYTES;
  requireBytes(bytes, 'readKerasArchive');
  const entries = unzipKerasEntries(bytes, maxBytes);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const configText = decodeText(decoder, entries['config.json'], 'config.json');
  const metadataText = entries['metadata.json'] ? decodeText(decoder, entries['metadata.json'], 'metadata.json') : null;
  const tensors = readTensorsFromH5(
    entries['model.weights.h5'],
    'model.weights.h5 (inside the .keras archive)',
    maxBytes,
  );
  return { configText, metadataText, tensors };
}

/**
 * Reads the tensors of a bare Keras 3 `.weights.h5` file (what `model.save_weights()` writes).
 *
 * @param {Uint8Array} bytes  the whole file
 * @param {{maxBytes?: number}} [options]
 * @returns {Promise<Array<{name: string, shape: number[], data: Float32Array}>>}  as `tensors` of readKerasArchive
 */
export async function readWeightsH5(bytes, options = {}) {
  requireBytes(bytes, 'readWeightsH5');
  return readTensorsFromH5(bytes, 'the weights file', options.maxBytes ?? MAX_ARCHIVE_BYTES);
}

function requireBytes(bytes, fn) {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`${fn}: expected the file contents as a Uint8Array, got ${describeValue(bytes)}`);
  }
}

function describeValue(v) {
  if (v === null) return 'null';
  if (typeof v === 'object') return v.constructor ? v.constructor.name : 'object';
  return typeof v;
}

function startsWith(bytes, magic) {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

function hexPrefix(bytes, n = 8) {
  const shown = Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return bytes.length === 0 ? '(empty file)' : shown;
}

function formatMB(n) {
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

// Inflates only config.json, metadata.json and model.weights.h5, after checking their declared sizes.
// fflate does not verify the entries' CRC-32, so damage inside stored (uncompressed, as Keras writes them) data goes
// unnoticed here: JSON parsing and the engine's shape checks catch most of it, flipped weight bits they cannot.
function unzipKerasEntries(bytes, maxBytes) {
  if (!startsWith(bytes, ZIP_LOCAL_HEADER) && !startsWith(bytes, ZIP_EMPTY_ARCHIVE)) {
    const hint = startsWith(bytes, HDF5_SIGNATURE)
      ? ' (this is an HDF5 file: a bare .weights.h5 or legacy .h5 model; a Keras 3 .keras file is a zip)'
      : '';
    throw new Error(
      `not a .keras file: expected a zip archive starting with 50 4b 03 04 ("PK"), found ${hexPrefix(bytes)}${hint}`,
    );
  }
  const wanted = new Set(['config.json', 'metadata.json', 'model.weights.h5']);
  const names = [];
  let declaredTotal = 0;
  let entries;
  try {
    entries = unzipSync(bytes, {
      filter(file) {
        names.push(file.name);
        if (names.length > MAX_ZIP_ENTRIES) {
          throw new Error(`zip archive lists more than ${MAX_ZIP_ENTRIES} entries; a .keras file has about 3`);
        }
        if (!wanted.has(file.name)) return false;
        // fflate allocates the declared uncompressed size up front, so this check bounds the allocation.
        declaredTotal += file.originalSize;
        if (file.originalSize > maxBytes || declaredTotal > maxBytes) {
          throw new Error(
            `zip entry ${file.name} declares ${formatMB(file.originalSize)} uncompressed ` +
              `(${formatMB(declaredTotal)} in total), more than the ${formatMB(maxBytes)} limit`,
          );
        }
        return true;
      },
    });
  } catch (e) {
    throw new Error(`cannot read the .keras zip archive (${bytes.length} bytes): ${zipErrorMessage(e)}`);
  }
  const missing = ['config.json', 'model.weights.h5'].filter((n) => !entries[n]);
  if (missing.length > 0) {
    const found = names.length > 0 ? names.slice(0, 20).join(', ') + (names.length > 20 ? ', ...' : '') : 'no entries';
    throw new Error(
      `zip archive is not a Keras 3 .keras file: missing ${missing.join(' and ')}; ` +
        `found ${found}; expected config.json, metadata.json and model.weights.h5`,
    );
  }
  return entries;
}

function zipErrorMessage(e) {
  // fflate's error codes (see its `ec` table): 13 = no end-of-central-directory record, 0 = deflate stream ended early.
  if (e && e.code === 13) return 'no end-of-central-directory record found (the file is truncated or not a zip)';
  if (e && e.code === 0) return 'compressed data ends early (the file is truncated)';
  if (e && (e.code === 1 || e.code === 2 || e.code === 3)) return `compressed data is damaged (${e.message})`;
  return e instanceof Error ? e.message : String(e);
}

function decodeText(decoder, bytes, what) {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new Error(`${what} is not valid UTF-8 text (${bytes.length} bytes); expected JSON`);
  }
}

function readTensorsFromH5(bytes, what, maxBytes) {
  if (bytes.length > maxBytes) {
    throw new Error(`${what} is ${formatMB(bytes.length)}, more than the ${formatMB(maxBytes)} limit`);
  }
  if (!startsWith(bytes, HDF5_SIGNATURE)) {
    const hint = startsWith(bytes, ZIP_LOCAL_HEADER) ? ' (this is a zip: read it with readKerasArchive)' : '';
    throw new Error(
      `${what} is not HDF5: expected the signature 89 48 44 46 0d 0a 1a 0a, found ${hexPrefix(bytes)}${hint}`,
    );
  }
  // jsfive keeps the ArrayBuffer and reads from offset 0, so hand it exactly this file's bytes.
  const buffer =
    bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
  let file;
  try {
    file = new hdf5.File(buffer, 'model.weights.h5');
  } catch (e) {
    throw new Error(`${what} is damaged or uses an HDF5 feature this reader lacks: ${libraryMessage(e)}`);
  }
  const topLevel = safeKeys(file, '/', what);
  if (!topLevel.includes('layers')) {
    throw new Error(
      `${what} has no 'layers' group; found top-level entries ${JSON.stringify(topLevel.slice(0, 20))}; ` +
        `expected 'layers' (Keras 3 weights layout)`,
    );
  }
  const tensors = [];
  const budget = { elements: Math.floor(maxBytes / 4), datasets: 0 };
  collectDatasets(getChild(file, 'layers', 'layers', what), 'layers', 0, tensors, budget, what);
  tensors.sort((a, b) => comparePaths(a.name, b.name));
  return tensors;
}

// Segment by segment, numbers numerically: 'conv2d' < 'conv2d_1', 'vars/2' < 'vars/10'.
function comparePaths(a, b) {
  const sa = a.split('/');
  const sb = b.split('/');
  for (let i = 0; i < Math.min(sa.length, sb.length); ++i) {
    if (sa[i] === sb[i]) continue;
    if (/^\d+$/.test(sa[i]) && /^\d+$/.test(sb[i])) return Number(sa[i]) - Number(sb[i]);
    return sa[i] < sb[i] ? -1 : 1;
  }
  return sa.length - sb.length;
}

// jsfive throws strings as well as Errors.
// jsfive names most damage in its own words; on structures it does not expect it fails inside its own code (a
// TypeError such as "undefined is not iterable", or a RangeError), words about JavaScript, not about the file.
function libraryMessage(e) {
  if (e instanceof TypeError || e instanceof RangeError)
    return `the HDF5 structure there is damaged or not one this reader knows (the reader stopped: ${e.message})`;
  return e instanceof Error ? e.message : String(e);
}

// `path` is ours (for messages): jsfive's own names of damaged groups can be empty or doubled ('//layers').
function safeKeys(group, path, what) {
  try {
    return group.keys;
  } catch (e) {
    throw new Error(`${what}: cannot list group '${path}': ${libraryMessage(e)}`);
  }
}

function getChild(group, key, path, what) {
  let obj;
  try {
    obj = group.get(key);
  } catch (e) {
    throw new Error(`${what}: cannot open '${path}': ${libraryMessage(e)}`);
  }
  if (obj == null) throw new Error(`${what}: '${path}' is a dangling link`);
  return obj;
}

function collectDatasets(group, path, depth, out, budget, what) {
  if (depth > MAX_GROUP_DEPTH) {
    throw new Error(
      `${what}: groups nest deeper than ${MAX_GROUP_DEPTH} levels at '${path}'; expected layers/<name>/vars/<j>`,
    );
  }
  for (const key of safeKeys(group, path, what)) {
    const childPath = `${path}/${key}`;
    const obj = getChild(group, key, childPath, what);
    if (obj instanceof hdf5.Dataset) {
      if (++budget.datasets > MAX_DATASETS) {
        throw new Error(`${what}: more than ${MAX_DATASETS} datasets under layers/`);
      }
      out.push(readFloatDataset(obj, childPath, budget, what));
    } else if (obj instanceof hdf5.Group) {
      collectDatasets(obj, childPath, depth + 1, out, budget, what);
    } else {
      throw new Error(`${what}: '${childPath}' is neither a group nor a dataset`);
    }
  }
}

function readFloatDataset(dataset, name, budget, what) {
  let shape;
  let dtype;
  try {
    shape = dataset.shape;
    dtype = dataset.dtype;
  } catch (e) {
    throw new Error(`${what}: cannot read the header of dataset '${name}': ${libraryMessage(e)}`);
  }
  // Keras stores float32 variables; float64 (a model saved with that dtype policy) converts exactly enough for
  // inference. Anything else (int, float16, strings, compound) is not a weight this engine can use.
  if (typeof dtype !== 'string' || !/^[<>=|]?f[48]$/.test(dtype)) {
    throw new Error(
      `${what}: dataset '${name}' has type ${JSON.stringify(dtype)}; expected float32 ('<f4') or float64`,
    );
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`${what}: dataset '${name}' has an invalid shape ${JSON.stringify(shape)}`);
  }
  // Checked before jsfive allocates the values: the declared shape is untrusted.
  const count = shape.reduce((a, d) => a * d, 1);
  if (count > budget.elements) {
    throw new Error(
      `${what}: dataset '${name}' declares shape ${JSON.stringify(shape)} (${count} values); together with ` +
        `the datasets before it that exceeds the limit of ${budget.elements} float values`,
    );
  }
  budget.elements -= count;
  let values;
  try {
    values = dataset.value;
  } catch (e) {
    throw new Error(
      `${what}: cannot read the values of dataset '${name}' (shape ${JSON.stringify(shape)}): ` +
        `${libraryMessage(e)} (truncated or damaged file?)`,
    );
  }
  if (values == null || values.length !== count) {
    throw new Error(
      `${what}: dataset '${name}' yielded ${values == null ? 'no' : values.length} values; ` +
        `expected ${count} for shape ${JSON.stringify(shape)}`,
    );
  }
  return { name, shape: shape.slice(), data: Float32Array.from(values) };
}
