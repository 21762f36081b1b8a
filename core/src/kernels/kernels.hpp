// Private to the core (tests and bench include it too): the per-layer kernels, float32 and int8, forward and
// backward. Each fast kernel has a plain scalar "_ref" twin that states the semantics and that the tests compare it
// against on awkward shapes. Kernels trust their inputs: validate_model checked the layer,
// and `in` holds layer.in.size() floats, `out` has room for layer.out.size() floats. Bias and activation are applied.
// The passes over a whole model (forward, forward_int8, input_gradient) run the same code through plans
// (engine/forward_plan.hpp, cortexlens/int8_forward_plan.hpp, engine/backward_plan.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cortexlens/model.hpp"
#include "kernels/int8_arithmetic.hpp"

namespace cortexlens {

void conv2d_f32_ref(const Layer& layer, const float* in, float* out);
void depthwise_conv2d_f32_ref(const Layer& layer, const float* in, float* out);
void dense_f32_ref(const Layer& layer, const float* in, float* out);

void conv2d_f32(const Layer& layer, const float* in, float* out);
void depthwise_conv2d_f32(const Layer& layer, const float* in, float* out);
void dense_f32(const Layer& layer, const float* in, float* out);

// Dispatches on layer.kind. use_reference selects the scalar twins (for tests and for checking a new kernel).
void run_layer_f32(const Layer& layer, const float* in, float* out, bool use_reference = false);

// --- int8: in (H, W, C) quantized with layer.int8 (input_scale, input_q_min..input_q_max); out (H, W, C) float ---

void conv2d_int8_ref(const Layer& layer, const std::int16_t* in, float* out);
void depthwise_conv2d_int8_ref(const Layer& layer, const std::int16_t* in, float* out);
void dense_int8_ref(const Layer& layer, const std::int16_t* in, float* out);

// int8 conv2d with the semantics of quantize.hpp (int8 x int8 -> exact int32 sums, then int8_epilogue), register
// tiled on pairwise 16-bit dot products (wasm i32x4.dot_i16x8_s, SSE2 pmaddwd). Bit-identical to conv2d_int8_ref.
// Needs layer.int8; `in` is (H, W, C) int8 quantized with layer.int8->input_scale.
void conv2d_int8_tiled(const Layer& layer, const std::int16_t* in, float* out);
// int8 depthwise conv2d, 4 pixels x 8 channels per tile, two taps per 16-bit dot product (int32 sums).
// Bit-identical to depthwise_conv2d_int8_ref.
void depthwise_conv2d_int8_tiled(const Layer& layer, const std::int16_t* in, float* out);
// int8 dense on pairwise 16-bit dot products (one unit: one long dot product; several: blocks of 16 units over the
// nonzero input pairs). Bit-identical to dense_int8_ref. These three run the Int8ForwardPlan's code
// (int8_forward_plan.hpp) on one layer.
void dense_int8_tiled(const Layer& layer, const std::int16_t* in, float* out);

// Dispatches on layer.kind: the _ref twins, or the tiled kernels. The int8 steps run on active_isa() (isa.hpp):
// scalar runs the _ref twins, sse the 4-lane code here (wasm SIMD128 in the browser), avx2 and avx512 conv2d and
// depthwise at 8 and 16 lanes (kernels/int8_wide.hpp), the rest on the 4-lane code; every path gives the same bits.
void run_layer_int8(const Layer& layer, const std::int16_t* in, float* out, bool use_reference = false);

// The plan's quantizer for a ReLU layer's outputs (ReLU, scale, clamp to [0, high], round half away from zero),
// on `count` values: the SIMD code the steps use, exposed so tests can compare it with quantize_values_ref on
// every value that matters.
void plan_relu_codes(const float* values, std::size_t count, float scale, float high, std::int16_t* out);

// --- backward to the input (the _ref twins in f32_ref.cpp, the fast ones in engine/backward_plan.cpp) -----------

// Per-layer backward kernels: given dy = d objective / d(layer output *before* the activation), (out.h, out.w,
// out.c), write dx = d objective / d(layer input), (in.h, in.w, in.c) (overwritten, not accumulated).
// The fast ones run the kernels input_gradient uses, packing the weights per call (input_gradient packs once):
//  - conv2d: per output pixel, the product of its out.c gradients with the transposed weights gives the
//    contribution to each of its kernel_h input rows of kernel_w * in.c values, which are added into a bordered dx
//    (an f32x4 register tile of 2 output pixels x 16 values, like the forward conv);
//  - depthwise: each input pixel gathers over the taps that reach it, from a zero-bordered dy (4 pixels x 8
//    channels per tile), so each dx value is written once and no bounds are tested;
//  - dense: one dot product per input value.
// They sum in a fixed order with the f32x4 operations of simd_f32x4.hpp, so results are bit-identical natively and
// in wasm.
void conv2d_backward_input_f32_ref(const Layer& layer, const float* dy, float* dx);
void depthwise_conv2d_backward_input_f32_ref(const Layer& layer, const float* dy, float* dx);
void dense_backward_input_f32_ref(const Layer& layer, const float* dy, float* dx);

void conv2d_backward_input_f32(const Layer& layer, const float* dy, float* dx);
void depthwise_conv2d_backward_input_f32(const Layer& layer, const float* dy, float* dx);
void dense_backward_input_f32(const Layer& layer, const float* dy, float* dx);

void run_layer_backward_input_f32(const Layer& layer, const float* dy, float* dx, bool use_reference = false);

}  // namespace cortexlens
