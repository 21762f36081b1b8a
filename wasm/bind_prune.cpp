// Binding of pruning (prune.hpp) for the page's model lab: a run the worker steps through one unit of work at a
// time (a stage of step 1, a step 3 candidate or removal), reporting each removal and checking for pause or cancel
// in between, as `cortexlens prune` runs the same core loop in one go.
//
// It is a module of its own (cortexlens-lab.{js,wasm}, createCortexLensLab): pruning brings Eigen's regressions,
// a quarter of the engine's size, that only the lab uses, so the page loads it when the lab first runs. Models come
// in as .clm bytes (the main module's modelFileOf), since the two instances cannot share handles.
//
// const run = new PruneRun(bytes, output, options)   bytes: Uint8Array of a .clm file; output: the shared model's
//                                                     output to restrict to, or -1 for a model that already has one
//                                                     output (the demo, a fitted model)
//   options: {fve = 0.9, delta = -0.01, step1Only = false}
// run.addFitImage(pixels)                 Uint8Array (112*112*3) RGB, recentred here as `cortexlens` does
// run.addEvalImage(pixels, response)      a held-out image and its recorded response
// run.start()                             the first pass and the start event (throws on bad inputs)
// run.advance() -> number of new events; run.done(); run.events(from) -> [{step, stage, filters, filtersPerStage,
//   params, fve, heldoutR}]; run.progress() -> {phase, stages, step1Stage, step3Started, step3Removals, candidates,
//   candidatesChecked}; run.modelFile(name, source) -> Uint8Array of a float32 .clm of the model so far.
// pruneFigures(bytes) -> {params, filtersPerStage}: a model's figures counted as the run counts them.
//
// Fitting a neuron (`cortexlens fit`): parseResponses(text, source, ownImages) -> [{image, response, line}] (throws
// an Error naming the line); const fit = new NeuronFit(bytes) of a shared model; fit.addImage(pixels, response) per
// row in file order; fit.fit(name) -> {r, low, high, lambda, features, fitImages, heldoutImages} (every 5th row held
// out: heldOutRow(i) says which); fit.modelFile(name, source) -> Uint8Array of the fitted model's float32 .clm.
#include <cmath>
#include <memory>

#include "cortexlens/image.hpp"
#include "cortexlens/model_file.hpp"
#include "cortexlens/prune.hpp"
#include "cortexlens/responses.hpp"
#include "edge.hpp"

namespace cortexlens::wasm {

namespace {

double number_option(const val& options, const char* name, double fallback) {
  if (options.isUndefined() || options.isNull()) return fallback;
  const val v = options[name];
  if (v.isUndefined() || v.isNull()) return fallback;
  if (!v.isNumber()) throw_js_error(std::string(name) + " must be a number");
  return v.as<double>();
}

val int_array(const std::vector<int>& values) {
  val out = val::array();
  for (int v : values) out.call<void>("push", v);
  return out;
}

val event_object(const PruneEvent& e) {
  val out = val::object();
  out.set("step", e.step);
  out.set("stage", e.stage);
  out.set("filters", int_array(e.filters));
  out.set("filtersPerStage", int_array(e.filters_per_stage));
  out.set("params", static_cast<double>(e.params));
  out.set("fve", std::isfinite(e.fve) ? val(e.fve) : val::null());
  out.set("heldoutR", std::isfinite(e.heldout_r) ? val(e.heldout_r) : val::null());
  return out;
}

Model model_from_file(const val& bytes) {
  const std::vector<std::uint8_t> data = to_vector<std::uint8_t>(bytes, "model file bytes");
  return take_or_throw(read_model_file(data.data(), data.size())).model;
}

// A float32 .clm of `model` with its embedded test vector: what `cortexlens prune -o` and `cortexlens fit -o` write.
val float_model_file(Model model, const std::string& name, const std::string& source) {
  model.name = name;
  for (auto& layer : model.layers) layer.int8.reset();
  ModelFileMetadata metadata;
  metadata.source = source;
  metadata.channel_means.assign(std::begin(kChannelMeans), std::end(kChannelMeans));
  const TestVector vector = take_or_throw(make_test_vector(model, model, metadata.channel_means));
  return uint8_array(take_or_throw(write_model_file(model, metadata, vector)));
}

// Decoded 112x112 RGB pixels (the main module's imageToInput) recentred as `cortexlens` does.
Tensor input_from_pixels(const Shape3& in, const val& pixels) {
  RgbImage image{in.w, in.h, to_vector<std::uint8_t>(pixels, "pixels")};
  if (in.c != 3 || image.pixels.size() != in.size())
    throw_js_error("pixels: " + std::to_string(image.pixels.size()) + " bytes, expected " + std::to_string(in.size()) +
                   " (" + std::to_string(in.w) + "x" + std::to_string(in.h) + " RGB)");
  return recentre(image);
}

const char* phase_name(PrunePhase phase) {
  switch (phase) {
    case PrunePhase::step1:
      return "step1";
    case PrunePhase::step3:
      return "step3";
    case PrunePhase::finished:
      return "finished";
  }
  return "finished";
}

class WasmPruneRun {
 public:
  WasmPruneRun(const val& model_file, int output, const val& options) {
    const double fve = number_option(options, "fve", options_.fve_threshold);
    const double delta = number_option(options, "delta", options_.delta_threshold);
    if (!(fve > 0 && fve <= 1)) throw_js_error("fve must be a number in (0, 1], got " + std::to_string(fve));
    if (!(delta <= 0) || !std::isfinite(delta)) throw_js_error("delta must be a number <= 0");
    options_.fve_threshold = fve;
    options_.delta_threshold = delta;
    if (!options.isUndefined() && !options.isNull() && options["step1Only"].isTrue()) options_.run_step3 = false;
    Model model = model_from_file(model_file);
    start_ = output < 0 ? std::move(model) : take_or_throw(restrict_to_output(model, output));
    take_or_throw(prunable_layout(start_));
  }

  void add_fit_image(const val& pixels) { data_->fit_inputs.push_back(input_from(pixels)); }
  void add_eval_image(const val& pixels, double response) {
    if (!std::isfinite(response)) throw_js_error("the recorded response must be a finite number");
    data_->eval_inputs.push_back(input_from(pixels));
    data_->eval_responses.push_back(response);
  }

  void start() {
    if (run_) throw_js_error("this pruning run has already started");
    run_ = std::make_unique<PruneRun>(take_or_throw(PruneRun::create(start_, data_, options_)));
  }

  int advance() {
    const std::size_t before = started().events().size();
    throw_if_error(run_->advance());
    return static_cast<int>(run_->events().size() - before);
  }

  bool done() const { return started().done(); }

  val events(int from) const {
    val out = val::array();
    const auto& events = started().events();
    for (std::size_t i = static_cast<std::size_t>(std::max(0, from)); i < events.size(); ++i)
      out.call<void>("push", event_object(events[i]));
    return out;
  }

  val progress() const {
    const PruneProgress p = started().progress();
    val out = val::object();
    out.set("phase", std::string(phase_name(p.phase)));
    out.set("stages", p.stages);
    out.set("step1Stage", p.step1_stage);
    out.set("step3Started", p.step3_started);
    out.set("step3Removals", p.step3_removals);
    out.set("candidates", p.candidates);
    out.set("candidatesChecked", p.candidates_checked);
    return out;
  }

  // A float32 .clm of the model so far.
  val model_file(const std::string& name, const std::string& source) const {
    return float_model_file(started().model(), name, source);
  }

 private:
  const PruneRun& started() const {
    if (!run_) throw_js_error("the pruning run has not started (call start() after adding the images)");
    return *run_;
  }

  Tensor input_from(const val& pixels) {
    if (run_) throw_js_error("images must be added before start()");
    return input_from_pixels(start_.input, pixels);
  }

  Model start_;
  PruneOptions options_;
  std::shared_ptr<PruneData> data_ = std::make_shared<PruneData>();
  std::unique_ptr<PruneRun> run_;
};

// {params, filtersPerStage} of any prunable model, counted as the pruning counts (BatchNormalization folded, biases
// where nonzero): how the lab puts a published model beside a pruned one.
val prune_figures(const val& model_file) {
  const Model model = model_from_file(model_file);
  const PrunableLayout layout = take_or_throw(prunable_layout(model));
  val out = val::object();
  out.set("params", static_cast<double>(parameter_count(model)));
  out.set("filtersPerStage", int_array(filters_per_stage(model, layout)));
  return out;
}

// [{image, response, line}] of a responses file, or an Error naming the line and what was expected: the checks of
// `cortexlens fit` (cortexlens/responses.hpp).
val parse_responses(const std::string& text, const std::string& source, bool own_images) {
  const ResponseCsv csv = take_or_throw(parse_response_csv(text, source, own_images));
  val rows = val::array();
  for (const auto& row : csv.rows) {
    val r = val::object();
    r.set("image", row.image);
    r.set("response", row.response);
    r.set("line", row.line);
    rows.call<void>("push", r);
  }
  return rows;
}

bool held_out_row_js(int row) { return row >= 0 && held_out_row(static_cast<std::size_t>(row)); }

// A neuron's readout fitted on a shared model's features from its responses (fit_neuron: every 5th image held out).
class WasmNeuronFit {
 public:
  explicit WasmNeuronFit(const val& model_file) : shared_(model_from_file(model_file)) {}

  void add_image(const val& pixels, double response) {
    if (!std::isfinite(response)) throw_js_error("the response must be a finite number");
    inputs_.push_back(input_from_pixels(shared_.input, pixels));
    responses_.push_back(response);
  }

  val fit(const std::string& name) {
    fit_ = std::make_unique<NeuronFit>(take_or_throw(fit_neuron(shared_, inputs_, responses_, name, {})));
    val out = val::object();
    out.set("r", fit_->heldout_r);
    out.set("low", fit_->heldout_ci.low);
    out.set("high", fit_->heldout_ci.high);
    out.set("lambda", fit_->lambda);
    out.set("features", fit_->features);
    out.set("fitImages", fit_->fit_images);
    out.set("heldoutImages", fit_->heldout_images);
    return out;
  }

  val model_file(const std::string& name, const std::string& source) const {
    if (!fit_) throw_js_error("nothing fitted yet (call fit() after adding the images)");
    return float_model_file(fit_->model, name, source);
  }

 private:
  Model shared_;
  std::vector<Tensor> inputs_;
  std::vector<double> responses_;
  std::unique_ptr<NeuronFit> fit_;
};

}  // namespace

EMSCRIPTEN_BINDINGS(cortexlens_prune) {
  emscripten::function("parseResponses", &parse_responses);
  emscripten::function("heldOutRow", &held_out_row_js);
  emscripten::class_<WasmNeuronFit>("NeuronFit")
      .constructor<const val&>()
      .function("addImage", &WasmNeuronFit::add_image)
      .function("fit", &WasmNeuronFit::fit)
      .function("modelFile", &WasmNeuronFit::model_file);
  emscripten::function("pruneFigures", &prune_figures);
  emscripten::class_<WasmPruneRun>("PruneRun")
      .constructor<const val&, int, const val&>()
      .function("addFitImage", &WasmPruneRun::add_fit_image)
      .function("addEvalImage", &WasmPruneRun::add_eval_image)
      .function("start", &WasmPruneRun::start)
      .function("advance", &WasmPruneRun::advance)
      .function("done", &WasmPruneRun::done)
      .function("events", &WasmPruneRun::events)
      .function("progress", &WasmPruneRun::progress)
      .function("modelFile", &WasmPruneRun::model_file);
}

}  // namespace cortexlens::wasm
