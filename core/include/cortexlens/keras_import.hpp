// Keras 3 import: the ONE place that knows Keras conventions (layer order, the h5 naming
// `layers/<snake_case class name>[_<k>]/vars/<j>`, variable order, "same" padding, BatchNormalization epsilon).
// It works on already-parsed inputs: the text of config.json and the float32 tensors of model.weights.h5.
// Reading the containers (zip, HDF5) is done by libraries elsewhere: libzip + libhdf5 natively (native/),
// fflate + jsfive in the browser (web/lib/keras-archive.js), both handing their results to this function.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cortexlens/model.hpp"

namespace cortexlens {

struct NamedTensor {
  std::string name;                 // HDF5 path, e.g. "layers/separable_conv2d_1/vars/0"
  std::vector<std::int64_t> shape;  // as stored, e.g. (5, 5, 48, 1)
  std::vector<float> data;          // row-major
};

// Supported: Functional or Sequential models that form a single chain from one InputLayer of shape (H, W, C):
// InputLayer, Conv2D, DepthwiseConv2D (depth multiplier 1), SeparableConv2D (depth multiplier 1),
// BatchNormalization (folded into the preceding layer), Activation / ReLU (relu or linear), Flatten, Dense,
// Dropout (identity at inference). Anything else (other layers, dilation, groups, channels_first, other
// activations, branches) is refused with a message naming the layer and what was expected; so are missing,
// extra or mis-shaped variables and NaN/Inf values.
// `model_name` (usually the file name without extension) names the model and, for the published V4 models,
// its outputs (see v4_output_names).
Result<Model> import_keras(std::string_view config_json, const std::vector<NamedTensor>& tensors,
                           const std::string& model_name);

// Keras' snake_case of a class name, as used for h5 group names: "SeparableConv2D" -> "separable_conv2d".
std::string keras_snake_case(std::string_view class_name);

// Names of a model's outputs. Published per-neuron models ("compact_model_<session>_neuron<i>") give
// "<session>_n<i>"; the shared models with 219 outputs give the 219 neurons in the published order
// (190923 n0..32, 201025 n0..88, 210225 n0..54, 211022 n0..41); anything else "output<i>".
std::vector<std::string> v4_output_names(const std::string& model_name, std::size_t count);

}  // namespace cortexlens
