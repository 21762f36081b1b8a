// Float32 layer kernels. Each fast kernel has a plain scalar "_ref" twin that states the semantics and that the
// tests compare it against on awkward shapes. Kernels trust their inputs: validate_model checked the layer,
// and `in` holds layer.in.size() floats, `out` has room for layer.out.size() floats. Bias and activation are applied.
#pragma once

#include "cortexlens/model.hpp"

namespace cortexlens {

void conv2d_f32_ref(const Layer& layer, const float* in, float* out);
void depthwise_conv2d_f32_ref(const Layer& layer, const float* in, float* out);
void dense_f32_ref(const Layer& layer, const float* in, float* out);

void conv2d_f32(const Layer& layer, const float* in, float* out);
void depthwise_conv2d_f32(const Layer& layer, const float* in, float* out);
void dense_f32(const Layer& layer, const float* in, float* out);

// Dispatches on layer.kind. use_reference selects the scalar twins (for tests and for checking a new kernel).
void run_layer_f32(const Layer& layer, const float* in, float* out, bool use_reference = false);

}  // namespace cortexlens
