// Register-tiled int8 kernels and the Int8ForwardPlan steps that feed them (int8_forward_plan.hpp; the chain of steps
// is engine/int8_forward_plan.cpp). conv2d on pairwise 16-bit
// dot products: wasm i32x4.dot_i16x8_s, SSE2 pmaddwd natively (the same operation), a scalar fallback elsewhere;
// depthwise on the same dot products over pairs of taps; dense on them too. Integer sums are
// exact in any order, the float finish is int8_epilogue's arithmetic per value and the quantizer is
// quantize_values's, so everything equals the `_ref` kernels and forward_int8 with the reference kernels bit for bit
// (tests/test_quantize.cpp).
//
// On x86-64, run_step hands conv2d and depthwise steps to the AVX2 / AVX-512 code when active_isa() says so
// (int8_wide.hpp: same packing, same arithmetic, same bits); Isa::scalar runs the `_ref` twins.
//
// Layout, as in the float kernel (f32_simd.cpp): the input sits in a zero-bordered int16 buffer, so one output
// pixel's window row is kw * cs contiguous values and the kernel tests no bounds. The reduction along a window row
// is taken in pairs (k, k + 1): a 32-bit splat of the input pair times weights packed as (pairs, 4 output channels,
// 2) gives four int32 partial sums per instruction, 8 multiply-adds where the float kernel does 4 per mul + add. A
// window row of odd length gets a zero weight for its last pair's second element (the input value it reads is the
// next pixel's, or the buffer's slack, multiplied by zero).
//
// Measured (bench_kernels, bench/README.md): 26-36 G multiply-adds/s in wasm and natively, 1.3-1.8x the float
// kernel. V8 first runs a module on its baseline compiler (Liftoff), where this loop manages only 8-11; the figures
// are for the optimized code V8 switches to once the function is hot.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cortexlens/isa.hpp"
#include "engine/int8_forward_plan_internals.hpp"
#include "kernels/int8_wide.hpp"
#include "kernels/kernels.hpp"

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#elif defined(__SSE2__)
#include <immintrin.h>
#endif

namespace cortexlens {

namespace {

// --- primitives per target ------------------------------------------------------------------------------------
// The float finish must round like int8_epilogue (convert, multiply, add, each rounded once; ReLU as
// `value > 0 ? value : 0`, so -0 becomes +0) and the quantizer like quantize_values (multiply by the reciprocal,
// clamp, truncate, then the exact fraction x - trunc(x) decides the rounding half away from zero).

// For 0 <= x <= 255, trunc(x + kJustBelowHalf) rounds x half away from zero exactly as the reference does (trunc,
// then +1 if the fraction is >= 0.5). Let x = n + f. If f >= 0.5 the exact sum is >= n + 1 - 2^-25, and it rounds
// to n + 1 (n >= 1: the grid near n + 1 is 2^-23 or coarser; n = 0: 1 - 2^-25 is a tie between 1 - 2^-24 and 1,
// and ties go to the even 1). If f < 0.5, x <= n + 0.5 - ulp(x), so the sum lies at least ulp(x) + 2^-25 below
// n + 1, more than half the grid below n + 1 (ulp(x) there), and truncates to n. Plain x + 0.5 would round
// 0.49999997 up to 1. Tested on every float in [1/8, 1) (below, both give 0) and around every half-integer up to
// 255 (test_quantize.cpp).
constexpr float kJustBelowHalf = 0.49999997f;  // 0.5 - 2^-25

#if defined(__wasm_simd128__)
using i32x4 = v128_t;
using i16x8 = v128_t;
using f32x4 = v128_t;
inline i32x4 zero_i32x4() { return wasm_i32x4_splat(0); }
inline i16x8 load_i16x8(const std::int16_t* p) { return wasm_v128_load(p); }
inline i16x8 load_i8x8(const std::int8_t* p) { return wasm_i16x8_load8x8(p); }
inline i16x8 splat_pair(const std::int16_t* p) { return wasm_v128_load32_splat(p); }
inline i32x4 dot_add(i32x4 acc, i16x8 x, i16x8 w) { return wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(x, w)); }
inline std::int32_t sum_lanes(i32x4 a) {
  return wasm_i32x4_extract_lane(a, 0) + wasm_i32x4_extract_lane(a, 1) + wasm_i32x4_extract_lane(a, 2) +
         wasm_i32x4_extract_lane(a, 3);
}
// (a0, b0, a1, b1, a2, b2, a3, b3) and the same of lanes 4..7: two taps of four channels, for dot_add.
inline i16x8 interleave_low(i16x8 a, i16x8 b) { return wasm_i16x8_shuffle(a, b, 0, 8, 1, 9, 2, 10, 3, 11); }
inline i16x8 interleave_high(i16x8 a, i16x8 b) { return wasm_i16x8_shuffle(a, b, 4, 12, 5, 13, 6, 14, 7, 15); }
inline f32x4 epilogue(i32x4 acc, const float* scale, const float* bias, bool relu) {
  v128_t v = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_convert_i32x4(acc), wasm_v128_load(scale)), wasm_v128_load(bias));
  return relu ? wasm_f32x4_pmax(wasm_f32x4_splat(0.0f), v) : v;
}
inline void store_f32(float* out, f32x4 v) { wasm_v128_store(out, v); }
struct Quantizer {
  v128_t inverse, low, high;
  Quantizer(float s, float l, float h)
      : inverse(wasm_f32x4_splat(quantizer_inverse(s))), low(wasm_f32x4_splat(l)), high(wasm_f32x4_splat(h)) {}
  i32x4 codes(f32x4 v) const {
    v128_t x = wasm_f32x4_pmin(wasm_f32x4_mul(v, inverse), high);  // high < x ? high : x
    x = wasm_f32x4_pmax(x, low);                                   // x < low ? low : x
    // f32x4.trunc is one instruction on x86 (roundps), i32x4.trunc_sat_f32x4_s about eight in V8 (NaN and overflow
    // handling this clamped value never needs). The integer whole in -127..255 plus 1.5 * 2^23 lands exactly in
    // the low mantissa bits, so one add and one integer subtract convert it.
    const v128_t whole = wasm_f32x4_trunc(x);
    const v128_t fraction = wasm_f32x4_sub(x, whole);
    v128_t q = wasm_i32x4_sub(wasm_f32x4_add(whole, wasm_f32x4_splat(12582912.0f)), wasm_i32x4_splat(0x4B400000));
    // Comparison masks are -1 where true.
    q = wasm_i32x4_sub(q, wasm_f32x4_ge(fraction, wasm_f32x4_splat(0.5f)));
    q = wasm_i32x4_add(q, wasm_f32x4_le(fraction, wasm_f32x4_splat(-0.5f)));
    return q;
  }
  // codes(max(v, 0)) for a range with low <= 0, from v before the ReLU: max(v * inverse, 0) equals
  // max(v, 0) * inverse (inverse > 0; -0 and +0 give code 0 alike), the low clamp cannot bind and no fraction is
  // negative, so three of codes' instructions and the ReLU's go.
  i32x4 relu_codes(f32x4 v) const {
    const v128_t x = wasm_f32x4_pmin(wasm_f32x4_pmax(wasm_f32x4_mul(v, inverse), wasm_f32x4_splat(0.0f)), high);
    const v128_t whole = wasm_f32x4_trunc(wasm_f32x4_add(x, wasm_f32x4_splat(kJustBelowHalf)));
    return wasm_i32x4_sub(wasm_f32x4_add(whole, wasm_f32x4_splat(12582912.0f)), wasm_i32x4_splat(0x4B400000));
  }
};
// Codes are within -127..255, so the saturating narrowing is exact.
inline void store_codes(std::int16_t* out, i32x4 q) { wasm_v128_store64_lane(out, wasm_i16x8_narrow_i32x4(q, q), 0); }
inline void store_codes(std::int16_t* out, i32x4 q0, i32x4 q1) {
  wasm_v128_store(out, wasm_i16x8_narrow_i32x4(q0, q1));
}
#elif defined(__SSE2__)
using i32x4 = __m128i;
using i16x8 = __m128i;
using f32x4 = __m128;
inline i32x4 zero_i32x4() { return _mm_setzero_si128(); }
inline i16x8 load_i16x8(const std::int16_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline i16x8 load_i8x8(const std::int8_t* p) {
  const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return _mm_srai_epi16(_mm_unpacklo_epi8(b, b), 8);  // SSE2 has no sign-extending load
}
inline i16x8 splat_pair(const std::int16_t* p) {
  std::int32_t pair;
  std::memcpy(&pair, p, sizeof pair);
  return _mm_set1_epi32(pair);
}
inline i32x4 dot_add(i32x4 acc, i16x8 x, i16x8 w) { return _mm_add_epi32(acc, _mm_madd_epi16(x, w)); }
inline std::int32_t sum_lanes(i32x4 a) {
  a = _mm_add_epi32(a, _mm_shuffle_epi32(a, _MM_SHUFFLE(1, 0, 3, 2)));
  a = _mm_add_epi32(a, _mm_shuffle_epi32(a, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(a);
}
inline i16x8 interleave_low(i16x8 a, i16x8 b) { return _mm_unpacklo_epi16(a, b); }
inline i16x8 interleave_high(i16x8 a, i16x8 b) { return _mm_unpackhi_epi16(a, b); }
inline f32x4 epilogue(i32x4 acc, const float* scale, const float* bias, bool relu) {
  const __m128 v = _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(acc), _mm_loadu_ps(scale)), _mm_loadu_ps(bias));
  return relu ? _mm_max_ps(v, _mm_setzero_ps()) : v;  // v > 0 ? v : 0
}
inline void store_f32(float* out, f32x4 v) { _mm_storeu_ps(out, v); }
struct Quantizer {
  __m128 inverse, low, high;
  Quantizer(float s, float l, float h)
      : inverse(_mm_set1_ps(quantizer_inverse(s))), low(_mm_set1_ps(l)), high(_mm_set1_ps(h)) {}
  i32x4 codes(f32x4 v) const {
    __m128 x = _mm_min_ps(_mm_mul_ps(v, inverse), high);  // equal to the scalar clamp (no NaN reaches here)
    x = _mm_max_ps(x, low);
    const __m128i whole = _mm_cvttps_epi32(x);
    const __m128 fraction = _mm_sub_ps(x, _mm_cvtepi32_ps(whole));
    __m128i q = _mm_sub_epi32(whole, _mm_castps_si128(_mm_cmpge_ps(fraction, _mm_set1_ps(0.5f))));
    q = _mm_add_epi32(q, _mm_castps_si128(_mm_cmple_ps(fraction, _mm_set1_ps(-0.5f))));
    return q;
  }
  i32x4 relu_codes(f32x4 v) const {
    const __m128 x = _mm_min_ps(_mm_max_ps(_mm_mul_ps(v, inverse), _mm_setzero_ps()), high);
    return _mm_cvttps_epi32(_mm_add_ps(x, _mm_set1_ps(kJustBelowHalf)));
  }
};
inline void store_codes(std::int16_t* out, i32x4 q) {
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_packs_epi32(q, q));
}
inline void store_codes(std::int16_t* out, i32x4 q0, i32x4 q1) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_packs_epi32(q0, q1));
}
#else
struct i32x4 {
  std::int32_t v[4];
};
struct i16x8 {
  std::int16_t v[8];
};
struct f32x4 {
  float v[4];
};
inline i32x4 zero_i32x4() { return {{0, 0, 0, 0}}; }
inline i16x8 load_i16x8(const std::int16_t* p) {
  i16x8 r;
  std::memcpy(r.v, p, sizeof r.v);
  return r;
}
inline i16x8 load_i8x8(const std::int8_t* p) {
  i16x8 r;
  for (int i = 0; i < 8; ++i) r.v[i] = p[i];
  return r;
}
inline i16x8 splat_pair(const std::int16_t* p) { return {{p[0], p[1], p[0], p[1], p[0], p[1], p[0], p[1]}}; }
inline i32x4 dot_add(i32x4 acc, i16x8 x, i16x8 w) {
  for (int i = 0; i < 4; ++i) acc.v[i] += x.v[2 * i] * w.v[2 * i] + x.v[2 * i + 1] * w.v[2 * i + 1];
  return acc;
}
inline std::int32_t sum_lanes(i32x4 a) { return a.v[0] + a.v[1] + a.v[2] + a.v[3]; }
inline i16x8 interleave_low(i16x8 a, i16x8 b) {
  return {{a.v[0], b.v[0], a.v[1], b.v[1], a.v[2], b.v[2], a.v[3], b.v[3]}};
}
inline i16x8 interleave_high(i16x8 a, i16x8 b) {
  return {{a.v[4], b.v[4], a.v[5], b.v[5], a.v[6], b.v[6], a.v[7], b.v[7]}};
}
inline f32x4 epilogue(i32x4 acc, const float* scale, const float* bias, bool relu) {
  f32x4 r;
  for (int i = 0; i < 4; ++i)
    r.v[i] = int8_epilogue(acc.v[i], scale[i], bias[i], relu ? Activation::relu : Activation::linear);
  return r;
}
inline void store_f32(float* out, f32x4 v) { std::memcpy(out, v.v, sizeof v.v); }
struct Quantizer {
  float inverse, low, high;
  Quantizer(float s, float l, float h) : inverse(quantizer_inverse(s)), low(l), high(h) {}
  i32x4 codes(f32x4 v) const {
    i32x4 q;
    for (int i = 0; i < 4; ++i) {
      float x = v.v[i] * inverse;
      x = x > high ? high : (x < low ? low : x);
      const float whole = std::trunc(x);
      const float fraction = x - whole;
      q.v[i] = static_cast<int>(whole) + (fraction >= 0.5f) - (fraction <= -0.5f);
    }
    return q;
  }
  i32x4 relu_codes(f32x4 v) const {
    for (float& x : v.v) x = x > 0.0f ? x : 0.0f;
    return codes(v);
  }
};
inline void store_codes(std::int16_t* out, i32x4 q) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<std::int16_t>(q.v[i]);
}
inline void store_codes(std::int16_t* out, i32x4 q0, i32x4 q1) {
  store_codes(out, q0);
  store_codes(out + 4, q1);
}
#endif

// quantize_values for one value, for the dense outputs.
inline std::int16_t quantize_scalar(float value, const Int8ForwardPlan::Sink& sink) {
  std::int16_t q;
  quantize_values(&value, 1, sink.q_scale, /*unsigned_range=*/sink.q_low >= 0.0f, &q);
  return q;
}

constexpr int kLanes = 4;  // output channels per vector
int round_up(int c, int multiple) { return (c + multiple - 1) / multiple * multiple; }

// Where finished values go (Int8ForwardPlan::Sink), as a compile-time choice so the tiles' epilogues test nothing.
constexpr int kQuantized = 1, kFloat = 2, kReluCodes = 4;

// Finishes channels [c, c + 4) (or [c, c + 8)) of output pixel (y, x): int8_epilogue's arithmetic, then the float
// store and/or the quantized store into the consumer's buffer. A copy of the sink's fields, so the compiler sees
// that the stores cannot change them.
template <int MODE>
struct Finisher {
  // kReluCodes (quantized output through a ReLU, the common step) skips the ReLU's max, the low clamp and the
  // negative-half rounding test: ~5% of a first conv in wasm. The ReLU is otherwise a run-time flag.
  std::int16_t* q;
  std::ptrdiff_t q_pixel, q_row;
  float* f;
  std::ptrdiff_t f_pixel, f_row;
  Quantizer quantizer;
  bool relu;
  Finisher(const Int8ForwardPlan::Sink& s, bool relu_)
      : q(s.q),
        q_pixel(s.q_pixel),
        q_row(s.q_row),
        f(s.f),
        f_pixel(s.f_pixel),
        f_row(s.f_row),
        quantizer(s.q_scale, s.q_low, s.q_high),
        relu(relu_) {}
  inline void operator()(int y, int x, int c, i32x4 acc, const float* scale, const float* bias) const {
    if constexpr ((MODE & kReluCodes) != 0) {
      store_codes(q + y * q_row + x * q_pixel + c, quantizer.relu_codes(epilogue(acc, scale + c, bias + c, false)));
      return;
    }
    const f32x4 v = epilogue(acc, scale + c, bias + c, relu);
    if constexpr ((MODE & kFloat) != 0) store_f32(f + y * f_row + x * f_pixel + c, v);
    if constexpr ((MODE & kQuantized) != 0) store_codes(q + y * q_row + x * q_pixel + c, quantizer.codes(v));
  }
  // Eight channels at once: one narrowing and one store for both halves.
  inline void operator()(int y, int x, int c, i32x4 acc0, i32x4 acc1, const float* scale, const float* bias) const {
    if constexpr ((MODE & kReluCodes) != 0) {
      store_codes(q + y * q_row + x * q_pixel + c, quantizer.relu_codes(epilogue(acc0, scale + c, bias + c, false)),
                  quantizer.relu_codes(epilogue(acc1, scale + c + 4, bias + c + 4, false)));
      return;
    }
    const f32x4 v0 = epilogue(acc0, scale + c, bias + c, relu);
    const f32x4 v1 = epilogue(acc1, scale + c + 4, bias + c + 4, relu);
    if constexpr ((MODE & kFloat) != 0) {
      store_f32(f + y * f_row + x * f_pixel + c, v0);
      store_f32(f + y * f_row + x * f_pixel + c + 4, v1);
    }
    if constexpr ((MODE & kQuantized) != 0)
      store_codes(q + y * q_row + x * q_pixel + c, quantizer.codes(v0), quantizer.codes(v1));
  }
  // Whether channels [c, c + 4) exist in every destination: a depthwise block of 8 may end past a stride that is a
  // multiple of 4 only, and its padding lanes would land in the next pixel.
  bool holds(int c) const { return ((MODE & kFloat) == 0 || c < f_pixel) && ((MODE & kQuantized) == 0 || c < q_pixel); }
};

// --- conv2d ---------------------------------------------------------------------------------------------------

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

struct ConvGeometry {
  int kh, sh, sw, out_w;
  int pairs;               // per window row
  const std::int16_t* in;  // first tap of output pixel (0, 0), inside the zero border
  int in_row, in_cs;
  const float* scale;  // (acc_c)
  const float* bias;   // (acc_c)
};

template <int MR, int NV, class Finish>
inline void conv_tile(const ConvGeometry& g, const Finish& finish, const std::int16_t* w, const std::int16_t* in,
                      int oy, int ox, int c0) {
  i32x4 a[MR][NV];
  for (int p = 0; p < MR; ++p)
    for (int v = 0; v < NV; ++v) a[p][v] = zero_i32x4();
  const int pixel_step = g.sw * g.in_cs;
  for (int ky = 0; ky < g.kh; ++ky) {
    const std::int16_t* x = in + static_cast<std::ptrdiff_t>(ky) * g.in_row;
    const std::int16_t* const x_end = x + 2 * g.pairs;
    for (; x != x_end; x += 2, w += 2 * kBlock) {
      i16x8 xv[MR];
      for (int p = 0; p < MR; ++p) xv[p] = splat_pair(x + p * pixel_step);
      for (int v = 0; v < NV; ++v) {
        const i16x8 wv = load_i16x8(w + v * 8);
        for (int p = 0; p < MR; ++p) a[p][v] = dot_add(a[p][v], xv[p], wv);
      }
    }
  }
  for (int p = 0; p < MR; ++p) {
    int v = 0;
    for (; v + 2 <= NV; v += 2) finish(oy, ox + p, c0 + v * kLanes, a[p][v], a[p][v + 1], g.scale, g.bias);
    if (v < NV) finish(oy, ox + p, c0 + v * kLanes, a[p][v], g.scale, g.bias);
  }
}

// Pixels per tile for a block of NV vectors: a layer's last block, when it holds only 4 or 8 channels, takes 6 or 4
// pixels per tile, so its splats and loop overhead are shared by more dot products (accumulators + splats + a
// weight and a product register stay within V8's 15). bench_kernels in wasm: first conv 3->49 29.3 -> 30.2,
// 3->38 30.0 -> 31.1 G multiply-adds/s; 3 pixels for 12 channels measured slower (30.9 -> 29.9) and is not used.
template <int NV>
constexpr int tile_pixels() {
  return NV >= 3 ? kTile : NV == 1 ? 6 : 4;
}

template <int NV, class Finish>
void conv_block_row(const ConvGeometry& g, const Finish& finish, int oy, int c0, const std::int16_t* w) {
  constexpr int kPixels = tile_pixels<NV>();
  const std::int16_t* in = g.in + static_cast<std::ptrdiff_t>(oy) * g.sh * g.in_row;
  int ox = 0;
  for (; ox + kPixels <= g.out_w; ox += kPixels)
    conv_tile<kPixels, NV>(g, finish, w, in + ox * g.sw * g.in_cs, oy, ox, c0);
  for (; ox < g.out_w; ++ox) conv_tile<1, NV>(g, finish, w, in + ox * g.sw * g.in_cs, oy, ox, c0);
}

template <int NV, class Finish>
void conv_block_row_narrowing(const ConvGeometry& g, const Finish& finish, int oy, int c0, const std::int16_t* w,
                              int vectors) {
  if constexpr (NV > 1) {
    if (vectors < NV) return conv_block_row_narrowing<NV - 1>(g, finish, oy, c0, w, vectors);
  }
  conv_block_row<NV>(g, finish, oy, c0, w);
}

// Each step kernel is a wasm function of its own (noinline here, and the link option in CMakeLists.txt for
// Binaryen): V8 allocates registers per function, and one function holding every kernel variant spilled the inner
// loops' accumulators.
template <class Finish>
[[gnu::noinline]] void conv2d_step(const Int8ForwardPlan::Step& step, Int8ForwardPlan::Buffer& in,
                                   const Finish& finish) {
  const Layer& layer = *step.layer;
  const int acc_c = static_cast<int>(step.scale.size());
  const ConvGeometry g{layer.kernel_h,  layer.stride_h,    layer.stride_w,
                       layer.out.w,     step.pairs,        in.at(-layer.pad.top, -layer.pad.left),
                       in.row_stride(), in.channel_stride, step.scale.data(),
                       step.bias.data()};
  // Rows outer, channel blocks inner: the input rows of one output row stay in L1 across the blocks.
  for (int oy = 0; oy < layer.out.h; ++oy)
    for (int c0 = 0; c0 < acc_c; c0 += kBlock)
      conv_block_row_narrowing<kBlockVectors>(g, finish, oy, c0,
                                              step.weights.data() + static_cast<std::size_t>(c0) * g.kh * g.pairs * 2,
                                              (acc_c - c0) / kLanes);
}

// --- depthwise ------------------------------------------------------------------------------------------------

constexpr int kDwTile = 4;  // output pixels per depthwise tile, 8 channels each

// Taps are taken two at a time: the input vectors of taps t and t + 1 (same 8 channels) are interleaved and
// multiplied by the weights packed as (tap pair, channel, 2), so one dot product sums two taps of four channels:
// 16 multiply-adds per pixel in 2 loads, 2 shuffles, 2 dot products and 2 adds, against 24 instructions with 16-bit
// products widened separately. An odd tap count pairs its last tap with a copy of itself of weight zero.
template <int MR, class Finish>
inline void dw_tile(const Int8ForwardPlan::Step& step, const Finish& finish, const std::int16_t* w,
                    const std::int16_t* in, int oy, int ox, int c0, bool store_hi) {
  const int cs = step.in_cs;
  const int pixel_step = step.layer->stride_w * cs;
  const int pairs = static_cast<int>(step.tap_offsets.size() / 2);
  const std::ptrdiff_t* offset = step.tap_offsets.data();
  i32x4 lo[MR], hi[MR];
  for (int p = 0; p < MR; ++p) lo[p] = hi[p] = zero_i32x4();
  for (int i = 0; i < pairs; ++i, w += 2 * cs) {
    const i16x8 wl = load_i16x8(w), wh = load_i16x8(w + 8);
    const std::int16_t* x0 = in + offset[2 * i];
    const std::int16_t* x1 = in + offset[2 * i + 1];
    for (int p = 0; p < MR; ++p) {
      const i16x8 a = load_i16x8(x0 + p * pixel_step), b = load_i16x8(x1 + p * pixel_step);
      lo[p] = dot_add(lo[p], interleave_low(a, b), wl);
      hi[p] = dot_add(hi[p], interleave_high(a, b), wh);
    }
  }
  for (int p = 0; p < MR; ++p) {
    if (store_hi)
      finish(oy, ox + p, c0, lo[p], hi[p], step.scale.data(), step.bias.data());
    else
      finish(oy, ox + p, c0, lo[p], step.scale.data(), step.bias.data());
  }
}

template <class Finish>
[[gnu::noinline]] void depthwise_step(const Int8ForwardPlan::Step& step, Int8ForwardPlan::Buffer& in,
                                      const Finish& finish) {
  const Layer& layer = *step.layer;
  const int cs = step.in_cs, in_row = in.row_stride();
  const std::int16_t* origin = in.at(-layer.pad.top, -layer.pad.left);
  // All channel blocks of one pixel tile before the next tile: the tile's input window stays in L1.
  for (int oy = 0; oy < layer.out.h; ++oy) {
    const std::int16_t* row = origin + static_cast<std::ptrdiff_t>(oy) * layer.stride_h * in_row;
    int ox = 0;
    for (; ox + kDwTile <= layer.out.w; ox += kDwTile)
      for (int c0 = 0; c0 < cs; c0 += 8)
        dw_tile<kDwTile>(step, finish, step.weights.data() + 2 * c0, row + ox * layer.stride_w * cs + c0, oy, ox, c0,
                         finish.holds(c0 + kLanes));
    for (; ox < layer.out.w; ++ox)
      for (int c0 = 0; c0 < cs; c0 += 8)
        dw_tile<1>(step, finish, step.weights.data() + 2 * c0, row + ox * layer.stride_w * cs + c0, oy, ox, c0,
                   finish.holds(c0 + kLanes));
  }
}

// --- dense ----------------------------------------------------------------------------------------------------

constexpr int kDenseBlock = 16;  // units per block of the several-unit layout

void dense_step(const Int8ForwardPlan::Step& step, Int8ForwardPlan::Buffer& in, const Int8ForwardPlan::Sink& sink) {
  const Layer& layer = *step.layer;
  const bool relu = layer.activation == Activation::relu;
  // The input buffer of a dense layer has no border: its data is the flattened (H, W, cs) map plus zero slack.
  const std::int16_t* x = in.origin;
  const std::size_t n = static_cast<std::size_t>(layer.in.h) * layer.in.w * step.in_cs;
  const int units = layer.out.c;
  std::vector<std::int32_t> sums(static_cast<std::size_t>(units));
  if (!step.weights.empty()) {
    // One unit: one long dot product, four accumulators to hide the add latency. weights are zero-padded to a
    // multiple of 8 and the buffer's slack is zeros, so the last vector reads nothing it should not count.
    i32x4 a[4] = {zero_i32x4(), zero_i32x4(), zero_i32x4(), zero_i32x4()};
    const std::int16_t* w = step.weights.data();
    const std::size_t padded = step.weights.size();
    std::size_t i = 0;
    for (; i + 32 <= padded; i += 32)
      for (int k = 0; k < 4; ++k) a[k] = dot_add(a[k], load_i16x8(x + i + 8 * k), load_i16x8(w + i + 8 * k));
    for (; i < padded; i += 8) a[0] = dot_add(a[0], load_i16x8(x + i), load_i16x8(w + i));
    sums[0] = sum_lanes(a[0]) + sum_lanes(a[1]) + sum_lanes(a[2]) + sum_lanes(a[3]);
  } else {
    // Several units: post-ReLU inputs are mostly zero, so the nonzero pairs are listed once and every block of 16
    // units sums over those only.
    const std::size_t pairs = (n + 1) / 2;
    std::vector<std::uint32_t> nonzero;
    nonzero.reserve(pairs);
    for (std::size_t j = 0; j < pairs; ++j)
      if (x[2 * j] != 0 || x[2 * j + 1] != 0) nonzero.push_back(static_cast<std::uint32_t>(j));
    for (int b0 = 0; b0 < units; b0 += kDenseBlock) {
      const std::int8_t* w = step.dense_weights.data() + static_cast<std::size_t>(b0) * pairs * 2;
      i32x4 a[4] = {zero_i32x4(), zero_i32x4(), zero_i32x4(), zero_i32x4()};
      for (std::uint32_t j : nonzero) {
        const i16x8 xv = splat_pair(x + 2 * static_cast<std::size_t>(j));
        const std::int8_t* wj = w + static_cast<std::size_t>(j) * kDenseBlock * 2;
        for (int v = 0; v < 4; ++v) a[v] = dot_add(a[v], xv, load_i8x8(wj + 8 * v));
      }
      std::int32_t lanes[kDenseBlock];
      for (int v = 0; v < 4; ++v) std::memcpy(lanes + 4 * v, &a[v], sizeof(std::int32_t) * 4);
      for (int o = b0; o < std::min(units, b0 + kDenseBlock); ++o) sums[static_cast<std::size_t>(o)] = lanes[o - b0];
    }
  }
  for (int o = 0; o < units; ++o) {
    const float value =
        int8_epilogue(sums[static_cast<std::size_t>(o)], step.scale[static_cast<std::size_t>(o)],
                      step.bias[static_cast<std::size_t>(o)], relu ? Activation::relu : Activation::linear);
    if (sink.f) sink.f[o] = value;
    if (sink.q) sink.q[o] = quantize_scalar(value, sink);
  }
}

// The one-layer path behind conv2d_int8_tiled & co: the plan's packing and kernels, so the kernel tests against
// the `_ref` twins cover what forward_int8 runs.
void run_single_layer(const Layer& layer, const std::int16_t* in, float* out) {
  const int in_cs = layer.kind == LayerKind::depthwise_conv2d ? round_up(layer.in.c, 8) : layer.in.c;
  const Int8ForwardPlan::Step step = Int8ForwardPlan::prepare_step(layer, in_cs);
  Int8ForwardPlan::Buffer buffer =
      Int8ForwardPlan::make_buffer(layer.in, layer.kind == LayerKind::dense ? Padding{} : layer.pad, in_cs);
  const Shape3 is = layer.in, os = layer.out;
  for (int y = 0; y < is.h; ++y)
    for (int x = 0; x < is.w; ++x)
      std::memcpy(buffer.at(y, x), in + (static_cast<std::size_t>(y) * is.w + x) * is.c, sizeof(std::int16_t) * is.c);
  const int out_cs = round_up(os.c, 8);
  std::vector<float> result(static_cast<std::size_t>(os.h) * os.w * out_cs);  // (H, W, out_cs)
  Int8ForwardPlan::Sink sink;
  sink.f = result.data();
  sink.f_pixel = out_cs;
  sink.f_row = static_cast<std::ptrdiff_t>(os.w) * out_cs;
  Int8ForwardPlan::run_step(step, buffer, sink);
  for (std::size_t p = 0; p < static_cast<std::size_t>(os.h) * os.w; ++p)
    std::copy_n(result.data() + p * out_cs, os.c, out + p * os.c);
}

}  // namespace

void conv2d_int8_tiled(const Layer& layer, const std::int16_t* in, float* out) { run_single_layer(layer, in, out); }
void depthwise_conv2d_int8_tiled(const Layer& layer, const std::int16_t* in, float* out) {
  run_single_layer(layer, in, out);
}
void dense_int8_tiled(const Layer& layer, const std::int16_t* in, float* out) { run_single_layer(layer, in, out); }

// --- the plan's buffers and steps (the chain of steps: engine/int8_forward_plan.cpp) -------------------------

// Slack: the last pair of an odd window row reads one value past the row, and the one-unit dense kernel reads
// in vectors of 8.
std::size_t Int8ForwardPlan::Buffer::elements() const {
  return static_cast<std::size_t>(border.top + shape.h + border.bottom) * row_stride() + 8;
}

// What the producing layer (or the input quantizer) writes is channels [0, C) of every interior pixel; all else
// must read as zero: the border is the layer's padding. Channels past C and the slack meet zero weights, so any
// value there would do for the sums, but the layout promises zeros (and the dense kernel's list of nonzero input
// pairs stays short); they are a few values per pixel.
void Int8ForwardPlan::Buffer::clear_unwritten() {
  const int row = row_stride(), cs = channel_stride, c = shape.c;
  const auto zero = [](std::int16_t* p, std::ptrdiff_t n) {
    if (n > 0) std::memset(p, 0, sizeof(std::int16_t) * static_cast<std::size_t>(n));
  };
  zero(origin, static_cast<std::ptrdiff_t>(border.top) * row);
  // Channels past C are fewer than 8 per pixel (strides round C up to 4 or 8). One 8-value store per pixel instead of
  // a memset of 1-7 values (the memset calls took ~5% of a per-neuron model's int8 pass in wasm): it also zeroes the
  // start of the next pixel, which the producing layer writes after this, or the border and slack, which are zero.
  static constexpr std::int16_t kZeros[8] = {};
  const bool narrow_tail = cs - c < 8;
  for (int y = 0; y < shape.h; ++y) {
    zero(at(y, -border.left), static_cast<std::ptrdiff_t>(border.left) * cs);
    if (cs > c && narrow_tail)
      for (int x = 0; x < shape.w; ++x) std::memcpy(at(y, x) + c, kZeros, sizeof kZeros);
    else if (cs > c)
      for (int x = 0; x < shape.w; ++x) zero(at(y, x) + c, cs - c);
    zero(at(y, shape.w), static_cast<std::ptrdiff_t>(border.right) * cs);
  }
  zero(at(shape.h, -border.left), static_cast<std::ptrdiff_t>(border.bottom) * row + 8);
}

Int8ForwardPlan::Buffer Int8ForwardPlan::describe_buffer(Shape3 shape, const Padding& border, int channel_stride) {
  Buffer b;
  b.shape = shape;
  b.border = border;
  b.channel_stride = channel_stride;
  return b;
}

Int8ForwardPlan::Buffer Int8ForwardPlan::make_buffer(Shape3 shape, const Padding& border, int channel_stride) {
  Buffer b = describe_buffer(shape, border, channel_stride);
  b.owned.assign(b.elements(), 0);
  b.origin = b.owned.data();
  return b;
}

void quantize_values(const float* values, std::size_t count, float scale, bool unsigned_range, std::int16_t* out) {
#if defined(CORTEXLENS_WIDE_INT8)
  // The model input (a row of 112 x 3 values at a time): 7% of a per-neuron model's pass on AVX-512 at 4 lanes.
  if (count >= 16) {
    const Isa isa = active_isa();
    if (isa == Isa::avx512) return quantize_values_avx512(values, count, scale, unsigned_range, out);
    if (isa == Isa::avx2) return quantize_values_avx2(values, count, scale, unsigned_range, out);
  }
#endif
  // Branch-free so it vectorizes, yet equal to lround (half away from zero): x - trunc(x) is exact in float,
  // whereas the common trunc(x + 0.5) rounds 0.49999997 up to 1.
  const float low = unsigned_range ? 0.0f : -static_cast<float>(kInt8Max);
  const float high = static_cast<float>(unsigned_range ? kUint8Max : kInt8Max);
  const float inverse = quantizer_inverse(scale);
  for (std::size_t i = 0; i < count; ++i) {
    float x = values[i] * inverse;
    x = x > high ? high : (x < low ? low : x);
    const float whole = std::trunc(x);
    const float fraction = x - whole;
    out[i] = static_cast<std::int16_t>(static_cast<int>(whole) + (fraction >= 0.5f) - (fraction <= -0.5f));
  }
}

void plan_relu_codes(const float* values, std::size_t count, float scale, float high, std::int16_t* out) {
#if defined(CORTEXLENS_WIDE_INT8)
  const Isa isa = active_isa();
  if (isa == Isa::avx512) return plan_relu_codes_avx512(values, count, scale, high, out);
  if (isa == Isa::avx2) return plan_relu_codes_avx2(values, count, scale, high, out);
#endif
  const Quantizer quantizer(scale, 0.0f, high);
  for (std::size_t i = 0; i < count; i += 4) {
    float block[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    std::int16_t codes[4];
    const std::size_t n = std::min<std::size_t>(4, count - i);
    std::copy_n(values + i, n, block);
    f32x4 v;
    std::memcpy(&v, block, sizeof block);
    store_codes(codes, quantizer.relu_codes(v));
    std::copy_n(codes, n, out + i);
  }
}

#if defined(CORTEXLENS_WIDE_INT8)
namespace {

// Step::quad_weights and quad_correction (int8_forward_plan_internals.hpp gives the layout) for `blocks_c` output
// channels, a multiple of 16.
void prepare_quads(Int8ForwardPlan::Step& step, const Int8Weights& q, int blocks_c) {
  constexpr int kTileQuads = 16, kTileChannels = 16;
  const Layer& layer = *step.layer;
  const int kh = layer.kernel_h, kw = layer.kernel_w, in_c = layer.in.c, out_c = layer.out.c;
  const int run = kw * step.in_cs;
  step.quads = round_up((kh * run + 3) / 4, kTileQuads);
  const std::size_t block_size = static_cast<std::size_t>(step.quads) * kTileChannels * 4;
  step.quad_weights.assign(block_size * static_cast<std::size_t>(blocks_c / kTileChannels), 0);
  step.quad_correction.assign(static_cast<std::size_t>(blocks_c), 0);
  const std::int32_t shift = q.unsigned_input ? 0 : 128;
  for (int oc = 0; oc < out_c; ++oc) {
    std::int8_t* block = step.quad_weights.data() + block_size * static_cast<std::size_t>(oc / kTileChannels);
    std::int32_t sum = 0;
    for (int ky = 0; ky < kh; ++ky)
      for (int kx = 0; kx < kw; ++kx)
        for (int ic = 0; ic < in_c; ++ic) {
          const int k = ky * run + kx * step.in_cs + ic;
          const std::int8_t w = q.weights[((static_cast<std::size_t>(ky) * kw + kx) * in_c + ic) * out_c + oc];
          block[(static_cast<std::size_t>(k / 4) * kTileChannels + oc % kTileChannels) * 4 + k % 4] = w;
          sum += w;
        }
    step.quad_correction[static_cast<std::size_t>(oc)] = shift * sum;
  }
}

}  // namespace
#endif

Int8ForwardPlan::Step Int8ForwardPlan::prepare_step(const Layer& layer, int in_cs) {
  Step step;
  step.layer = &layer;
  step.in_cs = in_cs;
  const Int8Weights& q = *layer.int8;
  const int kh = layer.kernel_h, kw = layer.kernel_w, in_c = layer.in.c, out_c = layer.out.c;
  int padded_c = round_up(out_c, kLanes);
  if (layer.kind == LayerKind::depthwise_conv2d) padded_c = in_cs;
  if (layer.kind == LayerKind::dense) padded_c = round_up(out_c, kDenseBlock);
  step.scale.assign(static_cast<std::size_t>(padded_c), 0.0f);
  step.bias.assign(static_cast<std::size_t>(padded_c), 0.0f);
  for (int oc = 0; oc < out_c; ++oc) {
    step.scale[static_cast<std::size_t>(oc)] = q.input_scale * q.weight_scales[static_cast<std::size_t>(oc)];
    step.bias[static_cast<std::size_t>(oc)] = layer.bias[static_cast<std::size_t>(oc)];
  }
  switch (layer.kind) {
    case LayerKind::conv2d: {
      // Per block of kBlock output channels: (kh, pairs, kBlock, 2); zeros past the run, for padding input channels
      // and past out_c. The last block is as wide as the others, so that the wider paths (int8_wide.hpp) find every
      // vector of weights at one distance from the block's first.
      const int run = kw * in_cs;
      step.pairs = (run + 1) / 2;
      step.weights.assign(static_cast<std::size_t>(kh) * step.pairs * 2 * round_up(padded_c, kBlock), 0);
      for (int c0 = 0; c0 < padded_c; c0 += kBlock) {
        const int width = kBlock;
        std::int16_t* block = step.weights.data() + static_cast<std::size_t>(c0) * kh * step.pairs * 2;
        for (int ky = 0; ky < kh; ++ky)
          for (int kx = 0; kx < kw; ++kx)
            for (int ic = 0; ic < in_c; ++ic) {
              const int k = kx * in_cs + ic;
              for (int o = 0; o < width && c0 + o < out_c; ++o)
                block[((static_cast<std::size_t>(ky) * step.pairs + k / 2) * width + o) * 2 + k % 2] =
                    q.weights[((static_cast<std::size_t>(ky) * kw + kx) * in_c + ic) * out_c + c0 + o];
            }
      }
#if defined(CORTEXLENS_WIDE_INT8)
      // Only where the tiles can run: elsewhere nothing would read this second copy of the weights.
      if (has_amx_int8() && int8_amx_kernel_built()) prepare_quads(step, q, round_up(padded_c, kBlock));
#endif
      break;
    }
    case LayerKind::depthwise_conv2d: {
      // (tap pairs, cs, 2); tap t = (ky, kx) reads the input at ky * row + kx * cs from the window's corner (the
      // input buffer's border is this layer's padding, as the plan and run_single_layer make it).
      const int taps = kh * kw, pairs = (taps + 1) / 2;
      const std::ptrdiff_t row = static_cast<std::ptrdiff_t>(layer.pad.left + layer.in.w + layer.pad.right) * in_cs;
      step.weights.assign(static_cast<std::size_t>(pairs) * in_cs * 2, 0);
      step.tap_offsets.resize(static_cast<std::size_t>(pairs) * 2);
      for (int slot = 0; slot < 2 * pairs; ++slot) {
        const int t = std::min(slot, taps - 1);  // the spare slot repeats the last tap, with weight zero
        step.tap_offsets[static_cast<std::size_t>(slot)] = (t / kw) * row + static_cast<std::ptrdiff_t>(t % kw) * in_cs;
        if (slot >= taps) continue;
        for (int c = 0; c < in_c; ++c)
          step.weights[(static_cast<std::size_t>(slot / 2) * in_cs + c) * 2 + slot % 2] =
              q.weights[static_cast<std::size_t>(t) * in_c + c];
      }
      step.tap_weights.assign(static_cast<std::size_t>(taps) * in_cs, 0);
      for (int t = 0; t < taps; ++t)
        for (int c = 0; c < in_c; ++c)
          step.tap_weights[static_cast<std::size_t>(t) * in_cs + c] = q.weights[static_cast<std::size_t>(t) * in_c + c];
#if defined(CORTEXLENS_WIDE_INT8)
      if (kw == wide_int8::kPairKernelWidth && layer.stride_w == 2) {
        const int width = round_up(in_cs, 16);
        constexpr int kPairs = (wide_int8::kPairKernelWidth + 1) / 2;
        step.pair_weights.assign(static_cast<std::size_t>(kh) * kPairs * width * 2, 0);
        for (int ky = 0; ky < kh; ++ky)
          for (int kx = 0; kx < kw; ++kx)
            for (int c = 0; c < in_c; ++c)
              step.pair_weights[((static_cast<std::size_t>(ky) * kPairs + kx / 2) * width + c) * 2 + kx % 2] =
                  q.weights[(static_cast<std::size_t>(ky) * kw + kx) * in_c + c];
      }
#endif
      break;
    }
    case LayerKind::dense: {
      const std::size_t pixels = static_cast<std::size_t>(layer.in.h) * layer.in.w;
      const std::size_t n = pixels * in_cs;
      if (out_c == 1) {
        step.weights.assign((n + 7) / 8 * 8, 0);
        for (std::size_t p = 0; p < pixels; ++p)
          for (int c = 0; c < in_c; ++c) step.weights[p * in_cs + c] = q.weights[p * in_c + c];
      } else {
        const std::size_t pairs = (n + 1) / 2;
        step.dense_weights.assign(pairs * 2 * padded_c, 0);
        for (std::size_t p = 0; p < pixels; ++p)
          for (int c = 0; c < in_c; ++c) {
            const std::size_t k = p * in_cs + c;
            for (int o = 0; o < out_c; ++o)
              step.dense_weights[static_cast<std::size_t>(o / kDenseBlock * kDenseBlock) * pairs * 2 +
                                 ((k / 2) * kDenseBlock + o % kDenseBlock) * 2 + k % 2] =
                  q.weights[(p * in_c + c) * out_c + o];
          }
      }
      break;
    }
  }
  return step;
}

namespace {

template <int MODE>
void run_step_to(const Int8ForwardPlan::Step& step, Int8ForwardPlan::Buffer& in, const Int8ForwardPlan::Sink& sink) {
  const Finisher<MODE> finish(sink, step.layer->activation == Activation::relu);
  if (step.layer->kind == LayerKind::conv2d) return conv2d_step(step, in, finish);
  depthwise_step(step, in, finish);
}

}  // namespace

namespace {

std::atomic<bool>& vnni_allowed() {
  static std::atomic<bool> allowed{true};
  return allowed;
}

std::atomic<bool>& amx_allowed() {
  static std::atomic<bool> allowed{true};
  return allowed;
}

// Isa::scalar: the `_ref` kernels on a dense copy of the bordered input, finished into the sink with
// quantize_values (what the 4-lane quantizers equal bit for bit), so a whole plan can run on the reference code.
void run_step_scalar(const Int8ForwardPlan::Step& step, Int8ForwardPlan::Buffer& in,
                     const Int8ForwardPlan::Sink& sink) {
  const Layer& layer = *step.layer;
  const Shape3 is = layer.in, os = layer.out;
  std::vector<std::int16_t> dense(is.size());  // (H, W, C)
  for (int y = 0; y < is.h; ++y)
    for (int x = 0; x < is.w; ++x)
      std::copy_n(in.at(y, x), is.c, dense.data() + (static_cast<std::size_t>(y) * is.w + x) * is.c);
  std::vector<float> out(os.size());  // (H, W, C)
  run_layer_int8(layer, dense.data(), out.data(), /*use_reference=*/true);
  for (int y = 0; y < os.h; ++y)
    for (int x = 0; x < os.w; ++x) {
      const float* v = out.data() + (static_cast<std::size_t>(y) * os.w + x) * os.c;
      if (sink.f) std::copy_n(v, os.c, sink.f + y * sink.f_row + x * sink.f_pixel);
      if (sink.q)
        quantize_values_ref(v, static_cast<std::size_t>(os.c), sink.q_scale, sink.q_low >= 0.0f,
                            sink.q + y * sink.q_row + x * sink.q_pixel);
    }
}

}  // namespace

void set_int8_vnni_allowed(bool allowed) { vnni_allowed().store(allowed, std::memory_order_relaxed); }
bool int8_vnni_allowed() { return vnni_allowed().load(std::memory_order_relaxed); }
std::string int8_engine_description(Isa isa) {
  if (isa == Isa::scalar) return "reference kernels";
  if (isa == Isa::sse) return "4 lanes";
  const bool vnni = int8_vnni_allowed() && has_vnni(isa);
  std::string text = isa == Isa::avx512 ? (vnni ? "AVX-512 VNNI" : "AVX-512 BW") : (vnni ? "AVX-VNNI" : "AVX2");
#if defined(CORTEXLENS_WIDE_INT8)
  if (isa == Isa::avx512 && int8_amx_allowed() && has_amx_int8() && int8_amx_kernel_built())
    text += ", conv2d on AMX tiles";
#endif
  return text;
}

#if !defined(CORTEXLENS_WIDE_INT8)
bool int8_amx_kernel_built() { return false; }  // int8_avx512.cpp, which has it, is built only natively on x86-64
#endif

void set_int8_amx_allowed(bool allowed) { amx_allowed().store(allowed, std::memory_order_relaxed); }
bool int8_amx_allowed() { return amx_allowed().load(std::memory_order_relaxed); }

void Int8ForwardPlan::run_step(const Step& step, Buffer& in, const Sink& sink) {
  switch (active_isa()) {
    case Isa::scalar:
      return run_step_scalar(step, in, sink);
#if defined(CORTEXLENS_WIDE_INT8)
    case Isa::avx512:
      if (run_int8_step_avx512(step, in, sink, int8_vnni_allowed() && has_vnni(Isa::avx512),
                               int8_amx_allowed() && has_amx_int8()))
        return;
      break;
    case Isa::avx2:
      if (run_int8_step_avx2(step, in, sink, int8_vnni_allowed() && has_vnni(Isa::avx2))) return;
      break;
#endif
    default:
      break;
  }
  if (step.layer->kind == LayerKind::dense) return dense_step(step, in, sink);
  if (sink.q && sink.f) return run_step_to<kQuantized | kFloat>(step, in, sink);
  if (sink.q && step.layer->activation == Activation::relu && sink.q_low <= 0.0f)
    return run_step_to<kQuantized | kReluCodes>(step, in, sink);
  if (sink.q) return run_step_to<kQuantized>(step, in, sink);
  run_step_to<kFloat>(step, in, sink);
}

}  // namespace cortexlens
