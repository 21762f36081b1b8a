// Fast float32 kernels (wasm SIMD128, SSE natively; see simd_f32x4.hpp) and the ForwardPlan steps that feed them
// (their weight and buffer layouts; the chain of steps is engine/forward_plan.cpp). run_step dispatches on the ISA
// the step was packed for: these 4-lane kernels (sse: bit-identical natively and in wasm), the AVX2 and AVX-512
// ones (f32_wide.hpp), or the `_ref` twins (scalar).
//
// Where the time goes (compact_model_190923_neuron0, 59.4 M multiply-adds): the 5x5 conv on the 112x112 RGB input
// is 76% of the multiply-adds, the first pointwise conv 15%, the first depthwise conv 6%. So:
//   - conv2d is a direct convolution (no im2col copy) with a register tile of kTile output pixels x kBlock output
//     channels. With HWIO weights and (H, W, C) activations one pixel's window row is kw * C contiguous floats,
//     so the reduction is kh runs of kw * C values with no index arithmetic inside; each step loads kBlockVectors
//     weight vectors once and one splat per pixel.
//   - 2 pixels x 16 channels (8 accumulators + 4 weights + splat + product = 14 xmm) fits the 15 xmm registers V8
//     allocates on x86-64 without spilling and needs the fewest loads per multiply-add. Measured in wasm on the
//     first conv and the pointwise convs (min of 25 runs, G multiply-adds/s): 2x16 20.2/20.0, 4x8 18.6/18.2,
//     3x12 13.7/14.6, 4x12 16.7/17.0, 6x8 13.7/15.0, 1x24 15.7/15.3 (bench/README.md).
//   - Borders are zeros in the activation buffers (ForwardPlan), so there are no bounds tests at all.
#include <algorithm>
#include <cstring>

#include "cortexlens/isa.hpp"
#include "engine/forward_plan.hpp"
#include "kernels/f32_wide.hpp"
#include "kernels/kernels.hpp"
#include "kernels/simd_f32x4.hpp"

namespace cortexlens {

namespace {

using simd::f32x4;

constexpr int kLanes = 4;
// Tile sizes can be overridden at compile time to measure alternatives (bench/README.md).
#ifndef CORTEXLENS_F32_BLOCK_VECTORS
#define CORTEXLENS_F32_BLOCK_VECTORS 4
#endif
#ifndef CORTEXLENS_F32_TILE
#define CORTEXLENS_F32_TILE 2
#endif
constexpr int kBlockVectors = CORTEXLENS_F32_BLOCK_VECTORS;  // f32x4 per output pixel in the conv tile
constexpr int kBlock = kLanes * kBlockVectors;
constexpr int kTile = CORTEXLENS_F32_TILE;  // output pixels per register tile
// Depthwise: each input value is used once per tap, so the tile only shares the weight loads across pixels.
#ifndef CORTEXLENS_DW_VECTORS
#define CORTEXLENS_DW_VECTORS 2
#endif
#ifndef CORTEXLENS_DW_TILE
#define CORTEXLENS_DW_TILE 4
#endif
constexpr int kDwVectors = CORTEXLENS_DW_VECTORS;
constexpr int kDwBlock = kLanes * kDwVectors;
constexpr int kDwTile = CORTEXLENS_DW_TILE;

int round_up4(int c) { return (c + kLanes - 1) / kLanes * kLanes; }
int round_up(int c, int multiple) { return (c + multiple - 1) / multiple * multiple; }

using Geometry = F32Geometry;

template <int MR, int NV>
inline void conv_tile(const Geometry& g, const float* w, const float* bias, const float* in, float* out) {
  f32x4 acc[MR][NV];
  for (int v = 0; v < NV; ++v) {
    const f32x4 b = simd::load(bias + kLanes * v);
    for (int p = 0; p < MR; ++p) acc[p][v] = b;
  }
  const int run = g.kw * g.in_cs;
  const int pixel_step = g.sw * g.in_cs;
  for (int ky = 0; ky < g.kh; ++ky) {
    const float* x = in + static_cast<std::ptrdiff_t>(ky) * g.in_row;
    const float* wk = w + static_cast<std::ptrdiff_t>(ky) * run * NV * kLanes;
    for (int j = 0; j < run; ++j) {
      f32x4 wv[NV];
      for (int v = 0; v < NV; ++v) wv[v] = simd::load(wk + (j * NV + v) * kLanes);
      for (int p = 0; p < MR; ++p) {
        const f32x4 xv = simd::load_splat(x + p * pixel_step + j);
        for (int v = 0; v < NV; ++v) acc[p][v] = simd::mul_add(acc[p][v], xv, wv[v]);
      }
    }
  }
  for (int p = 0; p < MR; ++p)
    for (int v = 0; v < NV; ++v)
      simd::store(out + p * g.out_cs + v * kLanes, g.relu ? simd::relu(acc[p][v]) : acc[p][v]);
}

template <int NV>
void conv_block_row(const Geometry& g, int oy, int c0, const float* w, const float* bias) {
  const float* in = g.in + static_cast<std::ptrdiff_t>(oy) * g.sh * g.in_row;
  float* out = g.out + static_cast<std::ptrdiff_t>(oy) * g.out_row + c0;
  int ox = 0;
  for (; ox + kTile <= g.out_w; ox += kTile)
    conv_tile<kTile, NV>(g, w, bias, in + ox * g.sw * g.in_cs, out + ox * g.out_cs);
  for (; ox < g.out_w; ++ox) conv_tile<1, NV>(g, w, bias, in + ox * g.sw * g.in_cs, out + ox * g.out_cs);
}

// The last block of a layer may be narrower (out_cs is a multiple of 4, not of kBlock).
template <int NV>
void conv_block_row_narrowing(const Geometry& g, int oy, int c0, const float* w, const float* bias, int vectors) {
  if constexpr (NV > 1) {
    if (vectors < NV) return conv_block_row_narrowing<NV - 1>(g, oy, c0, w, bias, vectors);
  }
  conv_block_row<NV>(g, oy, c0, w, bias);
}

// weights: blocks of kBlock output channels (the last one narrower), block at c0 starting at c0 * kh * kw * in_cs,
// each (kh, kw * in_cs, block width). bias: (out_cs).
void conv2d_packed(Geometry g, const float* weights, const float* bias) {
  // A 1x1 stride-1 conv over borderless rows is one long row: fewer tile remainders.
  if (g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.in_row == g.out_w * g.in_cs &&
      g.out_row == g.out_w * g.out_cs) {
    g.out_w *= g.out_h;
    g.out_h = 1;
  }
  const std::ptrdiff_t per_channel = static_cast<std::ptrdiff_t>(g.kh) * g.kw * g.in_cs;
  // Rows outer, channel blocks inner: the input rows of one output row stay in L1 across the blocks (blocks outer
  // measured the same in wasm).
  for (int oy = 0; oy < g.out_h; ++oy)
    for (int c0 = 0; c0 < g.out_cs; c0 += kBlock) {
      const float* w = weights + c0 * per_channel;
      conv_block_row_narrowing<kBlockVectors>(g, oy, c0, w, bias + c0, (g.out_cs - c0) / kLanes);
    }
}

// SW > 0: the stride as a constant, so each pixel's input offset is a constant multiple of cs; SW == 0: any stride.
template <int MR, int NV, int SW>
inline void depthwise_tile(const Geometry& g, const float* w, const float* bias, const float* in, float* out) {
  f32x4 acc[MR][NV];
  for (int v = 0; v < NV; ++v) {
    const f32x4 b = simd::load(bias + kLanes * v);
    for (int p = 0; p < MR; ++p) acc[p][v] = b;
  }
  const int cs = g.in_cs;
  const int pixel_step = (SW > 0 ? SW : g.sw) * cs;
  for (int ky = 0; ky < g.kh; ++ky) {
    const float* x = in + static_cast<std::ptrdiff_t>(ky) * g.in_row;
    const float* wk = w + static_cast<std::ptrdiff_t>(ky) * g.kw * cs;
    for (int kx = 0; kx < g.kw; ++kx, x += cs, wk += cs) {
      f32x4 wv[NV];
      for (int v = 0; v < NV; ++v) wv[v] = simd::load(wk + v * kLanes);
      for (int p = 0; p < MR; ++p)
        for (int v = 0; v < NV; ++v)
          acc[p][v] = simd::mul_add(acc[p][v], simd::load(x + p * pixel_step + v * kLanes), wv[v]);
    }
  }
  for (int p = 0; p < MR; ++p)
    for (int v = 0; v < NV; ++v) simd::store(out + p * cs + v * kLanes, g.relu ? simd::relu(acc[p][v]) : acc[p][v]);
}

// weights: (kh, kw, cs); in_cs == out_cs == cs, a multiple of 4.
template <int SW>
void depthwise_rows(const Geometry& g, const float* weights, const float* bias) {
  // All channel blocks of one pixel tile before the next tile: the tile's input window stays in L1 (measured
  // 5-7% faster in wasm than sweeping a row once per channel block).
  for (int oy = 0; oy < g.out_h; ++oy) {
    const float* in = g.in + static_cast<std::ptrdiff_t>(oy) * g.sh * g.in_row;
    float* out = g.out + static_cast<std::ptrdiff_t>(oy) * g.out_row;
    int ox = 0;
    for (; ox + kDwTile <= g.out_w; ox += kDwTile) {
      const float* x = in + ox * g.sw * g.in_cs;
      float* o = out + ox * g.out_cs;
      int c0 = 0;
      for (; c0 + kDwBlock <= g.out_cs; c0 += kDwBlock)
        depthwise_tile<kDwTile, kDwVectors, SW>(g, weights + c0, bias + c0, x + c0, o + c0);
      for (; c0 < g.out_cs; c0 += kLanes) depthwise_tile<kDwTile, 1, SW>(g, weights + c0, bias + c0, x + c0, o + c0);
    }
    for (; ox < g.out_w; ++ox) {
      const float* x = in + ox * g.sw * g.in_cs;
      float* o = out + ox * g.out_cs;
      for (int c0 = 0; c0 < g.out_cs; c0 += kLanes)
        depthwise_tile<1, 1, SW>(g, weights + c0, bias + c0, x + c0, o + c0);
    }
  }
}

void depthwise_packed(const Geometry& g, const float* weights, const float* bias) {
  if (g.sw == 1) return depthwise_rows<1>(g, weights, bias);
  if (g.sw == 2) return depthwise_rows<2>(g, weights, bias);
  depthwise_rows<0>(g, weights, bias);
}

// x: n floats; weights (n, units_stride); writes `units` outputs.
void dense_packed(const F32Dense& d) {
  const float* x = d.x;
  const std::size_t n = d.n;
  const float* weights = d.weights;
  const float* bias = d.bias;
  const int units = d.units, units_stride = d.units_stride;
  const bool relu = d.relu;
  float* out = d.out;
  if (units == 1) {
    // Four independent accumulators hide the add latency of one long dot product.
    f32x4 acc[4] = {simd::splat(0.0f), simd::splat(0.0f), simd::splat(0.0f), simd::splat(0.0f)};
    std::size_t i = 0;
    for (; i + 4 * kLanes <= n; i += 4 * kLanes)
      for (int a = 0; a < 4; ++a)
        acc[a] = simd::mul_add(acc[a], simd::load(x + i + a * kLanes), simd::load(weights + i + a * kLanes));
    for (; i + kLanes <= n; i += kLanes) acc[0] = simd::mul_add(acc[0], simd::load(x + i), simd::load(weights + i));
    float sum = simd::sum_lanes(simd::add(simd::add(acc[0], acc[1]), simd::add(acc[2], acc[3])));
    for (; i < n; ++i) sum += x[i] * weights[i];
    const float value = sum + bias[0];
    out[0] = relu && value < 0.0f ? 0.0f : value;
    return;
  }
  for (int o = 0; o < units; o += kLanes) {
    f32x4 acc = simd::load(bias + o);
    for (std::size_t i = 0; i < n; ++i)
      acc = simd::mul_add(acc, simd::splat(x[i]), simd::load(weights + i * units_stride + o));
    if (relu) acc = simd::relu(acc);
    float lanes[kLanes];
    simd::store(lanes, acc);
    for (int l = 0; l < kLanes && o + l < units; ++l) out[o + l] = lanes[l];
  }
}

// The one-layer path behind conv2d_f32 & co: the same packing and kernels as a ForwardPlan, so the kernel tests
// against the `_ref` twins cover what forward() runs.
void run_single_layer(const Layer& layer, const float* in, float* out) {
  const Isa isa = active_isa();
  const int in_cs = layer.kind == LayerKind::conv2d ? layer.in.c : ForwardPlan::channel_stride(layer.in.c, isa);
  ForwardPlan::Step step = ForwardPlan::prepare_step(layer, in_cs, isa);
  const Padding border = layer.kind == LayerKind::dense ? Padding{} : layer.pad;
  ForwardPlan::Buffer in_buffer = ForwardPlan::make_buffer(layer.in, border, in_cs);
  ForwardPlan::Buffer out_buffer =
      ForwardPlan::make_buffer(layer.out, Padding{}, ForwardPlan::channel_stride(layer.out.c, isa));
  ForwardPlan::copy_in(in, in_buffer);
  ForwardPlan::run_step(step, in_buffer, out_buffer);
  ForwardPlan::copy_out(out_buffer, out);
}

}  // namespace

void conv2d_f32(const Layer& layer, const float* in, float* out) { run_single_layer(layer, in, out); }
void depthwise_conv2d_f32(const Layer& layer, const float* in, float* out) { run_single_layer(layer, in, out); }
void dense_f32(const Layer& layer, const float* in, float* out) { run_single_layer(layer, in, out); }

int ForwardPlan::channel_stride(int channels, Isa isa) {
  const int vector = vector_floats(isa);
  return channels >= vector ? round_up(channels, vector) : round_up4(channels);
}

ForwardPlan::Buffer ForwardPlan::make_buffer(Shape3 shape, const Padding& border, int channel_stride) {
  Buffer b;
  b.shape = shape;
  b.pad_top = border.top;
  b.pad_bottom = border.bottom;
  b.pad_left = border.left;
  b.pad_right = border.right;
  b.channel_stride = channel_stride;
  // A pad larger than the kernel reach never occurs (validate_model: pads < kernel), so the border is exactly what
  // the taps can touch. kLanes of slack let a 4-wide load of the last pixel's padded channels stay inside.
  b.data.assign(static_cast<std::size_t>(border.top + shape.h + border.bottom) * b.row_stride() + kLanes, 0.0f);
  return b;
}

namespace {

// A depthwise layer with few channels would leave most lanes of a wide vector idle (the published models end in
// 28x28x3 stages): it runs on a narrower path, never a wider one. (Convs keep their path: the wide tiles' extra
// pixels pay for the idle lanes; the 60 -> 3 pointwise conv measured slower on the narrower paths.)
Isa kernel_isa(const Layer& layer, Isa isa) {
  if (layer.kind != LayerKind::depthwise_conv2d) return isa;
  const int cs = round_up4(layer.out.c);
  if (isa == Isa::avx512 && cs <= 8) {
    const std::vector<Isa> supported = supported_isas();
    isa = std::find(supported.begin(), supported.end(), Isa::avx2) != supported.end() ? Isa::avx2 : Isa::sse;
  }
  if (isa == Isa::avx2 && cs <= 4) isa = Isa::sse;
  return isa;
}

}  // namespace

ForwardPlan::Step ForwardPlan::prepare_step(const Layer& layer, int in_cs, Isa isa) {
  Step step;
  step.layer = &layer;
  // The output buffer's stride is the plan's (the depthwise steps of few channels run narrower, on the same maps).
  const int out_cs = channel_stride(layer.out.c, isa);
  isa = kernel_isa(layer, isa);
  step.isa = isa;
  // The scalar path runs the `_ref` twins on the layer's own weights.
  if (isa == Isa::scalar) return step;
  if (layer.kind == LayerKind::dense && layer.out.c == 1) {
    step.bias = layer.bias;
  } else {
    // Padded to 16 floats so that no kernel needs a mask to load a bias vector (f32_wide.hpp).
    step.bias.assign(round_up(out_cs, 16), 0.0f);
    std::copy(layer.bias.begin(), layer.bias.end(), step.bias.begin());
  }
  const int kh = layer.kernel_h, kw = layer.kernel_w, in_c = layer.in.c, out_c = layer.out.c;
  switch (layer.kind) {
    case LayerKind::conv2d: {
      const int block = conv_block(isa), lanes = vector_floats(isa);
      const std::size_t per_channel = static_cast<std::size_t>(kh) * kw * in_cs;
      // Only the last block is narrower, so its padding to whole vectors goes at the end of the array.
      const int last_width = out_cs - (out_cs - 1) / block * block;
      step.weights.assign(per_channel * (out_cs - last_width + round_up(last_width, lanes)), 0.0f);
      for (int c0 = 0; c0 < out_cs; c0 += block) {
        const int width = round_up(std::min(block, out_cs - c0), lanes);
        float* packed = step.weights.data() + c0 * per_channel;
        for (int ky = 0; ky < kh; ++ky)
          for (int kx = 0; kx < kw; ++kx)
            for (int ic = 0; ic < in_c; ++ic)
              for (int o = 0; o < width && c0 + o < out_c; ++o)
                packed[((static_cast<std::size_t>(ky) * kw + kx) * in_cs + ic) * width + o] =
                    layer.weights[((static_cast<std::size_t>(ky) * kw + kx) * in_c + ic) * out_c + c0 + o];
      }
      break;
    }
    case LayerKind::depthwise_conv2d: {
      step.weights.assign(static_cast<std::size_t>(kh) * kw * in_cs, 0.0f);
      for (int t = 0; t < kh * kw; ++t)
        std::copy_n(layer.weights.data() + static_cast<std::size_t>(t) * in_c, in_c,
                    step.weights.data() + static_cast<std::size_t>(t) * in_cs);
      break;
    }
    case LayerKind::dense: {
      step.units_stride = out_c == 1 ? 1 : out_cs;
      const std::size_t pixels = static_cast<std::size_t>(layer.in.h) * layer.in.w;
      step.weights.assign(pixels * in_cs * step.units_stride, 0.0f);
      for (std::size_t p = 0; p < pixels; ++p)
        for (int c = 0; c < in_c; ++c)
          std::copy_n(layer.weights.data() + (p * in_c + c) * out_c, out_c,
                      step.weights.data() + (p * in_cs + c) * step.units_stride);
      break;
    }
  }
  return step;
}

namespace {

// The scalar path: the `_ref` twin on dense copies of the buffers' interiors (slow, for checking the others).
void run_step_reference(const Layer& layer, ForwardPlan::Buffer& in, ForwardPlan::Buffer& out) {
  std::vector<float> dense_in(layer.in.size()), dense_out(layer.out.size());
  ForwardPlan::copy_out(in, dense_in.data());
  run_layer_f32(layer, dense_in.data(), dense_out.data(), /*use_reference=*/true);
  ForwardPlan::copy_in(dense_out.data(), out);
}

}  // namespace

void ForwardPlan::run_step(const Step& step, Buffer& in, Buffer& out) {
  run_step_rows(step, in, out, 0, step.layer->out.h);
}

void ForwardPlan::run_step_rows(const Step& step, Buffer& in, Buffer& out, int row_begin, int row_end) {
  const Layer& layer = *step.layer;
  if (step.isa == Isa::scalar) return run_step_reference(layer, in, out);
  if (layer.kind == LayerKind::dense) {
    // The input buffer of a dense layer has no border: its data is the flattened (H, W, cs) map.
    const F32Dense d{in.at(0, 0),
                     in.shape.size() / in.shape.c * in.channel_stride,
                     step.weights.data(),
                     layer.out.c,
                     step.units_stride,
                     step.bias.data(),
                     layer.activation == Activation::relu,
                     out.at(0, 0)};
#if CORTEXLENS_HAVE_WIDE_F32
    if (step.isa == Isa::avx512) return f32_avx512::dense(d);
    if (step.isa == Isa::avx2) return f32_avx2::dense(d);
#endif
    return dense_packed(d);
  }
  // A band of output rows is the same call on a shorter map that starts further down both buffers.
  const Geometry g{layer.kernel_h,
                   layer.kernel_w,
                   layer.stride_h,
                   layer.stride_w,
                   row_end - row_begin,
                   layer.out.w,
                   in.at(row_begin * layer.stride_h - layer.pad.top, -layer.pad.left),
                   in.row_stride(),
                   in.channel_stride,
                   out.at(row_begin, 0),
                   out.row_stride(),
                   out.channel_stride,
                   layer.activation == Activation::relu,
                   layer.in.c};
  const bool conv = layer.kind == LayerKind::conv2d;
#if CORTEXLENS_HAVE_WIDE_F32
  if (step.isa == Isa::avx512)
    return conv ? f32_avx512::conv2d(g, step.weights.data(), step.bias.data())
                : f32_avx512::depthwise(g, step.weights.data(), step.bias.data());
  if (step.isa == Isa::avx2)
    return conv ? f32_avx2::conv2d(g, step.weights.data(), step.bias.data())
                : f32_avx2::depthwise(g, step.weights.data(), step.bias.data());
#endif
  if (conv)
    conv2d_packed(g, step.weights.data(), step.bias.data());
  else
    depthwise_packed(g, step.weights.data(), step.bias.data());
}

}  // namespace cortexlens
