// TensorFlow.js's best case on a compact model, for the benchmark: BatchNormalization folded into the preceding
// convolution and every conv + bias + ReLU run as one fused op (tf.fused.conv2d / depthwiseConv2d / matMul), the
// way a careful TF.js deployment would run it. Dev-only, never shipped.
//
// (tests/reference/tfjs-model.mjs is the other TF.js model in the repo: deliberately unfolded, because it checks
// Keras semantics. This one is built for speed; bench.mjs checks both engines agree on every model it times.)

import { tf } from '../tests/reference/tfjs-model.mjs';
import { foldKerasLayers } from './keras-fold.mjs';

/**
 * Folds a Keras 3 compact model into fused TF.js ops.
 * @param {string} configText  config.json of the .keras archive (a chain of layers)
 * @param {Array<{name: string, shape: number[], data: Float32Array}>} tensors  from readKerasArchive
 * @returns {{run: (x: tf.Tensor4D) => tf.Tensor2D, dispose: () => void, ops: string[]}}
 *   run maps (N, H, W, C) to (N, outputs); call it inside tf.tidy.
 */
export function buildFusedModel(configText, tensors) {
  const { ops } = foldKerasLayers(configText, tensors);

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
