// Properties of the page's .keras reader (web/lib/keras-archive.js, fflate + jsfive; bundled as keras-reader.js):
// for every input it either returns tensors that are what they claim (a name under layers/, a shape of
// non-negative integers, exactly that many float32 values) or throws an Error in its own words: never a library's
// raw TypeError/RangeError, a non-Error value, or a hang (harness.mjs watches for that).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { unzipSync, zipSync } from 'fflate';
import { readKerasArchive, readWeightsH5 } from '../../../web/lib/keras-archive.js';
import { mutatedBytes } from './mutate.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const read = (p) => new Uint8Array(fs.readFileSync(path.join(root, p)));

const demo = read('models/demo/demo_dot_detector.keras');
const badKeras = fs
  .readdirSync(path.join(root, 'tests/bad_models'))
  .filter((f) => f.endsWith('.keras'))
  .map((f) => read(`tests/bad_models/${f}`));
const demoEntries = unzipSync(demo);
// The demo's members stored uncompressed, as Keras itself writes .keras files: edits then land in the JSON and the
// HDF5 bytes (fflate checks no CRC), not only in deflate streams.
const demoStored = zipSync(demoEntries, { level: 0 });
const demoWeights = demoEntries['model.weights.h5'];

const SIGNATURES = [
  [],
  [0x50, 0x4b, 0x03, 0x04],
  [0x50, 0x4b, 0x05, 0x06],
  [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a],
];
const randomBytes = fc
  .tuple(fc.constantFrom(...SIGNATURES), fc.uint8Array({ maxLength: 2048 }))
  .map(([magic, rest]) => Uint8Array.from([...magic, ...rest]));

function checkTensors(tensors) {
  if (!Array.isArray(tensors)) throw new Error(`tensors is ${typeof tensors}, expected an array`);
  for (const t of tensors) {
    if (typeof t.name !== 'string' || !t.name.startsWith('layers/')) throw new Error(`bad tensor name ${t.name}`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw new Error(`${t.name}: bad shape ${JSON.stringify(t.shape)}`);
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (!(t.data instanceof Float32Array) || t.data.length !== count)
      throw new Error(`${t.name}: ${t.data?.length} values for shape ${JSON.stringify(t.shape)}`);
  }
}

// The reader's own errors are plain Errors with a message; anything else escaped from a library.
function checkRefusal(error) {
  if (!(error instanceof Error) || error.constructor !== Error || !error.message)
    throw new Error(`not a clear Error: ${error?.constructor?.name}: ${error?.message ?? String(error)}`, {
      cause: error,
    });
}

async function archive(bytes) {
  let result;
  try {
    result = await readKerasArchive(bytes);
  } catch (error) {
    return checkRefusal(error);
  }
  if (typeof result.configText !== 'string') throw new Error('configText is not a string');
  if (result.metadataText !== null && typeof result.metadataText !== 'string') throw new Error('bad metadataText');
  checkTensors(result.tensors);
}

async function weights(bytes) {
  let tensors;
  try {
    tensors = await readWeightsH5(bytes);
  } catch (error) {
    return checkRefusal(error);
  }
  checkTensors(tensors);
}

const bytes = (input) => input;
export const properties = {
  'keras random bytes': {
    arbitrary: randomBytes,
    bytes,
    check: async (input) => {
      await archive(input);
      await weights(input);
    },
  },
  'keras mutated archives': { arbitrary: mutatedBytes([demo, demoStored, ...badKeras]), bytes, check: archive },
  'keras mutated weights.h5': { arbitrary: mutatedBytes([demoWeights]), bytes, check: weights },
};
