// Bindings for models: import from Keras parts (config text + tensors read by the page's JS libraries),
// describe, predict, and per-layer activations.
#include "cortexlens/forward.hpp"
#include "cortexlens/keras_import.hpp"
#include "edge.hpp"
#include "wasm_model.hpp"

namespace cortexlens::wasm {

namespace {

// tensors: Array<{name: string, shape: number[], data: Float32Array}>, as web/lib/keras-archive.js returns them.
WasmModel load_keras(const std::string& config_text, const val& tensors, const std::string& name) {
  if (!tensors.isArray()) throw_js_error("tensors must be an array of {name, shape, data}");
  const int count = tensors["length"].as<int>();
  std::vector<NamedTensor> named;
  named.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    const val t = tensors[i];
    if (!t["name"].isString()) throw_js_error("tensor " + std::to_string(i) + " has no name");
    NamedTensor tensor;
    tensor.name = t["name"].as<std::string>();
    // Embind has no 64-bit integer arrays; JS numbers are doubles anyway. Non-integral or negative dimensions
    // become -1, which the importer's shape check then names.
    for (double d : to_vector<double>(t["shape"], "tensor shape"))
      tensor.shape.push_back(d >= 0 && d <= 9.0e15 && d == static_cast<double>(static_cast<std::int64_t>(d))
                                 ? static_cast<std::int64_t>(d)
                                 : -1);
    tensor.data = to_vector<float>(t["data"], "tensor data");
    named.push_back(std::move(tensor));
  }
  return WasmModel(take_or_throw(import_keras(config_text, named, name)));
}

}  // namespace

val WasmModel::info() const {
  val out = val::object();
  out.set("name", model_.name);
  out.set("input", shape_array(model_.input));
  val names = val::array();
  for (const auto& n : model_.output_names) names.call<void>("push", n);
  out.set("outputNames", names);
  val source = val::array();
  for (const auto& l : model_.source_layers) {
    val layer = val::object();
    layer.set("name", l.name);
    layer.set("className", l.class_name);
    layer.set("output", shape_array(l.output));
    layer.set("params", static_cast<double>(l.params));
    source.call<void>("push", layer);
  }
  out.set("sourceLayers", source);
  val layers = val::array();
  for (const auto& l : model_.layers) {
    val layer = val::object();
    layer.set("name", l.name);
    layer.set("kind", std::string(layer_kind_name(l.kind)));
    layer.set("input", shape_array(l.in));
    layer.set("output", shape_array(l.out));
    layer.set("kernel", val::array(std::vector<int>{l.kernel_h, l.kernel_w}));
    layer.set("stride", val::array(std::vector<int>{l.stride_h, l.stride_w}));
    layer.set("padding", val::array(std::vector<int>{l.pad.top, l.pad.bottom, l.pad.left, l.pad.right}));
    layer.set("activation", std::string(activation_name(l.activation)));
    layer.set("multiplyAdds", static_cast<double>(l.multiply_adds()));
    layers.call<void>("push", layer);
  }
  out.set("layers", layers);
  out.set("params", static_cast<double>(model_.source_params()));
  out.set("multiplyAdds", static_cast<double>(model_.multiply_adds()));
  return out;
}

Tensor WasmModel::input_from(const val& input) const {
  Tensor tensor;
  tensor.shape = model_.input;
  tensor.data = to_vector<float>(input, "input");
  if (tensor.data.size() != model_.input.size())
    throw_js_error("input has " + std::to_string(tensor.data.size()) + " values, model '" + model_.name + "' expects " +
                   std::to_string(model_.input.size()) + " (" + std::to_string(model_.input.h) + "x" +
                   std::to_string(model_.input.w) + "x" + std::to_string(model_.input.c) + ")");
  return tensor;
}

val WasmModel::predict(const val& input) const {
  auto result = take_or_throw(forward(model_, input_from(input)));
  return float32_array(result.outputs);
}

val WasmModel::activations(const val& input) const {
  auto result = take_or_throw(forward(model_, input_from(input), {/*keep_activations=*/true}));
  val out = val::array();
  for (std::size_t i = 0; i < model_.layers.size(); ++i) {
    val layer = val::object();
    layer.set("name", model_.layers[i].name);
    layer.set("shape", shape_array(result.activations[i].shape));
    layer.set("data", float32_array(result.activations[i].data));
    out.call<void>("push", layer);
  }
  return out;
}

EMSCRIPTEN_BINDINGS(cortexlens_model) {
  emscripten::class_<WasmModel>("Model")
      .function("info", &WasmModel::info)
      .function("predict", &WasmModel::predict)
      .function("activations", &WasmModel::activations);
  emscripten::function("loadKeras", &load_keras);
}

}  // namespace cortexlens::wasm
