// The executable form of a compact model: a chain of layers with BatchNormalization already folded
// into the preceding layer, "same" padding already resolved into explicit pads, and activations attached.
// Everything here is validated once (validate_model) so the kernels can trust their inputs.
//
// A Keras SeparableConv2D becomes two layers here: a depthwise layer (no bias, linear) and a 1x1 conv2d
// (bias, folded BN, activation). Flatten is free because tensors are (H, W, C) and Dense reads that order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cortexlens/status.hpp"
#include "cortexlens/tensor.hpp"

namespace cortexlens {

enum class LayerKind { conv2d, depthwise_conv2d, dense };
enum class Activation { linear, relu };

const char* layer_kind_name(LayerKind kind);
const char* activation_name(Activation activation);

struct Padding {
  int top = 0, bottom = 0, left = 0, right = 0;
};

// int8 form of a layer (see quantize.hpp): symmetric, per output channel for weights, per tensor for the input.
//   real weight = weights_q[i] * weight_scales[output channel of i]
//   real input  = input_q * input_scale, input_q in [-127, 127], or in [0, 255] when unsigned_input
// Accumulation is 8-bit x 8-bit -> int32; the result is scaled back to float and the float bias added.
struct Int8Weights {
  std::vector<std::int8_t> weights;  // same layout as Layer::weights
  std::vector<float> weight_scales;  // (out.c), each > 0
  float input_scale = 0.0f;          // > 0
  // The input is a ReLU output (never negative), so all 256 levels of a byte go to [0, max] instead of half of
  // them to negative values that never occur: twice the resolution for the same 8 bits.
  bool unsigned_input = false;
};

struct Layer {
  LayerKind kind = LayerKind::conv2d;
  std::string name;  // the source layer's name, e.g. "layer1_conv/depthwise"
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  Padding pad;
  Shape3 in, out;  // dense: in is the (H, W, C) map it flattens, out is (1, 1, units)
  // conv2d:           (kernel_h, kernel_w, in.c, out.c)  HWIO, as Keras stores it
  // depthwise_conv2d: (kernel_h, kernel_w, in.c)          out.c == in.c
  // dense:            (in.size(), out.c)                  rows in (H, W, C) flatten order
  std::vector<float> weights;
  std::vector<float> bias;  // (out.c); zeros where the source layer had none
  Activation activation = Activation::linear;
  // Present once the model is quantized (or loaded from an int8 model file). `weights` then holds the
  // dequantized values, so the float path of an int8 file runs the int8 file's own weights.
  std::optional<Int8Weights> int8;

  std::int64_t multiply_adds() const;
};

// One layer of the original (Keras) model, for the layer table a reviewer compares with the authors' summary.
struct SourceLayer {
  std::string name;         // "layer0_conv"
  std::string class_name;   // "Conv2D"
  Shape3 output;            // (H, W, C); Dense/Flatten outputs are (1, 1, N)
  std::int64_t params = 0;  // every variable, BatchNormalization's moving statistics included (as Keras counts)
};

struct Model {
  std::string name;                        // e.g. "compact_model_190923_neuron0"
  Shape3 input{112, 112, 3};               // what the first layer expects: recentred RGB
  std::vector<std::string> output_names;   // one per output value
  std::vector<SourceLayer> source_layers;  // the original model's layers, for `info`
  std::vector<Layer> layers;               // executable chain

  std::int64_t source_params() const;
  std::int64_t multiply_adds() const;
  std::size_t output_count() const { return output_names.size(); }
};

// Output size of a convolution along one axis given explicit pads.
int conv_output_size(int in, int kernel, int stride, int pad_before, int pad_after);

// Keras/TensorFlow "same" padding for one axis: out = ceil(in / stride); the total padding is split with the
// smaller half before (top/left) and the rest after. Returns {before, after}.
std::pair<int, int> same_padding(int in, int kernel, int stride);

// Checks everything the kernels rely on: the shape chain connects from model.input to the outputs,
// kernels and strides are positive, pads are smaller than the kernel, weight and bias sizes match the shapes,
// all values are finite, and counts are bounded (see limits below). Messages name the layer.
Status validate_model(const Model& model);

// Bounds applied to every model, whatever its source, so a hostile file cannot make us allocate without limit.
struct ModelLimits {
  static constexpr int max_layers = 256;
  static constexpr int max_dim = 4096;  // any H, W or C
  static constexpr int max_kernel = 256;
  static constexpr std::int64_t max_tensor_elements = 64ll << 20;  // one activation or weight tensor
  static constexpr std::int64_t max_total_weights = 256ll << 20;
};

}  // namespace cortexlens
