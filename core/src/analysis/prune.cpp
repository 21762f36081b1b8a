// Pruning (prune.hpp): layout, filter removal, the two pruning steps and the readout refits.
#include "cortexlens/prune.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <set>
#include <string>

#include <Eigen/Dense>

#include "cortexlens/forward.hpp"
#include "cortexlens/regression.hpp"

namespace cortexlens {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Images per unit of parallel work. Sums over images are formed per chunk and the chunks added in order, so the
// result does not depend on how many workers ran them.
constexpr std::size_t kChunk = 25;

bool is_pointwise(const Layer& l) {
  return l.kind == LayerKind::conv2d && l.kernel_h == 1 && l.kernel_w == 1 && l.stride_h == 1 && l.stride_w == 1 &&
         l.pad.top + l.pad.bottom + l.pad.left + l.pad.right == 0;
}

std::string base_name(const std::string& name) { return name.substr(0, name.find('/')); }

Status run_parallel(const PruneOptions& options, std::size_t count,
                    const std::function<Status(int worker, std::size_t i)>& job) {
  if (options.parallel && options.workers > 1) return options.parallel(count, job);
  for (std::size_t i = 0; i < count; ++i) CL_RETURN_IF_ERROR(job(0, i));
  return Status::ok();
}

int worker_count(const PruneOptions& options) { return options.parallel ? std::max(1, options.workers) : 1; }

// Runs `model` over `inputs` (chunk by chunk, one runner per worker) and hands each image's runner to `visit`
// after its pass, for it to read layer outputs.
Status for_each_pass(const Model& model, const std::vector<Tensor>& inputs, const PruneOptions& options,
                     const std::function<Status(std::size_t image, const ForwardRunner& runner)>& visit,
                     std::size_t chunk_size = kChunk) {
  std::vector<std::unique_ptr<ForwardRunner>> runners(static_cast<std::size_t>(worker_count(options)));
  const std::size_t chunks = (inputs.size() + chunk_size - 1) / chunk_size;
  return run_parallel(options, chunks, [&](int worker, std::size_t chunk) -> Status {
    auto& runner = runners[static_cast<std::size_t>(worker)];
    if (!runner) runner = std::make_unique<ForwardRunner>(model);
    for (std::size_t i = chunk * chunk_size; i < std::min(inputs.size(), (chunk + 1) * chunk_size); ++i) {
      auto out = runner->run(inputs[i]);
      if (!out) return out.status().with_context("image " + std::to_string(i) + ": ");
      CL_RETURN_IF_ERROR(visit(i, *runner));
    }
    return Status::ok();
  });
}

// Copies a layer output (strided plan buffer) into a dense (H, W, C) tensor.
Tensor dense_copy(const ForwardRunner::LayerOutput& out) {
  Tensor t(out.shape);
  for (int y = 0; y < out.shape.h; ++y)
    for (int x = 0; x < out.shape.w; ++x) {
      const float* p = out.data + y * out.row_stride + x * out.channel_stride;
      std::copy(p, p + out.shape.c, &t.at(y, x, 0));
    }
  return t;
}

// The features the readout sees, from the last stage's output of one image.
void features_of(const Model& model, const PrunableLayout& layout, const ForwardRunner::LayerOutput& f, double* row) {
  const Shape3 s = f.shape;
  if (layout.readout == ReadoutKind::dense) {
    std::size_t k = 0;
    for (int y = 0; y < s.h; ++y)
      for (int x = 0; x < s.w; ++x)
        for (int c = 0; c < s.c; ++c) row[k++] = f.data[y * f.row_stride + x * f.channel_stride + c];
    return;
  }
  const std::vector<float>& pool = model.layers[static_cast<std::size_t>(layout.readout_layer) + 1].weights;
  std::fill(row, row + s.c, 0.0);
  for (int y = 0; y < s.h; ++y)
    for (int x = 0; x < s.w; ++x) {
      const double weight = pool[static_cast<std::size_t>(y) * s.w + x];
      const float* p = f.data + y * f.row_stride + x * f.channel_stride;
      for (int c = 0; c < s.c; ++c) row[c] += weight * p[c];
    }
}

int readout_cols(const Model& model, const PrunableLayout& layout) {
  const Shape3 s = model.layers[static_cast<std::size_t>(layout.filter_layers.back())].out;
  return layout.readout == ReadoutKind::dense ? static_cast<int>(s.size()) : s.c;
}

// The readout's current linear form on its features: prediction = intercept + features . weights.
LinearFit current_readout(const Model& model, const PrunableLayout& layout) {
  LinearFit fit;
  const Layer& first = model.layers[static_cast<std::size_t>(layout.readout_layer)];
  fit.weights.assign(first.weights.begin(), first.weights.end());
  fit.intercept = first.bias[0];
  if (layout.readout == ReadoutKind::factorised) {
    const Layer& pool = model.layers[static_cast<std::size_t>(layout.readout_layer) + 1];
    double pool_sum = 0;
    for (float w : pool.weights) pool_sum += w;
    fit.intercept = first.bias[0] * pool_sum + pool.bias[0];
  }
  return fit;
}

void set_readout(Model& model, const PrunableLayout& layout, const LinearFit& fit) {
  Layer& first = model.layers[static_cast<std::size_t>(layout.readout_layer)];
  for (std::size_t i = 0; i < first.weights.size(); ++i) first.weights[i] = static_cast<float>(fit.weights[i]);
  if (layout.readout == ReadoutKind::factorised) {
    first.bias[0] = 0.0f;
    model.layers[static_cast<std::size_t>(layout.readout_layer) + 1].bias[0] = static_cast<float>(fit.intercept);
  } else {
    first.bias[0] = static_cast<float>(fit.intercept);
  }
}

// Columns of `x` whose feature belongs to a kept channel (dense: column k is channel k % C).
MatrixD select_channels(const MatrixD& x, const PrunableLayout& layout, int channels, const std::vector<int>& kept) {
  std::vector<int> cols;
  for (int k = 0; k < x.cols; ++k) {
    const int channel = layout.readout == ReadoutKind::dense ? k % channels : k;
    if (std::binary_search(kept.begin(), kept.end(), channel)) cols.push_back(k);
  }
  MatrixD out(x.rows, static_cast<int>(cols.size()));
  for (int r = 0; r < x.rows; ++r)
    for (std::size_t k = 0; k < cols.size(); ++k) out.at(r, static_cast<int>(k)) = x.at(r, cols[k]);
  return out;
}

double penalty_scale(const MatrixD& x) {
  double total = 0;
  for (int c = 0; c < x.cols; ++c) {
    double mean = 0;
    for (int r = 0; r < x.rows; ++r) mean += x.at(r, c);
    mean /= x.rows;
    for (int r = 0; r < x.rows; ++r) total += (x.at(r, c) - mean) * (x.at(r, c) - mean);
  }
  return std::max(total / std::max(x.cols, 1), 1e-300);
}

struct Refit {
  LinearFit fit;
  double fve = kNaN;
};

Result<Refit> refit_readout(const MatrixD& x, const std::vector<double>& targets, double relative_lambda) {
  auto fit = fit_ridge(x, targets, relative_lambda * penalty_scale(x));
  if (!fit) return fit.status().with_context("readout refit: ");
  Refit out;
  out.fve = fraction_variance_explained(targets, predict_linear(fit.value(), x));
  out.fit = std::move(fit).value();
  return out;
}

// Rebuilds the layer table `info` prints and .clm files keep, from the executable layers (BatchNormalization is
// folded in, so the counts are the executable ones).
void describe_layers(Model& model, const PrunableLayout& layout) {
  auto params = [](const Layer& l) {
    std::int64_t n = static_cast<std::int64_t>(l.weights.size());
    if (std::any_of(l.bias.begin(), l.bias.end(), [](float b) { return b != 0.0f; }))
      n += static_cast<std::int64_t>(l.bias.size());
    return n;
  };
  std::vector<SourceLayer> table;
  for (std::size_t s = 0; s < layout.filter_layers.size(); ++s) {
    const Layer& l = model.layers[static_cast<std::size_t>(layout.filter_layers[s])];
    std::int64_t n = params(l);
    if (s > 0) n += params(model.layers[static_cast<std::size_t>(layout.filter_layers[s]) - 1]);
    table.push_back({base_name(l.name), s == 0 ? "Conv2D" : "SeparableConv2D", l.out, n});
  }
  for (std::size_t i = static_cast<std::size_t>(layout.readout_layer); i < model.layers.size(); ++i) {
    const Layer& l = model.layers[i];
    const char* kind = l.kind == LayerKind::dense    ? "Dense"
                       : l.kind == LayerKind::conv2d ? "Conv2D"
                                                     : "DepthwiseConv2D";
    table.push_back({base_name(l.name), kind, l.out, params(l)});
  }
  model.source_layers = std::move(table);
}

}  // namespace

Result<PrunableLayout> prunable_layout(const Model& model) {
  const std::string where = "model '" + model.name + "': ";
  const auto& layers = model.layers;
  if (layers.empty() || layers[0].kind != LayerKind::conv2d)
    return Status::error(where + "expected a conv2d first layer (the compact models' architecture)");
  PrunableLayout layout;
  layout.filter_layers.push_back(0);
  std::size_t i = 1;
  while (i + 1 < layers.size() && layers[i].kind == LayerKind::depthwise_conv2d && is_pointwise(layers[i + 1])) {
    layout.filter_layers.push_back(static_cast<int>(i + 1));
    i += 2;
  }
  layout.readout_layer = static_cast<int>(i);
  const std::size_t rest = layers.size() - i;
  const Shape3 map = layers[i - 1].out;
  if (rest == 1 && layers[i].kind == LayerKind::dense && layers[i].out.c == 1 &&
      layers[i].activation == Activation::linear) {
    layout.readout = ReadoutKind::dense;
    return layout;
  }
  if (rest == 2 && is_pointwise(layers[i]) && layers[i].out.c == 1 && layers[i].activation == Activation::linear &&
      layers[i + 1].kind == LayerKind::depthwise_conv2d && layers[i + 1].kernel_h == map.h &&
      layers[i + 1].kernel_w == map.w && layers[i + 1].out.size() == 1 &&
      layers[i + 1].activation == Activation::linear) {
    layout.readout = ReadoutKind::factorised;
    return layout;
  }
  return Status::error(where + "after " + std::to_string(layout.filter_layers.size()) +
                       " stages, expected a one-output readout (a dense layer, or a 1x1 conv2d to one channel and a "
                       "pool over the whole map); found " +
                       std::to_string(rest) + " layers starting with '" + (rest ? layers[i].name : "") + "' with " +
                       std::to_string(rest ? layers[i].out.c : 0) +
                       " outputs (restrict a shared model to one output first)");
}

Result<Model> restrict_to_output(const Model& model, int output) {
  const std::string where = "model '" + model.name + "': ";
  const std::size_t n = model.layers.size();
  if (n < 3) return Status::error(where + "too few layers to restrict to one output");
  const Layer& mix = model.layers[n - 2];
  const Layer& pool = model.layers[n - 1];
  if (!is_pointwise(mix) || pool.kind != LayerKind::depthwise_conv2d || pool.kernel_h != mix.out.h ||
      pool.kernel_w != mix.out.w || pool.out.h != 1 || pool.out.w != 1)
    return Status::error(where +
                         "expected a shared model ending in a 1x1 conv2d (mixing) and a depthwise pool over "
                         "the whole map; found '" +
                         mix.name + "' (" + layer_kind_name(mix.kind) + ") and '" + pool.name + "' (" +
                         layer_kind_name(pool.kind) + ")");
  const int outputs = mix.out.c;
  if (output < 0 || output >= outputs)
    return Status::error(where + "output " + std::to_string(output) + " does not exist, expected 0.." +
                         std::to_string(outputs - 1));
  Model out = model;
  Layer& m = out.layers[n - 2];
  Layer& p = out.layers[n - 1];
  std::vector<float> weights(static_cast<std::size_t>(m.in.c));
  for (int c = 0; c < m.in.c; ++c)
    weights[static_cast<std::size_t>(c)] = mix.weights[static_cast<std::size_t>(c) * outputs + output];
  m.weights = std::move(weights);
  m.bias = {mix.bias[static_cast<std::size_t>(output)]};
  m.out.c = 1;
  std::vector<float> pool_weights;
  for (std::size_t k = static_cast<std::size_t>(output); k < pool.weights.size();
       k += static_cast<std::size_t>(outputs))
    pool_weights.push_back(pool.weights[k]);
  p.weights = std::move(pool_weights);
  p.bias = {pool.bias[static_cast<std::size_t>(output)]};
  p.in.c = p.out.c = 1;
  m.int8.reset();
  p.int8.reset();
  for (auto& l : out.layers) l.int8.reset();
  out.output_names = {model.output_names[static_cast<std::size_t>(output)]};
  out.name = model.name + "_" + out.output_names[0];
  auto layout = prunable_layout(out);
  if (!layout) return layout.status();
  describe_layers(out, layout.value());
  CL_RETURN_IF_ERROR(validate_model(out));
  return out;
}

std::vector<int> filters_per_stage(const Model& model, const PrunableLayout& layout) {
  std::vector<int> counts;
  for (int l : layout.filter_layers) counts.push_back(model.layers[static_cast<std::size_t>(l)].out.c);
  return counts;
}

std::int64_t parameter_count(const Model& model) {
  std::int64_t total = 0;
  for (const auto& l : model.layers) {
    total += static_cast<std::int64_t>(l.weights.size());
    if (std::any_of(l.bias.begin(), l.bias.end(), [](float b) { return b != 0.0f; }))
      total += static_cast<std::int64_t>(l.bias.size());
  }
  return total;
}

Result<Model> remove_filters(const Model& model, int stage, std::vector<int> filters) {
  auto layout_or = prunable_layout(model);
  if (!layout_or) return layout_or.status();
  const PrunableLayout& layout = layout_or.value();
  const int stages = static_cast<int>(layout.filter_layers.size());
  if (stage < 0 || stage >= stages)
    return Status::error("remove_filters: stage " + std::to_string(stage) + ", expected 0.." +
                         std::to_string(stages - 1));
  const std::size_t li = static_cast<std::size_t>(layout.filter_layers[static_cast<std::size_t>(stage)]);
  const int count = model.layers[li].out.c;
  std::sort(filters.begin(), filters.end());
  filters.erase(std::unique(filters.begin(), filters.end()), filters.end());
  for (int f : filters)
    if (f < 0 || f >= count)
      return Status::error("remove_filters: stage " + std::to_string(stage) + " has filters 0.." +
                           std::to_string(count - 1) + ", not " + std::to_string(f));
  if (static_cast<int>(filters.size()) >= count)
    return Status::error("remove_filters: removing " + std::to_string(filters.size()) + " of stage " +
                         std::to_string(stage) + "'s " + std::to_string(count) +
                         " filters, expected at least one kept");
  if (filters.empty()) return model;
  std::vector<char> removed(static_cast<std::size_t>(count), 0);
  for (int f : filters) removed[static_cast<std::size_t>(f)] = 1;
  const int kept = count - static_cast<int>(filters.size());

  Model out = model;
  for (auto& l : out.layers) l.int8.reset();
  // The producing layer: drop output channels (weights (..., out) with out fastest).
  {
    Layer& l = out.layers[li];
    std::vector<float> w, b;
    for (std::size_t k = 0; k < l.weights.size(); ++k)
      if (!removed[k % static_cast<std::size_t>(count)]) w.push_back(l.weights[k]);
    for (int c = 0; c < count; ++c)
      if (!removed[static_cast<std::size_t>(c)]) b.push_back(l.bias[static_cast<std::size_t>(c)]);
    l.weights = std::move(w);
    l.bias = std::move(b);
    l.out.c = kept;
  }
  // The consumers: a depthwise channel (channel fastest) and a 1x1 conv's input rows, or the readout's rows.
  auto drop_rows = [&](Layer& l, int channels_in_row_index) {
    // weights viewed as (rows, out.c) with row r reading channel r % channels_in_row_index
    const std::size_t cols = static_cast<std::size_t>(l.out.c);
    std::vector<float> w;
    for (std::size_t r = 0; r < l.weights.size() / cols; ++r)
      if (!removed[r % static_cast<std::size_t>(channels_in_row_index)])
        w.insert(w.end(), l.weights.begin() + static_cast<std::ptrdiff_t>(r * cols),
                 l.weights.begin() + static_cast<std::ptrdiff_t>((r + 1) * cols));
    l.weights = std::move(w);
    l.in.c = kept;
  };
  if (stage + 1 < stages) {
    Layer& dw = out.layers[li + 1];
    std::vector<float> w, b;
    for (std::size_t k = 0; k < dw.weights.size(); ++k)
      if (!removed[k % static_cast<std::size_t>(count)]) w.push_back(dw.weights[k]);
    for (int c = 0; c < count; ++c)
      if (!removed[static_cast<std::size_t>(c)]) b.push_back(dw.bias[static_cast<std::size_t>(c)]);
    dw.weights = std::move(w);
    dw.bias = std::move(b);
    dw.in.c = dw.out.c = kept;
    drop_rows(out.layers[li + 2], count);
  } else {
    drop_rows(out.layers[li + 1], count);
  }
  describe_layers(out, layout);
  CL_RETURN_IF_ERROR(validate_model(out).with_context("remove_filters: "));
  return out;
}

Result<std::vector<double>> predict_all(const Model& model, const std::vector<Tensor>& inputs,
                                        const PruneOptions& options) {
  if (model.output_count() != 1)
    return Status::error("model '" + model.name + "' has " + std::to_string(model.output_count()) +
                         " outputs, expected one");
  std::vector<double> out(inputs.size());
  const std::size_t last = model.layers.size() - 1;
  CL_RETURN_IF_ERROR(for_each_pass(model, inputs, options, [&](std::size_t i, const ForwardRunner& runner) {
    out[i] = runner.layer_output(last).data[0];
    return Status::ok();
  }));
  return out;
}

Result<ReadoutFeatures> readout_features(const Model& model, const PrunableLayout& layout,
                                         const std::vector<Tensor>& inputs, const PruneOptions& options) {
  ReadoutFeatures f;
  f.rows = static_cast<int>(inputs.size());
  f.cols = readout_cols(model, layout);
  f.values.resize(static_cast<std::size_t>(f.rows) * f.cols);
  const std::size_t last_stage = static_cast<std::size_t>(layout.filter_layers.back());
  CL_RETURN_IF_ERROR(for_each_pass(model, inputs, options, [&](std::size_t i, const ForwardRunner& runner) {
    features_of(model, layout, runner.layer_output(last_stage), &f.values[i * static_cast<std::size_t>(f.cols)]);
    return Status::ok();
  }));
  return f;
}

Result<Model> with_dense_readout(const Model& model, const std::vector<double>& weights, double bias,
                                 const std::string& name) {
  auto layout = prunable_layout(model);
  std::size_t trunk = 0;
  if (layout) {
    trunk = static_cast<std::size_t>(layout->readout_layer);
  } else {
    // A shared model (many outputs) has the same trunk; find where its separable stages end.
    trunk = 1;
    while (trunk + 1 < model.layers.size() && model.layers[trunk].kind == LayerKind::depthwise_conv2d &&
           is_pointwise(model.layers[trunk + 1]))
      trunk += 2;
  }
  const Shape3 map = model.layers[trunk - 1].out;
  if (!weights.empty() && weights.size() != map.size())
    return Status::error("dense readout: " + std::to_string(weights.size()) + " weights for a " +
                         std::to_string(map.h) + "x" + std::to_string(map.w) + "x" + std::to_string(map.c) +
                         " map, expected " + std::to_string(map.size()));
  Model out = model;
  out.layers.resize(trunk);
  for (auto& l : out.layers) l.int8.reset();
  Layer dense;
  dense.kind = LayerKind::dense;
  dense.name = "readout";
  dense.in = map;
  dense.out = {1, 1, 1};
  dense.weights.assign(weights.begin(), weights.end());
  dense.weights.resize(map.size(), 0.0f);
  dense.bias = {static_cast<float>(bias)};
  out.layers.push_back(std::move(dense));
  out.output_names = {name};
  out.name = name;
  auto new_layout = prunable_layout(out);
  if (!new_layout) return new_layout.status();
  describe_layers(out, new_layout.value());
  CL_RETURN_IF_ERROR(validate_model(out));
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The pruning run.

namespace {

class Pruner {
 public:
  Pruner(std::shared_ptr<const PruneData> data, PruneOptions options)
      : data_holder_(std::move(data)), data_(*data_holder_), options_(std::move(options)) {}

  Status start(const Model& start) {
    if (data_.fit_inputs.size() < 10 ||
        (!data_.fit_targets.empty() && data_.fit_targets.size() != data_.fit_inputs.size()))
      return Status::error("prune: " + std::to_string(data_.fit_inputs.size()) + " fitting images with " +
                           std::to_string(data_.fit_targets.size()) +
                           " targets, expected at least 10 images and one target each (or none)");
    if (data_.eval_inputs.size() != data_.eval_responses.size())
      return Status::error("prune: " + std::to_string(data_.eval_inputs.size()) + " held-out images with " +
                           std::to_string(data_.eval_responses.size()) + " responses, expected one each");
    if (!(options_.fve_threshold <= 1.0) || !std::isfinite(options_.fve_threshold))
      return Status::error("prune: fraction of variance explained threshold " + std::to_string(options_.fve_threshold) +
                           ", expected a number <= 1");
    if (!std::isfinite(options_.delta_threshold) || options_.delta_threshold > 0)
      return Status::error("prune: step 3 threshold " + std::to_string(options_.delta_threshold) +
                           ", expected a number <= 0");
    auto layout = prunable_layout(start);
    if (!layout) return layout.status();
    layout_ = layout.value();
    model_ = start;
    for (int count : filters_per_stage(start, layout_)) {
      std::vector<int> ids(static_cast<std::size_t>(count));
      std::iota(ids.begin(), ids.end(), 0);
      kept_.push_back(ids);
    }

    // One pass gives the readout's features and every stage's statistics for step 1: pruning goes from the last
    // stage back, and a stage's statistics depend only on the stages before it, which are still untouched when
    // its turn comes.
    CL_RETURN_IF_ERROR(collect(options_.run_step1));
    const LinearFit start_fit = current_readout(model_, layout_);
    const std::vector<double> start_prediction = predict_linear(start_fit, features_);
    targets_ = data_.fit_targets.empty() ? start_prediction : data_.fit_targets;

    // The readout's penalty, chosen once by cross-validation on the starting model's features and kept (relative to
    // the features' scale) for every refit, so that all refits mean the same regularisation.
    auto cv = fit_ridge_cv(features_, targets_, 5);
    if (!cv) return cv.status().with_context("prune: choosing the readout's penalty: ");
    relative_lambda_ = default_relative_lambdas()[cv->chosen];
    CL_RETURN_IF_ERROR(emit(0, -1, {}, fraction_variance_explained(targets_, start_prediction)));
    step1_stage_ = options_.run_step1 ? static_cast<int>(layout_.filter_layers.size()) - 1 : -1;
    phase_ = step1_stage_ >= 0 ? PrunePhase::step1 : next_after_step1();
    return Status::ok();
  }

  // One unit of work of the phase the run is in (see PruneRun::advance).
  Status advance() {
    switch (phase_) {
      case PrunePhase::step1: {
        const Status status = step1_stage(step1_stage_);
        if (!status) return fail(status);
        if (--step1_stage_ < 0) phase_ = next_after_step1();
        return Status::ok();
      }
      case PrunePhase::step3: {
        const Status status = step3_started_ ? step3_iteration() : step3_start();
        if (!status) return fail(status);
        return Status::ok();
      }
      case PrunePhase::finished:
        return Status::ok();
    }
    return Status::ok();
  }

  PruneProgress progress() const {
    PruneProgress p;
    p.phase = phase_;
    p.stages = static_cast<int>(layout_.filter_layers.size());
    p.step1_stage = step1_stage_;
    p.step3_started = step3_started_;
    p.step3_removals = step3_removals_;
    p.candidates = static_cast<int>(candidates_.size());
    p.candidates_checked = static_cast<int>(
        std::count_if(candidates_.begin(), candidates_.end(), [](const Candidate& c) { return c.fresh; }));
    return p;
  }

  PruneResult result() const {
    PruneResult result;
    result.model = model_;
    result.events = events_;
    result.kept = kept_;
    result.relative_lambda = relative_lambda_;
    return result;
  }

  const Model& model() const { return model_; }
  const std::vector<PruneEvent>& events() const { return events_; }
  PrunePhase phase() const { return phase_; }

 private:
  Status fail(const Status& status) {
    phase_ = PrunePhase::finished;
    return status;
  }

  PrunePhase next_after_step1() {
    stage_stats_.clear();
    return options_.run_step3 ? PrunePhase::step3 : PrunePhase::finished;
  }

 private:
  // Step 1's view of stage s < last: the next stage's depthwise output D over all pixels of all fitting images
  // (columns: this stage's filters), as its Gram statistics, and each filter's variance across images summed over
  // pixels.
  struct StageStats {
    GramStatistics gram;
    std::vector<double> across;  // (filters)
  };

  // A pass over the fitting images with the current model: the readout's features (features_), and with
  // `stage_statistics` the statistics of every stage but the last.
  Status collect(bool stage_statistics) {
    const std::size_t stages = layout_.filter_layers.size();
    const std::size_t images = data_.fit_inputs.size();
    const int cols = readout_cols(model_, layout_);
    features_ = MatrixD(static_cast<int>(images), cols);
    const std::size_t last_stage = static_cast<std::size_t>(layout_.filter_layers.back());
    // Chunks of a fixed size, reduced in order: the sums do not depend on the number of workers. Larger chunks
    // than elsewhere, because each keeps per-pixel sums.
    constexpr std::size_t kStatsChunk = 100;
    const std::size_t chunks = (images + kStatsChunk - 1) / kStatsChunk;
    struct Partial {
      Eigen::MatrixXd gram, pixel_sums;  // (c, c), (pixels, c)
      Eigen::VectorXd sums;
    };
    const std::size_t with_stats = stage_statistics ? stages - 1 : 0;
    std::vector<std::vector<Partial>> partials(with_stats, std::vector<Partial>(chunks));
    std::vector<Shape3> shapes(with_stats);
    for (std::size_t s = 0; s < with_stats; ++s) {
      shapes[s] = model_.layers[static_cast<std::size_t>(layout_.filter_layers[s]) + 1].out;
      const Eigen::Index c = shapes[s].c, pixels = static_cast<Eigen::Index>(shapes[s].h) * shapes[s].w;
      for (auto& p : partials[s]) {
        p.gram = Eigen::MatrixXd::Zero(c, c);
        p.pixel_sums = Eigen::MatrixXd::Zero(pixels, c);
        p.sums = Eigen::VectorXd::Zero(c);
      }
    }
    CL_RETURN_IF_ERROR(for_each_pass(
        model_, data_.fit_inputs, options_,
        [&](std::size_t i, const ForwardRunner& r) {
          features_of(model_, layout_, r.layer_output(last_stage),
                      &features_.values[i * static_cast<std::size_t>(cols)]);
          for (std::size_t s = 0; s < with_stats; ++s) {
            const ForwardRunner::LayerOutput out =
                r.layer_output(static_cast<std::size_t>(layout_.filter_layers[s]) + 1);
            const Shape3 shape = shapes[s];
            Eigen::MatrixXf d(static_cast<Eigen::Index>(shape.h) * shape.w, shape.c);
            for (int y = 0; y < shape.h; ++y)
              for (int x = 0; x < shape.w; ++x) {
                const float* p = out.data + y * out.row_stride + x * out.channel_stride;
                for (int c = 0; c < shape.c; ++c) d(y * shape.w + x, c) = p[c];
              }
            Partial& part = partials[s][i / kStatsChunk];
            part.gram += (d.transpose() * d).cast<double>();
            part.sums += d.colwise().sum().transpose().cast<double>();
            part.pixel_sums += d.cast<double>();
          }
          return Status::ok();
        },
        kStatsChunk));
    if (stage_statistics) stage_stats_.assign(with_stats, StageStats());
    for (std::size_t s = 0; s < with_stats; ++s) {
      Partial total = partials[s][0];
      for (std::size_t c = 1; c < chunks; ++c) {
        total.gram += partials[s][c].gram;
        total.sums += partials[s][c].sums;
        total.pixel_sums += partials[s][c].pixel_sums;
      }
      partials[s].clear();
      const int count = shapes[s].c;
      StageStats& st = stage_stats_[s];
      st.gram.p = count;
      st.gram.n = static_cast<double>(images) * shapes[s].h * shapes[s].w;
      st.gram.gram.resize(static_cast<std::size_t>(count) * count);
      for (int a = 0; a < count; ++a)
        for (int b = 0; b < count; ++b) st.gram.gram[static_cast<std::size_t>(a) * count + b] = total.gram(a, b);
      st.gram.sums.assign(total.sums.data(), total.sums.data() + count);
      for (int c = 0; c < count; ++c)
        st.across.push_back(total.gram(c, c) - total.pixel_sums.col(c).squaredNorm() / static_cast<double>(images));
    }
    return Status::ok();
  }

  bool cancelled() const { return options_.cancelled && options_.cancelled(); }

  Status emit(int step, int stage, std::vector<int> original_filters, double fve) {
    PruneEvent e;
    e.step = step;
    e.stage = stage;
    e.filters = std::move(original_filters);
    e.filters_per_stage = filters_per_stage(model_, layout_);
    e.params = parameter_count(model_);
    e.fve = fve;
    e.heldout_r = kNaN;
    if (!data_.eval_inputs.empty()) {
      auto predicted = predict_all(model_, data_.eval_inputs, options_);
      if (!predicted) return predicted.status();
      e.heldout_r = correlation(predicted.value(), data_.eval_responses);
    }
    events_.push_back(e);
    if (options_.on_event) options_.on_event(e);
    return Status::ok();
  }

  // Removes filters (current indices) of a stage from the model and from the bookkeeping; returns their original
  // indices.
  Result<std::vector<int>> apply_removal(Model& model, int stage, const std::vector<int>& filters) {
    auto pruned = remove_filters(model, stage, filters);
    if (!pruned) return pruned.status();
    model = std::move(pruned).value();
    std::vector<int>& ids = kept_[static_cast<std::size_t>(stage)];
    std::vector<int> original, remaining;
    for (std::size_t k = 0; k < ids.size(); ++k)
      (std::find(filters.begin(), filters.end(), static_cast<int>(k)) != filters.end() ? original : remaining)
          .push_back(ids[k]);
    ids = remaining;
    return original;
  }

  // Refits the readout of model_ on features_ (which must be the current trunk's); returns the fraction of variance
  // explained.
  Result<double> refit_readout_on_features() {
    auto refit = refit_readout(features_, targets_, relative_lambda_);
    if (!refit) return refit.status();
    set_readout(model_, layout_, refit->fit);
    return refit->fve;
  }

  // The largest k in [0, max_k] with ok(k), assuming ok is true at 0 and stays false once false (nested refits
  // on fewer columns never explain more).
  static Result<int> largest_ok(int max_k, const std::function<Result<bool>(int)>& ok) {
    int lo = 0, hi = max_k;
    while (lo < hi) {
      const int mid = (lo + hi + 1) / 2;
      auto good = ok(mid);
      if (!good) return good.status();
      if (good.value())
        lo = mid;
      else
        hi = mid - 1;
    }
    return lo;
  }

  Status step1_stage(int s) {
    const bool last = s + 1 == static_cast<int>(layout_.filter_layers.size());
    const int count = model_.layers[static_cast<std::size_t>(layout_.filter_layers[static_cast<std::size_t>(s)])].out.c;
    const int max_k = std::max(0, count - std::max(1, options_.step1_min_filters));
    std::vector<int> order(static_cast<std::size_t>(count));  // ascending variance
    std::iota(order.begin(), order.end(), 0);
    std::vector<double> variance(static_cast<std::size_t>(count), 0.0);
    std::function<Result<bool>(int)> ok;
    std::vector<double> w;
    int q = 0;
    const std::size_t pw_layer = static_cast<std::size_t>(layout_.filter_layers[static_cast<std::size_t>(s)]) + 2;
    if (last) {
      // The last stage feeds the readout: rank filters by the spread of their contribution to the prediction.
      const LinearFit readout = current_readout(model_, layout_);
      const MatrixD& x = features_;
      const int step = layout_.readout == ReadoutKind::dense ? count : x.cols;
      for (int c = 0; c < count; ++c) {
        std::vector<double> contribution(static_cast<std::size_t>(x.rows), 0.0);
        for (int r = 0; r < x.rows; ++r)
          for (int k = c; k < x.cols; k += step)
            contribution[static_cast<std::size_t>(r)] += x.at(r, k) * readout.weights[static_cast<std::size_t>(k)];
        double mean = 0, ss = 0;
        for (double v : contribution) mean += v;
        mean /= x.rows;
        for (double v : contribution) ss += (v - mean) * (v - mean);
        variance[static_cast<std::size_t>(c)] = ss;
      }
      ok = [&](int k) -> Result<bool> {
        std::vector<int> kept(order.begin() + k, order.end());
        std::sort(kept.begin(), kept.end());
        auto refit = refit_readout(select_channels(features_, layout_, count, kept), targets_, relative_lambda_);
        if (!refit) return refit.status();
        return refit->fve >= options_.fve_threshold;
      };
    } else {
      // Refits of the next stage's pointwise output Y = D W from kept columns of D come from D's Gram matrix alone.
      const StageStats& st = stage_stats_[static_cast<std::size_t>(s)];
      const Layer& pw = model_.layers[pw_layer];
      q = pw.out.c;
      w.assign(pw.weights.begin(), pw.weights.end());
      // Variance across images summed over pixels, times the filter's outgoing weight norm (as the authors rank).
      for (int c = 0; c < count; ++c) {
        double norm = 0;
        for (int o = 0; o < q; ++o)
          norm += w[static_cast<std::size_t>(c) * q + o] * w[static_cast<std::size_t>(c) * q + o];
        variance[static_cast<std::size_t>(c)] = st.across[static_cast<std::size_t>(c)] * norm;
      }
      ok = [&](int k) -> Result<bool> {
        std::vector<int> kept(order.begin() + k, order.end());
        std::sort(kept.begin(), kept.end());
        auto refit = refit_from_subset(st.gram, w, q, kept);
        if (!refit) return refit.status();
        return refit->fve >= options_.fve_threshold;
      };
    }
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return variance[static_cast<std::size_t>(a)] < variance[static_cast<std::size_t>(b)];
    });
    auto k = largest_ok(max_k, ok);
    if (!k) return k.status();
    if (k.value() == 0) return Status::ok();
    std::vector<int> removed(order.begin(), order.begin() + k.value()), kept(order.begin() + k.value(), order.end());
    std::sort(removed.begin(), removed.end());
    std::sort(kept.begin(), kept.end());
    auto original = apply_removal(model_, s, removed);
    if (!original) return original.status();
    if (last) {
      // Dropping a last-stage filter drops its readout features: no pass needed.
      features_ = select_channels(features_, layout_, count, kept);
    } else {
      // The next stage's pointwise rows of the kept filters (in kept order, which the removal keeps) and the
      // intercepts into its bias; then the readout features of the changed trunk.
      auto refit = refit_from_subset(stage_stats_[static_cast<std::size_t>(s)].gram, w, q, kept);
      if (!refit) return refit.status();
      Layer& next = model_.layers[pw_layer];
      for (std::size_t i = 0; i < refit->weights.size(); ++i) next.weights[i] = static_cast<float>(refit->weights[i]);
      for (int o = 0; o < q; ++o)
        next.bias[static_cast<std::size_t>(o)] += static_cast<float>(refit->intercepts[static_cast<std::size_t>(o)]);
      CL_RETURN_IF_ERROR(collect(false));
    }
    auto fve = refit_readout_on_features();
    if (!fve) return fve.status();
    return emit(1, s, original.value(), fve.value());
  }

  // Step 3. For speed each candidate is run from a cache: for a filter of stage s < last, the next stage's
  // depthwise output on every fitting image (the candidate's removal is the zeroing of one pointwise row there);
  // for the last stage, the readout's features (the removal drops its columns).
  struct Cache {
    std::vector<std::vector<Tensor>> depthwise;  // (stages - 1) x images
    MatrixD features;
  };

  // One pass of the current model: the cache, and features_ (the same features).
  Result<Cache> build_cache() {
    Cache cache;
    const std::size_t stages = layout_.filter_layers.size();
    cache.depthwise.assign(stages - 1, std::vector<Tensor>(data_.fit_inputs.size()));
    const int cols = readout_cols(model_, layout_);
    features_ = MatrixD(static_cast<int>(data_.fit_inputs.size()), cols);
    const std::size_t last_stage = static_cast<std::size_t>(layout_.filter_layers.back());
    CL_RETURN_IF_ERROR(for_each_pass(model_, data_.fit_inputs, options_, [&](std::size_t i, const ForwardRunner& r) {
      features_of(model_, layout_, r.layer_output(last_stage), &features_.values[i * static_cast<std::size_t>(cols)]);
      for (std::size_t s = 0; s + 1 < stages; ++s)
        cache.depthwise[s][i] = dense_copy(r.layer_output(static_cast<std::size_t>(layout_.filter_layers[s]) + 1));
      return Status::ok();
    }));
    cache.features = features_;
    return cache;
  }

  // The fraction of variance explained after removing filter j of stage s (readout refitted).
  Result<double> candidate_fve(const Cache& cache, int s, int j) {
    const int stages = static_cast<int>(layout_.filter_layers.size());
    const int count = model_.layers[static_cast<std::size_t>(layout_.filter_layers[static_cast<std::size_t>(s)])].out.c;
    if (s + 1 == stages) {
      std::vector<int> kept;
      for (int c = 0; c < count; ++c)
        if (c != j) kept.push_back(c);
      auto refit = refit_readout(select_channels(cache.features, layout_, count, kept), targets_, relative_lambda_);
      if (!refit) return refit.status();
      return refit->fve;
    }
    // The tail from the next stage's pointwise layer to the last stage, with row j zeroed.
    const std::size_t first = static_cast<std::size_t>(layout_.filter_layers[static_cast<std::size_t>(s)]) + 2;
    const std::size_t last = static_cast<std::size_t>(layout_.filter_layers.back());
    Model tail;
    tail.name = "tail";
    tail.input = model_.layers[first].in;
    tail.layers.assign(model_.layers.begin() + static_cast<std::ptrdiff_t>(first),
                       model_.layers.begin() + static_cast<std::ptrdiff_t>(last) + 1);
    Layer& pw = tail.layers.front();
    for (int o = 0; o < pw.out.c; ++o) pw.weights[static_cast<std::size_t>(j) * pw.out.c + o] = 0.0f;
    MatrixD x(static_cast<int>(data_.fit_inputs.size()), readout_cols(model_, layout_));
    const std::size_t tail_last = tail.layers.size() - 1;
    CL_RETURN_IF_ERROR(for_each_pass(
        tail, cache.depthwise[static_cast<std::size_t>(s)], options_, [&](std::size_t i, const ForwardRunner& r) {
          features_of(model_, layout_, r.layer_output(tail_last), &x.values[i * static_cast<std::size_t>(x.cols)]);
          return Status::ok();
        }));
    auto refit = refit_readout(x, targets_, relative_lambda_);
    if (!refit) return refit.status();
    return refit->fve;
  }

  // Greedy removal with lazy re-evaluation: each candidate's delta is recomputed only when it comes to the top of
  // the ranking after a removal made it stale (the authors re-sort after each removal the same way).
  struct Candidate {
    int stage, original;  // original filter index, stable across removals
    double delta;
    bool fresh;
  };

  Status step3_start() {
    auto cache = build_cache();
    if (!cache) return cache.status();
    cache_ = std::move(cache).value();
    auto fve_now = refit_readout_on_features();
    if (!fve_now) return fve_now.status();
    current_fve_ = fve_now.value();
    candidates_.clear();
    for (std::size_t s = 0; s < kept_.size(); ++s)
      for (int id : kept_[s]) candidates_.push_back({static_cast<int>(s), id, 0.0, false});
    step3_started_ = true;
    return Status::ok();
  }

  // One turn of the greedy loop: re-rank; then either evaluate the top candidate if its estimate is stale, or
  // remove it (fresh and at least every other estimate) if its change passes the threshold, or finish.
  Status step3_iteration() {
    std::stable_sort(candidates_.begin(), candidates_.end(), [](const Candidate& a, const Candidate& b) {
      if (a.delta != b.delta) return a.delta > b.delta;
      return a.stage != b.stage ? a.stage < b.stage : a.original < b.original;
    });
    if (candidates_.empty()) {
      phase_ = PrunePhase::finished;
      return Status::ok();
    }
    Candidate& top = candidates_.front();
    if (!top.fresh) {
      const std::vector<int>& ids = kept_[static_cast<std::size_t>(top.stage)];
      top.fresh = true;
      if (ids.size() <= 1) {
        top.delta = -std::numeric_limits<double>::infinity();
        return Status::ok();
      }
      const int j = static_cast<int>(std::find(ids.begin(), ids.end(), top.original) - ids.begin());
      auto fve = candidate_fve(cache_, top.stage, j);
      if (!fve) return fve.status();
      top.delta = std::isfinite(fve.value()) ? fve.value() - current_fve_ : -std::numeric_limits<double>::infinity();
      return Status::ok();
    }
    const Candidate best = top;
    if (!(best.delta >= options_.delta_threshold)) {
      phase_ = PrunePhase::finished;
      cache_ = Cache();
      return Status::ok();
    }
    const std::vector<int>& ids = kept_[static_cast<std::size_t>(best.stage)];
    const int j = static_cast<int>(std::find(ids.begin(), ids.end(), best.original) - ids.begin());
    auto original = apply_removal(model_, best.stage, {j});
    if (!original) return original.status();
    candidates_.erase(candidates_.begin());
    for (auto& c : candidates_) c.fresh = false;
    cache_ = Cache();  // the old cache's memory goes before the new one is built
    auto cache = build_cache();
    if (!cache) return cache.status();
    cache_ = std::move(cache).value();
    auto fve = refit_readout_on_features();
    if (!fve) return fve.status();
    current_fve_ = fve.value();
    ++step3_removals_;
    return emit(3, best.stage, original.value(), current_fve_);
  }

  std::shared_ptr<const PruneData> data_holder_;
  const PruneData& data_;
  PruneOptions options_;
  PrunableLayout layout_;
  Model model_;
  std::vector<std::vector<int>> kept_;
  std::vector<PruneEvent> events_;
  double relative_lambda_ = 0.0;
  MatrixD features_;                     // (fitting images, readout features) of the current trunk
  std::vector<double> targets_;          // (fitting images)
  std::vector<StageStats> stage_stats_;  // step 1: per stage but the last, from the starting model
  PrunePhase phase_ = PrunePhase::finished;
  int step1_stage_ = -1;  // the stage step 1 removes from next
  Cache cache_;           // step 3: the current model's cache
  double current_fve_ = 0.0;
  std::vector<Candidate> candidates_;
  int step3_removals_ = 0;
  bool step3_started_ = false;
};

}  // namespace

struct PruneRun::Impl {
  explicit Impl(std::shared_ptr<const PruneData> data, PruneOptions options)
      : pruner(std::move(data), std::move(options)) {}
  Pruner pruner;
};

PruneRun::PruneRun(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PruneRun::~PruneRun() = default;
PruneRun::PruneRun(PruneRun&&) noexcept = default;
PruneRun& PruneRun::operator=(PruneRun&&) noexcept = default;

Result<PruneRun> PruneRun::create(const Model& model, std::shared_ptr<const PruneData> data, PruneOptions options) {
  if (!data) return Status::error("prune: no data");
  auto impl = std::make_unique<Impl>(std::move(data), std::move(options));
  CL_RETURN_IF_ERROR(impl->pruner.start(model));
  return PruneRun(std::move(impl));
}

Status PruneRun::advance() { return impl_->pruner.advance(); }

bool PruneRun::done() const { return impl_->pruner.phase() == PrunePhase::finished; }
PruneProgress PruneRun::progress() const { return impl_->pruner.progress(); }
const Model& PruneRun::model() const { return impl_->pruner.model(); }
const std::vector<PruneEvent>& PruneRun::events() const { return impl_->pruner.events(); }
PruneResult PruneRun::result() const { return impl_->pruner.result(); }

Result<PruneResult> prune_model(const Model& model, const PruneData& data, const PruneOptions& options) {
  // The caller's data outlives the run: shared without a copy.
  std::shared_ptr<const PruneData> borrowed(&data, [](const PruneData*) {});
  auto run = PruneRun::create(model, borrowed, options);
  if (!run) return run.status();
  while (!run->done() && !(options.cancelled && options.cancelled())) CL_RETURN_IF_ERROR(run->advance());
  return run->result();
}

}  // namespace cortexlens
