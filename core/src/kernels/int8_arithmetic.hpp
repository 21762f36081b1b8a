// Private to the core (tests and bench include it too): the int8 arithmetic that the int8 kernels, their `_ref`
// twins, the quantizer and the Int8ForwardPlan share, so that they all round identically (quantize.hpp describes
// the scheme).
//
// Kernels trust their inputs like the float ones: validate_model and check_int8_layers passed. Every fast kernel
// has a scalar `_ref` twin and must match it bit-exactly (tests/test_quantize.cpp sweeps awkward shapes). To add
// a SIMD version (e.g. wasm `i32x4.dot_i16x8_s`): keep the signature, accumulate in int32, and finish each output
// with int8_epilogue so the float rounding is the same as the reference.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cortexlens/model.hpp"

namespace cortexlens {

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

// q = clamp(round(x * (1 / scale)), q_min, q_max) for `count` values, (q_min, q_max) = (-127, 127) or (0, 255)
// when unsigned_range; round half away from zero (std::lround). The reciprocal is rounded to float once
// (quantizer_inverse) and every implementation multiplies by it: a division costs several multiplies in the SIMD
// epilogues that quantize each layer's output, and the rounding must be the same bits everywhere.
inline float quantizer_inverse(float scale) { return 1.0f / scale; }
void quantize_values_ref(const float* values, std::size_t count, float scale, bool unsigned_range, std::int16_t* out);
void quantize_values(const float* values, std::size_t count, float scale, bool unsigned_range, std::int16_t* out);

// The float finish of one output value, shared by every int8 kernel so they all round identically.
inline float int8_epilogue(std::int32_t acc, float combined_scale, float bias, Activation activation) {
  const float value = static_cast<float>(acc) * combined_scale + bias;
  return activation == Activation::relu ? (value > 0.0f ? value : 0.0f) : value;
}

}  // namespace cortexlens
