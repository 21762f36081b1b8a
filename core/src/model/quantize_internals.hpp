// Private to the core (tests and bench include it too): the parts of quantization that model files and tests
// reach into (quantize.hpp is the public side).
#pragma once

#include <cstddef>
#include <cstdint>

#include "cortexlens/model.hpp"

namespace cortexlens {

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

// The calibrator's tail selection (tail_only): the indices i < n with |values[i]|'s bits (sign cleared) >=
// thresholds[i] (each >= 1), into hits (room for n) in order, and how many; max_bits is raised to the largest
// magnitude's bits that is not a NaN. select_tail runs the active ISA's kernel (f32_wide.hpp), select_tail_portable
// is its plain twin.
std::size_t select_tail(const float* values, const std::uint32_t* thresholds, std::size_t n, std::uint32_t* hits,
                        std::uint32_t& max_bits);
std::size_t select_tail_portable(const float* values, const std::uint32_t* thresholds, std::size_t n,
                                 std::uint32_t* hits, std::uint32_t& max_bits);

}  // namespace cortexlens
