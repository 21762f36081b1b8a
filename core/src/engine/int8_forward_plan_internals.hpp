// Private to the core (tests and bench include it too): the parts of an Int8ForwardPlan that the tiled int8
// kernels (kernels/int8_simd.cpp) read and write. The plan's chain of steps is engine/int8_forward_plan.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cortexlens/int8_forward_plan.hpp"

namespace cortexlens {

// A quantized activation with its zero border and channel stride.
struct Int8ForwardPlan::Buffer {
  Shape3 shape;  // (H, W, C) of the activation itself
  Padding border;
  int channel_stride = 0;           // >= shape.c
  std::int16_t* origin = nullptr;   // its first value: in `owned`, or in an arena during a run
  std::vector<std::int16_t> owned;  // (border.top + H + border.bottom, border.left + W + border.right, cs) + slack

  Buffer() = default;
  Buffer(Buffer&&) = default;  // a moved vector keeps its storage, so origin stays valid
  Buffer& operator=(Buffer&&) = default;
  Buffer(const Buffer&) = delete;

  int row_stride() const { return (border.left + shape.w + border.right) * channel_stride; }
  std::size_t elements() const;  // including the slack
  // Pixel (y, x); y and x may reach into the border.
  std::int16_t* at(int y, int x) {
    return origin + static_cast<std::ptrdiff_t>(y + border.top) * row_stride() +
           static_cast<std::ptrdiff_t>(x + border.left) * channel_stride;
  }
  // Zeroes every value the layer that writes this buffer leaves alone: border, channels past C, slack.
  void clear_unwritten();
};
// Int8ForwardPlan::describe_buffer gives a buffer's layout without storage (a plan with an arena gives it storage at
// each run), make_buffer one with its own zeroed storage.

// One layer with its weights in the kernels' layout (see the top of cortexlens/int8_forward_plan.hpp); made by
// Int8ForwardPlan::prepare_step.
struct Int8ForwardPlan::Step {
  const Layer* layer = nullptr;
  int in_cs = 0;                            // channel stride of the input buffer
  int pairs = 0;                            // conv2d: int16 pairs per window row, ceil(kw * in_cs / 2)
  std::vector<std::int16_t> weights;        // conv2d, depthwise, dense with one unit
  std::vector<std::ptrdiff_t> tap_offsets;  // depthwise: per tap pair, the two taps' input offsets
  std::vector<std::int16_t> tap_weights;    // depthwise, for the AVX2/AVX-512 steps (kernels/int8_wide.hpp): (taps, cs)
  // depthwise 5 wide at stride 2 along x, for the same steps (wide_int8::depthwise_pairs): (kh, 3, cs rounded up to
  // 16, 2), the weights of taps kx = 2t and 2t + 1 side by side (kx = 5 is zero). Empty elsewhere.
  std::vector<std::int16_t> pair_weights;
  std::vector<std::int8_t> dense_weights;  // dense with several units
  // conv2d on AMX (kernels/int8_avx512.cpp): per block of 16 output channels (quads, 16, 4) int8, where the
  // window's kh rows of kw * in_cs codes follow one another (k = ky * kw * in_cs + kx * in_cs + ic) in groups of 4,
  // rounded up to whole tiles of 16 groups. The input is read as unsigned bytes, signed codes shifted by 128:
  // quad_correction[oc] = 128 * (sum of oc's weights) then, else 0, is subtracted from each sum. Empty on builds
  // without the wide paths.
  int quads = 0;
  std::vector<std::int8_t> quad_weights;
  std::vector<std::int32_t> quad_correction;
  std::vector<float> scale, bias;  // (padded channels) input_scale * weight_scales[oc]; bias; 0 beyond out.c
};

// Where a step's finished values go: quantized into the next layer's buffer, as floats, or both.
struct Int8ForwardPlan::Sink {
  std::int16_t* q = nullptr;  // pixel (0, 0) of the consumer's buffer interior
  int q_pixel = 0;            // channel stride (a multiple of 4)
  std::ptrdiff_t q_row = 0;
  float q_scale = 1.0f, q_low = 0.0f, q_high = 0.0f;  // consumer's input scale and quantized range
  float* f = nullptr;                                 // pixel (0, 0) of a float (H, W, f_pixel) map
  int f_pixel = 0;                                    // a multiple of 4
  std::ptrdiff_t f_row = 0;
};
// Int8ForwardPlan::run_step runs one step on its bordered input: the one-layer kernels (conv2d_int8_tiled & co) run
// this code too.

// For tests: overwrites an arena's block with a value no plan writes, so anything a plan forgets to clear shows.
void scribble_int8_arena(Int8Arena& arena, std::int16_t value);

}  // namespace cortexlens
