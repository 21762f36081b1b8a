// Pruning a compact model filter by filter, after Cowley, Stan, Pillow & Smith (Nature 2026), whose research code
// is cowleygroup/V4_compact_models (classes/class_pruning.py). Our own implementation of the method:
//
//   step 1: layer by layer from the last stage back, order a stage's filters by the variance of their output over
//           the fitting images (weighted by their outgoing weights), and remove the least varying ones as long as a
//           least-squares refit of the next stage's pointwise weights (of the readout, for the last stage) from the
//           kept filters still explains at least `fve_threshold` of that next output's variance;
//   step 3: greedily remove single filters whose removal changes the fraction of variance explained of the
//           model's prediction by no more than `delta_threshold` (a negative number), re-ranking after each;
//   after every removal the readout (the final weights, linear given the features) is refitted by ridge regression.
//
// The authors' step 2 (retraining on 12 million images) is not done: our pruned models are a lower bound on what
// the method reaches. A removed filter is removed for real (its weights leave the model), so the result is an
// ordinary Model that runs through forward, int8 and synthesis and saves as a .clm file.
//
// Models this applies to: a first conv2d stage, then separable stages (depthwise, then 1x1 conv2d), then a
// one-output readout, either factorised as in the shared models restricted to one neuron (1x1 conv2d to one
// channel, then a depthwise pool over the whole map) or a dense layer as in the per-neuron models.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cortexlens/model.hpp"
#include "cortexlens/status.hpp"
#include "cortexlens/tensor.hpp"

namespace cortexlens {

enum class ReadoutKind { factorised, dense };

// Where the filters are. Stage s's filters are the output channels of layers[filter_layers[s]]; the readout
// starts at layers[readout_layer].
struct PrunableLayout {
  std::vector<int> filter_layers;
  int readout_layer = 0;
  ReadoutKind readout = ReadoutKind::factorised;
};
Result<PrunableLayout> prunable_layout(const Model& model);

// The shared model cut down to output `output`: its 1x1 mixing conv keeps that output's column and bias, its
// spatial pool that output's channel, so the result computes exactly that one output (and costs the trunk plus
// two tiny layers). Refused unless the model ends in a 1x1 conv2d followed by a valid depthwise pool over the
// whole map.
Result<Model> restrict_to_output(const Model& model, int output);

// Removes filters of one stage (indices into its current filters; duplicates and order do not matter): their
// output channel, the next stage's depthwise channel and pointwise row (or the readout's rows). The other weights
// are unchanged, so the result equals the model with those filters' outgoing weights set to zero. int8 weights are
// dropped (the result is a float model; quantize it again). At least one filter must stay.
Result<Model> remove_filters(const Model& model, int stage, std::vector<int> filters);

std::vector<int> filters_per_stage(const Model& model, const PrunableLayout& layout);

// Weights and biases of the executable model (BatchNormalization folded into the layers), biases counted only
// where a layer has any nonzero bias (a separable stage's depthwise half has none). The measure used to compare
// a pruned model with a published one loaded the same way.
std::int64_t parameter_count(const Model& model);

struct PruneData {
  std::vector<Tensor> fit_inputs;      // recentred (112, 112, 3) images the refits and the ranking use
  std::vector<double> fit_targets;     // (fit_inputs) what the model should predict; empty: its own predictions
  std::vector<Tensor> eval_inputs;     // held-out images, may be empty
  std::vector<double> eval_responses;  // (eval_inputs) recorded responses to correlate with
};

struct PruneEvent {
  int step = 0;              // 0: the starting model; 1 or 3
  int stage = -1;            // the stage filters were removed from (-1 for step 0)
  std::vector<int> filters;  // their indices in the starting model's numbering of that stage
  std::vector<int> filters_per_stage;
  std::int64_t params = 0;
  double fve = 0.0;        // of the prediction on the fitting images vs fit_targets, after the readout refit
  double heldout_r = 0.0;  // Pearson r of the prediction on eval_inputs vs eval_responses (NaN without them)
};

// Runs job(worker, i) for i in [0, count) with worker in [0, workers); a caller with threads passes its pool.
using ParallelFor = std::function<Status(std::size_t count, const std::function<Status(int worker, std::size_t i)>&)>;

struct PruneOptions {
  double fve_threshold = 0.9;      // step 1
  double delta_threshold = -0.01;  // step 3
  int step1_min_filters = 3;       // step 1 keeps at least this many per stage (as the authors); step 3 keeps 1
  bool run_step1 = true, run_step3 = true;
  int workers = 1;
  ParallelFor parallel;  // null: everything on the calling thread
  std::function<void(const PruneEvent&)> on_event;
  // Polled between removals; returning true stops the pruning (the model so far is returned).
  std::function<bool()> cancelled;
};

struct PruneResult {
  Model model;
  std::vector<PruneEvent> events;
  std::vector<std::vector<int>> kept;  // per stage: the kept filters in the starting model's numbering
  double relative_lambda = 0.0;        // the readout's ridge penalty, chosen by cross-validation at the start
};

// Deterministic: the same model, data and options give the same bytes for any number of workers (every sum over
// images is reduced in image order). A loop over a PruneRun, polling options.cancelled before each unit of work.
Result<PruneResult> prune_model(const Model& model, const PruneData& data, const PruneOptions& options);

enum class PrunePhase { step1, step3, finished };

struct PruneProgress {
  PrunePhase phase = PrunePhase::finished;
  int stages = 0;
  int step1_stage = -1;  // the stage step 1 works on next (stages - 1 down to 0)
  bool step3_started = false;
  int step3_removals = 0;
  int candidates = 0;          // step 3: filters that may still go
  int candidates_checked = 0;  // of which the change their removal makes is up to date (the rest are estimates)
};

// The same pruning as prune_model, one unit of work per advance(): a stage of step 1, step 3's start (a pass over
// the fitting images), one step 3 candidate evaluated, or one step 3 removal. For a caller that must stay
// responsive between units (the page's worker reports each one and checks for pause or cancel); running advance()
// until done() gives exactly prune_model's result. options.cancelled is not polled here (the caller stops calling).
class PruneRun {
 public:
  // Validates the inputs and does the first pass (the start event). `data` is kept for the run's lifetime.
  static Result<PruneRun> create(const Model& model, std::shared_ptr<const PruneData> data, PruneOptions options);
  ~PruneRun();
  PruneRun(PruneRun&&) noexcept;
  PruneRun& operator=(PruneRun&&) noexcept;

  Status advance();  // nothing once done(); an error ends the run (done() is then true)
  bool done() const;
  PruneProgress progress() const;
  const Model& model() const;  // the model so far (an ordinary executable Model)
  const std::vector<PruneEvent>& events() const;
  PruneResult result() const;

 private:
  struct Impl;
  explicit PruneRun(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The model's prediction on each input (its single output), in double, on `workers` workers.
Result<std::vector<double>> predict_all(const Model& model, const std::vector<Tensor>& inputs,
                                        const PruneOptions& options);

// The features a readout sees, one row per input: for a dense readout the flattened last-stage output (H*W*C),
// for a factorised one the map pooled with the readout's spatial weights (C). What `fit` regresses on.
struct ReadoutFeatures {
  int rows = 0, cols = 0;
  std::vector<double> values;  // (rows, cols)
};
Result<ReadoutFeatures> readout_features(const Model& model, const PrunableLayout& layout,
                                         const std::vector<Tensor>& inputs, const PruneOptions& options);

// Replaces the readout of `model` with a dense one-output layer on the flattened last-stage map: weights (H*W*C)
// in (H, W, C) order (empty: zeros) and a bias. The trunk is kept; output_names becomes {name}.
Result<Model> with_dense_readout(const Model& model, const std::vector<double>& weights, double bias,
                                 const std::string& name);

}  // namespace cortexlens
