#include "cortexlens/perturbation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "cortexlens/forward.hpp"
#include "cortexlens/synthesis.hpp"

namespace cortexlens {

namespace {

std::string range_text(int lo, int hi) { return std::to_string(lo) + ".." + std::to_string(hi); }

Status check_options(const Model& model, const RgbImage& image, const PerturbOptions& o) {
  if (model.layers.empty()) return Status::error("model '" + model.name + "' has no layers");
  if (model.input.c != 3)
    return Status::error("the perturbation needs an RGB input (H, W, 3); model '" + model.name + "' takes " +
                         std::to_string(model.input.c) + " channels");
  if (image.width != model.input.w || image.height != model.input.h ||
      image.pixels.size() != static_cast<std::size_t>(image.width) * image.height * 3)
    return Status::error("image is " + std::to_string(image.width) + "x" + std::to_string(image.height) + " with " +
                         std::to_string(image.pixels.size()) + " bytes; model '" + model.name + "' expects " +
                         std::to_string(model.input.w) + "x" + std::to_string(model.input.h) + " RGB (" +
                         std::to_string(model.input.size()) + " bytes)");
  CL_RETURN_IF_ERROR(check_selector(model, OutputSelector::output(o.output)));
  if (o.epsilon < 1 || o.epsilon > PerturbLimits::max_epsilon)
    return Status::error("epsilon " + std::to_string(o.epsilon) + " out of range: expected " +
                         range_text(1, PerturbLimits::max_epsilon) + " pixel levels");
  if (o.steps < 1 || o.steps > PerturbLimits::max_steps)
    return Status::error("steps " + std::to_string(o.steps) + " out of range: expected " +
                         range_text(1, PerturbLimits::max_steps));
  if (o.step_size < 1 || o.step_size > o.epsilon)
    return Status::error("step size " + std::to_string(o.step_size) + " out of range: expected " +
                         range_text(1, o.epsilon) + " pixel levels (at most epsilon)");
  if (!std::isfinite(o.response_spread) || !(o.response_spread > 0.0f))
    return Status::error("response spread " + std::to_string(o.response_spread) + ": expected a finite value > 0");
  const KeepOthers& k = o.keep_others;
  if (!k.model) return Status::ok();
  if (k.model->layers.empty()) return Status::error("keep-others model '" + k.model->name + "' has no layers");
  if (k.model->input != model.input)
    return Status::error("keep-others model '" + k.model->name + "' takes (" + std::to_string(k.model->input.h) + "," +
                         std::to_string(k.model->input.w) + "," + std::to_string(k.model->input.c) + "), model '" +
                         model.name + "' takes (" + std::to_string(model.input.h) + "," +
                         std::to_string(model.input.w) + "," + std::to_string(model.input.c) + ")");
  if (!std::isfinite(k.penalty) || k.penalty < 0.0f || k.penalty > PerturbLimits::max_penalty)
    return Status::error("penalty " + std::to_string(k.penalty) + " out of range: expected 0.." +
                         std::to_string(static_cast<int>(PerturbLimits::max_penalty)));
  const int outputs = static_cast<int>(k.model->layers.back().out.size());
  if (!k.spread.empty() && static_cast<int>(k.spread.size()) != outputs)
    return Status::error("keep-others: " + std::to_string(k.spread.size()) + " spreads given, model '" + k.model->name +
                         "' has " + std::to_string(outputs) + " outputs");
  for (std::size_t j = 0; j < k.spread.size(); ++j)
    if (!std::isfinite(k.spread[j]) || !(k.spread[j] > 0.0f))
      return Status::error("keep-others: spread of output " + std::to_string(j) + " is " + std::to_string(k.spread[j]) +
                           ", expected a finite value > 0");
  if (k.exclude < -1 || k.exclude >= outputs)
    return Status::error("keep-others: excluded output " + std::to_string(k.exclude) + " out of range: expected -1.." +
                         std::to_string(outputs - 1));
  if (outputs - (k.exclude >= 0 ? 1 : 0) < 1)
    return Status::error("keep-others model '" + k.model->name + "' has no other output to keep");
  return Status::ok();
}

}  // namespace

Perturbation::Perturbation(const Model& model, const RgbImage& image, const PerturbOptions& options)
    : model_(model), options_(options), original_(image), current_(image), best_(image), input_(model.input) {}

Result<std::unique_ptr<Perturbation>> Perturbation::create(const Model& model, const RgbImage& image,
                                                           const PerturbOptions& options) {
  CL_RETURN_IF_ERROR(check_options(model, image, options));
  std::unique_ptr<Perturbation> p(new Perturbation(model, image, options));
  const int eps = options.epsilon;
  const std::size_t n = image.pixels.size();
  p->low_.resize(n);
  p->high_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    p->low_[i] = static_cast<std::uint8_t>(std::max(0, image.pixels[i] - eps));
    p->high_[i] = static_cast<std::uint8_t>(std::min(255, image.pixels[i] + eps));
  }
  p->gradient_.resize(n);
  // The reference points: the response and the other outputs at the original image.
  p->set_input(image.pixels);
  p->workspace_.run_forward(model, p->input_.data.data(), false);
  p->start_response_ = p->best_response_ = p->workspace_.outputs[options.output];
  p->best_objective_ = 0.0f;
  const KeepOthers& k = options.keep_others;
  p->best_others_change_ = p->current_others_change_ = k.model ? 0.0f : std::numeric_limits<float>::quiet_NaN();
  if (k.model) {
    p->others_gradient_.resize(n);
    p->others_workspace_.run_forward(*k.model, p->input_.data.data(), false);
    p->others_start_ = p->others_workspace_.outputs;
  }
  if (options.seed != 0) {
    Pcg32 rng(options.seed);
    for (std::size_t i = 0; i < n; ++i)
      p->current_.pixels[i] = static_cast<std::uint8_t>(p->low_[i] + rng.below(p->high_[i] - p->low_[i] + 1));
  }
  p->evaluate_current();
  return p;
}

void Perturbation::set_input(const std::vector<std::uint8_t>& pixels) {
  // recentre()'s arithmetic, so the model sees exactly what it would see reading the 8-bit image from a file.
  for (std::size_t i = 0; i < pixels.size(); ++i) input_.data[i] = static_cast<float>(pixels[i]) - kChannelMeans[i % 3];
}

void Perturbation::evaluate_current() {
  set_input(current_.pixels);
  const float sign = options_.minimize ? -1.0f : 1.0f;
  const float value = input_gradient_unchecked(model_, input_.data.data(), OutputSelector::output(options_.output),
                                               gradient_.data(), workspace_);
  const float scale = sign / options_.response_spread;
  float objective = scale * (value - start_response_);
  for (float& g : gradient_) g *= scale;
  const KeepOthers& k = options_.keep_others;
  if (k.model) {
    const int outputs = static_cast<int>(others_start_.size());
    const int kept = outputs - (k.exclude >= 0 ? 1 : 0);
    double squares = 0.0;
    input_vjp_unchecked(
        *k.model, input_.data.data(),
        [&](const std::vector<float>& g, float* w) {
          for (int j = 0; j < outputs; ++j) {
            if (j == k.exclude) continue;
            const float spread = k.spread.empty() ? 1.0f : k.spread[j];
            const float d = (g[j] - others_start_[j]) / spread;
            squares += static_cast<double>(d) * d;
            // d/dg_j of -penalty * mean d^2
            w[j] = -k.penalty * 2.0f * d / (spread * static_cast<float>(kept));
          }
        },
        others_gradient_.data(), others_workspace_);
    objective -= k.penalty * static_cast<float>(squares / kept);
    current_others_change_ = static_cast<float>(std::sqrt(squares / kept));
    for (std::size_t i = 0; i < gradient_.size(); ++i) gradient_[i] += others_gradient_[i];
  }
  trace_.push_back(value);
  if (objective > best_objective_) {
    best_objective_ = objective;
    best_response_ = value;
    best_others_change_ = current_others_change_;
    best_ = current_;
  }
}

int Perturbation::advance(int count) {
  int ran = 0;
  const int step_size = options_.step_size;
  for (; ran < count && !done_; ++ran) {
    bool changed = false;
    std::vector<std::uint8_t>& x = current_.pixels;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const int move = gradient_[i] > 0.0f ? step_size : gradient_[i] < 0.0f ? -step_size : 0;
      const int next = std::min<int>(std::max<int>(x[i] + move, low_[i]), high_[i]);
      changed |= next != x[i];
      x[i] = static_cast<std::uint8_t>(next);
    }
    if (!changed) {
      done_ = true;  // a fixed point: every later step would be this one again
      break;
    }
    ++step_;
    evaluate_current();
    if (step_ >= options_.steps) done_ = true;
  }
  return ran;
}

Result<PerturbResult> perturb(const Model& model, const RgbImage& image, const PerturbOptions& options,
                              const PerturbCallback& progress, int report_every) {
  auto created = Perturbation::create(model, image, options);
  if (!created) return created.status();
  Perturbation& run = *created.value();
  PerturbResult result;
  report_every = std::max(1, report_every);
  while (!run.done()) {
    run.advance(report_every);
    if (progress && !progress({run.step(), run.steps(), run.best_response()})) {
      result.cancelled = true;
      break;
    }
  }
  result.image = run.best();
  result.start_response = run.start_response();
  result.response = run.best_response();
  result.objective = run.best_objective();
  result.others_change = run.best_others_change();
  result.steps_done = run.step();
  result.trace = run.trace();
  return result;
}

}  // namespace cortexlens
