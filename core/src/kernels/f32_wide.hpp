// Private to the kernels: what one ForwardPlan step hands a float32 kernel, and the kernels wider than the portable
// 4-lane path (f32_simd.cpp), each in a translation unit of its own compiled for its instruction set:
//   f32_avx2.cpp    AVX2 + FMA, 8 floats per vector
//   f32_avx512.cpp  AVX-512 F/BW/DQ/VL + FMA, 16 floats per vector
// Only those two files are compiled with wider flags (core/CMakeLists.txt), and only x86-64 builds that are not
// Emscripten have them (CORTEXLENS_HAVE_WIDE_F32): the default binary runs on any x86-64 and calls them only after
// active_isa() said the CPU can. They use no standard-library templates and keep everything but their entry points
// in an anonymous namespace, so no inline function compiled with AVX-512 can be picked by the linker for the
// portable code.
//
// Weight layouts, packed once by ForwardPlan::prepare_step for the step's ISA (biases: zero-padded to a multiple of
// 16 floats, so a bias vector never needs a mask):
//   conv2d: blocks of conv_block(isa) output channels (the last one narrower), block at c0 starting at
//           c0 * kh * kw * in_cs, each (kh, kw * in_cs, width rounded up to the ISA's vector), zero beyond out.c;
//   depthwise: (kh, kw, cs); dense: (pixels * in_cs, units_stride) (units_stride 1 for one unit, else out_cs).
// Activations: ForwardPlan::Buffer, zero borders, channel stride ForwardPlan::channel_stride(C, isa): a multiple of
// 4, and of the path's vector for maps of at least one vector of channels, so their pixels start on vector
// boundaries (a 100-channel map read with 64-byte loads at 16-byte alignment splits most loads over two cache
// lines). The wide kernels mask the channel tail of the narrower maps.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cortexlens/isa.hpp"

#if defined(__x86_64__) && !defined(__EMSCRIPTEN__)
#define CORTEXLENS_HAVE_WIDE_F32 1
#endif

namespace cortexlens {

// Strides of one conv or depthwise call, in floats. `in` points at the first tap of output pixel (0, 0), i.e. at
// input position (-pad_top, -pad_left), which lies inside the zero border.
struct F32Geometry {
  int kh, kw, sh, sw;
  int out_h, out_w;
  const float* in;
  int in_row, in_cs;
  float* out;
  int out_row, out_cs;  // every channel up to out_cs is written (the padding ones get zero weights and bias: 0)
  bool relu;
  int in_c;  // the input's channels (<= in_cs); those beyond hold zeros and meet zero weights
};

// One dense call: x (n floats), weights (n, units_stride), `units` outputs.
struct F32Dense {
  const float* x;
  std::size_t n;
  const float* weights;
  int units, units_stride;
  const float* bias;
  bool relu;
  float* out;
};

// Output channels per packed conv block (and its vector width) for each ISA.
inline int conv_block(Isa isa) { return isa == Isa::avx512 ? 64 : 16; }
inline int vector_floats(Isa isa) { return isa == Isa::avx512 ? 16 : isa == Isa::avx2 ? 8 : 4; }

// One output row of a conv2d's input gradient (engine/backward_plan.cpp, BackwardPlan::Step's layout): output
// pixels in tiles of 2, tile t summing the gradient channels listed at active + t * out_c (counts[t] of them) against
// the transposed weights, every kernel row and 16-column block of a tile at once, then adding each block into its
// dx row (dx_rows[ky], null for a row in the padding: skipped). Pixel p of the row adds at dx_rows[ky] + p * dx_step.
struct F32ConvBackwardRow {
  const float* dy;  // the row's pixel 0, channel 0; pixel p at dy + p * dy_step
  int dy_step, out_w, out_c;
  const int* active;
  const int* counts;
  const float* weights;  // (kh, run_stride): per kernel row, blocks of up to 16 columns, each (out_c, width)
  int run_stride, kh;
  float* const* dx_rows;
  int dx_step;
};

// One column phase of one input row of a depthwise conv's input gradient (engine/backward_plan.cpp): `pixels` input
// pixels, dx_step apart, each the sum over `count` taps of the tap's gradient (pixel p at dy + p * cs) times its
// weights, for cs channels (a multiple of 4), in the taps' order; written through the ReLU mask below when `mask`
// is set (a value stays where the mask is > 0, else 0).
struct F32DepthwiseTap {
  const float* dy;  // the tap's source for the phase's first pixel, channel 0
  const float* w;   // the tap's (cs) weights
};
struct F32DepthwiseBackwardRun {
  const F32DepthwiseTap* taps;
  int count, cs, pixels;
  float* dx;
  std::ptrdiff_t dx_step;
  const float* mask;
  std::ptrdiff_t mask_step;
};

// Calibration's tail selection (ActivationCalibrator, tail mode): the indices i < n whose magnitude |values[i]| (its
// bits, sign cleared) is at least thresholds[i] (every threshold >= 1, so exact zeros are never selected), written
// to hits (room for n) in increasing order; returns how many. Raises max_bits to the largest magnitude seen that is
// not a NaN. The portable twin is select_tail_portable (core/src/model/quantize.cpp).
#if CORTEXLENS_HAVE_WIDE_F32
namespace f32_avx2 {
void conv2d(const F32Geometry& g, const float* weights, const float* bias);
void depthwise(const F32Geometry& g, const float* weights, const float* bias);
void dense(const F32Dense& d);
std::size_t select_tail(const float* values, const std::uint32_t* thresholds, std::size_t n, std::uint32_t* hits,
                        std::uint32_t& max_bits);
}  // namespace f32_avx2
namespace f32_avx512 {
// conv2d_backward_row runs a layer whose kernel rows times 16-column blocks number at most
// kConvBackwardMaxVectors (one register per block and pixel); wider layers keep the 4-lane path.
constexpr int kConvBackwardMaxVectors = 8;
void conv2d_backward_row(const F32ConvBackwardRow& row);
void depthwise_backward_run(const F32DepthwiseBackwardRun& run);
void conv2d(const F32Geometry& g, const float* weights, const float* bias);
void depthwise(const F32Geometry& g, const float* weights, const float* bias);
void dense(const F32Dense& d);
std::size_t select_tail(const float* values, const std::uint32_t* thresholds, std::size_t n, std::uint32_t* hits,
                        std::uint32_t& max_bits);
}  // namespace f32_avx512
#endif

}  // namespace cortexlens
