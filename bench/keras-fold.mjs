// The compact models as another engine's benchmark should run them: BatchNormalization folded into the preceding
// convolution or dense layer, each Activation attached to the op before it, SeparableConv2D split into its depthwise
// and pointwise halves. One pass shared by the TensorFlow.js model (tfjs-fused.mjs) and the ONNX export
// (onnx-export.mjs), so both reference engines time the same folded graph. Dev-only, never shipped; no TF.js import,
// so the ONNX path does not load TensorFlow.js.

// Keras' naming.to_snake_case, which names the groups of model.weights.h5. (tests/reference/tfjs-model.mjs has its
// own copy on purpose: the reference of Keras semantics shares no code with what it checks.)
export function kerasSnakeCase(className) {
  return className
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

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
 * Folds a Keras 3 compact model (a chain of layers) into a list of ops.
 * @param {string} configText  config.json of the .keras archive
 * @param {Array<{name: string, shape: number[], data: Float32Array}>} tensors  from readKerasArchive
 * @returns {{input: number[]|null, ops: Array<object>}}  input: (H, W, C) of one image from the InputLayer (null
 *   without one); each op one of
 *   {name, kind: 'conv'|'depthwise', strides: [sh, sw], pad: 'same'|'valid', filter: {shape, data}, bias, activation}
 *     (filter in the Keras layout: conv (kh, kw, in, out), depthwise (kh, kw, C, multiplier); bias a Float32Array
 *     of the output channels, or null),
 *   {name, kind: 'dense', filter: {shape: [in, out], data}, bias, activation} (its input flattened in (H, W, C) order),
 *   {name, kind: 'flatten'}.
 *   activation is 'linear' or 'relu'; name is the Keras layer's (SeparableConv2D's halves: '<name>/depthwise' and
 *   '<name>/pointwise', as our engine names them).
 */
// biome-ignore lint/complexity/noExcessiveLinesPerFunction: one pass over the Keras layers that folds BatchNorm and attaches activations; split, that pass's state would travel between functions
export function foldKerasLayers(configText, tensors) {
  const layers = JSON.parse(configText).config.layers;
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const classCount = new Map();
  const groupOf = (className) => {
    const snake = kerasSnakeCase(className);
    const k = classCount.get(snake) ?? 0;
    classCount.set(snake, k + 1);
    return k === 0 ? snake : `${snake}_${k}`;
  };

  let input = null;
  const ops = [];
  for (const layer of layers) {
    const c = layer.config;
    const cls = layer.class_name;
    if ((c.data_format ?? 'channels_last') !== 'channels_last') {
      throw new Error(`${c.name}: data_format ${c.data_format}; expected channels_last`);
    }
    if (cls === 'InputLayer') {
      input = (c.batch_shape ?? c.batch_input_shape)?.slice(1) ?? null;
      continue;
    }
    if (cls === 'Conv2D' || cls === 'SeparableConv2D' || cls === 'DepthwiseConv2D') {
      if (pair(c.dilation_rate ?? 1).some((d) => d !== 1)) throw new Error(`${c.name}: dilation is not supported`);
      const common = {
        name: c.name,
        strides: pair(c.strides ?? 1),
        pad: c.padding,
        activation: c.activation ?? 'linear',
      };
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
          name: `${c.name}/depthwise`,
          strides: common.strides,
          pad: c.padding,
          activation: 'linear',
          kind: 'depthwise',
          filter: dk,
          bias: null,
        });
        ops.push({
          name: `${c.name}/pointwise`,
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
      ops.push({ name: c.name, kind: 'flatten' });
    } else if (cls === 'Dense') {
      const [k, b] = tensorsOf(byName, groupOf(cls), (c.use_bias ?? true) ? 2 : 1);
      ops.push({
        name: c.name,
        kind: 'dense',
        filter: k,
        bias: b?.data ?? new Float32Array(k.shape[1]),
        activation: c.activation ?? 'linear',
      });
    } else {
      throw new Error(`${c.name}: class ${cls} is not supported by the folded benchmark model`);
    }
  }
  for (const op of ops) {
    if (op.activation && op.activation !== 'linear' && op.activation !== 'relu') {
      throw new Error(`activation ${op.activation} is not supported by the folded benchmark model`);
    }
  }
  return { input, ops };
}
