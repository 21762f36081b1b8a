// The backward pass to the input (backward.hpp): the BackwardPlan with the fast backward kernels it packs for, the
// GradientWorkspace and input_gradient. The scalar twins are kernels/f32_ref.cpp.
#include "cortexlens/backward.hpp"

#include <algorithm>
#include <string>

#include "cortexlens/forward.hpp"
#include "cortexlens/isa.hpp"
#include "engine/forward_plan.hpp"
#include "kernels/f32_wide.hpp"
#include "kernels/kernels.hpp"
#include "kernels/simd_f32x4.hpp"

namespace cortexlens {

// ---- fast kernels ----
//
// Where the time goes in a synthesis step of compact_model_190923_neuron0: the backward of the first conv (5x5,
// 3 -> 48 at 112x112) has as many multiply-adds as its forward, 45 M of the model's 59 M. Its input has only 3
// channels, so a gather over input channels leaves 3 accumulators and a horizontal sum per pixel. Instead each
// output pixel's gradient row (48 values) multiplies the transposed weights (48 x 5 rows of 15 values): a matrix
// product shaped like the forward's pointwise convs, with the same 2 pixels x 16 values register tile, followed
// by adding each 15-value row into the input gradient, where the 5 columns x 3 channels of one kernel row are
// contiguous in (H, W, C) order whatever the stride.
//
// On AVX-512 (active_isa(), CORTEXLENS_HAVE_WIDE_F32) both conv2d and depthwise hand their inner loops to
// kernels/f32_avx512.cpp, with the same packed weights and the same order of the sum over channels or taps (fused
// multiply-adds: within a tolerance of the reference, like the forward's wide paths); the lists of active channels
// and of taps are made here for every path.

struct BackwardPlan {
  // One layer's backward: packed weights and the buffers around its kernel.
  struct Step {
    const Layer* layer = nullptr;
    // conv2d: per kernel row ky, the row's kw * in.c values padded to `run_stride` (a multiple of 4) and cut into
    // blocks of up to 16 columns, each block (out.c, width) at offset (ky * run_stride + c0) * out.c.
    // depthwise: (kh, kw, cs) with zero padding channels. dense: unused (the layer's own weights are read).
    std::vector<float> weights;
    int run_stride = 0;
    // dy: d objective / d(pre-activation output). conv2d and dense: dense (out.h, out.w, out.c). depthwise: a zero
    // border wide enough for every tap's source and channel stride cs.
    ForwardPlan::Buffer dy;
    // dx: d objective / d(input). conv2d: bordered by the layer's pads, channel stride in.c, accumulated into
    // (zeroed per call); depthwise: (in.h, in.w, cs), unused when the chain lets it write into the dy below;
    // dense: (in.h, in.w, in.c).
    ForwardPlan::Buffer dx;
    // depthwise: scratch for the taps reaching one row and column phase, (kh * kw) at most. The tap's source is
    // for the tile's first pixel, channel 0: pixel p reads dy + p * cs.
    using Tap = F32DepthwiseTap;
    std::vector<Tap> taps;
    std::vector<int> row_taps;  // depthwise: (oy, ky) pairs reaching one input row
    // conv2d: per tile of one output row, the channels whose gradient is not zero for all its pixels, (tiles, out.c).
    std::vector<int> active, active_counts;
  };
  std::vector<Step> steps;
};

namespace {

using simd::f32x4;
constexpr int kLanes = 4;
constexpr int kBlock = 16;  // conv2d: transposed-weight columns per register tile
constexpr int kTile = 2;    // conv2d: output pixels per register tile
constexpr int kDwVectors = 2, kDwTile = 4;

int round_up4(int c) { return (c + kLanes - 1) / kLanes * kLanes; }

// For a 4-bit lane mask: its set lanes in increasing order, then filler (3, which keeps rows 8-15 the same as
// rows 0-7 with lane 3 appended), and how many lanes are set.
constexpr int kSetLanes[16][4] = {{3, 3, 3, 3}, {0, 3, 3, 3}, {1, 3, 3, 3}, {0, 1, 3, 3}, {2, 3, 3, 3}, {0, 2, 3, 3},
                                  {1, 2, 3, 3}, {0, 1, 2, 3}, {3, 3, 3, 3}, {0, 3, 3, 3}, {1, 3, 3, 3}, {0, 1, 3, 3},
                                  {2, 3, 3, 3}, {0, 2, 3, 3}, {1, 2, 3, 3}, {0, 1, 2, 3}};
constexpr int kSetLaneCount[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};

// Independent partial sums let compilers vectorize a float dot product without -ffast-math.
inline float dot_f32(const float* a, const float* b, int n) {
  constexpr int lanes = 8;
  float partial[lanes] = {};
  int i = 0;
  for (; i + lanes <= n; i += lanes)
    for (int l = 0; l < lanes; ++l) partial[l] += a[i + l] * b[i + l];
  float sum = 0.0f;
  for (; i < n; ++i) sum += a[i] * b[i];
  for (int l = 0; l < lanes; ++l) sum += partial[l];
  return sum;
}

// MR output pixels times NV * 4 transposed-weight columns, summed over the out_c gradients, then added into dx.
// dy: MR gradient rows dy_step apart; w: (out_c, NV * 4); dx: MR destinations dx_step apart, which overlap when the
// stride is below the kernel width, so each pixel's read-modify-write completes before the next one's.
// Only the channels listed in `active` (count of them) are summed: the others are zero for all MR pixels.
template <int MR, int NV>
inline void conv_backward_tile(const float* dy, int dy_step, const int* active, int count, const float* w, float* dx,
                               int dx_step) {
  f32x4 acc[MR][NV];
  for (int p = 0; p < MR; ++p)
    for (int v = 0; v < NV; ++v) acc[p][v] = simd::splat(0.0f);
  for (int i = 0; i < count; ++i) {
    const int oc = active[i];
    f32x4 wv[NV];
    for (int v = 0; v < NV; ++v) wv[v] = simd::load(w + (oc * NV + v) * kLanes);
    for (int p = 0; p < MR; ++p) {
      const f32x4 g = simd::load_splat(dy + p * dy_step + oc);
      for (int v = 0; v < NV; ++v) acc[p][v] = simd::mul_add(acc[p][v], g, wv[v]);
    }
  }
  for (int p = 0; p < MR; ++p)
    for (int v = 0; v < NV; ++v) {
      float* d = dx + p * dx_step + v * kLanes;
      simd::store(d, simd::add(simd::load(d), acc[p][v]));
    }
}

// One output row against one block of NV vectors: dy_row (out_w pixels, dy_step apart), dx the destination of
// pixel 0, dx_step = stride_w * in.c; tile t sums over the out_c-strided list active + t * out_c, counts[t] long.
template <int NV>
void conv_backward_row(const float* dy_row, int dy_step, int out_w, int out_c, const int* active, const int* counts,
                       const float* w, float* dx, int dx_step) {
  int ox = 0, t = 0;
  for (; ox + kTile <= out_w; ox += kTile, ++t)
    if (counts[t])
      conv_backward_tile<kTile, NV>(dy_row + ox * dy_step, dy_step, active + t * out_c, counts[t], w, dx + ox * dx_step,
                                    dx_step);
  if (ox < out_w && counts[t])
    conv_backward_tile<1, NV>(dy_row + ox * dy_step, dy_step, active + t * out_c, counts[t], w, dx + ox * dx_step,
                              dx_step);
}

void conv_backward_row_width(int vectors, const float* dy_row, int dy_step, int out_w, int out_c, const int* active,
                             const int* counts, const float* w, float* dx, int dx_step) {
  switch (vectors) {
    case 4:
      return conv_backward_row<4>(dy_row, dy_step, out_w, out_c, active, counts, w, dx, dx_step);
    case 3:
      return conv_backward_row<3>(dy_row, dy_step, out_w, out_c, active, counts, w, dx, dx_step);
    case 2:
      return conv_backward_row<2>(dy_row, dy_step, out_w, out_c, active, counts, w, dx, dx_step);
    default:
      return conv_backward_row<1>(dy_row, dy_step, out_w, out_c, active, counts, w, dx, dx_step);
  }
}

void conv2d_backward_packed(BackwardPlan::Step& step, const ForwardPlan::Buffer& dy, ForwardPlan::Buffer& dx) {
  const Layer& layer = *step.layer;
  const Shape3 is = layer.in, os = layer.out;
  std::fill(dx.data.begin(), dx.data.end(), 0.0f);
  const int dx_step = layer.stride_w * is.c;
  int* active = step.active.data();
  int* counts = step.active_counts.data();
#if CORTEXLENS_HAVE_WIDE_F32
  // AVX-512: every kernel row of a tile at once (f32_avx512::conv2d_backward_row), where its registers hold them.
  const bool wide = active_isa() == Isa::avx512 &&
                    layer.kernel_h * ((step.run_stride + 15) / 16) <= f32_avx512::kConvBackwardMaxVectors;
  float* dx_rows[f32_avx512::kConvBackwardMaxVectors];  // kernel_h <= that when wide: no allocation per call
#endif
  for (int oy = 0; oy < os.h; ++oy) {
    const float* dy_row = dy.at(oy, 0);
    // Behind a ReLU about half of the gradient is zero (47% on the first conv of neuron0 during synthesis, 37% for
    // both pixels of a tile): each tile lists the channels it has to sum, once for all kernel rows and blocks.
    for (int ox = 0, t = 0; ox < os.w; ox += kTile, ++t) {
      const int pixels = std::min(kTile, os.w - ox);
      const float* g = dy_row + ox * dy.channel_stride;
      int* list = active + t * os.c;
      int count = 0, oc = 0;
      // Branch-free, four channels at a time: the tests are as unpredictable as the gradient's sign.
      for (; oc + kLanes <= os.c; oc += kLanes) {
        int bits = 0;
        for (int p = 0; p < pixels; ++p) bits |= simd::nonzero_lanes(simd::load(g + p * dy.channel_stride + oc));
        for (int j = 0; j < kLanes; ++j) list[count + j] = oc + kSetLanes[bits][j];
        count += kSetLaneCount[bits];
      }
      for (; oc < os.c; ++oc) {
        bool any = false;
        for (int p = 0; p < pixels; ++p) any |= g[p * dy.channel_stride + oc] != 0.0f;
        list[count] = oc;
        count += any;
      }
      counts[t] = count;
    }
#if CORTEXLENS_HAVE_WIDE_F32
    if (wide) {
      for (int ky = 0; ky < layer.kernel_h; ++ky) {
        const int iy = oy * layer.stride_h - layer.pad.top + ky;
        dx_rows[ky] = iy < 0 || iy >= is.h ? nullptr : dx.at(iy, -layer.pad.left);
      }
      f32_avx512::conv2d_backward_row({dy_row, dy.channel_stride, os.w, os.c, active, counts, step.weights.data(),
                                       step.run_stride, layer.kernel_h, dx_rows, dx_step});
      continue;
    }
#endif
    for (int ky = 0; ky < layer.kernel_h; ++ky) {
      // Rows of the zero padding take contributions that would be thrown away.
      const int iy = oy * layer.stride_h - layer.pad.top + ky;
      if (iy < 0 || iy >= is.h) continue;
      float* dx_row = dx.at(iy, -layer.pad.left);
      for (int c0 = 0; c0 < step.run_stride; c0 += kBlock) {
        const int width = std::min(kBlock, step.run_stride - c0);
        const float* w = step.weights.data() + (static_cast<std::size_t>(ky) * step.run_stride + c0) * os.c;
        conv_backward_row_width(width / kLanes, dy_row, dy.channel_stride, os.w, os.c, active, counts, w, dx_row + c0,
                                dx_step);
      }
    }
  }
}

// Where a depthwise backward writes: dx itself, or (fused) the dy of the layer below, through its ReLU mask when
// `mask` is set. Pixel (y, x) at base + y * row + x * pixel, and likewise in the mask.
struct Destination {
  float* base;
  std::ptrdiff_t row, pixel;
  const float* mask;
  std::ptrdiff_t mask_row, mask_pixel;
};

template <int MR, int NV>
inline void depthwise_backward_tile(const BackwardPlan::Step::Tap* taps, int count, int cs, std::ptrdiff_t offset,
                                    int c0, float* dx, std::ptrdiff_t dx_step, const float* mask,
                                    std::ptrdiff_t mask_step) {
  f32x4 acc[MR][NV];
  for (int p = 0; p < MR; ++p)
    for (int v = 0; v < NV; ++v) acc[p][v] = simd::splat(0.0f);
  for (int t = 0; t < count; ++t) {
    const float* g = taps[t].dy + offset + c0;
    f32x4 wv[NV];
    for (int v = 0; v < NV; ++v) wv[v] = simd::load(taps[t].w + c0 + v * kLanes);
    for (int p = 0; p < MR; ++p)
      for (int v = 0; v < NV; ++v) acc[p][v] = simd::mul_add(acc[p][v], simd::load(g + p * cs + v * kLanes), wv[v]);
  }
  for (int p = 0; p < MR; ++p)
    for (int v = 0; v < NV; ++v) {
      const f32x4 value =
          mask ? simd::where_positive(simd::load(mask + p * mask_step + c0 + v * kLanes), acc[p][v]) : acc[p][v];
      simd::store(dx + p * dx_step + c0 + v * kLanes, value);
    }
}

// Input pixel (iy, ix) receives from output (oy, ox) through tap (ky, kx) when oy * s - pad + ky == iy, i.e. from the
// taps whose (iy + pad - ky) is a multiple of the stride. Input pixels of one column phase (ix mod stride_w) share
// their taps, and consecutive pixels of a phase read consecutive output pixels: they form the tile.
void depthwise_backward_packed(BackwardPlan::Step& step, const ForwardPlan::Buffer& dy, const Destination& out) {
  const Layer& layer = *step.layer;
  const Shape3 is = layer.in;
  const int sh = layer.stride_h, sw = layer.stride_w, cs = dy.channel_stride;
  BackwardPlan::Step::Tap* taps = step.taps.data();
  std::vector<int>& rows = step.row_taps;
#if CORTEXLENS_HAVE_WIDE_F32
  const bool wide = active_isa() == Isa::avx512;
#endif
  for (int iy = 0; iy < is.h; ++iy) {
    rows.clear();
    for (int ky = 0; ky < layer.kernel_h; ++ky) {
      const int num = iy + layer.pad.top - ky;  // exact division below when it is a multiple, negative or not
      if (num % sh == 0) {
        rows.push_back(num / sh);
        rows.push_back(ky);
      }
    }
    for (int px = 0; px < std::min(sw, is.w); ++px) {
      // The taps, ky outer and kx inner: the order of the sum.
      int count = 0;
      for (std::size_t r = 0; r < rows.size(); r += 2)
        for (int kx = 0; kx < layer.kernel_w; ++kx) {
          const int num = px + layer.pad.left - kx;
          if (num % sw) continue;
          taps[count++] = {dy.at(rows[r], num / sw),
                           step.weights.data() + (static_cast<std::size_t>(rows[r + 1]) * layer.kernel_w + kx) * cs};
        }
      const int pixels = (is.w - px + sw - 1) / sw;  // ix = px + t * sw
      float* dx_first = out.base + iy * out.row + px * out.pixel;
      const std::ptrdiff_t dx_step = sw * out.pixel;
      const float* mask_first = out.mask ? out.mask + iy * out.mask_row + px * out.mask_pixel : nullptr;
      const std::ptrdiff_t mask_step = sw * out.mask_pixel;
#if CORTEXLENS_HAVE_WIDE_F32
      if (wide) {
        f32_avx512::depthwise_backward_run({taps, count, cs, pixels, dx_first, dx_step, mask_first, mask_step});
        continue;
      }
#endif
      for (int t = 0; t < pixels;) {
        const std::ptrdiff_t offset = static_cast<std::ptrdiff_t>(t) * cs;
        float* d = dx_first + t * dx_step;
        const float* m = mask_first ? mask_first + t * mask_step : nullptr;
        if (t + kDwTile <= pixels) {
          int c0 = 0;
          for (; c0 + kDwVectors * kLanes <= cs; c0 += kDwVectors * kLanes)
            depthwise_backward_tile<kDwTile, kDwVectors>(taps, count, cs, offset, c0, d, dx_step, m, mask_step);
          for (; c0 < cs; c0 += kLanes)
            depthwise_backward_tile<kDwTile, 1>(taps, count, cs, offset, c0, d, dx_step, m, mask_step);
          t += kDwTile;
        } else {
          for (int c0 = 0; c0 < cs; c0 += kLanes)
            depthwise_backward_tile<1, 1>(taps, count, cs, offset, c0, d, dx_step, m, mask_step);
          ++t;
        }
      }
    }
  }
}

// Layers whose dy rows hold exactly out.c values per pixel and whose dx is dense use the layer's own layout.
void dense_backward(const Layer& layer, const float* dy, float* dx) {
  const std::size_t inputs = layer.in.size();
  const int units = layer.out.c;
  if (units == 1) {
    const float g = dy[0];
    for (std::size_t i = 0; i < inputs; ++i) dx[i] = g * layer.weights[i];
    return;
  }
  for (std::size_t i = 0; i < inputs; ++i) dx[i] = dot_f32(dy, layer.weights.data() + i * units, units);
}

BackwardPlan::Step prepare_backward_step(const Layer& layer) {
  BackwardPlan::Step step;
  step.layer = &layer;
  const Shape3 is = layer.in, os = layer.out;
  const int kh = layer.kernel_h, kw = layer.kernel_w;
  switch (layer.kind) {
    case LayerKind::conv2d: {
      const int run = kw * is.c;
      step.run_stride = round_up4(run);
      step.weights.assign(static_cast<std::size_t>(kh) * step.run_stride * os.c, 0.0f);
      for (int ky = 0; ky < kh; ++ky)
        for (int c0 = 0; c0 < step.run_stride; c0 += kBlock) {
          const int width = std::min(kBlock, step.run_stride - c0);
          float* block = step.weights.data() + (static_cast<std::size_t>(ky) * step.run_stride + c0) * os.c;
          for (int oc = 0; oc < os.c; ++oc)
            for (int j = 0; j < width && c0 + j < run; ++j)
              block[static_cast<std::size_t>(oc) * width + j] =
                  layer.weights[(static_cast<std::size_t>(ky) * run + c0 + j) * os.c + oc];
        }
      step.dy = ForwardPlan::make_buffer(os, Padding{}, os.c);
      step.dx = ForwardPlan::make_buffer(is, layer.pad, is.c);
      step.active_counts.resize((os.w + kTile - 1) / kTile);
      step.active.resize(step.active_counts.size() * os.c);
      break;
    }
    case LayerKind::depthwise_conv2d: {
      const int cs = round_up4(is.c);
      step.weights.assign(static_cast<std::size_t>(kh) * kw * cs, 0.0f);
      for (int t = 0; t < kh * kw; ++t)
        std::copy_n(layer.weights.data() + static_cast<std::size_t>(t) * is.c, is.c,
                    step.weights.data() + static_cast<std::size_t>(t) * cs);
      // The taps reaching input rows 0..H-1 read output rows (iy + pad - ky) / stride from
      // -floor((kh - 1 - pad) / stride) to floor((H - 1 + pad) / stride); outside 0..out.h-1 they read the zero border.
      const auto before = [](int k, int pad, int s) { return std::max(0, (k - 1 - pad) / s); };
      const auto after = [](int in, int out, int pad, int s) { return std::max(0, (in - 1 + pad) / s - (out - 1)); };
      const Padding border{before(kh, layer.pad.top, layer.stride_h), after(is.h, os.h, layer.pad.top, layer.stride_h),
                           before(kw, layer.pad.left, layer.stride_w),
                           after(is.w, os.w, layer.pad.left, layer.stride_w)};
      step.dy = ForwardPlan::make_buffer(os, border, cs);
      step.dx = ForwardPlan::make_buffer(is, Padding{}, cs);
      step.taps.resize(static_cast<std::size_t>(kh) * kw);
      step.row_taps.reserve(2 * static_cast<std::size_t>(kh));
      break;
    }
    case LayerKind::dense:
      step.dy = ForwardPlan::make_buffer(os, Padding{}, os.c);
      step.dx = ForwardPlan::make_buffer(is, Padding{}, is.c);
      break;
  }
  return step;
}

void run_backward_step(BackwardPlan::Step& step) {
  switch (step.layer->kind) {
    case LayerKind::conv2d:
      return conv2d_backward_packed(step, step.dy, step.dx);
    case LayerKind::depthwise_conv2d:
      return depthwise_backward_packed(step, step.dy,
                                       {step.dx.at(0, 0), step.dx.row_stride(), step.dx.channel_stride, nullptr, 0, 0});
    case LayerKind::dense:
      return dense_backward(*step.layer, step.dy.at(0, 0), step.dx.at(0, 0));
  }
}

// A (H, W, C) map somewhere in memory: pixel (y, x) at base + y * row + x * pixel.
struct MapView {
  const float* base;
  std::ptrdiff_t row, pixel;
};
MapView view_of(const ForwardPlan::Buffer& b) { return {b.at(0, 0), b.row_stride(), b.channel_stride}; }
MapView dense_view(const float* data, Shape3 s) { return {data, static_cast<std::ptrdiff_t>(s.w) * s.c, s.c}; }

// out(y, x, c) = mask(y, x, c) > 0 ? in(y, x, c) : 0 for every c < shape.c (without a mask: a copy). This is how the
// gradient crosses a ReLU: the kept output is > 0 exactly where the pre-activation was.
void copy_masked(Shape3 shape, MapView in, const MapView* mask, float* out, std::ptrdiff_t out_row,
                 std::ptrdiff_t out_pixel) {
  // Unpadded channels everywhere make each row one run of W * C values.
  if (in.pixel == shape.c && out_pixel == shape.c && (!mask || mask->pixel == shape.c))
    shape = {shape.h, 1, shape.w * shape.c};
  for (int y = 0; y < shape.h; ++y)
    for (int x = 0; x < shape.w; ++x) {
      const float* a = in.base + y * in.row + x * in.pixel;
      float* o = out + y * out_row + x * out_pixel;
      int c = 0;
      if (mask) {
        const float* m = mask->base + y * mask->row + x * mask->pixel;
        for (; c + kLanes <= shape.c; c += kLanes)
          simd::store(o + c, simd::where_positive(simd::load(m + c), simd::load(a + c)));
        for (; c < shape.c; ++c) o[c] = m[c] > 0.0f ? a[c] : 0.0f;
      } else {
        for (; c + kLanes <= shape.c; c += kLanes) simd::store(o + c, simd::load(a + c));
        for (; c < shape.c; ++c) o[c] = a[c];
      }
    }
}

void copy_into(Shape3 shape, MapView in, const MapView* mask, ForwardPlan::Buffer& out) {
  copy_masked(shape, in, mask, out.at(0, 0), out.row_stride(), out.channel_stride);
}

// The public per-layer fast kernels: the same step as input_gradient's, prepared for one call.
void run_single_backward(const Layer& layer, const float* dy, float* dx) {
  BackwardPlan::Step step = prepare_backward_step(layer);
  copy_into(layer.out, dense_view(dy, layer.out), nullptr, step.dy);
  run_backward_step(step);
  copy_masked(layer.in, view_of(step.dx), nullptr, dx, static_cast<std::ptrdiff_t>(layer.in.w) * layer.in.c,
              layer.in.c);
}

}  // namespace

void conv2d_backward_input_f32(const Layer& layer, const float* dy, float* dx) { run_single_backward(layer, dy, dx); }
void depthwise_conv2d_backward_input_f32(const Layer& layer, const float* dy, float* dx) {
  run_single_backward(layer, dy, dx);
}
void dense_backward_input_f32(const Layer& layer, const float* dy, float* dx) { dense_backward(layer, dy, dx); }

void run_layer_backward_input_f32(const Layer& layer, const float* dy, float* dx, bool use_reference) {
  switch (layer.kind) {
    case LayerKind::conv2d:
      return use_reference ? conv2d_backward_input_f32_ref(layer, dy, dx) : conv2d_backward_input_f32(layer, dy, dx);
    case LayerKind::depthwise_conv2d:
      return use_reference ? depthwise_conv2d_backward_input_f32_ref(layer, dy, dx)
                           : depthwise_conv2d_backward_input_f32(layer, dy, dx);
    case LayerKind::dense:
      return use_reference ? dense_backward_input_f32_ref(layer, dy, dx) : dense_backward_input_f32(layer, dy, dx);
  }
}

// ---- the whole chain ----

Status check_selector(const Model& model, const OutputSelector& s) {
  if (model.layers.empty()) return Status::error("model '" + model.name + "' has no layers");
  const int count = static_cast<int>(model.layers.size());
  if (s.layer < -1 || s.layer >= count)
    return Status::error("selector layer " + std::to_string(s.layer) + " out of range: model '" + model.name +
                         "' has layers 0.." + std::to_string(count - 1) + " (or -1 for the outputs)");
  const Shape3 out = model.layers[s.layer < 0 ? count - 1 : s.layer].out;
  // The outputs are the last layer's map flattened in (H, W, C) order.
  const int limit = s.layer < 0 ? static_cast<int>(out.size()) : out.c;
  if (s.channel < 0 || s.channel >= limit)
    return Status::error(std::string(s.layer < 0 ? "output" : "channel") + " " + std::to_string(s.channel) +
                         " out of range: expected 0.." + std::to_string(limit - 1));
  if (s.layer >= 0 && (s.y >= 0 || s.x >= 0) && (s.y < 0 || s.x < 0 || s.y >= out.h || s.x >= out.w))
    return Status::error("position (" + std::to_string(s.y) + "," + std::to_string(s.x) + ") outside layer " +
                         std::to_string(s.layer) + "'s " + std::to_string(out.h) + "x" + std::to_string(out.w) +
                         " map (use -1,-1 for the mean over positions)");
  return Status::ok();
}

GradientWorkspace::GradientWorkspace() = default;
GradientWorkspace::~GradientWorkspace() = default;
GradientWorkspace::GradientWorkspace(GradientWorkspace&&) noexcept = default;
GradientWorkspace& GradientWorkspace::operator=(GradientWorkspace&&) noexcept = default;

void GradientWorkspace::run_forward(const Model& model, const float* input, bool keep_activations) {
  if (!plan || plan_model != &model || plan_layers != model.layers.data()) {
    plan = std::make_unique<ForwardPlan>(model);
    backward.reset();
    plan_model = &model;
    plan_layers = model.layers.data();
  }
  outputs.resize(plan->output_size());
  plan->run(input, outputs.data(), keep_activations ? &activations : nullptr);
}

namespace {

// The chain rule with the scalar twins, on dense tensors: the statement the fast path is checked against.
// `seed(y, grad)` reads the selected layer's output y (after its activation) and writes d objective / d y into grad
// (zeroed, the layer's size); it returns the objective.
template <typename Seed>
float backward_reference(const Model& model, const float* input, int last, float* gradient, GradientWorkspace& ws,
                         Seed seed) {
  std::size_t largest = model.input.size();
  for (int l = 0; l <= last; ++l) largest = std::max(largest, model.layers[l].out.size());
  ws.activations.resize(static_cast<std::size_t>(last) + 1);
  for (int l = 0; l <= last; ++l) {
    const Layer& layer = model.layers[l];
    ws.activations[l] = Tensor(layer.out);
    run_layer_f32(layer, l == 0 ? input : ws.activations[l - 1].data.data(), ws.activations[l].data.data(), true);
  }
  ws.grad_out.assign(largest, 0.0f);
  ws.grad_in.resize(largest);
  const float value = seed(ws.activations[last].data, ws.grad_out.data());

  for (int l = last; l >= 0; --l) {
    const Layer& layer = model.layers[l];
    float* dy = ws.grad_out.data();
    if (layer.activation == Activation::relu) {
      // The kept output is post-ReLU: it is > 0 exactly where the pre-activation was.
      const float* out = ws.activations[l].data.data();
      const std::size_t n = layer.out.size();
      for (std::size_t i = 0; i < n; ++i) dy[i] = out[i] > 0.0f ? dy[i] : 0.0f;
    }
    float* dx = l == 0 ? gradient : ws.grad_in.data();
    run_layer_backward_input_f32(layer, dy, dx, true);
    if (l > 0) std::swap(ws.grad_out, ws.grad_in);
  }
  return value;
}

float input_gradient_reference(const Model& model, const float* input, const OutputSelector& selector, int last,
                               float* gradient, GradientWorkspace& ws) {
  const Shape3 os = model.layers[last].out;
  return backward_reference(model, input, last, gradient, ws, [&](const std::vector<float>& y, float* grad) {
    // Seed: d objective / d (post-activation output of the selected layer), (out.h, out.w, out.c).
    if (selector.layer < 0 || selector.y >= 0) {
      const std::size_t at = selector.layer < 0
                                 ? static_cast<std::size_t>(selector.channel)
                                 : (static_cast<std::size_t>(selector.y) * os.w + selector.x) * os.c + selector.channel;
      grad[at] = 1.0f;
      return y[at];
    }
    const float weight = 1.0f / static_cast<float>(os.h * os.w);
    double sum = 0.0;
    for (int p = 0; p < os.h * os.w; ++p) {
      const std::size_t at = static_cast<std::size_t>(p) * os.c + selector.channel;
      sum += y[at];
      grad[at] = weight;
    }
    return static_cast<float>(sum / (os.h * os.w));
  });
}

// The fast chain below a seeded layer: steps[last].dy holds d objective / d (pre-activation output of layer
// `last`); writes d objective / d input into `gradient`.
void backward_fast_from_seed(const Model& model, int last, float* gradient, GradientWorkspace& ws) {
  std::vector<BackwardPlan::Step>& steps = ws.backward->steps;
  const ForwardPlan& plan = *ws.plan;
  for (int l = last; l >= 0; --l) {
    BackwardPlan::Step& step = steps[l];
    const Shape3 is = model.layers[l].in;
    const Layer& layer = model.layers[l];
    if (l > 0 && layer.kind == LayerKind::depthwise_conv2d && is.c % kLanes == 0) {
      // Channels a multiple of 4 (its channel stride), so the gather can write whole vectors straight into the
      // dy below, through its ReLU mask: no dx pass over the (often largest) input map.
      ForwardPlan::Buffer& below = steps[l - 1].dy;
      const ForwardPlan::Buffer& mask = plan.output_buffer(l - 1);
      const bool below_relu = model.layers[l - 1].activation == Activation::relu;
      depthwise_backward_packed(step, step.dy,
                                {below.at(0, 0), below.row_stride(), below.channel_stride,
                                 below_relu ? mask.at(0, 0) : nullptr, mask.row_stride(), mask.channel_stride});
      continue;
    }
    run_backward_step(step);
    if (l == 0) {
      copy_masked(is, view_of(step.dx), nullptr, gradient, static_cast<std::ptrdiff_t>(is.w) * is.c, is.c);
      break;
    }
    // Down through the activation of the layer below, into its dy.
    const MapView mask = view_of(plan.output_buffer(l - 1));
    const bool below_relu = model.layers[l - 1].activation == Activation::relu;
    copy_into(is, view_of(step.dx), below_relu ? &mask : nullptr, steps[l - 1].dy);
  }
}

// The forward pass through the plan (activations stay in its bordered buffers, where the ReLU masks are read),
// with the backward plan built on first use.
void forward_for_backward(const Model& model, const float* input, GradientWorkspace& ws) {
  ws.run_forward(model, input, false);
  if (!ws.backward) {
    ws.backward = std::make_unique<BackwardPlan>();
    ws.backward->steps.reserve(model.layers.size());
    for (const Layer& layer : model.layers) ws.backward->steps.push_back(prepare_backward_step(layer));
  }
}

}  // namespace

float input_gradient_unchecked(const Model& model, const float* input, const OutputSelector& selector, float* gradient,
                               GradientWorkspace& ws, bool use_reference) {
  const int last = selector.layer < 0 ? static_cast<int>(model.layers.size()) - 1 : selector.layer;
  if (use_reference) return input_gradient_reference(model, input, selector, last, gradient, ws);

  forward_for_backward(model, input, ws);
  std::vector<BackwardPlan::Step>& steps = ws.backward->steps;
  const ForwardPlan& plan = *ws.plan;

  // Seed: d objective / d (pre-activation output of the selected layer), written straight into its dy buffer.
  const Layer& top = model.layers[last];
  const Shape3 os = top.out;
  const ForwardPlan::Buffer& y = plan.output_buffer(last);
  ForwardPlan::Buffer& seed = steps[last].dy;
  std::fill(seed.data.begin(), seed.data.end(), 0.0f);
  const bool relu = top.activation == Activation::relu;
  auto set_seed = [&](int yy, int xx, int c, float weight) {
    seed.at(yy, xx)[c] = !relu || y.at(yy, xx)[c] > 0.0f ? weight : 0.0f;
  };
  float value = 0.0f;
  if (selector.layer < 0 || selector.y >= 0) {
    // The outputs are the last layer's map flattened in (H, W, C) order.
    const int pixel = selector.layer < 0 ? selector.channel / os.c : selector.y * os.w + selector.x;
    const int c = selector.layer < 0 ? selector.channel % os.c : selector.channel;
    value = y.at(pixel / os.w, pixel % os.w)[c];
    set_seed(pixel / os.w, pixel % os.w, c, 1.0f);
  } else {
    const float weight = 1.0f / static_cast<float>(os.h * os.w);
    double sum = 0.0;
    for (int yy = 0; yy < os.h; ++yy)
      for (int xx = 0; xx < os.w; ++xx) {
        sum += y.at(yy, xx)[selector.channel];
        set_seed(yy, xx, selector.channel, weight);
      }
    value = static_cast<float>(sum / (os.h * os.w));
  }
  backward_fast_from_seed(model, last, gradient, ws);
  return value;
}

void input_vjp_unchecked(const Model& model, const float* input, const VjpWeights& weights_of, float* gradient,
                         GradientWorkspace& ws, bool use_reference) {
  const int last = static_cast<int>(model.layers.size()) - 1;
  const std::size_t count = model.layers[last].out.size();
  if (use_reference) {
    backward_reference(model, input, last, gradient, ws, [&](const std::vector<float>& y, float* grad) {
      ws.outputs.assign(y.begin(), y.end());
      weights_of(ws.outputs, grad);
      return 0.0f;
    });
    return;
  }
  forward_for_backward(model, input, ws);
  ws.vjp_weights.assign(count, 0.0f);
  weights_of(ws.outputs, ws.vjp_weights.data());
  // Seed: the weights, through the last layer's activation, at each output's place in its (H, W, C) map.
  const Layer& top = model.layers[last];
  const Shape3 os = top.out;
  const ForwardPlan::Buffer& y = ws.plan->output_buffer(last);
  ForwardPlan::Buffer& seed = ws.backward->steps[last].dy;
  std::fill(seed.data.begin(), seed.data.end(), 0.0f);
  const bool relu = top.activation == Activation::relu;
  for (int yy = 0; yy < os.h; ++yy)
    for (int xx = 0; xx < os.w; ++xx)
      for (int c = 0; c < os.c; ++c) {
        const float w = ws.vjp_weights[(static_cast<std::size_t>(yy) * os.w + xx) * os.c + c];
        seed.at(yy, xx)[c] = !relu || y.at(yy, xx)[c] > 0.0f ? w : 0.0f;
      }
  backward_fast_from_seed(model, last, gradient, ws);
}

Result<GradientResult> input_gradient(const Model& model, const Tensor& input, const OutputSelector& selector,
                                      const GradientOptions& options, GradientWorkspace* workspace) {
  if (input.shape != model.input || input.data.size() != model.input.size())
    return Status::error("input has shape (" + std::to_string(input.shape.h) + "," + std::to_string(input.shape.w) +
                         "," + std::to_string(input.shape.c) + "), model '" + model.name + "' expects (" +
                         std::to_string(model.input.h) + "," + std::to_string(model.input.w) + "," +
                         std::to_string(model.input.c) + ")");
  CL_RETURN_IF_ERROR(check_selector(model, selector));
  GradientWorkspace local;
  GradientResult result;
  result.gradient = Tensor(model.input);
  result.value = input_gradient_unchecked(model, input.data.data(), selector, result.gradient.data.data(),
                                          workspace ? *workspace : local, options.use_reference_kernels);
  return result;
}

Result<VjpResult> input_vjp(const Model& model, const Tensor& input, const std::vector<float>& weights,
                            const GradientOptions& options, GradientWorkspace* workspace) {
  CL_RETURN_IF_ERROR(check_forward_input(model, input));
  if (model.layers.empty()) return Status::error("model '" + model.name + "' has no layers");
  const std::size_t count = model.layers.back().out.size();
  if (weights.size() != count)
    return Status::error("vector-Jacobian product: " + std::to_string(weights.size()) + " weights given, model '" +
                         model.name + "' has " + std::to_string(count) + " outputs");
  GradientWorkspace local;
  VjpResult result;
  result.gradient = Tensor(model.input);
  input_vjp_unchecked(
      model, input.data.data(),
      [&](const std::vector<float>& outputs, float* w) {
        result.outputs = outputs;
        std::copy(weights.begin(), weights.end(), w);
      },
      result.gradient.data.data(), workspace ? *workspace : local, options.use_reference_kernels);
  return result;
}

}  // namespace cortexlens
