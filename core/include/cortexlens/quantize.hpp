// int8 quantization of a Model and the int8 forward pass.
//
// Scheme (the same for every layer kind):
//   weights: symmetric per output channel. scale[oc] = max |w| over the channel / 127, rounded UP to the next
//            float16 value (model files store these scales in 2 bytes; rounding up keeps every |w / scale| <= 127),
//            q = round(w / scale[oc]) in [-127, 127]; a channel whose weights are all zero gets scale 1 and q = 0
//            (never a division by zero, never a NaN).
//   inputs:  each layer's input tensor is quantized per tensor with one scale calibrated on natural images:
//            s = a high percentile of |x| over the calibration images / 127, q = clamp(round(x / s), -127, 127).
//   kernel:  int32 acc = sum q_in * q_w (int8 x int8 -> int32, exact in any order), then
//            out = float(acc) * (s_in * scale[oc]) + bias[oc], then the activation, in float. Outputs are float so
//            the page can draw them and the next layer quantizes its own input with its own scale.
// The float path stays available: after quantization Layer::weights holds the dequantized weights (q * scale),
// so `forward` on a quantized model runs float arithmetic on exactly the int8 file's weights.
//
// Kernels trust their inputs like the float ones: validate_model and check_int8_layers passed. Every fast kernel
// has a scalar `_ref` twin and must match it bit-exactly (tests/test_quantize.cpp sweeps awkward shapes). To add
// a SIMD version (e.g. wasm `i32x4.dot_i16x8_s`): keep the signature, accumulate in int32, and finish each output
// with int8_epilogue so the float rounding is the same as the reference.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cortexlens/forward.hpp"
#include "cortexlens/model.hpp"

namespace cortexlens {

enum class Precision { float32, int8 };
const char* precision_name(Precision precision);  // "float32", "int8"

// The largest int8 value used; -128 is never produced so the range is symmetric.
inline constexpr int kInt8Max = 127;
// Longest dot product an int8 kernel may compute without int32 overflow: 127 * 127 * n < 2^31.
inline constexpr std::int64_t kInt8MaxReduction = (std::int64_t{1} << 31) / (kInt8Max * kInt8Max);

static_assert(sizeof(std::int8_t) == 1 && sizeof(float) == 4, "int8 weights are stored one byte each");
static_assert(kInt8MaxReduction * kInt8Max * kInt8Max <= INT32_MAX, "int8 accumulators must not overflow");

// --- weights and activations -------------------------------------------------------------------------------

// IEEE 754 binary16, for weight scales. half_to_float is exact for every value (normal, subnormal, zero, inf, NaN).
float half_to_float(std::uint16_t half);
// The smallest float16 >= value, for 0 < value <= 65504 (the largest float16); used so a stored scale never shrinks.
std::uint16_t half_at_least(float value);
inline constexpr float kMaxHalf = 65504.0f;

// Symmetric per-output-channel quantization of `layer.weights` (the output channel of weight i is i % out.c for
// every layer kind: HWIO conv, (kh, kw, C) depthwise and (in, out) dense all put the output channel last).
// input_scale must be > 0 and finite.
Int8Weights quantize_layer_weights(const Layer& layer, float input_scale);

// q = clamp(round(x / scale), -127, 127) for `count` values; round half away from zero (std::lround).
void quantize_values_ref(const float* values, std::size_t count, float scale, std::int8_t* out);
void quantize_values(const float* values, std::size_t count, float scale, std::int8_t* out);

// Quantizes every layer with the given per-layer input scales (one per model.layers entry) and replaces
// Layer::weights by their dequantized values. Refuses wrong counts, non-positive or non-finite scales, and layers
// whose reduction is longer than kInt8MaxReduction.
Status quantize_model(Model& model, const std::vector<float>& input_scales);

// Checks what the int8 kernels rely on, for every layer that has int8 weights: sizes match the float layer,
// scales are positive and finite, the reduction length fits int32. Messages name the layer.
Status check_int8_layers(const Model& model);

// True when every layer has int8 weights (what forward_int8 needs).
bool is_int8_model(const Model& model);

// --- calibration ----------------------------------------------------------------------------------------------

// Collects |x| of each layer's input over calibration images into histograms of 256 equal bins per octave
// (2^-40 to 2^40, so a percentile is known to within 0.4% without storing the activations), then gives each
// layer's input scale as the requested percentile of |x| divided by 127. Exact zeros (ReLU outputs) are counted
// in the distribution, as they are values the quantizer must represent.
class ActivationCalibrator {
 public:
  explicit ActivationCalibrator(const Model& model);
  // Runs the float model on one input and records every layer's input. Refuses a wrong input shape.
  Status add(const Tensor& input);
  std::size_t images() const { return images_; }
  // percentile in (0, 100]; 100 means the maximum. A layer that only ever saw zeros gets scale 1.
  std::vector<float> input_scales(double percentile) const;
  // The scale whose clipping point c (scale = c / 127) minimizes the expected squared quantization error of the
  // recorded values: (c / 127)^2 / 12 for each value inside [-c, c] plus (|x| - c)^2 for each value beyond it,
  // evaluated at every histogram bin edge.
  std::vector<float> input_scales_min_mse() const;
  // (images, outputs) the float model's outputs on every input added, in order: calibration images are usually
  // also the reference set whose responses a caller wants.
  const std::vector<std::vector<float>>& outputs() const { return outputs_; }

 private:
  const Model* model_;
  std::vector<std::vector<std::uint64_t>> histograms_;  // (layers, bins)
  std::vector<std::uint64_t> zeros_;                    // (layers)
  std::vector<float> max_abs_;                          // (layers)
  std::size_t images_ = 0;
  std::vector<std::vector<float>> outputs_;
};

// Default percentile of |x| used for activation scales: see models/FORMAT.md ("Quantization") for the measurement
// that chose it (`cortexlens fidelity --percentile P`).
inline constexpr double kDefaultCalibrationPercentile = 99.99;

// --- kernels: in (H, W, C) int8 quantized with layer.int8->input_scale; out (H, W, C) float ------------------

void conv2d_int8_ref(const Layer& layer, const std::int8_t* in, float* out);
void depthwise_conv2d_int8_ref(const Layer& layer, const std::int8_t* in, float* out);
void dense_int8_ref(const Layer& layer, const std::int8_t* in, float* out);

void conv2d_int8(const Layer& layer, const std::int8_t* in, float* out);
void depthwise_conv2d_int8(const Layer& layer, const std::int8_t* in, float* out);
void dense_int8(const Layer& layer, const std::int8_t* in, float* out);

void run_layer_int8(const Layer& layer, const std::int8_t* in, float* out, bool use_reference = false);

// The float finish of one output value, shared by every int8 kernel so they all round identically.
inline float int8_epilogue(std::int32_t acc, float combined_scale, float bias, Activation activation) {
  const float value = static_cast<float>(acc) * combined_scale + bias;
  return activation == Activation::relu ? (value > 0.0f ? value : 0.0f) : value;
}

// --- forward ----------------------------------------------------------------------------------------------------

// The int8 forward pass: each layer quantizes its (float) input with its own scale, runs the int8 kernel and
// produces float outputs. Kept activations are those float outputs. Refuses a model without int8 weights on
// every layer, naming the first layer that lacks them.
Result<ForwardResult> forward_int8(const Model& model, const Tensor& input, const ForwardOptions& options = {});

// The caller's switch between the two paths.
Result<ForwardResult> forward_with_precision(const Model& model, const Tensor& input, Precision precision,
                                             const ForwardOptions& options = {});

}  // namespace cortexlens
