// Bindings for Cortex Lens model files (.clm): load with every check of read_model_file (a bad file becomes a JS
// Error naming the offset, what was found and what was expected), describe the file, and run either precision.
#include <algorithm>
#include <atomic>
#ifdef __EMSCRIPTEN_PTHREADS__
#include <thread>
#endif

#include "cortexlens/image.hpp"
#include "cortexlens/int8_forward_plan.hpp"
#include "cortexlens/model_file.hpp"
#include "cortexlens/quantize.hpp"
#include "edge.hpp"
#include "wasm_model.hpp"

namespace cortexlens::wasm {

namespace {

LoadedModel load_or_throw(const val& bytes) {
  const std::vector<std::uint8_t> data = to_vector<std::uint8_t>(bytes, "model file bytes");
  return take_or_throw(read_model_file(data.data(), data.size()));
}

// bytes: Uint8Array of a whole .clm file -> Model (the same handle loadKeras returns; call .delete()).
WasmModel load_model_file(const val& bytes) { return WasmModel(load_or_throw(bytes).model); }

// bytes -> {precision, version, source, citation, channelMeans, testVector: {seed, expected, tolerance}, testOutputs}
val inspect_model_file(const val& bytes) {
  const LoadedModel loaded = load_or_throw(bytes);
  val out = val::object();
  out.set("precision", std::string(precision_name(loaded.precision)));
  out.set("version", loaded.version);
  out.set("source", loaded.metadata.source);
  out.set("citation", loaded.metadata.citation);
  out.set("channelMeans", float32_array(loaded.metadata.channel_means));
  val vector = val::object();
  vector.set("seed", loaded.test_vector.seed);
  vector.set("expected", float32_array(loaded.test_vector.expected));
  vector.set("tolerance", float32_array(loaded.test_vector.tolerance));
  out.set("testVector", vector);
  out.set("testOutputs", float32_array(loaded.test_outputs));
  return out;
}

Precision parse_precision(const std::string& text) {
  if (text == "int8") return Precision::int8;
  if (text == "float" || text == "float32") return Precision::float32;
  throw_js_error("precision '" + text + "', expected 'int8' or 'float'");
}

// A loaded model as a .clm file (int8 if it is int8, float32 otherwise): how the worker hands a model to the lab's
// module (wasm/bind_prune.cpp), a separate instance that cannot see this one's handles.
val model_file_of(const WasmModel& model) {
  ModelFileMetadata metadata;
  const int channels = model.model().input.c;
  if (channels == 3)
    metadata.channel_means.assign(std::begin(kChannelMeans), std::end(kChannelMeans));
  else
    metadata.channel_means.assign(static_cast<std::size_t>(channels), 0.0f);
  const TestVector vector = take_or_throw(make_test_vector(model.model(), model.model(), metadata.channel_means));
  return uint8_array(take_or_throw(write_model_file(model.model(), metadata, vector)));
}

// 'int8' when every layer has int8 weights (an int8 .clm), else 'float32'.
std::string model_precision(const WasmModel& model) {
  return precision_name(is_int8_model(model.model()) ? Precision::int8 : Precision::float32);
}

ForwardResult forward_either(const WasmModel& model, const val& input, Precision precision, bool keep_activations) {
  if (precision == Precision::int8) return model.forward_int8(input, keep_activations);
  ForwardOptions options;
  options.keep_activations = keep_activations;
  return take_or_throw(forward(model.model(), model.input_from(input), options));
}

val predict_with_precision(const WasmModel& model, const val& input, const std::string& precision) {
  return float32_array(forward_either(model, input, parse_precision(precision), false).outputs);
}

val activations_with_precision(const WasmModel& model, const val& input, const std::string& precision) {
  auto result = forward_either(model, input, parse_precision(precision), true);
  val out = val::array();
  for (std::size_t i = 0; i < model.model().layers.size(); ++i) {
    val layer = val::object();
    layer.set("name", model.model().layers[i].name);
    layer.set("shape", shape_array(result.activations[i].shape));
    layer.set("data", float32_array(result.activations[i].data));
    out.call<void>("push", layer);
  }
  return out;
}

}  // namespace

namespace {
// The population view loads 100+ models per worker: their plans share one arena rather than ~2 MB each. One per
// thread: in the threaded module, predictMany's threads each run their own plans.
Int8Arena& int8_arena() {
  thread_local Int8Arena arena;
  return arena;
}
}  // namespace

Int8ForwardPlan& WasmModel::int8_plan() const {
  if (!int8_plan_) int8_plan_ = std::make_unique<Int8ForwardPlan>(model_, &int8_arena());
  int8_plan_->use_arena(&int8_arena());  // this thread's: the one that made the plan may have ended
  return *int8_plan_;
}

Result<std::vector<float>> WasmModel::outputs(const Tensor& input, Precision precision) const {
  if (precision == Precision::float32) {
    auto result = forward(model_, input);
    if (!result) return result.status();
    return std::move(result.value().outputs);
  }
  // The checks first: a plan needs int8 weights on every layer. Then the plan directly, as forward_int8_planned
  // would check the input again (predictMany runs ~110 models on one input).
  CL_RETURN_IF_ERROR(check_int8_forward(model_, input));
  Int8ForwardPlan& plan = int8_plan();
  std::vector<float> outputs(plan.output_size());
  plan.run(input.data.data(), outputs.data());
  return outputs;
}

ForwardResult WasmModel::forward_int8(const val& input, bool keep_activations) const {
  const Tensor tensor = input_from(input);
  // The plan needs int8 weights on every layer; check_int8_forward says which layer lacks them.
  throw_if_error(check_int8_forward(model_, tensor));
  return take_or_throw(forward_int8_planned(model_, int8_plan(), tensor, keep_activations));
}

namespace {

// How many threads predictMany may use: the module's pthread pool in the threaded build (cortexlens-mt), else 1.
int thread_count() {
#ifdef __EMSCRIPTEN_PTHREADS__
  return std::max(1, std::min(CORTEXLENS_MAX_THREADS, static_cast<int>(std::thread::hardware_concurrency())));
#else
  return 1;
#endif
}

// models: Array<Model> with one input shape; input: Float32Array for that shape; precision 'int8' | 'float'
// -> Array<Float32Array>, each model's outputs, in order. The threaded module spreads the models over its threads
// (each takes the next model not yet taken); the single-threaded one runs them in turn. JS is only touched on the
// calling thread: inputs are read before, errors thrown after the threads finish.
val predict_many(const val& models, const val& input, const std::string& precision_text) {
  const Precision precision = parse_precision(precision_text);
  if (!models.isArray()) throw_js_error("models must be an array of Model handles");
  const int count = models["length"].as<int>();
  std::vector<const WasmModel*> list;
  list.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) list.push_back(&models[i].as<const WasmModel&>());
  val result = val::array();
  if (list.empty()) return result;
  const Tensor tensor = list.front()->input_from(input);
  for (int i = 0; i < count; ++i)
    if (list[static_cast<std::size_t>(i)]->model().input != tensor.shape)
      throw_js_error("predictMany: model " + std::to_string(i) + " ('" +
                     list[static_cast<std::size_t>(i)]->model().name +
                     "') takes another input shape than model 0; call it separately");
  std::vector<Result<std::vector<float>>> outputs(list.size(), Status::error("not run"));
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t i = next++; i < list.size(); i = next++) outputs[i] = list[i]->outputs(tensor, precision);
  };
#ifdef __EMSCRIPTEN_PTHREADS__
  std::vector<std::thread> helpers;
  for (int t = 1; t < std::min(thread_count(), count); ++t) helpers.emplace_back(work);
  work();
  for (std::thread& helper : helpers) helper.join();
#else
  work();
#endif
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!outputs[i])
      throw_js_error("predictMany: model " + std::to_string(i) + " ('" + list[i]->model().name +
                     "'): " + outputs[i].message());
    result.call<void>("push", float32_array(outputs[i].value()));
  }
  return result;
}

}  // namespace

EMSCRIPTEN_BINDINGS(cortexlens_pack) {
  emscripten::function("threadCount", &thread_count);
  emscripten::function("predictMany", &predict_many);
  emscripten::function("loadModelFile", &load_model_file);
  emscripten::function("inspectModelFile", &inspect_model_file);
  emscripten::function("modelFileOf", &model_file_of);
  emscripten::function("modelPrecision", &model_precision);
  emscripten::function("predictWithPrecision", &predict_with_precision);
  emscripten::function("activationsWithPrecision", &activations_with_precision);
}

}  // namespace cortexlens::wasm
