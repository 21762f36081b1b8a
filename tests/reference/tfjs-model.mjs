// The independent reference of Keras semantics: builds the model of a Keras 3 config with TensorFlow.js layers and
// runs it. Dev-only (never shipped). Deliberately the plain Keras layer graph, BatchNormalization unfolded, so that
// it checks the engine's own choices (BN folding, "same" padding, weight layouts) instead of repeating them.
//
// Runs on the tfjs wasm backend (XNNPACK kernels, float32) by default; CORTEXLENS_TFJS_BACKEND=cpu selects the
// plain-JS backend for comparison.

import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export { tf };

let backendReady = null;

/**
 * Selects and initialises the tfjs backend once per process.
 * @param {'wasm'|'cpu'} [name]  default: env CORTEXLENS_TFJS_BACKEND, else 'wasm'
 * @returns {Promise<string>} the backend in use
 */
export function initBackend(name = process.env.CORTEXLENS_TFJS_BACKEND || 'wasm') {
  if (!backendReady) {
    backendReady = (async () => {
      if (name === 'wasm') {
        // Node 20's fetch cannot load file paths; the Emscripten loader inside tfjs-backend-wasm only fetches in a
        // browser and reads the .wasm with fs under node, so a plain directory prefix works (usePlatformFetch must
        // stay off: it would route through fetch).
        const require = createRequire(import.meta.url);
        const distDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
        setWasmPaths(distDir + path.sep);
      }
      if (!(await tf.setBackend(name))) throw new Error(`tfjs backend '${name}' failed to initialise`);
      await tf.ready();
      return tf.getBackend();
    })();
  }
  return backendReady;
}

// Keras' naming.to_snake_case, which names the groups of model.weights.h5.
export function kerasSnakeCase(className) {
  return className
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

const pair = (v) => (Array.isArray(v) ? v.slice() : [v, v]);

function activationName(layerName, activation) {
  if (activation === undefined || activation === null) return 'linear';
  if (typeof activation !== 'string') {
    throw new Error(
      `layer '${layerName}': activation ${JSON.stringify(activation)} is not a plain name; expected e.g. 'relu'`,
    );
  }
  // Keras names are snake_case, tfjs ones camelCase (hard_sigmoid -> hardSigmoid); the rest coincide.
  return activation.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
}

function convCommon(name, c) {
  if ((c.data_format ?? 'channels_last') !== 'channels_last') {
    throw new Error(`layer '${name}': data_format ${c.data_format}; expected channels_last`);
  }
  if (c.padding !== 'same' && c.padding !== 'valid') {
    throw new Error(`layer '${name}': padding ${JSON.stringify(c.padding)}; expected 'same' or 'valid'`);
  }
  return {
    name,
    kernelSize: pair(c.kernel_size),
    strides: pair(c.strides ?? 1),
    padding: c.padding,
    dilationRate: pair(c.dilation_rate ?? 1),
    useBias: c.use_bias ?? true,
    activation: activationName(name, c.activation),
  };
}

// One tf.layers layer per Keras layer, with the same arguments.
function makeLayer(className, c) {
  const name = c.name;
  switch (className) {
    case 'Conv2D':
      if ((c.groups ?? 1) !== 1) throw new Error(`layer '${name}': groups ${c.groups}; expected 1`);
      return tf.layers.conv2d({ ...convCommon(name, c), filters: c.filters });
    case 'SeparableConv2D':
      return tf.layers.separableConv2d({
        ...convCommon(name, c),
        filters: c.filters,
        depthMultiplier: c.depth_multiplier ?? 1,
      });
    case 'DepthwiseConv2D':
      return tf.layers.depthwiseConv2d({ ...convCommon(name, c), depthMultiplier: c.depth_multiplier ?? 1 });
    case 'BatchNormalization':
      return tf.layers.batchNormalization({
        name,
        axis: c.axis ?? -1,
        epsilon: c.epsilon ?? 1e-3,
        center: c.center ?? true,
        scale: c.scale ?? true,
      });
    case 'Activation':
      return tf.layers.activation({ name, activation: activationName(name, c.activation) });
    case 'Flatten':
      if ((c.data_format ?? 'channels_last') !== 'channels_last') {
        throw new Error(`layer '${name}': data_format ${c.data_format}; expected channels_last`);
      }
      return tf.layers.flatten({ name });
    case 'Dense':
      return tf.layers.dense({
        name,
        units: c.units,
        useBias: c.use_bias ?? true,
        activation: activationName(name, c.activation),
      });
    default:
      throw new Error(
        `layer '${name}': class ${className} is not supported; expected one of InputLayer, Conv2D, ` +
          'SeparableConv2D, DepthwiseConv2D, BatchNormalization, Activation, Flatten, Dense',
      );
  }
}

function inboundLayerName(layer) {
  const nodes = layer.inbound_nodes ?? [];
  if (nodes.length !== 1) {
    throw new Error(`layer '${layer.config.name}' is called ${nodes.length} times; expected exactly once`);
  }
  const args = nodes[0].args ?? [];
  const t = args[0];
  if (args.length !== 1 || !t || t.class_name !== '__keras_tensor__') {
    throw new Error(`layer '${layer.config.name}' does not take a single tensor input`);
  }
  return t.config.keras_history[0];
}

function outputLayerNames(outputLayers) {
  // Keras writes one output as ["name", 0, 0] and several as [["a", 0, 0], ...].
  const list = typeof outputLayers[0] === 'string' ? [outputLayers] : outputLayers;
  return list.map((o) => o[0]);
}

/**
 * Builds the tfjs model described by a Keras 3 config.json and loads its weights.
 *
 * @param {string} configText  config.json of a .keras archive (Functional or Sequential)
 * @param {Array<{name: string, shape: number[], data: Float32Array}>} tensors  from readKerasArchive: the Keras 3 h5
 *   variables, layers/<snake_case class>[_<k>]/vars/<j>, k counting layers of that class in config order
 * @returns {Promise<tf.LayersModel>}  every tensor must be used exactly once, with the shape tfjs expects
 */
export async function buildTfjsModel(configText, tensors) {
  await initBackend();
  const root = JSON.parse(configText);
  const kind = root.class_name;
  if (kind !== 'Functional' && kind !== 'Sequential') {
    throw new Error(`config.json describes a ${kind}; expected a Functional or Sequential model`);
  }
  const layerConfigs = root.config.layers;
  const outputs = new Map(); // Keras layer name -> symbolic tfjs tensor
  const weighted = []; // [tfjs layer, h5 group name] in config order
  const classCount = new Map();
  let input = null;
  let previous = null;

  for (const layer of layerConfigs) {
    const c = layer.config;
    if (layer.class_name === 'InputLayer') {
      const batchShape = c.batch_shape ?? c.batch_input_shape;
      input = tf.input({ shape: batchShape.slice(1), name: c.name, dtype: 'float32' });
      outputs.set(c.name, input);
      previous = input;
      continue;
    }
    const tfLayer = makeLayer(layer.class_name, c);
    let x;
    if (kind === 'Functional') {
      const from = inboundLayerName(layer);
      x = outputs.get(from);
      if (!x) throw new Error(`layer '${c.name}' takes the output of '${from}', which is not defined before it`);
    } else {
      x = previous;
      if (!x) throw new Error(`Sequential model without an InputLayer before '${c.name}'; expected its input shape`);
    }
    const y = tfLayer.apply(x);
    outputs.set(c.name, y);
    previous = y;
    const snake = kerasSnakeCase(layer.class_name);
    const k = classCount.get(snake) ?? 0;
    classCount.set(snake, k + 1);
    weighted.push([tfLayer, k === 0 ? snake : `${snake}_${k}`]);
  }
  if (!input) throw new Error('config.json has no InputLayer; expected one image input');

  const outNames =
    kind === 'Functional' ? outputLayerNames(root.config.output_layers) : [layerConfigs.at(-1).config.name];
  if (outNames.length !== 1) throw new Error(`model has ${outNames.length} outputs; expected 1`);
  const model = tf.model({ inputs: input, outputs: outputs.get(outNames[0]) });

  const byName = new Map(tensors.map((t) => [t.name, t]));
  const used = new Set();
  for (const [tfLayer, group] of weighted) {
    // LayerVariable descriptors, not getWeights(): that returns the variables' own tensors, which must stay alive.
    const expected = tfLayer.weights;
    const values = expected.map((w, j) => {
      const name = `layers/${group}/vars/${j}`;
      const t = byName.get(name);
      if (!t)
        throw new Error(`layer '${tfLayer.name}' needs ${name} (shape ${JSON.stringify(w.shape)}), not in the weights`);
      if (JSON.stringify(t.shape) !== JSON.stringify(w.shape)) {
        throw new Error(
          `${name} has shape ${JSON.stringify(t.shape)}; layer '${tfLayer.name}' expects ${JSON.stringify(w.shape)}`,
        );
      }
      used.add(name);
      return tf.tensor(t.data, t.shape, 'float32');
    });
    if (values.length > 0) tfLayer.setWeights(values);
    for (const v of values) v.dispose();
  }
  const unused = tensors.filter((t) => !used.has(t.name)).map((t) => t.name);
  if (unused.length > 0) {
    throw new Error(
      `weights not used by any layer: ${unused.slice(0, 10).join(', ')}${unused.length > 10 ? ', ...' : ''}; ` +
        'expected the h5 groups to follow the layer order of config.json',
    );
  }
  return model;
}

/**
 * Runs the model on a batch.
 *
 * @param {tf.LayersModel} model  from buildTfjsModel
 * @param {Float32Array} inputs  (N, 112, 112, 3) recentred RGB, row-major (the model's input shape, batch first)
 * @param {{batchSize?: number}} [options]  images per tfjs call (bounds memory; default 8)
 * @returns {Promise<Float32Array>}  (N, outputs) row-major
 */
export async function predict(model, inputs, options = {}) {
  const batchSize = options.batchSize ?? 8;
  const inShape = model.inputs[0].shape.slice(1);
  const perImage = inShape.reduce((a, d) => a * d, 1);
  if (!(inputs instanceof Float32Array) || inputs.length % perImage !== 0 || inputs.length === 0) {
    throw new Error(
      `predict: expected a non-empty Float32Array of N x ${inShape.join(' x ')} values, got ` +
        `${inputs?.constructor?.name} of length ${inputs?.length}`,
    );
  }
  const n = inputs.length / perImage;
  const perOutput = model.outputs[0].shape.slice(1).reduce((a, d) => a * d, 1);
  const result = new Float32Array(n * perOutput);
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    const y = tf.tidy(() => {
      const x = tf.tensor(
        inputs.subarray(start * perImage, (start + count) * perImage),
        [count, ...inShape],
        'float32',
      );
      return model.predict(x);
    });
    result.set(await y.data(), start * perOutput);
    y.dispose();
  }
  return result;
}
