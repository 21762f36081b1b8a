// Bindings for feature visualization: input gradients, synthesis and block images that advance in chunks (so the
// worker can post intermediate images and honour a cancel between chunks), saliency / occlusion / readout maps,
// ablated model copies, and each layer's weights for the "inside the model" views.
//
// Selectors from JS: {layer?: number (-1 or absent: the model outputs), channel?: number (output index or channel),
// y?: number, x?: number}. Images to JS are Uint8Array RGB (H*W*3) for drawing, inputs Float32Array (recentred).
#include <memory>

#include "cortexlens/attribution.hpp"
#include "cortexlens/backward.hpp"
#include "cortexlens/image.hpp"
#include "cortexlens/synthesis.hpp"
#include "edge.hpp"
#include "wasm_model.hpp"

namespace cortexlens::wasm {

namespace {

int int_field(const val& object, const char* name, int fallback) {
  const val v = object[name];
  if (v.isUndefined() || v.isNull()) return fallback;
  if (!v.isNumber()) throw_js_error(std::string(name) + " must be a number");
  const double d = v.as<double>();
  if (!(d >= -2147483648.0 && d <= 2147483647.0) || d != static_cast<double>(static_cast<int>(d)))
    throw_js_error(std::string(name) + " must be an integer, got " + std::to_string(d));
  return static_cast<int>(d);
}

bool is_object(const val& v) { return !v.isNull() && v.typeOf().as<std::string>() == "object"; }

bool bool_field(const val& object, const char* name) {
  const val v = object[name];
  return !v.isUndefined() && !v.isNull() && v.as<bool>();
}

OutputSelector selector_from(const val& s) {
  if (s.isUndefined() || s.isNull()) return OutputSelector::output(0);
  if (!is_object(s)) throw_js_error("selector must be an object {layer, channel, y, x}");
  return {int_field(s, "layer", -1), int_field(s, "channel", 0), int_field(s, "y", -1), int_field(s, "x", -1)};
}

val rgb_of(const Tensor& image) { return uint8_array(unrecentre(image).pixels); }

val map_object(const Tensor& map) {
  val out = val::object();
  out.set("shape", shape_array(map.shape));
  out.set("data", float32_array(map.data));
  return out;
}

// A synthesis run the JS side steps through. It keeps its own copy of the model, so deleting the Model handle
// while a run is in progress is harmless.
class WasmSynthesis {
 public:
  WasmSynthesis(const WasmModel& model, const val& options) : model_(std::make_shared<Model>(model.model())) {
    SynthOptions o;
    if (!options.isUndefined() && !options.isNull()) {
      const val recipe = options["recipe"];
      if (!recipe.isUndefined()) {
        const std::string name = recipe.as<std::string>();
        if (name != "authors" && name != "fourier")
          throw_js_error("recipe '" + name + "', expected authors or fourier");
        o.recipe = name == "authors" ? SynthRecipe::authors : SynthRecipe::fourier;
      }
      o.minimize = bool_field(options, "minimize");
      o.grayscale = bool_field(options, "grayscale");
      o.steps = int_field(options, "steps", o.steps);
      const double seed = options["seed"].isNumber() ? options["seed"].as<double>() : 1.0;
      if (!(seed >= 0 && seed <= 9007199254740991.0) || seed != static_cast<double>(static_cast<std::uint64_t>(seed)))
        throw_js_error("seed must be an integer >= 0");
      o.seed = static_cast<std::uint64_t>(seed);
    }
    synth_ = take_or_throw(Synthesizer::create(*model_, selector_from(options["selector"]), o));
  }

  int advance(int count) { return synth_->advance(count); }
  int step() const { return synth_->step(); }
  int steps() const { return synth_->steps(); }
  bool done() const { return synth_->done(); }
  double best_response() const { return synth_->best_response(); }
  val current_image() const { return rgb_of(synth_->current_image()); }
  val best_image() const { return rgb_of(synth_->best_image()); }
  val best_input() const { return float32_array(synth_->best_image().data); }
  val trace() const { return float32_array(synth_->trace()); }

 private:
  std::shared_ptr<Model> model_;
  std::unique_ptr<Synthesizer> synth_;
};

class WasmBlocks {
 public:
  WasmBlocks(const WasmModel& model, const val& options) : model_(std::make_shared<Model>(model.model())) {
    BlockOptions o;
    if (!options.isUndefined() && !options.isNull()) {
      o.blocks = int_field(options, "blocks", o.blocks);
      o.candidates = int_field(options, "candidates", o.candidates);
      o.minimize = bool_field(options, "minimize");
      if (!options["sizes"].isUndefined()) o.sizes = to_vector<int>(options["sizes"], "sizes");
    }
    search_ = take_or_throw(BlockSearch::create(*model_, selector_from(options["selector"]), o));
  }
  int advance(int count) { return search_->advance(count); }
  bool done() const { return search_->done(); }
  double response() const { return search_->response(); }
  double start_response() const { return search_->start_response(); }
  int block_count() const { return static_cast<int>(search_->blocks().size()); }
  int max_blocks() const { return search_->options().blocks; }
  val image() const { return rgb_of(search_->image()); }
  val input() const { return float32_array(search_->image().data); }
  val blocks() const {
    val out = val::array();
    for (const auto& b : search_->blocks()) {
      val o = val::object();
      o.set("y", b.y);
      o.set("x", b.x);
      o.set("size", b.size);
      o.set("colour", b.colour);
      o.set("response", b.response);
      out.call<void>("push", o);
    }
    return out;
  }

 private:
  std::shared_ptr<Model> model_;
  std::unique_ptr<BlockSearch> search_;
};

val input_gradient_js(const WasmModel& model, const val& input, const val& selector) {
  auto g = take_or_throw(input_gradient(model.model(), model.input_from(input), selector_from(selector)));
  val out = val::object();
  out.set("value", g.value);
  out.set("gradient", float32_array(g.gradient.data));
  return out;
}

val saliency_js(const WasmModel& model, const val& input, const val& selector) {
  float value = 0;
  auto map =
      take_or_throw(saliency_gradient_x_input(model.model(), model.input_from(input), selector_from(selector), &value));
  val out = map_object(map);
  out.set("value", value);
  return out;
}

val occlusion_js(const WasmModel& model, const val& input, const val& selector, const val& options) {
  OcclusionOptions o;
  if (!options.isUndefined() && !options.isNull()) {
    o.patch = int_field(options, "patch", o.patch);
    o.stride = int_field(options, "stride", o.stride);
  }
  auto map = take_or_throw(occlusion_map(model.model(), model.input_from(input), selector_from(selector), o));
  val out = val::object();
  out.set("baseline", map.baseline);
  out.set("rows", map.rows);
  out.set("cols", map.cols);
  out.set("patch", o.patch);
  out.set("stride", o.stride);
  out.set("drops", float32_array(map.drops.data));
  out.set("perPixel", map_object(map.per_pixel));
  return out;
}

val readout_js(const WasmModel& model, const val& input, int output) {
  float bias = 0;
  auto map = take_or_throw(readout_map(model.model(), model.input_from(input), output, &bias));
  val out = map_object(map);
  out.set("bias", bias);
  return out;
}

// ablations: [{layer, channel, scale}]; returns a new Model handle (JS must .delete() it).
WasmModel ablate_js(const WasmModel& model, const val& ablations) {
  if (!ablations.isArray()) throw_js_error("ablations must be an array of {layer, channel, scale}");
  Model copy = model.model();
  const int n = ablations["length"].as<int>();
  for (int i = 0; i < n; ++i) {
    const val a = ablations[i];
    if (!is_object(a) || !a["scale"].isNumber())
      throw_js_error("ablation " + std::to_string(i) + " needs {layer, channel, scale}");
    throw_if_error(
        ablate_in_place(copy, int_field(a, "layer", -1), int_field(a, "channel", -1), a["scale"].as<float>()));
  }
  return WasmModel(std::move(copy));
}

// One executable layer's parameters as the model holds them (BN folded): weights in the layout of model.hpp.
val layer_weights_js(const WasmModel& model, int index) {
  const auto& layers = model.model().layers;
  if (index < 0 || index >= static_cast<int>(layers.size()))
    throw_js_error("layer " + std::to_string(index) + " out of range: expected 0.." +
                   std::to_string(layers.size() - 1));
  const Layer& l = layers[index];
  val out = val::object();
  out.set("name", l.name);
  out.set("kind", std::string(layer_kind_name(l.kind)));
  out.set("activation", std::string(activation_name(l.activation)));
  val shape = val::array();
  if (l.kind == LayerKind::conv2d) {
    shape.call<void>("push", l.kernel_h, l.kernel_w, l.in.c, l.out.c);
  } else if (l.kind == LayerKind::depthwise_conv2d) {
    shape.call<void>("push", l.kernel_h, l.kernel_w, l.in.c);
  } else {
    shape.call<void>("push", static_cast<double>(l.in.size()), l.out.c);
  }
  out.set("shape", shape);
  out.set("input", shape_array(l.in));
  out.set("output", shape_array(l.out));
  out.set("weights", float32_array(l.weights));
  out.set("bias", float32_array(l.bias));
  return out;
}

}  // namespace

EMSCRIPTEN_BINDINGS(cortexlens_viz) {
  emscripten::class_<WasmSynthesis>("Synthesis")
      .constructor<const WasmModel&, val>()
      .function("advance", &WasmSynthesis::advance)
      .function("step", &WasmSynthesis::step)
      .function("steps", &WasmSynthesis::steps)
      .function("done", &WasmSynthesis::done)
      .function("bestResponse", &WasmSynthesis::best_response)
      .function("currentImage", &WasmSynthesis::current_image)
      .function("bestImage", &WasmSynthesis::best_image)
      .function("bestInput", &WasmSynthesis::best_input)
      .function("trace", &WasmSynthesis::trace);
  emscripten::class_<WasmBlocks>("BlockImage")
      .constructor<const WasmModel&, val>()
      .function("advance", &WasmBlocks::advance)
      .function("done", &WasmBlocks::done)
      .function("response", &WasmBlocks::response)
      .function("startResponse", &WasmBlocks::start_response)
      .function("blockCount", &WasmBlocks::block_count)
      .function("maxBlocks", &WasmBlocks::max_blocks)
      .function("image", &WasmBlocks::image)
      .function("input", &WasmBlocks::input)
      .function("blocks", &WasmBlocks::blocks);
  emscripten::function("inputGradient", &input_gradient_js);
  emscripten::function("saliency", &saliency_js);
  emscripten::function("occlusion", &occlusion_js);
  emscripten::function("readoutMap", &readout_js);
  emscripten::function("ablate", &ablate_js);
  emscripten::function("layerWeights", &layer_weights_js);
}

}  // namespace cortexlens::wasm
