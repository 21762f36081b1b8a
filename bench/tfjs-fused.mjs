// TensorFlow.js's best case on a compact model, for the benchmark: BatchNormalization folded into the preceding
// convolution and every conv + bias + ReLU run as one fused op (tf.fused.conv2d / depthwiseConv2d / matMul), the
// way a careful TF.js deployment would run it. Dev-only, never shipped.
//
// (tests/reference/tfjs-model.mjs is the other TF.js model in the repo: deliberately unfolded, because it checks
// Keras semantics. This one is built for speed; bench.mjs checks both engines agree on every model it times.)

import { tf, kerasSnakeCase } from '../tests/reference/tfjs-model.mjs';

const pair = (v) => (Array.isArray(v) ? v.slice() : [v, v]);

function tensorsOf(byName, group, count) {
  const out = [];
  for (let j = 0; j < count; ++j) {
    const t = byName.get(`layers/${group}/vars/${j}`);
    if (!t) throw new Error(`weights layers/${group}/vars/${j} missing`);
    out.push(t);
  }
  return out;
}

/**
 * Folds a Keras 3 compact model into fused TF.js ops.
 * @param {string} configText  config.json of the .keras archive (a chain of layers)
 * @param {Array<{name: string, shape: number[], data: Float32Array}>} tensors  from readKerasArchive
 * @returns {{run: (x: tf.Tensor4D) => tf.Tensor2D, dispose: () => void, ops: string[]}}
 *   run maps (N, H, W, C) to (N, outputs); call it inside tf.tidy.
 */
// biome-ignore lint/complexity/noExcessiveLinesPerFunction: one pass over the Keras layers that folds BatchNorm and fuses activations; split, that pass's state would travel between functions
export function buildFusedModel(configText, tensors) {
  const layers = JSON.parse(configText).config.layers;
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const classCount = new Map();
  const groupOf = (className) => {
    const snake = kerasSnakeCase(className);
    const k = classCount.get(snake) ?? 0;
    classCount.set(snake, k + 1);
    return k === 0 ? snake : `${snake}_${k}`;
  };

  // Each op: {kind, strides, pad, depthwise?, filter (Float32Array + shape), bias, activation}.
  const ops = [];
  for (const layer of layers) {
    const c = layer.config;
    const cls = layer.class_name;
    if (cls === 'InputLayer') continue;
    if (cls === 'Conv2D' || cls === 'SeparableConv2D' || cls === 'DepthwiseConv2D') {
      if (pair(c.dilation_rate ?? 1).some((d) => d !== 1)) throw new Error(`${c.name}: dilation is not supported`);
      const common = { strides: pair(c.strides ?? 1), pad: c.padding, activation: c.activation ?? 'linear' };
      const useBias = c.use_bias ?? true;
      const group = groupOf(cls);
      if (cls === 'Conv2D') {
        const [k, b] = tensorsOf(byName, group, useBias ? 2 : 1);
        ops.push({ ...common, kind: 'conv', filter: k, bias: b?.data ?? new Float32Array(k.shape[3]) });
      } else if (cls === 'DepthwiseConv2D') {
        const [k, b] = tensorsOf(byName, group, useBias ? 2 : 1);
        ops.push({ ...common, kind: 'depthwise', filter: k, bias: b?.data ?? new Float32Array(k.shape[2]) });
      } else {
        const [dk, pk, b] = tensorsOf(byName, group, useBias ? 3 : 2);
        ops.push({
          strides: common.strides,
          pad: c.padding,
          activation: 'linear',
          kind: 'depthwise',
          filter: dk,
          bias: null,
        });
        ops.push({
          strides: [1, 1],
          pad: 'valid',
          activation: common.activation,
          kind: 'conv',
          filter: pk,
          bias: b?.data ?? new Float32Array(pk.shape[3]),
        });
      }
    } else if (cls === 'BatchNormalization') {
      const last = ops.at(-1);
      if (!last || last.kind === 'flatten' || last.activation !== 'linear') {
        throw new Error(`${c.name}: BatchNormalization must follow a linear conv or dense layer to be folded`);
      }
      const [gamma, beta, mean, variance] = tensorsOf(byName, groupOf(cls), 4);
      const eps = c.epsilon ?? 1e-3;
      const channels = gamma.data.length;
      const filter = Float32Array.from(last.filter.data);
      const bias = Float32Array.from(last.bias ?? new Float32Array(channels));
      // Every layout here (HWIO, (kh, kw, C, 1), (in, out)) has the output channel last.
      for (let i = 0; i < filter.length; ++i) {
        const ch = i % channels;
        filter[i] *= gamma.data[ch] / Math.sqrt(variance.data[ch] + eps);
      }
      for (let ch = 0; ch < channels; ++ch) {
        const scale = gamma.data[ch] / Math.sqrt(variance.data[ch] + eps);
        bias[ch] = (bias[ch] - mean.data[ch]) * scale + beta.data[ch];
      }
      last.filter = { shape: last.filter.shape, data: filter };
      last.bias = bias;
    } else if (cls === 'Activation') {
      const last = ops.at(-1);
      if (last?.activation !== 'linear') throw new Error(`${c.name}: cannot attach to the previous op`);
      last.activation = c.activation;
    } else if (cls === 'Flatten') {
      ops.push({ kind: 'flatten' });
    } else if (cls === 'Dense') {
      const [k, b] = tensorsOf(byName, groupOf(cls), (c.use_bias ?? true) ? 2 : 1);
      ops.push({
        kind: 'dense',
        filter: k,
        bias: b?.data ?? new Float32Array(k.shape[1]),
        activation: c.activation ?? 'linear',
      });
    } else {
      throw new Error(`${c.name}: class ${cls} is not supported by the fused benchmark model`);
    }
  }

  // Upload weights once: the timed runs only move the input.
  const held = [];
  const keep = (t) => {
    held.push(t);
    return t;
  };
  const compiled = ops.map((op) => {
    if (op.kind === 'flatten') return { ...op };
    const shape = op.filter.shape;
    return {
      ...op,
      filterT: keep(tf.tensor(op.filter.data, shape, 'float32')),
      biasT: op.bias ? keep(tf.tensor1d(op.bias, 'float32')) : null,
    };
  });
  for (const op of compiled) {
    if (op.activation && op.activation !== 'linear' && op.activation !== 'relu') {
      throw new Error(`activation ${op.activation} is not supported by the fused benchmark model`);
    }
  }

  const run = (x) => {
    let y = x;
    for (const op of compiled) {
      const activation = op.activation === 'relu' ? 'relu' : 'linear';
      if (op.kind === 'conv') {
        y = tf.fused.conv2d({
          x: y,
          filter: op.filterT,
          strides: op.strides,
          pad: op.pad,
          bias: op.biasT ?? undefined,
          activation,
        });
      } else if (op.kind === 'depthwise') {
        y = tf.fused.depthwiseConv2d({
          x: y,
          filter: op.filterT,
          strides: op.strides,
          pad: op.pad,
          bias: op.biasT ?? undefined,
          activation,
        });
      } else if (op.kind === 'flatten') {
        y = tf.reshape(y, [y.shape[0], -1]);
      } else {
        y = tf.fused.matMul({ a: y, b: op.filterT, bias: op.biasT, activation });
      }
    }
    return y.rank === 2 ? y : tf.reshape(y, [y.shape[0], -1]);
  };
  return {
    run,
    dispose: () => {
      for (const t of held) t.dispose();
    },
    ops: compiled.map((op) => op.kind),
  };
}
