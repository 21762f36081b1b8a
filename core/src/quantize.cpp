#include "cortexlens/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace cortexlens {

const char* precision_name(Precision precision) { return precision == Precision::int8 ? "int8" : "float32"; }

float half_to_float(std::uint16_t half) {
  const float sign = (half & 0x8000u) ? -1.0f : 1.0f;
  const int exponent = (half >> 10) & 0x1f;
  const int mantissa = half & 0x3ff;
  if (exponent == 0) return sign * std::ldexp(static_cast<float>(mantissa), -24);  // zero and subnormals
  if (exponent == 31) return mantissa ? std::numeric_limits<float>::quiet_NaN() : sign * std::numeric_limits<float>::infinity();
  return sign * std::ldexp(static_cast<float>(mantissa + 1024), exponent - 25);
}

std::uint16_t half_at_least(float value) {
  // Truncate to float16 (towards zero), then step up once if that fell below: positive float16 bit patterns are
  // ordered like their values, so +1 is the next representable value, across exponent boundaries too.
  std::uint16_t half;
  if (value < std::ldexp(1.0f, -14)) {
    half = static_cast<std::uint16_t>(value / std::ldexp(1.0f, -24));  // subnormal: multiples of 2^-24
  } else {
    std::uint32_t bits;
    std::memcpy(&bits, &value, 4);
    const int exponent = static_cast<int>((bits >> 23) & 0xff) - 127 + 15;
    half = static_cast<std::uint16_t>((exponent << 10) | ((bits >> 13) & 0x3ff));
  }
  if (half_to_float(half) < value) ++half;
  return half;
}

Int8Weights quantize_layer_weights(const Layer& layer, float input_scale) {
  const std::size_t channels = static_cast<std::size_t>(layer.out.c);
  Int8Weights q;
  q.input_scale = input_scale;
  std::vector<float> max_abs(channels, 0.0f);
  for (std::size_t i = 0; i < layer.weights.size(); ++i)
    max_abs[i % channels] = std::max(max_abs[i % channels], std::fabs(layer.weights[i]));
  q.weight_scales.resize(channels);
  // An all-zero channel (a pruned filter) would give scale 0 and 0/0 below; scale 1 keeps it exactly zero.
  for (std::size_t c = 0; c < channels; ++c)
    q.weight_scales[c] = max_abs[c] > 0.0f ? half_to_float(half_at_least(max_abs[c] / kInt8Max)) : 1.0f;
  q.weights.resize(layer.weights.size());
  for (std::size_t i = 0; i < layer.weights.size(); ++i) {
    const long rounded = std::lround(layer.weights[i] / q.weight_scales[i % channels]);
    q.weights[i] = static_cast<std::int8_t>(std::clamp<long>(rounded, -kInt8Max, kInt8Max));
  }
  return q;
}

void quantize_values_ref(const float* values, std::size_t count, float scale, std::int8_t* out) {
  // Clamped before rounding: lround of a value beyond the range of long is undefined, and clamping first to the
  // integer limit gives the same result as rounding first.
  const float limit = static_cast<float>(kInt8Max);
  for (std::size_t i = 0; i < count; ++i)
    out[i] = static_cast<std::int8_t>(std::lround(std::clamp(values[i] / scale, -limit, limit)));
}

void quantize_values(const float* values, std::size_t count, float scale, std::int8_t* out) {
  // Branch-free so it vectorizes, yet equal to lround (half away from zero): x - trunc(x) is exact in float,
  // whereas the common trunc(x + 0.5) rounds 0.49999997 up to 1.
  const float limit = static_cast<float>(kInt8Max);
  for (std::size_t i = 0; i < count; ++i) {
    float x = values[i] / scale;
    x = x > limit ? limit : (x < -limit ? -limit : x);
    const float whole = std::trunc(x);
    const float fraction = x - whole;
    out[i] = static_cast<std::int8_t>(static_cast<int>(whole) + (fraction >= 0.5f) - (fraction <= -0.5f));
  }
}

bool is_int8_model(const Model& model) {
  if (model.layers.empty()) return false;
  for (const auto& layer : model.layers)
    if (!layer.int8) return false;
  return true;
}

namespace {

std::int64_t reduction_length(const Layer& layer) {
  switch (layer.kind) {
    case LayerKind::conv2d: return static_cast<std::int64_t>(layer.kernel_h) * layer.kernel_w * layer.in.c;
    case LayerKind::depthwise_conv2d: return static_cast<std::int64_t>(layer.kernel_h) * layer.kernel_w;
    case LayerKind::dense: return static_cast<std::int64_t>(layer.in.size());
  }
  return 0;
}

bool positive_finite(float value) { return std::isfinite(value) && value > 0.0f; }

}  // namespace

Status check_int8_layers(const Model& model) {
  for (const auto& layer : model.layers) {
    if (!layer.int8) continue;
    const std::string where = "layer '" + layer.name + "' (int8): ";
    const Int8Weights& q = *layer.int8;
    if (q.weights.size() != layer.weights.size())
      return Status::error(where + "has " + std::to_string(q.weights.size()) + " int8 weights, expected " +
                           std::to_string(layer.weights.size()));
    if (q.weight_scales.size() != static_cast<std::size_t>(layer.out.c))
      return Status::error(where + "has " + std::to_string(q.weight_scales.size()) + " weight scales, expected " +
                           std::to_string(layer.out.c) + " (one per output channel)");
    for (std::size_t c = 0; c < q.weight_scales.size(); ++c)
      if (!positive_finite(q.weight_scales[c]) || q.weight_scales[c] > kMaxHalf ||
          half_to_float(half_at_least(q.weight_scales[c])) != q.weight_scales[c])
        return Status::error(where + "weight scale " + std::to_string(c) + " is " +
                             std::to_string(q.weight_scales[c]) + ", expected a positive finite float16 value");
    if (!positive_finite(q.input_scale))
      return Status::error(where + "input scale is " + std::to_string(q.input_scale) +
                           ", expected a positive finite number");
    for (std::size_t i = 0; i < q.weights.size(); ++i)
      if (q.weights[i] < -kInt8Max)
        return Status::error(where + "int8 weight " + std::to_string(i) + " is -128, expected -127..127");
    const std::int64_t n = reduction_length(layer);
    if (n > kInt8MaxReduction)
      return Status::error(where + "sums " + std::to_string(n) + " products per output, more than the " +
                           std::to_string(kInt8MaxReduction) + " an int32 accumulator holds");
  }
  return Status::ok();
}

Status quantize_model(Model& model, const std::vector<float>& input_scales) {
  if (input_scales.size() != model.layers.size())
    return Status::error("quantizing model '" + model.name + "': " + std::to_string(input_scales.size()) +
                         " input scales, expected " + std::to_string(model.layers.size()) + " (one per layer)");
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    Layer& layer = model.layers[i];
    if (!positive_finite(input_scales[i]))
      return Status::error("quantizing layer '" + layer.name + "': input scale " + std::to_string(input_scales[i]) +
                           ", expected a positive finite number");
    for (float w : layer.weights)
      if (!(std::fabs(w) / kInt8Max <= kMaxHalf))
        return Status::error("quantizing layer '" + layer.name + "': weight " + std::to_string(w) +
                             " needs a scale beyond float16 (max |w| / 127 must be <= 65504)");
    if (reduction_length(layer) > kInt8MaxReduction)
      return Status::error("quantizing layer '" + layer.name + "': sums " + std::to_string(reduction_length(layer)) +
                           " products per output, more than the " + std::to_string(kInt8MaxReduction) +
                           " an int32 accumulator holds");
  }
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    Layer& layer = model.layers[i];
    layer.int8 = quantize_layer_weights(layer, input_scales[i]);
    const std::size_t channels = static_cast<std::size_t>(layer.out.c);
    for (std::size_t w = 0; w < layer.weights.size(); ++w)
      layer.weights[w] = layer.int8->weights[w] * layer.int8->weight_scales[w % channels];
  }
  return check_int8_layers(model);
}

// --- calibration ---

namespace {
constexpr int kBinsPerOctave = 256;
constexpr int kMinExponent = -40, kMaxExponent = 40;
constexpr int kBins = (kMaxExponent - kMinExponent) * kBinsPerOctave;

// A float's exponent and top 8 mantissa bits are its bin: 256 equal steps per octave, found with a shift instead
// of a logarithm (calibration bins every activation of hundreds of images, so this loop matters).
static_assert(kBinsPerOctave == 256, "bin_of uses the top 8 mantissa bits");
int bin_of(float magnitude) {
  std::uint32_t bits;
  std::memcpy(&bits, &magnitude, 4);
  const int bin = static_cast<int>(bits >> 15) - ((127 + kMinExponent) << 8);
  return std::clamp(bin, 0, kBins - 1);
}
double bin_lower_edge(double bin) {
  const int b = static_cast<int>(bin);
  return std::ldexp(1.0 + (bin - (b / kBinsPerOctave) * kBinsPerOctave) / kBinsPerOctave, b / kBinsPerOctave + kMinExponent);
}
float bin_upper_edge(int bin) { return static_cast<float>(bin_lower_edge(bin + 1)); }
}  // namespace

ActivationCalibrator::ActivationCalibrator(const Model& model)
    : model_(&model),
      histograms_(model.layers.size(), std::vector<std::uint64_t>(kBins, 0)),
      zeros_(model.layers.size(), 0),
      max_abs_(model.layers.size(), 0.0f) {}

Status ActivationCalibrator::add(const Tensor& input) {
  auto result = forward(*model_, input, {/*keep_activations=*/true});
  if (!result) return result.status();
  const auto& acts = result.value().activations;
  for (std::size_t l = 0; l < model_->layers.size(); ++l) {
    const std::vector<float>& values = l == 0 ? input.data : acts[l - 1].data;
    for (float v : values) {
      const float m = std::fabs(v);
      if (m == 0.0f) {
        ++zeros_[l];
        continue;
      }
      ++histograms_[l][static_cast<std::size_t>(bin_of(m))];
      max_abs_[l] = std::max(max_abs_[l], m);
    }
  }
  ++images_;
  outputs_.push_back(std::move(result.value().outputs));
  return Status::ok();
}

std::vector<float> ActivationCalibrator::input_scales(double percentile) const {
  std::vector<float> scales(histograms_.size(), 1.0f);
  for (std::size_t l = 0; l < histograms_.size(); ++l) {
    std::uint64_t total = zeros_[l];
    for (auto count : histograms_[l]) total += count;
    if (max_abs_[l] == 0.0f) continue;
    if (percentile >= 100.0) {
      scales[l] = max_abs_[l] / kInt8Max;
      continue;
    }
    const double wanted = percentile / 100.0 * static_cast<double>(total);
    double seen = static_cast<double>(zeros_[l]);
    float value = max_abs_[l];
    for (int b = 0; b < kBins; ++b) {
      seen += static_cast<double>(histograms_[l][static_cast<std::size_t>(b)]);
      if (seen >= wanted) {
        value = std::min(bin_upper_edge(b), max_abs_[l]);
        break;
      }
    }
    // When more than `percentile` of the values are zero the percentile is 0; fall back to the maximum.
    scales[l] = (value > 0.0f ? value : max_abs_[l]) / kInt8Max;
  }
  return scales;
}

std::vector<float> ActivationCalibrator::input_scales_min_mse() const {
  std::vector<float> scales(histograms_.size(), 1.0f);
  for (std::size_t l = 0; l < histograms_.size(); ++l) {
    if (max_abs_[l] == 0.0f) continue;
    const std::vector<std::uint64_t>& h = histograms_[l];
    const int last = bin_of(max_abs_[l]);
    // Suffix sums of counts, of |x| and of |x|^2 (at bin centres) give the clipping error for every c at once.
    std::vector<double> count_above(static_cast<std::size_t>(last) + 2, 0.0), sum_above(count_above), sq_above(count_above);
    for (int b = last; b >= 0; --b) {
      const double centre = bin_lower_edge(b + 0.5);
      const double n = static_cast<double>(h[static_cast<std::size_t>(b)]);
      count_above[b] = count_above[b + 1] + n;
      sum_above[b] = sum_above[b + 1] + n * centre;
      sq_above[b] = sq_above[b + 1] + n * centre * centre;
    }
    double best_error = -1.0;
    float best_clip = max_abs_[l];
    for (int b = 0; b <= last; ++b) {
      const double c = std::min(static_cast<double>(bin_upper_edge(b)), static_cast<double>(max_abs_[l]));
      const double step = c / kInt8Max;
      // Values in bins above b are clipped to c; the rest see uniform rounding noise.
      const double n_above = count_above[b + 1];
      const double clip_error = sq_above[b + 1] - 2.0 * c * sum_above[b + 1] + c * c * n_above;
      // Exact zeros (ReLU outputs) quantize without error, so only nonzero values carry rounding noise.
      const double error = (count_above[0] - n_above) * step * step / 12.0 + clip_error;
      if (best_error < 0.0 || error < best_error) {
        best_error = error;
        best_clip = static_cast<float>(c);
      }
    }
    scales[l] = best_clip / kInt8Max;
  }
  return scales;
}

// --- forward ---

Result<ForwardResult> forward_int8(const Model& model, const Tensor& input, const ForwardOptions& options) {
  for (const auto& layer : model.layers)
    if (!layer.int8)
      return Status::error("model '" + model.name + "' has no int8 weights for layer '" + layer.name +
                           "' (convert it with --precision int8, or run it as float32)");
  if (input.shape != model.input || input.data.size() != model.input.size())
    return Status::error("input has shape (" + std::to_string(input.shape.h) + "," + std::to_string(input.shape.w) +
                         "," + std::to_string(input.shape.c) + "), model '" + model.name + "' expects (" +
                         std::to_string(model.input.h) + "," + std::to_string(model.input.w) + "," +
                         std::to_string(model.input.c) + ")");
  // Quantizing converts float to int, which is undefined for NaN; the float path would merely propagate it.
  for (std::size_t i = 0; i < input.data.size(); ++i)
    if (!std::isfinite(input.data[i]))
      return Status::error("input value " + std::to_string(i) + " is " + std::to_string(input.data[i]) +
                           ", expected a finite number");
  ForwardResult result;
  if (options.keep_activations) result.activations.reserve(model.layers.size());
  Tensor current = input;
  Tensor next;
  std::vector<std::int8_t> quantized;  // (H, W, C) of the current layer's input
  for (const auto& layer : model.layers) {
    quantized.resize(current.data.size());
    if (options.use_reference_kernels)
      quantize_values_ref(current.data.data(), current.data.size(), layer.int8->input_scale, quantized.data());
    else
      quantize_values(current.data.data(), current.data.size(), layer.int8->input_scale, quantized.data());
    next.shape = layer.out;
    next.data.resize(layer.out.size());
    run_layer_int8(layer, quantized.data(), next.data.data(), options.use_reference_kernels);
    if (options.keep_activations) result.activations.push_back(next);
    std::swap(current, next);
  }
  result.outputs = std::move(current.data);
  return result;
}

Result<ForwardResult> forward_with_precision(const Model& model, const Tensor& input, Precision precision,
                                             const ForwardOptions& options) {
  return precision == Precision::int8 ? forward_int8(model, input, options) : forward(model, input, options);
}

}  // namespace cortexlens
