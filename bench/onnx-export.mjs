// Keras compact model -> ONNX, for timing ONNX Runtime on the same computation as our engine (bench_onnx.mjs).
// Dev-only, never shipped. The graph is the folded one of keras-fold.mjs (BatchNorm inside the conv weights, every
// ReLU right after its conv), so ONNX Runtime's optimizer can fuse conv + bias + ReLU and pick its NCHWc kernels:
// its best case, as tfjs-fused.mjs is TF.js's.
//
//   node bench/onnx-export.mjs MODEL.keras -o OUT.onnx
//
// Converted weights are derived from the licensed models: write them to a build or temp folder, never the repo.
//
// Layout: ONNX Conv is NCHW, so the graph takes (N, 3, H, W); the caller transposes its (H, W, C) image once, outside
// any timing. Keras flattens (H, W, C) row-major; the Dense rows are permuted to NCHW's (C, H, W) order at export,
// so no Transpose runs in the graph. Keras "same" padding (extra row/column after, not before) becomes explicit pads.
// The protobuf is written by onnx-proto (protobufjs code generated from onnx.proto, ONNX 1.10, IR version 8).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import { readKerasArchive } from '../web/lib/keras-archive.js';
import { foldKerasLayers } from './keras-fold.mjs';

const { onnx } = onnxProto;
// Conv, Gemm, Relu, Flatten and Transpose have not changed since opset 13; ONNX Runtime 1.30 reads opsets up to 23.
const OPSET = 13;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

// Keras "same"/"valid" along one axis: output size and the padding before and after.
function padAxis(padding, size, kernel, stride) {
  if (padding === 'valid') return { out: Math.floor((size - kernel) / stride) + 1, before: 0, after: 0 };
  if (padding !== 'same') throw new Error(`padding ${JSON.stringify(padding)}; expected 'same' or 'valid'`);
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  return { out, before: Math.floor(total / 2), after: total - Math.floor(total / 2) };
}

// Keras conv kernel (kh, kw, in, out) -> ONNX (out, in, kh, kw).
function convWeights({ shape: [kh, kw, cin, cout], data }) {
  const w = new Float32Array(data.length);
  for (let y = 0; y < kh; ++y)
    for (let x = 0; x < kw; ++x)
      for (let i = 0; i < cin; ++i)
        for (let o = 0; o < cout; ++o) w[((o * cin + i) * kh + y) * kw + x] = data[((y * kw + x) * cin + i) * cout + o];
  return { dims: [cout, cin, kh, kw], data: w };
}

// Keras depthwise kernel (kh, kw, C, multiplier) -> ONNX grouped conv (C * multiplier, 1, kh, kw), group C; output
// channel c * multiplier + j, as in Keras.
function depthwiseWeights({ shape: [kh, kw, channels, mult], data }) {
  const w = new Float32Array(data.length);
  for (let y = 0; y < kh; ++y)
    for (let x = 0; x < kw; ++x)
      for (let c = 0; c < channels; ++c)
        for (let j = 0; j < mult; ++j)
          w[((c * mult + j) * kh + y) * kw + x] = data[((y * kw + x) * channels + c) * mult + j];
  return { dims: [channels * mult, 1, kh, kw], data: w };
}

// Dense kernel (in, out) whose input rows are a Keras flatten of (H, W, C) -> rows in NCHW flatten order (C, H, W).
function denseWeightsFromNhwc({ shape: [rows, cols], data }, { h, w, c }) {
  if (rows !== h * w * c) throw new Error(`Dense expects ${rows} inputs; the flattened map has ${h}x${w}x${c}`);
  const out = new Float32Array(data.length);
  for (let y = 0; y < h; ++y)
    for (let x = 0; x < w; ++x)
      for (let ch = 0; ch < c; ++ch) {
        const from = ((y * w + x) * c + ch) * cols;
        out.set(data.subarray(from, from + cols), (ch * h * w + y * w + x) * cols);
      }
  return { dims: [rows, cols], data: out };
}

const tensorProto = (name, dims, data) =>
  onnx.TensorProto.create({
    name,
    dims,
    dataType: FLOAT,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), // little-endian, as ONNX requires
  });

const valueInfo = (name, dims) =>
  onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });

const ints = (name, values) =>
  onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: values });
const int = (name, value) =>
  onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: value });

/**
 * Converts a Keras compact model to an ONNX model.
 * @param {string} configText  config.json of the .keras archive
 * @param {Array<{name: string, shape: number[], data: Float32Array}>} tensors  from readKerasArchive
 * @param {string} [name]  the graph's name
 * @returns {{bytes: Uint8Array, input: number[], outputs: number, nodes: string[]}}
 *   bytes: the ModelProto; input: [3, H, W] of one image (the graph's input 'input' is (N, 3, H, W), N free);
 *   outputs: values per image (output 'output', (N, outputs)); nodes: the op types in order.
 */
export function kerasToOnnx(configText, tensors, name = 'compact_model') {
  const { input, ops } = foldKerasLayers(configText, tensors);
  if (!input || input.some((d) => !Number.isInteger(d))) throw new Error('config.json: no (H, W, C) input shape');
  const nodes = [];
  const initializers = [];
  let shape = { h: input[0], w: input[1], c: input[2] }; // the current (N, C, H, W) map, or {features} once flat
  let current = 'input';
  let flattenedFrom = null; // the (H, W, C) map a pending Flatten came from, for the Dense that reads it
  // Node names are the Keras layers' (as in our per-layer table), so ONNX Runtime's profile reads beside ours.
  const add = (opType, inputs, attribute = [], layer = null) => {
    const out = layer ?? `${nodes.at(-1)?.name ?? 'input'}/${opType.toLowerCase()}`;
    nodes.push(onnx.NodeProto.create({ name: out, opType, input: inputs, output: [out], attribute }));
    current = out;
    return out;
  };
  const weight = (suffix, dims, data) => {
    const n = `w${initializers.length}_${suffix}`;
    initializers.push(tensorProto(n, dims, data));
    return n;
  };

  for (const [index, op] of ops.entries()) {
    if (op.kind === 'conv' || op.kind === 'depthwise') {
      const [kh, kw] = op.filter.shape;
      const rows = padAxis(op.pad, shape.h, kh, op.strides[0]);
      const cols = padAxis(op.pad, shape.w, kw, op.strides[1]);
      const { dims, data } = op.kind === 'conv' ? convWeights(op.filter) : depthwiseWeights(op.filter);
      const inputs = [current, weight(op.kind, dims, data)];
      if (op.bias) inputs.push(weight('bias', [dims[0]], op.bias));
      const attributes = [
        ints('kernel_shape', [kh, kw]),
        ints('strides', op.strides),
        ints('pads', [rows.before, cols.before, rows.after, cols.after]),
      ];
      if (op.kind === 'depthwise') attributes.push(int('group', shape.c));
      add('Conv', inputs, attributes, op.name);
      shape = { h: rows.out, w: cols.out, c: dims[0] };
    } else if (op.kind === 'flatten') {
      flattenedFrom = shape;
      // NCHW -> Keras's (H, W, C) order first, unless a Dense follows (its rows absorb the order) or there is one
      // location (the shared models' pooled (1, 1, 219)), where both orders coincide.
      if (ops[index + 1]?.kind !== 'dense' && shape.h * shape.w > 1) {
        add('Transpose', [current], [ints('perm', [0, 2, 3, 1])]);
      }
      add('Flatten', [current], [int('axis', 1)], op.name);
      shape = { features: shape.h * shape.w * shape.c };
    } else if (op.kind === 'dense') {
      if (shape.features === undefined) throw new Error('Dense on a feature map: expected a Flatten before it');
      const { dims, data } = flattenedFrom
        ? denseWeightsFromNhwc(op.filter, flattenedFrom)
        : { dims: op.filter.shape, data: op.filter.data };
      add('Gemm', [current, weight('dense', dims, data), weight('bias', [dims[1]], op.bias)], [], op.name);
      shape = { features: dims[1] };
      flattenedFrom = null;
    }
    if (op.activation === 'relu') add('Relu', [current]);
  }
  if (shape.features === undefined) add('Flatten', [current], [int('axis', 1)]);
  nodes.at(-1).output = ['output'];

  const model = onnx.ModelProto.create({
    irVersion: onnx.Version.IR_VERSION,
    producerName: 'cortexlens bench/onnx-export.mjs',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name,
      node: nodes,
      initializer: initializers,
      input: [valueInfo('input', ['N', input[2], input[0], input[1]])],
      output: [valueInfo('output', ['N', shape.features ?? shape.h * shape.w * shape.c])],
    },
  });
  return {
    bytes: onnx.ModelProto.encode(model).finish(),
    input: [input[2], input[0], input[1]],
    outputs: shape.features,
    nodes: nodes.map((n) => n.opType),
  };
}

/** Reads a .keras file and converts it (see kerasToOnnx). */
export async function kerasFileToOnnx(file) {
  const archive = await readKerasArchive(new Uint8Array(fs.readFileSync(file)));
  return kerasToOnnx(archive.configText, archive.tensors, path.basename(file, '.keras'));
}

async function main(argv) {
  const outAt = argv.indexOf('-o');
  const file = argv.find((_a, i) => i !== outAt && i !== outAt + 1);
  if (!file || outAt < 0 || !argv[outAt + 1]) {
    throw new Error('usage: node bench/onnx-export.mjs MODEL.keras -o OUT.onnx');
  }
  const converted = await kerasFileToOnnx(file);
  fs.writeFileSync(argv[outAt + 1], converted.bytes);
  console.log(`${argv[outAt + 1]}: ${converted.bytes.length} bytes, ${converted.nodes.join(' ')}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await main(process.argv.slice(2));
  } catch (e) {
    console.error(`onnx-export: ${e.message}`);
    process.exit(1);
  }
}
