// Register-tiled int8 kernels. conv2d on pairwise 16-bit dot products: wasm i32x4.dot_i16x8_s, SSE2 pmaddwd
// natively (the same operation), a scalar fallback elsewhere; depthwise (at the end of the file) on exact 16-bit
// products widened into int32 sums. Integer sums are exact in any order and the float finish is
// int8_epilogue per value, so the result equals conv2d_int8_ref bit for bit (tests/test_kernels.cpp).
//
// Layout, as in the float kernel (kernels_f32.cpp): the input is copied once into a zero-bordered (H + pads,
// W + pads, C) int16 buffer, so one output pixel's window row is kw * C contiguous values and the kernel tests no
// bounds. The reduction along a window row is taken in pairs (k, k + 1): a 32-bit splat of the input pair times
// weights packed as (pairs, 4 output channels, 2) gives four int32 partial sums per instruction, 8 multiply-adds
// where the float kernel does 4 per mul + add. A window row of odd length gets a zero weight for its last pair's
// second element (the input value it reads is the next pixel's, multiplied by zero).
//
// Measured (bench_kernels, bench/README.md): 26-36 G multiply-adds/s in wasm and natively, 1.3-1.8x the float
// kernel and 5-30x the portable conv2d_int8. V8 first runs a module on its baseline compiler (Liftoff), where this
// loop manages only 8-11; the figures are for the optimized code V8 switches to once the function is hot.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cortexlens/kernels.hpp"
#include "cortexlens/quantize.hpp"

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#elif defined(__SSE2__)
#include <immintrin.h>
#endif

namespace cortexlens {

namespace {

#if defined(__wasm_simd128__)
using i32x4 = v128_t;
inline i32x4 zero_i32x4() { return wasm_i32x4_splat(0); }
inline i32x4 load_i16x8(const std::int16_t* p) { return wasm_v128_load(p); }
inline i32x4 splat_pair(const std::int16_t* p) { return wasm_v128_load32_splat(p); }
inline i32x4 dot_add(i32x4 acc, i32x4 x, i32x4 w) { return wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(x, w)); }
// int8_epilogue on four lanes, rounding like the scalar code: convert, multiply, add, each rounded once; the
// operand order of pmax gives +0 for -0 like `value > 0 ? value : 0`.
inline void store_epilogue(float* out, i32x4 acc, const float* scale, const float* bias, bool relu) {
  v128_t v = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_convert_i32x4(acc), wasm_v128_load(scale)), wasm_v128_load(bias));
  if (relu) v = wasm_f32x4_pmax(wasm_f32x4_splat(0.0f), v);
  wasm_v128_store(out, v);
}
// Depthwise: eight channels per step. |x * w| <= 255 * 127 fits int16, so one 16-bit multiply is exact and the
// products are widened to int32 only to be added.
using dw_i16x8 = v128_t;
inline dw_i16x8 load_w_i16x8(const std::int16_t* p) { return wasm_v128_load(p); }
inline void mul_add_i16x8(i32x4& lo, i32x4& hi, dw_i16x8 x, dw_i16x8 w) {
  const v128_t p = wasm_i16x8_mul(x, w);
  lo = wasm_i32x4_add(lo, wasm_i32x4_extend_low_i16x8(p));
  hi = wasm_i32x4_add(hi, wasm_i32x4_extend_high_i16x8(p));
}
#elif defined(__SSE2__)
using i32x4 = __m128i;
inline i32x4 zero_i32x4() { return _mm_setzero_si128(); }
inline i32x4 load_i16x8(const std::int16_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline i32x4 splat_pair(const std::int16_t* p) {
  std::int32_t pair;
  std::memcpy(&pair, p, sizeof pair);
  return _mm_set1_epi32(pair);
}
inline i32x4 dot_add(i32x4 acc, i32x4 x, i32x4 w) { return _mm_add_epi32(acc, _mm_madd_epi16(x, w)); }
using dw_i16x8 = __m128i;
inline dw_i16x8 load_w_i16x8(const std::int16_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline void mul_add_i16x8(i32x4& lo, i32x4& hi, dw_i16x8 x, dw_i16x8 w) {
  const __m128i p = _mm_mullo_epi16(x, w);
  lo = _mm_add_epi32(lo, _mm_srai_epi32(_mm_unpacklo_epi16(p, p), 16));
  hi = _mm_add_epi32(hi, _mm_srai_epi32(_mm_unpackhi_epi16(p, p), 16));
}
inline void store_epilogue(float* out, i32x4 acc, const float* scale, const float* bias, bool relu) {
  __m128 v = _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(acc), _mm_loadu_ps(scale)), _mm_loadu_ps(bias));
  if (relu) v = _mm_max_ps(v, _mm_setzero_ps());  // v > 0 ? v : 0, as in the scalar code
  _mm_storeu_ps(out, v);
}
#else
struct i32x4 {
  std::int32_t v[4];
};
inline i32x4 zero_i32x4() { return {{0, 0, 0, 0}}; }
struct i16x8 {
  std::int16_t v[8];
};
inline i16x8 load_i16x8(const std::int16_t* p) {
  i16x8 r;
  std::memcpy(r.v, p, sizeof r.v);
  return r;
}
inline i16x8 splat_pair(const std::int16_t* p) { return {{p[0], p[1], p[0], p[1], p[0], p[1], p[0], p[1]}}; }
inline i32x4 dot_add(i32x4 acc, i16x8 x, i16x8 w) {
  for (int i = 0; i < 4; ++i) acc.v[i] += x.v[2 * i] * w.v[2 * i] + x.v[2 * i + 1] * w.v[2 * i + 1];
  return acc;
}
struct dw_i16x8 {
  std::int16_t v[8];
};
inline dw_i16x8 load_w_i16x8(const std::int16_t* p) {
  dw_i16x8 r;
  std::memcpy(r.v, p, sizeof r.v);
  return r;
}
inline void mul_add_i16x8(i32x4& lo, i32x4& hi, dw_i16x8 x, dw_i16x8 w) {
  for (int i = 0; i < 4; ++i) {
    lo.v[i] += x.v[i] * w.v[i];
    hi.v[i] += x.v[i + 4] * w.v[i + 4];
  }
}
inline void store_epilogue(float* out, i32x4 acc, const float* scale, const float* bias, bool relu) {
  for (int i = 0; i < 4; ++i) out[i] = int8_epilogue(acc.v[i], scale[i], bias[i], relu ? Activation::relu : Activation::linear);
}
#endif

constexpr int kLanes = 4;         // output channels per vector
// 16 output channels x 2 pixels, the float kernel's best shape. Overridable at compile time for measurements.
#ifndef CORTEXLENS_I8_VECTORS
#define CORTEXLENS_I8_VECTORS 4
#endif
#ifndef CORTEXLENS_I8_TILE
#define CORTEXLENS_I8_TILE 2
#endif
constexpr int kBlockVectors = CORTEXLENS_I8_VECTORS;
constexpr int kBlock = kLanes * kBlockVectors;
constexpr int kTile = CORTEXLENS_I8_TILE;

struct Int8Geometry {
  int kh, sh, sw, out_h, out_w, out_c;
  int pairs;        // per window row: ceil(kw * in_c / 2)
  const std::int16_t* in;  // first tap of output pixel (0, 0), inside the zero border
  int in_row, in_c;
  float* out;          // (out_h, out_w, acc_c) finished floats
  int acc_c;           // out_c rounded up to 4
  const float* scale;  // (acc_c) input_scale * weight_scales[oc]
  const float* bias;   // (acc_c)
  bool relu;
};

template <int MR, int NV>
inline void tile(const Int8Geometry& g, const std::int16_t* w, const std::int16_t* in, float* out, int c0) {
  decltype(zero_i32x4()) a[MR][NV];
  for (int p = 0; p < MR; ++p)
    for (int v = 0; v < NV; ++v) a[p][v] = zero_i32x4();
  const int pixel_step = g.sw * g.in_c;
  for (int ky = 0; ky < g.kh; ++ky) {
    const std::int16_t* x = in + static_cast<std::ptrdiff_t>(ky) * g.in_row;
    const std::int16_t* wk = w + static_cast<std::ptrdiff_t>(ky) * g.pairs * NV * 8;
    for (int j = 0; j < g.pairs; ++j) {
      decltype(load_i16x8(w)) wv[NV];
      for (int v = 0; v < NV; ++v) wv[v] = load_i16x8(wk + (j * NV + v) * 8);
      for (int p = 0; p < MR; ++p) {
        const auto xv = splat_pair(x + p * pixel_step + 2 * j);
        for (int v = 0; v < NV; ++v) a[p][v] = dot_add(a[p][v], xv, wv[v]);
      }
    }
  }
  for (int p = 0; p < MR; ++p)
    for (int v = 0; v < NV; ++v)
      store_epilogue(out + p * g.acc_c + v * kLanes, a[p][v], g.scale + c0 + v * kLanes, g.bias + c0 + v * kLanes,
                     g.relu);
}

template <int NV>
void block_row(const Int8Geometry& g, int oy, int c0, const std::int16_t* w) {
  const std::int16_t* in = g.in + static_cast<std::ptrdiff_t>(oy) * g.sh * g.in_row;
  float* out = g.out + static_cast<std::ptrdiff_t>(oy) * g.out_w * g.acc_c + c0;
  int ox = 0;
  for (; ox + kTile <= g.out_w; ox += kTile) tile<kTile, NV>(g, w, in + ox * g.sw * g.in_c, out + ox * g.acc_c, c0);
  for (; ox < g.out_w; ++ox) tile<1, NV>(g, w, in + ox * g.sw * g.in_c, out + ox * g.acc_c, c0);
}

template <int NV>
void block_row_narrowing(const Int8Geometry& g, int oy, int c0, const std::int16_t* w, int vectors) {
  if constexpr (NV > 1) {
    if (vectors < NV) return block_row_narrowing<NV - 1>(g, oy, c0, w, vectors);
  }
  block_row<NV>(g, oy, c0, w);
}

}  // namespace

void conv2d_int8_tiled(const Layer& layer, const std::int16_t* in, float* out) {
  const Shape3 is = layer.in, os = layer.out;
  const Int8Weights& q = *layer.int8;
  const int kh = layer.kernel_h, kw = layer.kernel_w, in_c = is.c, out_c = os.c;
  const int run = kw * in_c, pairs = (run + 1) / 2;
  const int acc_c = (out_c + kLanes - 1) / kLanes * kLanes;

  // (kh, pairs, block width, 2) per block of kBlock output channels; zeros past the run and past out_c.
  std::vector<std::int16_t> packed(static_cast<std::size_t>(kh) * pairs * 2 * acc_c, 0);
  for (int c0 = 0; c0 < acc_c; c0 += kBlock) {
    const int width = std::min(kBlock, acc_c - c0);
    std::int16_t* block = packed.data() + static_cast<std::size_t>(c0) * kh * pairs * 2;
    for (int ky = 0; ky < kh; ++ky)
      for (int k = 0; k < run; ++k)
        for (int o = 0; o < width && c0 + o < out_c; ++o)
          block[((static_cast<std::size_t>(ky) * pairs + k / 2) * width + o) * 2 + k % 2] =
              q.weights[(static_cast<std::size_t>(ky) * run + k) * out_c + c0 + o];
  }

  // Zero-bordered int16 copy of the input; one spare row lets the last pair of the last row read past its end.
  const int padded_w = layer.pad.left + is.w + layer.pad.right;
  const int in_row = padded_w * in_c;
  const int padded_h = layer.pad.top + is.h + layer.pad.bottom + 1;
  std::vector<std::int16_t> padded(static_cast<std::size_t>(padded_h) * in_row, 0);
  for (int y = 0; y < is.h; ++y) {
    std::int16_t* row = padded.data() + static_cast<std::size_t>(y + layer.pad.top) * in_row + layer.pad.left * in_c;
    const std::int16_t* src = in + static_cast<std::size_t>(y) * is.w * in_c;
    for (int i = 0; i < is.w * in_c; ++i) row[i] = src[i];
  }

  // Scales computed as the reference computes them per output; padding channels get scale 0 and bias 0.
  std::vector<float> scale(acc_c, 0.0f), bias(acc_c, 0.0f);
  for (int oc = 0; oc < out_c; ++oc) {
    scale[oc] = q.input_scale * q.weight_scales[oc];
    bias[oc] = layer.bias[oc];
  }
  // Finished floats go straight to `out` when its channel count is a multiple of 4, else through a padded buffer.
  std::vector<float> padded_out(acc_c == out_c ? 0 : static_cast<std::size_t>(os.h) * os.w * acc_c);
  float* dst = acc_c == out_c ? out : padded_out.data();
  Int8Geometry g{kh,      layer.stride_h, layer.stride_w, os.h,         os.w,        out_c,
                 pairs,   padded.data(),  in_row,         in_c,         dst,         acc_c,
                 scale.data(), bias.data(), layer.activation == Activation::relu};
  for (int oy = 0; oy < os.h; ++oy)
    for (int c0 = 0; c0 < acc_c; c0 += kBlock)
      block_row_narrowing<kBlockVectors>(g, oy, c0, packed.data() + static_cast<std::size_t>(c0) * kh * pairs * 2,
                                         (acc_c - c0) / kLanes);
  if (acc_c != out_c)
    for (std::size_t p = 0; p < static_cast<std::size_t>(os.h) * os.w; ++p)
      std::copy_n(padded_out.data() + p * acc_c, out_c, out + p * out_c);
}

namespace {

constexpr int kDwTile = 4;  // output pixels per depthwise tile, 8 channels each

struct DwGeometry {
  int kh, kw, sh, sw, out_h, out_w;
  const std::int16_t* in;  // first tap of output pixel (0, 0), inside the zero border
  int in_row, cs;          // cs: channels rounded up to 8, in the input copy, weights and output
  float* out;
  const float* scale;
  const float* bias;
  bool relu;
};

template <int MR>
inline void dw_tile(const DwGeometry& g, const std::int16_t* w, const std::int16_t* in, float* out, int c0) {
  i32x4 lo[MR], hi[MR];
  for (int p = 0; p < MR; ++p) lo[p] = hi[p] = zero_i32x4();
  const int pixel_step = g.sw * g.cs;
  for (int ky = 0; ky < g.kh; ++ky) {
    const std::int16_t* x = in + static_cast<std::ptrdiff_t>(ky) * g.in_row;
    const std::int16_t* wk = w + static_cast<std::ptrdiff_t>(ky) * g.kw * g.cs;
    for (int kx = 0; kx < g.kw; ++kx, x += g.cs, wk += g.cs) {
      const dw_i16x8 wv = load_w_i16x8(wk);
      for (int p = 0; p < MR; ++p) mul_add_i16x8(lo[p], hi[p], load_w_i16x8(x + p * pixel_step), wv);
    }
  }
  for (int p = 0; p < MR; ++p) {
    store_epilogue(out + p * g.cs, lo[p], g.scale + c0, g.bias + c0, g.relu);
    store_epilogue(out + p * g.cs + 4, hi[p], g.scale + c0 + 4, g.bias + c0 + 4, g.relu);
  }
}

}  // namespace

void depthwise_conv2d_int8_tiled(const Layer& layer, const std::int16_t* in, float* out) {
  const Shape3 is = layer.in, os = layer.out;
  const Int8Weights& q = *layer.int8;
  const int kh = layer.kernel_h, kw = layer.kernel_w, c = is.c;
  const int cs = (c + 7) / 8 * 8;

  std::vector<std::int16_t> weights(static_cast<std::size_t>(kh) * kw * cs, 0);  // (kh, kw, cs)
  for (int t = 0; t < kh * kw; ++t)
    for (int ch = 0; ch < c; ++ch)
      weights[static_cast<std::size_t>(t) * cs + ch] = q.weights[static_cast<std::size_t>(t) * c + ch];
  std::vector<float> scale(cs, 0.0f), bias(cs, 0.0f);
  for (int ch = 0; ch < c; ++ch) {
    scale[ch] = q.input_scale * q.weight_scales[ch];
    bias[ch] = layer.bias[ch];
  }
  const int in_row = (layer.pad.left + is.w + layer.pad.right) * cs;
  std::vector<std::int16_t> padded(static_cast<std::size_t>(layer.pad.top + is.h + layer.pad.bottom) * in_row, 0);
  for (int y = 0; y < is.h; ++y)
    for (int x = 0; x < is.w; ++x)
      std::memcpy(padded.data() + static_cast<std::size_t>(y + layer.pad.top) * in_row +
                      static_cast<std::size_t>(x + layer.pad.left) * cs,
                  in + (static_cast<std::size_t>(y) * is.w + x) * c, static_cast<std::size_t>(c) * sizeof(std::int16_t));
  std::vector<float> result(static_cast<std::size_t>(os.h) * os.w * cs);
  DwGeometry g{kh, kw, layer.stride_h, layer.stride_w, os.h, os.w, padded.data(), in_row, cs, result.data(),
               scale.data(), bias.data(), layer.activation == Activation::relu};
  for (int oy = 0; oy < os.h; ++oy) {
    const std::int16_t* row = g.in + static_cast<std::ptrdiff_t>(oy) * g.sh * in_row;
    float* out_row = result.data() + static_cast<std::size_t>(oy) * os.w * cs;
    int ox = 0;
    for (; ox + kDwTile <= os.w; ox += kDwTile)
      for (int c0 = 0; c0 < cs; c0 += 8)
        dw_tile<kDwTile>(g, weights.data() + c0, row + ox * g.sw * cs + c0, out_row + ox * cs + c0, c0);
    for (; ox < os.w; ++ox)
      for (int c0 = 0; c0 < cs; c0 += 8)
        dw_tile<1>(g, weights.data() + c0, row + ox * g.sw * cs + c0, out_row + ox * cs + c0, c0);
  }
  for (std::size_t p = 0; p < static_cast<std::size_t>(os.h) * os.w; ++p)
    std::copy_n(result.data() + p * cs, c, out + p * c);
}

}  // namespace cortexlens
