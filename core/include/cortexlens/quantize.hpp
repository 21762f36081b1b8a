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
// The kernels, their `_ref` twins and the arithmetic they share (int8_epilogue, quantize_values) are private to the
// core: core/src/kernels/kernels.hpp and core/src/kernels/int8_arithmetic.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "cortexlens/forward.hpp"
#include "cortexlens/model.hpp"

namespace cortexlens {

enum class Precision { float32, int8 };
const char* precision_name(Precision precision);  // "float32", "int8"

// --- weights ----------------------------------------------------------------------------------------------------

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
// Which histograms a calibrator keeps. The int8 recipe (quantize_calibrated) needs the per-channel ones on the
// float model and the per-layer ones on the equalized model, so each of its two passes keeps only one: binning
// every activation is as costly as computing it. A query of a histogram not kept answers as for no images.
struct CalibrationHistograms {
  bool per_layer = true;    // input_ranges, input_ranges_min_mse
  bool per_channel = true;  // input_channel_ranges
  // Bin with the plain per-value loop, the scalar twin the tests hold the fast one against (same counts).
  bool reference_binning = false;
  // Keep exact counts only for the largest values: after every image each histogram (per layer, per channel)
  // stops counting bin by bin below the bin where the top 1/64 of the values seen so far begins, and only counts
  // how many values fell there. A high percentile (>= 99.9, the default 99.99) is then answered exactly as from
  // the full histogram, for a fraction of the binning cost (most values are compared, not binned); exact_at() says
  // whether a query was. Low percentiles and min-MSE need the full histograms (tail_only off).
  bool tail_only = false;
};
// Whether a tail-only calibrator can be expected to answer this percentile exactly: the top 1/64 holds the top 0.1%
// with a wide margin (the tail's share shrinks only when later images are dimmer than the first ones).
inline bool tail_only_suits(double percentile) { return percentile >= 99.9; }

class ActivationCalibrator {
 public:
  explicit ActivationCalibrator(const Model& model, CalibrationHistograms kept = {});
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
  // Whether input_ranges(percentile) (percentile <= 0: input_ranges_min_mse()), and input_channel_ranges of
  // channel_percentile, answer exactly as the full histograms would. Always true without tail_only; with it, true
  // when every histogram's counted tail holds the percentile. A calibrator that answers false must be run again
  // without tail_only (quantize_calibrated does).
  bool exact_at(double percentile) const;
  bool channels_exact_at(double channel_percentile) const;
  // (images, outputs) the float model's outputs on every input added, in order: calibration images are usually
  // also the reference set whose responses a caller wants.
  const std::vector<std::vector<float>>& outputs() const { return outputs_; }

 private:
  // Bins layer l's input (values of shape `view.shape`; channel k of the layer is flat index % in.c).
  void record(std::size_t l, const ForwardRunner::LayerOutput& view);
  void record_reference(std::size_t l, const ForwardRunner::LayerOutput& view);
  void add_layer_counts(std::size_t l, std::uint64_t zeros, std::uint32_t max_bits);
  // tail_only: the values at or above each histogram's threshold are binned, the others only counted.
  void record_tail(std::size_t l, const ForwardRunner::LayerOutput& view);
  // tail_only, after each image: each threshold rises to where the top 1/64 of the values counted so far begins.
  void raise_tail_thresholds();
  // Where a percentile query starts: the first bin it reads, and how many values lie below that bin.
  struct Search {
    int first_bin;
    double below;
  };
  Search layer_search(std::size_t l) const;
  Search channel_search(std::size_t l, std::size_t c, int last) const;

  const Model* model_;
  CalibrationHistograms kept_;
  std::unique_ptr<ForwardRunner> runner_;  // one plan for every image: building one per image dominated the time
  // Each histogram ends with kZeroSlots counters that record() sends zeros to and nothing reads.
  std::vector<std::vector<std::uint64_t>> histograms_;          // (layers, bins + slots)
  std::vector<std::uint64_t> zeros_;                            // (layers)
  std::vector<float> max_abs_;                                  // (layers)
  std::vector<std::vector<std::uint32_t>> channel_histograms_;  // (layers, channels * coarse bins + slots), zeros
                                                                // in each channel's bin 0
  std::vector<std::uint32_t> row_bins_;                         // record()'s bin of each value of one map row
  // Layer l's input values recorded, over all images (a channel's share: values_ / in.c).
  std::vector<std::uint64_t> values_;
  // tail_only: per layer, whether its histograms are tail-only (never a dense layer's: its channels are flat indices
  // of the map it reads, and that input is small, so it is binned in full), the first fine bin counted one by one,
  // and per channel the first coarse bin counted one by one and the highest coarse bin seen (-1: none).
  std::vector<bool> tail_;
  std::vector<int> fine_threshold_;
  std::vector<std::vector<int>> coarse_threshold_, coarse_last_;
  std::vector<std::uint32_t> row_thresholds_, hits_;  // record_tail's scratch
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
// float_model fed with the images, keeping at least the per-channel histograms), calibrate each layer's input range on
// the equalized model (the percentile of |x|, or the min-MSE clip when percentile <= 0), quantize. The result computes
// float_model's function.
Result<Model> quantize_calibrated(const Model& float_model, const ActivationCalibrator& float_calibration,
                                  const std::vector<Tensor>& images, double percentile);

// --- forward ----------------------------------------------------------------------------------------------------

// The int8 forward pass: each layer quantizes its (float) input with its own scale, runs the int8 kernel and
// produces float outputs. Kept activations are those float outputs. Refuses a model without int8 weights on
// every layer, naming the first layer that lacks them. Without use_reference_kernels the pass runs an
// Int8ForwardPlan built for the call (int8_forward_plan.hpp: quantization fused into each producer's epilogue, the same
// bits); hot loops keep their own plan.
Result<ForwardResult> forward_int8(const Model& model, const Tensor& input, const ForwardOptions& options = {});

// The caller's switch between the two paths.
Result<ForwardResult> forward_with_precision(const Model& model, const Tensor& input, Precision precision,
                                             const ForwardOptions& options = {});

}  // namespace cortexlens
