// Stand-in for web/viz/ (the feature-visualization panels of issue 5) when a build does not have them yet:
// build_site.sh points the 'cortexlens-viz' and 'cortexlens-viz-worker' imports here instead.
//
// The interface web/viz/ provides, when present:
//   web/viz/index.js   export function mountVizPanel(container, {worker, pool, getState, onStateChange})
//     worker.request(type, payload, {transfer, onProgress}) -> Promise: the page's main worker (owns the wasm module)
//     getState() -> {neuronId, entry (manifest entry), precision, model: {key, url} (pass to worker requests),
//                    input: Float32Array (112, 112, 3) recentred, pixels: Uint8Array (112, 112, 3), crop, image}
//     onStateChange(callback) -> unsubscribe; callback(getState()) runs when the neuron, image or crop changes
//   web/viz/worker.js  export const vizHandlers = {type: async (payload, progress, context) => result}
//     context: {cortexLens() -> Promise<module>, ensureModel({key, url}) -> {model (Embind Model), info},
//               requireInput(x), fetchBytes(url)}; progress(value) posts {id, progress: value} to the page.
//     Return {result, transfer: [ArrayBuffer...]} to transfer buffers, or a plain value. Handler names must not
//     clash with the page's (init, decodeImage, cropImage, loadModel, predict, predictEach, activations, evaluate,
//     forgetModel); a clashing one is ignored.
export const mountVizPanel = null;
export const vizHandlers = {};
