// int8 quantization of a Model and the int8 forward pass.
//
// Scheme (the same for every layer kind):
//   weights: symmetric per output channel. scale[oc] = max |w| over the channel / 127, rounded UP to the next
//            float16 value (model files store these scales in 2 bytes; rounding up keeps every |w / scale| <= 127),
//            q = round(w / scale[oc]) in [-127, 127]; a channel whose weights are all zero gets scale 1 and q = 0
//            (never a division by zero, never a NaN).
//   inputs:  each layer's input tensor is quantized per tensor with one scale calibrated on natural images.
//            A layer whose input is a ReLU output (never negative) quantizes it unsigned:
//              s = R / 255, q = clamp(round(x / s), 0, 255);
//            any other input (the image, a linear layer's output) signed:
//              s = R / 127, q = clamp(round(x / s), -127, 127);
//            R, the input's range, is a high percentile of |x| over the calibration images. Unsigned is what
//            TFLite's asymmetric int8 gives a ReLU output (zero point -128), without the zero-point arithmetic:
//            both spend all 256 levels on [0, R], twice the resolution of a symmetric code. Quantized inputs are
//            held in int16 (the SIMD kernels multiply 16-bit lanes anyway), each value within 8 bits.
//   kernel:  int32 acc = sum q_in * q_w (8-bit x 8-bit -> int32, exact in any order), then
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
// The largest quantized value of an unsigned (post-ReLU) input.
inline constexpr int kUint8Max = 255;
// Longest dot product an int8 kernel may compute without int32 overflow: 255 * 127 * n < 2^31.
inline constexpr std::int64_t kInt8MaxReduction = (std::int64_t{1} << 31) / (kUint8Max * kInt8Max);

static_assert(sizeof(std::int8_t) == 1 && sizeof(float) == 4, "int8 weights are stored one byte each");
static_assert(kInt8MaxReduction * kUint8Max * kInt8Max <= INT32_MAX, "int8 accumulators must not overflow");
// One product fits int16, which the kernels rely on (16-bit multiplies, pairs summed in int32).
static_assert(kUint8Max * kInt8Max <= INT16_MAX, "8-bit products must fit int16");

// The quantized input's range of a layer: [-127, 127] signed, [0, 255] unsigned.
inline int input_q_min(const Int8Weights& q) { return q.unsigned_input ? 0 : -kInt8Max; }
inline int input_q_max(const Int8Weights& q) { return q.unsigned_input ? kUint8Max : kInt8Max; }

// --- weights and activations -------------------------------------------------------------------------------

// IEEE 754 binary16, for weight scales. half_to_float is exact for every value (normal, subnormal, zero, inf, NaN).
float half_to_float(std::uint16_t half);
// The smallest float16 >= value, for 0 < value <= 65504 (the largest float16); used so a stored scale never shrinks.
std::uint16_t half_at_least(float value);
inline constexpr float kMaxHalf = 65504.0f;

// Symmetric per-output-channel quantization of `layer.weights` (the output channel of weight i is i % out.c for
// every layer kind: HWIO conv, (kh, kw, C) depthwise and (in, out) dense all put the output channel last).
// input_scale must be > 0 and finite.
Int8Weights quantize_layer_weights(const Layer& layer, float input_scale, bool unsigned_input);

// Whether layer i of the model gets an unsigned input: it follows a ReLU layer.
bool has_unsigned_input(const Model& model, std::size_t layer_index);

// q = clamp(round(x * (1 / scale)), q_min, q_max) for `count` values, (q_min, q_max) = (-127, 127) or (0, 255)
// when unsigned_range; round half away from zero (std::lround). The reciprocal is rounded to float once
// (quantizer_inverse) and every implementation multiplies by it: a division costs several multiplies in the SIMD
// epilogues that quantize each layer's output, and the rounding must be the same bits everywhere.
inline float quantizer_inverse(float scale) { return 1.0f / scale; }
void quantize_values_ref(const float* values, std::size_t count, float scale, bool unsigned_range, std::int16_t* out);
void quantize_values(const float* values, std::size_t count, float scale, bool unsigned_range, std::int16_t* out);

// Quantizes every layer given the range R of each layer's input (one per model.layers entry; scale = R / 255 for
// an input after a ReLU, R / 127 otherwise) and replaces Layer::weights by their dequantized values. Refuses wrong
// counts, non-positive or non-finite ranges, and layers whose reduction is longer than kInt8MaxReduction.
Status quantize_model(Model& model, const std::vector<float>& input_ranges);

// Checks what the int8 kernels rely on, for every layer that has int8 weights: sizes match the float layer,
// scales are positive and finite, the reduction length fits int32, an unsigned input follows a ReLU layer.
// Messages name the layer.
Status check_int8_layers(const Model& model);

// True when every layer has int8 weights (what forward_int8 needs).
bool is_int8_model(const Model& model);

// --- calibration ----------------------------------------------------------------------------------------------

// Collects |x| of each layer's input over calibration images into histograms of 256 equal bins per octave
// (2^-40 to 2^40, so a percentile is known to within 0.4% without storing the activations), then gives each
// layer's input range as the requested percentile of |x|. Exact zeros (ReLU outputs) are counted in the
// distribution, as they are values the quantizer must represent.
class ActivationCalibrator {
 public:
  explicit ActivationCalibrator(const Model& model);
  // Runs the float model on one input and records every layer's input. Refuses a wrong input shape.
  Status add(const Tensor& input);
  std::size_t images() const { return images_; }
  // Per layer, the range R for quantize_model. percentile in (0, 100]; 100 means the maximum. A layer that only
  // ever saw zeros gets range 1.
  std::vector<float> input_ranges(double percentile) const;
  // The range (clipping point) c minimizing the expected squared quantization error of the recorded values:
  // step^2 / 12 for each value inside the range (step = c / 255 after a ReLU, c / 127 otherwise) plus
  // (|x| - c)^2 for each value beyond it, evaluated at every histogram bin edge.
  std::vector<float> input_ranges_min_mse() const;
  // Per layer, per channel of the layer's input, the given percentile of |x| (from coarser histograms: 32 bins
  // per octave, 2% steps, which is plenty to equalize channels). A channel that only saw zeros gets 0.
  std::vector<std::vector<float>> input_channel_ranges(double percentile) const;
  // (images, outputs) the float model's outputs on every input added, in order: calibration images are usually
  // also the reference set whose responses a caller wants.
  const std::vector<std::vector<float>>& outputs() const { return outputs_; }

 private:
  const Model* model_;
  std::vector<std::vector<std::uint64_t>> histograms_;  // (layers, bins)
  std::vector<std::uint64_t> zeros_;                    // (layers)
  std::vector<float> max_abs_;                          // (layers)
  std::vector<std::vector<std::uint32_t>> channel_histograms_;  // (layers, channels * coarse bins), zeros included
  std::size_t images_ = 0;
  std::vector<std::vector<float>> outputs_;
};

// Default percentile of |x| used for activation scales: see models/FORMAT.md ("Quantization") for the measurement
// that chose it (`cortexlens fidelity --percentile P`).
inline constexpr double kDefaultCalibrationPercentile = 99.99;

// Rescales the channels of every intermediate activation so they share one range, without changing what the model
// computes: output channel c of a conv2d or depthwise layer (linear or ReLU, both commute with a positive factor)
// is divided by r_c (its weights and bias), and the next layer multiplies what it reads from channel c by r_c.
// r_c = range_c / max over channels of range_c, from input_channel_ranges (a channel that never fired keeps 1;
// r_c is kept >= 2^-10). Why: one scale per tensor is what the int8 kernels can apply after an integer sum, and
// channels of very different ranges (a depthwise output's channels differ by 10x and more) then spend few of
// the 256 levels on the small ones; equalized, each channel is quantized as finely as with a scale of its own.
// The per-output-channel weight quantization of the producer, and of a depthwise consumer, is unchanged by
// this; only a conv2d or dense consumer mixes the rescaled channels in one weight scale. Refuses ranges whose
// shape does not match the model (one vector per layer, each with the layer's input channels).
Status equalize_channel_ranges(Model& model, const std::vector<std::vector<float>>& input_channel_ranges);

// The whole int8 recipe on calibration images: equalize channel ranges (from `float_calibration`, a calibrator of
// float_model fed with the images), calibrate each layer's input range on the equalized model (the percentile of
// |x|, or the min-MSE clip when percentile <= 0), quantize. The result computes float_model's function.
Result<Model> quantize_calibrated(const Model& float_model, const ActivationCalibrator& float_calibration,
                                  const std::vector<Tensor>& images, double percentile);

// --- kernels: in (H, W, C) quantized with layer.int8 (input_scale, input_q_min..input_q_max); out (H, W, C) float

void conv2d_int8_ref(const Layer& layer, const std::int16_t* in, float* out);
void depthwise_conv2d_int8_ref(const Layer& layer, const std::int16_t* in, float* out);
void dense_int8_ref(const Layer& layer, const std::int16_t* in, float* out);

void run_layer_int8(const Layer& layer, const std::int16_t* in, float* out, bool use_reference = false);

// The float finish of one output value, shared by every int8 kernel so they all round identically.
inline float int8_epilogue(std::int32_t acc, float combined_scale, float bias, Activation activation) {
  const float value = static_cast<float>(acc) * combined_scale + bias;
  return activation == Activation::relu ? (value > 0.0f ? value : 0.0f) : value;
}

// --- forward ----------------------------------------------------------------------------------------------------

// The int8 forward pass: each layer quantizes its (float) input with its own scale, runs the int8 kernel and
// produces float outputs. Kept activations are those float outputs. Refuses a model without int8 weights on
// every layer, naming the first layer that lacks them. Without use_reference_kernels the pass runs an
// Int8ForwardPlan built for the call (int8_plan.hpp: quantization fused into each producer's epilogue, the same
// bits); hot loops keep their own plan.
Result<ForwardResult> forward_int8(const Model& model, const Tensor& input, const ForwardOptions& options = {});

// The caller's switch between the two paths.
Result<ForwardResult> forward_with_precision(const Model& model, const Tensor& input, Precision precision,
                                             const ForwardOptions& options = {});

}  // namespace cortexlens
