// The smallest change: an 8-bit image that differs from a given one by at most epsilon pixel levels in every
// channel of every pixel (an L-infinity ball) and raises (or lowers) a model's output as far as projected gradient
// ascent can take it (Madry et al. 2018's PGD, with sign steps).
//
// Every iterate is an exact 8-bit image: a step moves each channel value by `step_size` levels in the direction of
// its gradient's sign, then clamps it to [original - epsilon, original + epsilon] and to 0..255. So the model is
// only ever evaluated on images that a PNG can hold, the best iterate is chosen by responses measured on exactly
// those pixels, and writing the result to a file and reading it back gives the same numbers (no float leftovers).
// The original image itself is the first candidate: the result never moves the response the wrong way.
//
// Option "keep the others": a second model (the 100-filter shared model of the paper, 219 outputs) whose outputs
// should stay as they were. The objective becomes
//     J(x) = s * (f(x) - f(x0)) / spread_f  -  penalty * mean_j ((g_j(x) - g_j(x0)) / spread_j)^2
// over the shared model's outputs j other than `exclude` (the chosen neuron's own), with s = +1 to raise and -1 to
// lower, and spreads in the outputs' own units (the page and CLI use the 10th-90th percentile range of each
// output's responses to the reference natural images), so the penalty weight is dimensionless: at weight 1, moving
// the chosen neuron by one spread is worth as much as moving every other neuron by one spread. Its gradient needs
// one vector-Jacobian product of the shared model per step (input_vjp_unchecked).
//
// Deterministic: no random numbers unless a seed asks for a random start (our PCG32), and the same sums in the same
// order on every target.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "cortexlens/backward.hpp"
#include "cortexlens/image.hpp"
#include "cortexlens/model.hpp"

namespace cortexlens {

struct PerturbLimits {
  static constexpr int max_epsilon = 16;  // pixel levels; beyond this the change is no longer small
  static constexpr int max_steps = 10000;
  static constexpr float max_penalty = 1e6f;
};

struct KeepOthers {
  const Model* model = nullptr;  // none: no penalty. Must take the same input shape and outlive the run.
  float penalty = 0.0f;          // weight, 0..PerturbLimits::max_penalty
  std::vector<float> spread;     // per output of `model`, each finite and > 0; empty: 1 for all (raw units)
  int exclude = -1;              // the output left out of the penalty (the chosen neuron's own), -1 for none
};

struct PerturbOptions {
  int epsilon = 4;  // the L-infinity budget, 1..PerturbLimits::max_epsilon pixel levels
  bool minimize = false;
  int steps = 100;               // gradient steps, 1..PerturbLimits::max_steps
  int step_size = 1;             // pixel levels per step, 1..epsilon
  std::uint64_t seed = 0;        // 0: start at the original image; otherwise at a random 8-bit image inside the ball
  int output = 0;                // which output of the model
  float response_spread = 1.0f;  // the output's spread (finite, > 0): the unit the objective measures its change in
  KeepOthers keep_others;
};

// A run that advances in chunks, so that the page's worker can report progress and drop a stale run between them.
class Perturbation {
 public:
  // The model (and keep_others.model) must outlive the run. Refuses: a model whose input is not (H, W, 3) or an
  // image of another size, an output out of range, options out of their ranges, a keep-others model with another
  // input shape, a spread list of the wrong length or with a value that is not finite and > 0, `exclude` out of
  // range.
  static Result<std::unique_ptr<Perturbation>> create(const Model& model, const RgbImage& image,
                                                      const PerturbOptions& options);

  // Runs up to `count` more steps (never past options.steps); returns how many ran. A run whose step changes no
  // pixel has reached a fixed point (every later step would repeat it) and is done early.
  int advance(int count);

  int step() const { return step_; }
  int steps() const { return options_.steps; }
  bool done() const { return done_; }
  const PerturbOptions& options() const { return options_; }

  const RgbImage& original() const { return original_; }
  const RgbImage& current() const { return current_; }
  const RgbImage& best() const { return best_; }  // the best 8-bit iterate so far (the original before any step)

  // Measured on the 8-bit images, by the same float forward pass the gradient uses.
  float start_response() const { return start_response_; }
  float best_response() const { return best_response_; }
  float best_objective() const { return best_objective_; }
  // Root mean square over the penalized outputs of (g_j(best) - g_j(original)) / spread_j; NaN without keep-others.
  float best_others_change() const { return best_others_change_; }
  // The chosen output's response at each evaluated iterate: the start, then after each step.
  const std::vector<float>& trace() const { return trace_; }

 private:
  Perturbation(const Model& model, const RgbImage& image, const PerturbOptions& options);
  void set_input(const std::vector<std::uint8_t>& pixels);
  // The response and objective of current_ (and its gradient into gradient_); offers it as the best.
  void evaluate_current();

  const Model& model_;
  PerturbOptions options_;
  RgbImage original_, current_, best_;
  std::vector<std::uint8_t> low_, high_;  // the ball intersected with 0..255, per channel value
  Tensor input_;                          // current_ recentred
  std::vector<float> gradient_, others_gradient_;
  std::vector<float> others_start_;  // g(original)
  GradientWorkspace workspace_, others_workspace_;
  int step_ = 0;
  bool done_ = false;
  float start_response_ = 0.0f, best_response_ = 0.0f, best_objective_ = 0.0f, best_others_change_ = 0.0f;
  float current_others_change_ = 0.0f;
  std::vector<float> trace_;
};

struct PerturbProgress {
  int step = 0, steps = 0;
  float best_response = 0.0f;
};
// Return false to stop early (the best so far is kept).
using PerturbCallback = std::function<bool(const PerturbProgress&)>;

struct PerturbResult {
  RgbImage image;  // the best iterate, an exact 8-bit image within epsilon of the original
  float start_response = 0.0f, response = 0.0f, objective = 0.0f, others_change = 0.0f;
  int steps_done = 0;
  bool cancelled = false;
  std::vector<float> trace;
};

// A whole run, calling `progress` every `report_every` steps.
Result<PerturbResult> perturb(const Model& model, const RgbImage& image, const PerturbOptions& options,
                              const PerturbCallback& progress = {}, int report_every = 10);

}  // namespace cortexlens
