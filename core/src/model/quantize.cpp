#include "cortexlens/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "cortexlens/isa.hpp"
#include "kernels/f32_wide.hpp"
#include "kernels/int8_arithmetic.hpp"
#include "model/quantize_internals.hpp"

namespace cortexlens {

const char* precision_name(Precision precision) { return precision == Precision::int8 ? "int8" : "float32"; }

float half_to_float(std::uint16_t half) {
  const float sign = (half & 0x8000u) ? -1.0f : 1.0f;
  const int exponent = (half >> 10) & 0x1f;
  const int mantissa = half & 0x3ff;
  if (exponent == 0) return sign * std::ldexp(static_cast<float>(mantissa), -24);  // zero and subnormals
  if (exponent == 31)
    return mantissa ? std::numeric_limits<float>::quiet_NaN() : sign * std::numeric_limits<float>::infinity();
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

Int8Weights quantize_layer_weights(const Layer& layer, float input_scale, bool unsigned_input) {
  const std::size_t channels = static_cast<std::size_t>(layer.out.c);
  Int8Weights q;
  q.input_scale = input_scale;
  q.unsigned_input = unsigned_input;
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

bool has_unsigned_input(const Model& model, std::size_t layer_index) {
  return layer_index > 0 && layer_index < model.layers.size() &&
         model.layers[layer_index - 1].activation == Activation::relu;
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
    case LayerKind::conv2d:
      return static_cast<std::int64_t>(layer.kernel_h) * layer.kernel_w * layer.in.c;
    case LayerKind::depthwise_conv2d:
      return static_cast<std::int64_t>(layer.kernel_h) * layer.kernel_w;
    case LayerKind::dense:
      return static_cast<std::int64_t>(layer.in.size());
  }
  return 0;
}

bool positive_finite(float value) { return std::isfinite(value) && value > 0.0f; }

}  // namespace

Status check_int8_layers(const Model& model) {
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    const Layer& layer = model.layers[l];
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
        return Status::error(where + "weight scale " + std::to_string(c) + " is " + std::to_string(q.weight_scales[c]) +
                             ", expected a positive finite float16 value");
    if (!positive_finite(q.input_scale))
      return Status::error(where + "input scale is " + std::to_string(q.input_scale) +
                           ", expected a positive finite number");
    for (std::size_t i = 0; i < q.weights.size(); ++i)
      if (q.weights[i] < -kInt8Max)
        return Status::error(where + "int8 weight " + std::to_string(i) + " is -128, expected -127..127");
    if (q.unsigned_input && !has_unsigned_input(model, l))
      return Status::error(where + "quantizes its input unsigned (0..255), but the input is " +
                           (l == 0 ? std::string("the model input") : "a linear layer's output") +
                           ", which can be negative");
    const std::int64_t n = reduction_length(layer);
    if (n > kInt8MaxReduction)
      return Status::error(where + "sums " + std::to_string(n) + " products per output, more than the " +
                           std::to_string(kInt8MaxReduction) + " an int32 accumulator holds");
  }
  return Status::ok();
}

Status quantize_model(Model& model, const std::vector<float>& input_ranges) {
  if (input_ranges.size() != model.layers.size())
    return Status::error("quantizing model '" + model.name + "': " + std::to_string(input_ranges.size()) +
                         " input ranges, expected " + std::to_string(model.layers.size()) + " (one per layer)");
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    Layer& layer = model.layers[i];
    if (!positive_finite(input_ranges[i]))
      return Status::error("quantizing layer '" + layer.name + "': input range " + std::to_string(input_ranges[i]) +
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
    const bool unsigned_input = has_unsigned_input(model, i);
    const float scale = input_ranges[i] / static_cast<float>(unsigned_input ? kUint8Max : kInt8Max);
    if (!positive_finite(scale))
      return Status::error("quantizing layer '" + layer.name + "': input range " + std::to_string(input_ranges[i]) +
                           " gives scale " + std::to_string(scale) + ", expected a positive finite number");
    layer.int8 = quantize_layer_weights(layer, scale, unsigned_input);
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
// Counters past the last bin of every histogram where record() sends exact zeros (counted apart), eight in turn.
constexpr std::uint32_t kZeroSlots = 8;

// A float's exponent and top 8 mantissa bits are its bin: 256 equal steps per octave, found with a shift instead
// of a logarithm (calibration bins every activation of hundreds of images, so this loop matters).
static_assert(kBinsPerOctave == 256, "bin_of uses the top 8 mantissa bits");
inline int fine_bin_of_bits(std::uint32_t bits) {
  return std::clamp(static_cast<int>(bits >> 15) - ((127 + kMinExponent) << 8), 0, kBins - 1);
}
int bin_of(float magnitude) {
  std::uint32_t bits;
  std::memcpy(&bits, &magnitude, 4);
  return fine_bin_of_bits(bits);
}
double bin_lower_edge(double bin) {
  const int b = static_cast<int>(bin);
  return std::ldexp(1.0 + (bin - (b / kBinsPerOctave) * kBinsPerOctave) / kBinsPerOctave,
                    b / kBinsPerOctave + kMinExponent);
}
float bin_upper_edge(int bin) { return static_cast<float>(bin_lower_edge(bin + 1)); }

// Per-channel histograms: 32 bins per octave over the same exponent range (bin 0 also holds exact zeros).
constexpr int kCoarseBinsPerOctave = 32;
constexpr int kCoarseBins = (kMaxExponent - kMinExponent) * kCoarseBinsPerOctave;
float coarse_bin_upper_edge(int bin) {
  return static_cast<float>(
      std::ldexp(1.0 + static_cast<double>((bin + 1) % kCoarseBinsPerOctave) / kCoarseBinsPerOctave,
                 (bin + 1) / kCoarseBinsPerOctave + kMinExponent));
}
}  // namespace

ActivationCalibrator::ActivationCalibrator(const Model& model, CalibrationHistograms kept)
    : model_(&model),
      kept_(kept),
      runner_(std::make_unique<ForwardRunner>(model)),
      histograms_(model.layers.size(), std::vector<std::uint64_t>(kept.per_layer ? kBins + kZeroSlots : 0, 0)),
      zeros_(model.layers.size(), 0),
      max_abs_(model.layers.size(), 0.0f),
      channel_histograms_(model.layers.size()),
      values_(model.layers.size(), 0),
      tail_(model.layers.size(), false),
      fine_threshold_(model.layers.size(), 1),
      coarse_threshold_(model.layers.size()),
      coarse_last_(model.layers.size()) {
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    const std::size_t channels = static_cast<std::size_t>(model.layers[l].in.c);
    if (kept.per_channel) channel_histograms_[l].assign(channels * kCoarseBins + kZeroSlots, 0);
    // A dense layer's channels are flat indices of the map it reads; its input is small, so it is binned whole.
    tail_[l] = kept.tail_only && !kept.reference_binning && model.layers[l].kind != LayerKind::dense;
    if (tail_[l] && kept.per_channel) {
      coarse_threshold_[l].assign(channels, 1);
      coarse_last_[l].assign(channels, -1);
    }
  }
}

Status ActivationCalibrator::add(const Tensor& input) {
  auto outputs = runner_->run(input);
  if (!outputs) return outputs.status();
  const Shape3 s = input.shape;
  record(0, {input.data.data(), s, static_cast<std::ptrdiff_t>(s.w) * s.c, s.c});
  for (std::size_t l = 1; l < model_->layers.size(); ++l) record(l, runner_->layer_output(l - 1));
  ++images_;
  if (kept_.tail_only) raise_tail_thresholds();
  outputs_.push_back(std::move(outputs).value());
  return Status::ok();
}

namespace {

// |x| of a float as bits (sign cleared): for non-negative floats the order of the bits is the order of the values.
inline std::uint32_t magnitude_bits(const float* value) {
  std::uint32_t bits;
  std::memcpy(&bits, value, 4);
  return bits & 0x7fffffffu;
}
// The per-channel (coarse) bin from the bits: the fine bin over 8 (the fine offset (127 + kMinExponent) << 8 is a
// multiple of 8).
inline int coarse_bin_of_bits(std::uint32_t bits) {
  return std::clamp(static_cast<int>(bits >> 18) - ((127 + kMinExponent) << 5), 0, kCoarseBins - 1);
}
static_assert(kBinsPerOctave == 8 * kCoarseBinsPerOctave, "coarse bins are 8 fine bins");

// The first of record()'s two passes, over a contiguous run of values: each value's bin, or for an exact zero one
// of the scratch counters from `zero_slot` on, in turn. Plain loops over restrict pointers, with signed arithmetic
// (the magnitudes' bits are below 2^31) and no branch, so the compiler vectorizes them.
// GCC on x86-64 also compiles it for AVX2 and AVX-512 and picks one at load time (its ifunc): unsigned
// comparisons and 8 or 16 lanes instead of SSE2's 4 lanes and emulated min/max. Same counts on every path.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CORTEXLENS_BINNING_CLONES __attribute__((target_clones("default", "avx2", "arch=x86-64-v4")))
#else
#define CORTEXLENS_BINNING_CLONES
#endif
CORTEXLENS_BINNING_CLONES
void fine_bins_of(const float* __restrict values, std::size_t n, std::uint32_t* __restrict bins,
                  std::uint32_t zero_slot, std::uint64_t& zeros, std::uint32_t& max_bits) {
  std::int32_t zero_count = 0, max_magnitude = static_cast<std::int32_t>(max_bits);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int32_t bits = static_cast<std::int32_t>(magnitude_bits(values + i));
    const std::int32_t bin = std::min(std::max((bits >> 15) - ((127 + kMinExponent) << 8), 0), kBins - 1);
    const std::int32_t slot = static_cast<std::int32_t>(zero_slot + (i % kZeroSlots));
    bins[i] = static_cast<std::uint32_t>(bits == 0 ? slot : bin);
    zero_count += bits == 0 ? 1 : 0;
    // A NaN is binned but is no maximum.
    max_magnitude = std::max(max_magnitude, bits <= 0x7f800000 ? bits : 0);
  }
  zeros += static_cast<std::uint64_t>(zero_count);
  max_bits = static_cast<std::uint32_t>(max_magnitude);
}

// The same for the per-channel histograms: value i is channel i % channels, whose counts start at
// (i % channels) * kCoarseBins; `n` is a whole number of pixels.
CORTEXLENS_BINNING_CLONES
void coarse_bins_of(const float* __restrict values, std::size_t n, std::size_t channels, std::uint32_t* __restrict bins,
                    std::uint32_t zero_slot) {
  for (std::size_t start = 0, pixel = 0; start < n; start += channels, ++pixel) {
    const std::uint32_t slot = zero_slot + static_cast<std::uint32_t>(pixel % kZeroSlots);
    for (std::size_t c = 0; c < channels; ++c) {
      const std::int32_t bits = static_cast<std::int32_t>(magnitude_bits(values + start + c));
      const std::int32_t bin = std::min(std::max((bits >> 18) - ((127 + kMinExponent) << 5), 0), kCoarseBins - 1);
      bins[start + c] = bits == 0 ? slot : static_cast<std::uint32_t>(static_cast<std::int32_t>(c) * kCoarseBins + bin);
    }
  }
}

}  // namespace

// One record()'s zeros and largest magnitude (as bits) into layer l's totals.
void ActivationCalibrator::add_layer_counts(std::size_t l, std::uint64_t zeros, std::uint32_t max_bits) {
  zeros_[l] += zeros;
  float max_abs;
  std::memcpy(&max_abs, &max_bits, 4);
  max_abs_[l] = std::max(max_abs_[l], max_abs);
}

// This loop sees every activation of every calibration image (300 M values for 300 images of a per-neuron
// model). A row of the map is binned in two passes: the bin of every value in memory order (a loop the compiler
// vectorizes), then the increments. Exact zeros (about half of every ReLU output) are counted apart and their
// increments go to scratch counters past the last bin, eight in turn: a branch on "is it zero" is one the
// predictor cannot learn, and one counter for them all would make each increment wait for the last one's store.
// The per-channel increments run channel by channel, so the channel's row of counts (10 KB) stays in the
// first-level cache. The order changes nothing: histograms count, and the maximum is the maximum.
void ActivationCalibrator::record(std::size_t l, const ForwardRunner::LayerOutput& view) {
  values_[l] += static_cast<std::uint64_t>(view.shape.h) * static_cast<std::uint64_t>(view.shape.w) *
                static_cast<std::uint64_t>(view.shape.c);
  if (kept_.reference_binning) return record_reference(l, view);
  if (tail_[l]) return record_tail(l, view);
  const std::size_t channels = static_cast<std::size_t>(model_->layers[l].in.c);
  const std::size_t view_channels = static_cast<std::size_t>(view.shape.c);
  const std::size_t width = static_cast<std::size_t>(view.shape.w);
  auto pixel = [&](int y, std::size_t x) {
    return view.data + y * view.row_stride + static_cast<std::ptrdiff_t>(x) * view.channel_stride;
  };
  const std::size_t row_values = width * view_channels;
  // A row's values are one run when its pixels are packed, else one run per pixel.
  const bool packed_row = view.channel_stride == static_cast<std::ptrdiff_t>(view_channels);
  row_bins_.resize(row_values);
  std::uint32_t* row_bins = row_bins_.data();
  if (kept_.per_layer) {
    std::uint64_t* bins = histograms_[l].data();
    std::uint64_t zeros = 0;
    std::uint32_t max_bits = 0;
    for (int y = 0; y < view.shape.h; ++y) {
      if (packed_row)
        fine_bins_of(pixel(y, 0), row_values, row_bins, kBins, zeros, max_bits);
      else
        for (std::size_t x = 0; x < width; ++x)
          fine_bins_of(pixel(y, x), view_channels, row_bins + x * view_channels, kBins, zeros, max_bits);
      for (std::size_t i = 0; i < row_values; ++i) ++bins[row_bins[i]];
    }
    add_layer_counts(l, zeros, max_bits);
  }
  if (!kept_.per_channel) return;
  std::uint32_t* channel_bins = channel_histograms_[l].data();
  if (channels == view_channels) {
    const std::uint32_t first_slot = static_cast<std::uint32_t>(channels * kCoarseBins);
    for (int y = 0; y < view.shape.h; ++y) {
      if (packed_row)
        coarse_bins_of(pixel(y, 0), row_values, channels, row_bins, first_slot);
      else
        for (std::size_t x = 0; x < width; ++x)
          coarse_bins_of(pixel(y, x), channels, channels, row_bins + x * channels,
                         first_slot + static_cast<std::uint32_t>(x % kZeroSlots));
      for (std::size_t c = 0; c < channels; ++c) {
        std::uint32_t zeros = 0;
        for (std::size_t x = 0; x < width; ++x) {
          const std::uint32_t bin = row_bins[x * channels + c];
          zeros += bin >= first_slot ? 1 : 0;
          ++channel_bins[bin];
        }
        channel_bins[c * kCoarseBins] += zeros;  // a channel's zeros are in its bin 0
      }
    }
    return;
  }
  // A dense layer reads the flattened map: its channel k is the dense (H, W, C) index modulo in.c.
  std::size_t flat = 0;
  for (int y = 0; y < view.shape.h; ++y)
    for (std::size_t x = 0; x < width; ++x)
      for (std::size_t c = 0; c < view_channels; ++c, ++flat)
        ++channel_bins[(flat % channels) * kCoarseBins + coarse_bin_of_bits(magnitude_bits(pixel(y, x) + c))];
}

// One value at a time, as the histograms are defined.
void ActivationCalibrator::record_reference(std::size_t l, const ForwardRunner::LayerOutput& view) {
  const std::size_t channels = static_cast<std::size_t>(model_->layers[l].in.c);
  const std::size_t view_channels = static_cast<std::size_t>(view.shape.c);
  auto pixel = [&](int y, int x) { return view.data + y * view.row_stride + x * view.channel_stride; };
  if (kept_.per_layer) {
    std::uint64_t* bins = histograms_[l].data();
    std::uint64_t zeros = 0;
    std::uint32_t max_bits = 0;
    for (int y = 0; y < view.shape.h; ++y)
      for (int x = 0; x < view.shape.w; ++x) {
        const float* values = pixel(y, x);
        for (std::size_t c = 0; c < view_channels; ++c) {
          const std::uint32_t bits = magnitude_bits(values + c);
          if (bits == 0) {  // exact zeros are counted apart
            ++zeros;
            continue;
          }
          ++bins[fine_bin_of_bits(bits)];
          if (bits <= 0x7f800000u) max_bits = std::max(max_bits, bits);  // a NaN is binned but is no maximum
        }
      }
    add_layer_counts(l, zeros, max_bits);
  }
  if (!kept_.per_channel) return;
  std::uint32_t* channel_bins = channel_histograms_[l].data();
  if (channels == view_channels) {
    for (int y = 0; y < view.shape.h; ++y)
      for (std::size_t c = 0; c < channels; ++c) {
        std::uint32_t* channel_row = channel_bins + c * kCoarseBins;
        const float* value = pixel(y, 0) + c;
        for (int x = 0; x < view.shape.w; ++x, value += view.channel_stride)
          ++channel_row[coarse_bin_of_bits(magnitude_bits(value))];
      }
    return;
  }
  // A dense layer reads the flattened map: its channel k is the dense (H, W, C) index modulo in.c.
  std::size_t flat = 0;
  for (int y = 0; y < view.shape.h; ++y)
    for (int x = 0; x < view.shape.w; ++x)
      for (std::size_t c = 0; c < view_channels; ++c, ++flat)
        ++channel_bins[(flat % channels) * kCoarseBins + coarse_bin_of_bits(magnitude_bits(pixel(y, x) + c))];
}

namespace {
constexpr double kTailFraction = 1.0 / 64.0;
// A threshold rises only once its tail holds this many values: a tail of a few values, set by the first image's
// sample, could end up holding less than the percentile needs.
constexpr double kMinTailValues = 16.0;
// The smallest magnitude (bits) in fine bin b >= 1, and in coarse bin b >= 1.
std::uint32_t fine_bin_start_bits(int b) { return static_cast<std::uint32_t>(b + ((127 + kMinExponent) << 8)) << 15; }
std::uint32_t coarse_bin_start_bits(int b) { return static_cast<std::uint32_t>(b + ((127 + kMinExponent) << 5)) << 18; }
// The highest bin b, from `top` down to just above `floor`, where bins b..top hold at least `wanted` values; `floor`
// when none does.
template <class Count>
int tail_start_bin(const Count* bins, int top, int floor, double wanted) {
  double seen = 0.0;
  for (int b = top; b > floor; --b) {
    seen += static_cast<double>(bins[b]);
    if (seen >= wanted) return b;
  }
  return floor;
}
}  // namespace

std::size_t select_tail_portable(const float* values, const std::uint32_t* thresholds, std::size_t n,
                                 std::uint32_t* hits, std::uint32_t& max_bits) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t bits = magnitude_bits(values + i);
    hits[count] = static_cast<std::uint32_t>(i);
    count += bits >= thresholds[i] ? 1 : 0;
    if (bits <= 0x7f800000u && bits > max_bits) max_bits = bits;  // a NaN is no maximum
  }
  return count;
}

std::size_t select_tail(const float* values, const std::uint32_t* thresholds, std::size_t n, std::uint32_t* hits,
                        std::uint32_t& max_bits) {
#if CORTEXLENS_HAVE_WIDE_F32
  switch (active_isa()) {
    case Isa::avx512:
      return f32_avx512::select_tail(values, thresholds, n, hits, max_bits);
    case Isa::avx2:
      return f32_avx2::select_tail(values, thresholds, n, hits, max_bits);
    default:
      break;
  }
#endif
  return select_tail_portable(values, thresholds, n, hits, max_bits);
}

// Below its threshold a histogram only counts (values_ minus what it binned), so most values cost a compare: the
// thresholds sit where the top 1/64 begins, and ~1.6% of the values are binned one by one.
void ActivationCalibrator::record_tail(std::size_t l, const ForwardRunner::LayerOutput& view) {
  const std::size_t channels = static_cast<std::size_t>(model_->layers[l].in.c);
  const std::size_t view_channels = static_cast<std::size_t>(view.shape.c);
  const std::size_t width = static_cast<std::size_t>(view.shape.w);
  // A row's values are one run when its pixels are packed, else one run per pixel.
  const bool packed_row = view.channel_stride == static_cast<std::ptrdiff_t>(view_channels);
  const std::size_t run = packed_row ? width * view_channels : view_channels;
  const std::size_t runs_per_row = packed_row ? 1 : width;
  row_thresholds_.resize(run);
  hits_.resize(run);
  auto run_start = [&](int y, std::size_t r) {
    return view.data + y * view.row_stride + static_cast<std::ptrdiff_t>(r) * view.channel_stride;
  };
  if (kept_.per_layer) {
    std::fill(row_thresholds_.begin(), row_thresholds_.end(), fine_bin_start_bits(fine_threshold_[l]));
    std::uint64_t* bins = histograms_[l].data();
    std::uint32_t max_bits = 0;
    for (int y = 0; y < view.shape.h; ++y)
      for (std::size_t r = 0; r < runs_per_row; ++r) {
        const float* values = run_start(y, r);
        const std::size_t count = select_tail(values, row_thresholds_.data(), run, hits_.data(), max_bits);
        for (std::size_t k = 0; k < count; ++k) ++bins[fine_bin_of_bits(magnitude_bits(values + hits_[k]))];
      }
    add_layer_counts(l, 0, max_bits);
  }
  if (!kept_.per_channel) return;
  for (std::size_t i = 0; i < run; ++i) row_thresholds_[i] = coarse_bin_start_bits(coarse_threshold_[l][i % channels]);
  std::uint32_t* channel_bins = channel_histograms_[l].data();
  int* last = coarse_last_[l].data();
  std::uint32_t ignored_max = 0;
  for (int y = 0; y < view.shape.h; ++y)
    for (std::size_t r = 0; r < runs_per_row; ++r) {
      const float* values = run_start(y, r);
      const std::size_t count = select_tail(values, row_thresholds_.data(), run, hits_.data(), ignored_max);
      for (std::size_t k = 0; k < count; ++k) {
        const std::size_t c = hits_[k] % channels;
        const int bin = coarse_bin_of_bits(magnitude_bits(values + hits_[k]));
        ++channel_bins[c * kCoarseBins + static_cast<std::size_t>(bin)];
        last[c] = std::max(last[c], bin);
      }
    }
}

// A threshold only rises: the bins below it stop counting one by one, and what they held cannot be recovered.
void ActivationCalibrator::raise_tail_thresholds() {
  for (std::size_t l = 0; l < tail_.size(); ++l) {
    if (!tail_[l]) continue;
    if (kept_.per_layer && max_abs_[l] > 0.0f) {
      const double wanted = std::ceil(kTailFraction * static_cast<double>(values_[l]));
      if (wanted >= kMinTailValues)
        fine_threshold_[l] = tail_start_bin(histograms_[l].data(), bin_of(max_abs_[l]), fine_threshold_[l], wanted);
    }
    if (!kept_.per_channel) continue;
    const std::size_t channels = coarse_threshold_[l].size();
    const double wanted = std::ceil(kTailFraction * static_cast<double>(values_[l] / channels));
    if (wanted < kMinTailValues) continue;
    for (std::size_t c = 0; c < channels; ++c)
      coarse_threshold_[l][c] = tail_start_bin(channel_histograms_[l].data() + c * kCoarseBins, coarse_last_[l][c],
                                               coarse_threshold_[l][c], wanted);
  }
}

// Where a percentile's search over layer l's fine bins starts, and the count of the values below that bin
// (zeros included): bin 0 with the zeros for full histograms; tail_only, the threshold with everything not binned.
ActivationCalibrator::Search ActivationCalibrator::layer_search(std::size_t l) const {
  if (!tail_[l]) return {0, static_cast<double>(zeros_[l])};
  std::uint64_t binned = 0;
  for (int b = fine_threshold_[l]; b < kBins; ++b) binned += histograms_[l][static_cast<std::size_t>(b)];
  return {fine_threshold_[l], static_cast<double>(values_[l] - binned)};
}

// The same for channel c of layer l's coarse bins, whose highest non-empty bin is `last`.
ActivationCalibrator::Search ActivationCalibrator::channel_search(std::size_t l, std::size_t c, int last) const {
  if (!tail_[l]) return {0, 0.0};
  const std::uint32_t* h = channel_histograms_[l].data() + c * kCoarseBins;
  std::uint64_t binned = 0;
  for (int b = coarse_threshold_[l][c]; b <= last; ++b) binned += h[b];
  return {coarse_threshold_[l][c], static_cast<double>(values_[l] / coarse_threshold_[l].size() - binned)};
}

std::vector<float> ActivationCalibrator::input_ranges(double percentile) const {
  std::vector<float> ranges(histograms_.size(), 1.0f);
  for (std::size_t l = 0; l < histograms_.size(); ++l) {
    if (max_abs_[l] == 0.0f) continue;  // only zeros, or not kept
    if (percentile >= 100.0) {
      ranges[l] = max_abs_[l];
      continue;
    }
    // Every value recorded is in exactly one bin or among the zeros: values_ is the histogram's total.
    const double wanted = percentile / 100.0 * static_cast<double>(values_[l]);
    const Search search = layer_search(l);
    double seen = search.below;
    float value = max_abs_[l];
    if (search.first_bin > 0 && seen >= wanted) {
      // Below a tail's threshold only its lower neighbour can be named: exact when that is bin 0 (exact_at says).
      value = std::min(bin_upper_edge(search.first_bin - 1), max_abs_[l]);
    } else {
      for (int b = search.first_bin; b < kBins; ++b) {
        seen += static_cast<double>(histograms_[l][static_cast<std::size_t>(b)]);
        if (seen >= wanted) {
          value = std::min(bin_upper_edge(b), max_abs_[l]);
          break;
        }
      }
    }
    // When more than `percentile` of the values are zero the percentile is 0; fall back to the maximum.
    ranges[l] = value > 0.0f ? value : max_abs_[l];
  }
  return ranges;
}

bool ActivationCalibrator::exact_at(double percentile) const {
  if (!kept_.per_layer) return true;
  for (std::size_t l = 0; l < histograms_.size(); ++l) {
    if (!tail_[l] || max_abs_[l] == 0.0f || percentile >= 100.0) continue;
    if (percentile <= 0.0) return false;  // min-MSE weighs every bin
    const Search search = layer_search(l);
    if (search.first_bin > 1 && search.below >= percentile / 100.0 * static_cast<double>(values_[l])) return false;
  }
  return true;
}

bool ActivationCalibrator::channels_exact_at(double channel_percentile) const {
  if (!kept_.per_channel) return true;
  for (std::size_t l = 0; l < channel_histograms_.size(); ++l) {
    if (!tail_[l]) continue;
    const double total = static_cast<double>(values_[l] / coarse_threshold_[l].size());
    for (std::size_t c = 0; c < coarse_threshold_[l].size(); ++c) {
      const Search search = channel_search(l, c, coarse_last_[l][c]);
      if (search.first_bin > 1 && search.below >= std::min(channel_percentile, 100.0) / 100.0 * total) return false;
    }
  }
  return true;
}

std::vector<std::vector<float>> ActivationCalibrator::input_channel_ranges(double percentile) const {
  std::vector<std::vector<float>> ranges(channel_histograms_.size());
  for (std::size_t l = 0; l < channel_histograms_.size(); ++l) {
    const std::size_t channels = static_cast<std::size_t>(model_->layers[l].in.c);
    ranges[l].assign(channels, 0.0f);
    if (channel_histograms_[l].empty()) continue;  // not kept: as for no images
    // Each channel's values are in exactly one of its bins (zeros in bin 0).
    const double total = static_cast<double>(values_[l] / channels);
    for (std::size_t c = 0; c < channels; ++c) {
      const std::uint32_t* h = channel_histograms_[l].data() + c * kCoarseBins;
      int last = -1;
      if (tail_[l]) {
        last = coarse_last_[l][c];
      } else {
        for (int b = 0; b < kCoarseBins; ++b)
          if (h[b] != 0) last = b;
      }
      if (last <= 0) continue;  // nothing but zeros (and denormal dust) in this channel
      const double wanted = std::min(percentile, 100.0) / 100.0 * total;
      const Search search = channel_search(l, c, last);
      double seen = search.below;
      int b = search.first_bin;
      if (search.first_bin > 0 && seen >= wanted) {
        b = search.first_bin - 1;  // exact when that is bin 0 (channels_exact_at says)
      } else {
        for (; b < last; ++b) {
          seen += static_cast<double>(h[b]);
          if (seen >= wanted) break;
        }
      }
      // Zero-heavy channels (ReLU) can put the percentile in bin 0; their range is then that of the values seen.
      ranges[l][c] = coarse_bin_upper_edge(b == 0 ? last : b);
    }
  }
  return ranges;
}

std::vector<float> ActivationCalibrator::input_ranges_min_mse() const {
  std::vector<float> ranges(histograms_.size(), 1.0f);
  for (std::size_t l = 0; l < histograms_.size(); ++l) {
    if (max_abs_[l] == 0.0f) continue;
    const std::vector<std::uint64_t>& h = histograms_[l];
    const int last = bin_of(max_abs_[l]);
    // Suffix sums of counts, of |x| and of |x|^2 (at bin centres) give the clipping error for every c at once.
    std::vector<double> count_above(static_cast<std::size_t>(last) + 2, 0.0), sum_above(count_above),
        sq_above(count_above);
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
      const double step = c / (has_unsigned_input(*model_, l) ? kUint8Max : kInt8Max);
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
    ranges[l] = best_clip;
  }
  return ranges;
}

// --- channel equalization ---

Status equalize_channel_ranges(Model& model, const std::vector<std::vector<float>>& input_channel_ranges) {
  if (input_channel_ranges.size() != model.layers.size())
    return Status::error("equalizing model '" + model.name + "': " + std::to_string(input_channel_ranges.size()) +
                         " layers of channel ranges, expected " + std::to_string(model.layers.size()));
  for (std::size_t l = 0; l < model.layers.size(); ++l)
    if (input_channel_ranges[l].size() != static_cast<std::size_t>(model.layers[l].in.c))
      return Status::error("equalizing layer '" + model.layers[l].name +
                           "': " + std::to_string(input_channel_ranges[l].size()) + " channel ranges, expected " +
                           std::to_string(model.layers[l].in.c));
  constexpr float kMinFactor = 1.0f / 1024.0f;
  for (std::size_t l = 1; l < model.layers.size(); ++l) {
    Layer& producer = model.layers[l - 1];
    Layer& consumer = model.layers[l];
    // A dense producer ends the chain in these models; anything else would need its own rule.
    if (producer.kind == LayerKind::dense) continue;
    const std::vector<float>& range = input_channel_ranges[l];
    const float largest = *std::max_element(range.begin(), range.end());
    if (!(largest > 0.0f) || !std::isfinite(largest)) continue;
    const std::size_t channels = range.size();
    std::vector<float> factor(channels, 1.0f);
    for (std::size_t c = 0; c < channels; ++c)
      if (range[c] > 0.0f && std::isfinite(range[c])) factor[c] = std::max(range[c] / largest, kMinFactor);
    // Producer: output channel c is the last index of every weight layout (weight i belongs to i % out.c).
    for (std::size_t i = 0; i < producer.weights.size(); ++i) producer.weights[i] /= factor[i % channels];
    for (std::size_t c = 0; c < channels; ++c) producer.bias[c] /= factor[c];
    // Consumer: what it reads from input channel c is scaled back up.
    const std::size_t out_c = static_cast<std::size_t>(consumer.out.c);
    for (std::size_t i = 0; i < consumer.weights.size(); ++i) {
      std::size_t c = 0;
      switch (consumer.kind) {
        case LayerKind::conv2d:
          c = (i / out_c) % channels;
          break;  // (kh, kw, in_c, out_c)
        case LayerKind::depthwise_conv2d:
          c = i % channels;
          break;  // (kh, kw, C)
        case LayerKind::dense:
          c = (i / out_c) % channels;
          break;  // (H * W * C, units)
      }
      consumer.weights[i] *= factor[c];
    }
  }
  return validate_model(model);
}

Result<Model> quantize_calibrated(const Model& float_model, const ActivationCalibrator& float_calibration,
                                  const std::vector<Tensor>& images, double percentile) {
  Model model = float_model;
  for (auto& layer : model.layers) layer.int8.reset();
  const double channel_percentile = percentile > 0.0 ? percentile : kDefaultCalibrationPercentile;
  std::vector<std::vector<float>> channel_ranges;
  if (float_calibration.channels_exact_at(channel_percentile)) {
    channel_ranges = float_calibration.input_channel_ranges(channel_percentile);
  } else {
    // A tail-only calibrator whose tail missed the percentile: the full histograms, once more.
    ActivationCalibrator full(float_model, {/*per_layer=*/false, /*per_channel=*/true});
    for (const Tensor& image : images) CL_RETURN_IF_ERROR(full.add(image));
    channel_ranges = full.input_channel_ranges(channel_percentile);
  }
  CL_RETURN_IF_ERROR(equalize_channel_ranges(model, channel_ranges));
  auto layer_ranges = [&](bool tail_only) -> Result<ActivationCalibrator> {
    ActivationCalibrator calibrator(model, {/*per_layer=*/true, /*per_channel=*/false, false, tail_only});
    for (const Tensor& image : images) CL_RETURN_IF_ERROR(calibrator.add(image));
    return calibrator;
  };
  auto calibrator = layer_ranges(tail_only_suits(percentile));
  if (!calibrator) return calibrator.status();
  if (!calibrator.value().exact_at(percentile)) calibrator = layer_ranges(false);
  if (!calibrator) return calibrator.status();
  CL_RETURN_IF_ERROR(quantize_model(model, percentile > 0.0 ? calibrator.value().input_ranges(percentile)
                                                            : calibrator.value().input_ranges_min_mse()));
  return model;
}

}  // namespace cortexlens
