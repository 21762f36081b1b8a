// Binding of the smallest change (perturbation.hpp): a run the worker steps through in chunks, as synthesis runs.
//
// new Perturbation(model, pixels: Uint8Array (H*W*3), options[, othersModel])
//   options: {epsilon, minimize, steps, stepSize, seed, output, responseSpread,
//             penalty, spread: number[] (one per output of othersModel), exclude}
#include <memory>

#include "cortexlens/forward.hpp"
#include "cortexlens/image.hpp"
#include "cortexlens/perturbation.hpp"
#include "edge.hpp"
#include "wasm_model.hpp"

namespace cortexlens::wasm {

namespace {

double number_field(const val& object, const char* name, double fallback) {
  const val v = object[name];
  if (v.isUndefined() || v.isNull()) return fallback;
  if (!v.isNumber()) throw_js_error(std::string(name) + " must be a number");
  return v.as<double>();
}

int int_option(const val& object, const char* name, int fallback) {
  const double d = number_field(object, name, fallback);
  if (!(d >= -2147483648.0 && d <= 2147483647.0) || d != static_cast<double>(static_cast<int>(d)))
    throw_js_error(std::string(name) + " must be an integer, got " + std::to_string(d));
  return static_cast<int>(d);
}

class WasmPerturbation {
 public:
  WasmPerturbation(const WasmModel& model, const val& pixels, const val& options)
      : WasmPerturbation(model, pixels, options, nullptr) {}
  WasmPerturbation(const WasmModel& model, const val& pixels, const val& options, const WasmModel& others)
      : WasmPerturbation(model, pixels, options, &others) {}

  int advance(int count) { return run_->advance(count); }
  int step() const { return run_->step(); }
  int steps() const { return run_->steps(); }
  bool done() const { return run_->done(); }
  double start_response() const { return run_->start_response(); }
  double best_response() const { return run_->best_response(); }
  double best_others_change() const { return run_->best_others_change(); }
  val current() const { return uint8_array(run_->current().pixels); }
  val best() const { return uint8_array(run_->best().pixels); }
  val trace() const { return float32_array(run_->trace()); }

 private:
  WasmPerturbation(const WasmModel& model, const val& pixels, const val& options, const WasmModel* others)
      : model_(std::make_shared<Model>(model.model())) {
    PerturbOptions o;
    const bool given = !options.isUndefined() && !options.isNull();
    if (given) {
      o.epsilon = int_option(options, "epsilon", o.epsilon);
      o.minimize = !options["minimize"].isUndefined() && options["minimize"].as<bool>();
      o.steps = int_option(options, "steps", o.steps);
      o.step_size = int_option(options, "stepSize", o.step_size);
      const double seed = number_field(options, "seed", 0.0);
      if (!(seed >= 0 && seed <= 9007199254740991.0) || seed != static_cast<double>(static_cast<std::uint64_t>(seed)))
        throw_js_error("seed must be an integer >= 0");
      o.seed = static_cast<std::uint64_t>(seed);
      o.output = int_option(options, "output", o.output);
      o.response_spread = static_cast<float>(number_field(options, "responseSpread", 1.0));
    }
    if (others) {
      others_ = std::make_shared<Model>(others->model());
      o.keep_others.model = others_.get();
      if (given) {
        o.keep_others.penalty = static_cast<float>(number_field(options, "penalty", 1.0));
        o.keep_others.exclude = int_option(options, "exclude", -1);
        if (!options["spread"].isUndefined() && !options["spread"].isNull())
          o.keep_others.spread = to_vector<float>(options["spread"], "spread");
      }
    }
    const Shape3 in = model_->input;
    RgbImage image{in.w, in.h, to_vector<std::uint8_t>(pixels, "pixels")};
    run_ = take_or_throw(Perturbation::create(*model_, image, o));
  }

  std::shared_ptr<Model> model_, others_;  // own copies: evicting a model from the worker leaves the run intact
  std::unique_ptr<Perturbation> run_;
};

// The float outputs for an 8-bit RGB image of the model's input size, recentred here as recentre() does: how the
// page measures a perturbation's responses, whatever the precision of the file (an int8 file's float path runs its
// dequantized weights, as `cortexlens perturb` does).
val float_outputs_js(const WasmModel& model, const val& pixels) {
  const Shape3 in = model.model().input;
  RgbImage image{in.w, in.h, to_vector<std::uint8_t>(pixels, "pixels")};
  if (in.c != 3 || image.pixels.size() != in.size())
    throw_js_error("pixels: " + std::to_string(image.pixels.size()) + " bytes, expected " + std::to_string(in.size()) +
                   " (" + std::to_string(in.w) + "x" + std::to_string(in.h) + " RGB)");
  auto out = take_or_throw(forward(model.model(), recentre(image)));
  return float32_array(out.outputs);
}

}  // namespace

EMSCRIPTEN_BINDINGS(cortexlens_perturb) {
  emscripten::function("floatOutputsOfPixels", &float_outputs_js);
  emscripten::class_<WasmPerturbation>("Perturbation")
      .constructor<const WasmModel&, const val&, const val&>()
      .constructor<const WasmModel&, const val&, const val&, const WasmModel&>()
      .function("advance", &WasmPerturbation::advance)
      .function("step", &WasmPerturbation::step)
      .function("steps", &WasmPerturbation::steps)
      .function("done", &WasmPerturbation::done)
      .function("startResponse", &WasmPerturbation::start_response)
      .function("bestResponse", &WasmPerturbation::best_response)
      .function("bestOthersChange", &WasmPerturbation::best_others_change)
      .function("current", &WasmPerturbation::current)
      .function("best", &WasmPerturbation::best)
      .function("trace", &WasmPerturbation::trace);
}

}  // namespace cortexlens::wasm
