// Private to the core: the int8 plan steps at the machine's width (AVX2 8 lanes, AVX-512 16 lanes), written once
// as templates over a vector type V and compiled per path in int8_avx2.cpp and int8_avx512.cpp, the only files
// built with those instruction sets (natively on x86-64, CORTEXLENS_WIDE_INT8). int8_simd.cpp dispatches to them on
// active_isa() and keeps the 4-lane code for everything they leave (it runs on any x86-64, and in wasm).
//
// Same arithmetic as the 4-lane steps, so the results are the same bits: exact int32 sums (vpdpwssd where the CPU
// has VNNI, else vpmaddwd + vpaddd, both sum 16-bit pairs into int32 without saturation), then int8_epilogue's
// convert, multiply, add in that order, each rounded once (the per-path files are compiled with -ffp-contract=off,
// or GCC would fuse the multiply and the add of the intrinsics into one FMA), and the plan's quantizer.
//
// The conv2d weights keep the 4-lane steps' packing (blocks of 16 output channels as (kh, pairs, 16, 2)): a block
// is one AVX-512 vector or two AVX2 vectors of 32-bit pairs, so no second packing is kept. A tile is up to G
// vectors of channels (a few blocks read side by side) times MR output pixels.
//
// Everything V-specific has internal linkage (each file defines V in an unnamed namespace), so no function
// compiled with AVX instructions can be picked by the linker for a caller on the baseline path.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "cortexlens/isa.hpp"
#include "engine/int8_forward_plan_internals.hpp"
#include "kernels/int8_arithmetic.hpp"

namespace cortexlens {

// One plan step at the path's width; false when the path leaves this kind of step to the 4-lane code. vnni: use
// the CPU's int8 dot-product instruction (has_vnni), else the plain multiply-add pair.
bool run_int8_step_avx2(const Int8ForwardPlan::Step& step, Int8ForwardPlan::Buffer& in,
                        const Int8ForwardPlan::Sink& sink, bool vnni);
// amx: run conv2d steps on AMX tiles where the build has the AMX kernel (int8_avx512.cpp), else ignored.
bool run_int8_step_avx512(const Int8ForwardPlan::Step& step, Int8ForwardPlan::Buffer& in,
                          const Int8ForwardPlan::Sink& sink, bool vnni, bool amx);
// plan_relu_codes at the path's width (kernels.hpp states it).
void plan_relu_codes_avx2(const float* values, std::size_t count, float scale, float high, std::int16_t* out);
void plan_relu_codes_avx512(const float* values, std::size_t count, float scale, float high, std::int16_t* out);
// quantize_values at the path's width.
void quantize_values_avx2(const float* values, std::size_t count, float scale, bool unsigned_range, std::int16_t* out);
void quantize_values_avx512(const float* values, std::size_t count, float scale, bool unsigned_range,
                            std::int16_t* out);

// For tests: run the wide paths with the plain multiply-add pair even where the CPU has VNNI, so both sequences
// are checked on a machine that has it. Set before running, like set_isa.
void set_int8_vnni_allowed(bool allowed);
bool int8_vnni_allowed();
// The same for AMX tiles (has_amx_int8): off, the avx512 path runs its conv2d steps on VNNI.
void set_int8_amx_allowed(bool allowed);
bool int8_amx_allowed();
// Whether this build has the AMX conv2d (the compiler knew -mamx-int8).
bool int8_amx_kernel_built();
// What the int8 steps of `isa` run on here, e.g. "AVX-512 VNNI, conv2d on AMX tiles", for benchmarks' headers.
std::string int8_engine_description(Isa isa);

namespace wide_int8 {

// int8_simd.cpp's constants: the conv2d packing's block of output channels, the finishing modes, and the ReLU
// quantizer's rounding constant (its proof is there).
constexpr int kConvBlock = 16;
constexpr int kQuantized = 1, kFloat = 2, kReluCodes = 4;
constexpr float kJustBelowHalf = 0.49999997f;

// Finishes one vector of channels of one output pixel into the sink (int8_simd.cpp's Finisher at width V::L).
// PARTIAL: only the lanes of mask m exist (the layer's last channels); the others are neither read nor written.
template <class V, int MODE>
struct Finisher {
  using F = typename V::F;
  using I = typename V::I;
  using M = typename V::M;
  std::int16_t* q;
  std::ptrdiff_t q_pixel, q_row;
  float* f;
  std::ptrdiff_t f_pixel, f_row;
  F inverse, low, high;
  bool relu;
  const float* scale;
  const float* bias;
  Finisher(const Int8ForwardPlan::Sink& s, bool relu_, const float* scale_, const float* bias_)
      : q(s.q),
        q_pixel(s.q_pixel),
        q_row(s.q_row),
        f(s.f),
        f_pixel(s.f_pixel),
        f_row(s.f_row),
        inverse(V::set1(quantizer_inverse(s.q_scale))),
        low(V::set1(s.q_low)),
        high(V::set1(s.q_high)),
        relu(relu_),
        scale(scale_),
        bias(bias_) {}

  template <bool PARTIAL>
  inline void finish(int y, int x, int c, I acc, M m) const {
    finish<PARTIAL>(y, x, c, acc, m, scales(c, m, PARTIAL), biases(c, m, PARTIAL));
  }
  F scales(int c, M m, bool partial) const { return partial ? V::load_f(scale + c, m) : V::load_f(scale + c); }
  F biases(int c, M m, bool partial) const { return partial ? V::load_f(bias + c, m) : V::load_f(bias + c); }
  // The same with channels c..'s scales and biases loaded, for a caller that finishes many pixels of them.
  template <bool PARTIAL>
  inline void finish(int y, int x, int c, I acc, M m, F sc, F bi) const {
    F v = V::add(V::mul(V::cvt(acc), sc), bi);
    // Only the modes that write codes have a code buffer (q is null otherwise): offsetting a null pointer is
    // undefined behaviour (UBSan), so the address is formed where it is used.
    const auto code_at = [&] { return q + y * q_row + x * q_pixel + c; };
    if constexpr ((MODE & kReluCodes) != 0) {
      // max(v * inverse, 0) equals max(v, 0) * inverse (int8_simd.cpp's relu_codes says why).
      const F r = V::min(V::max(V::mul(v, inverse), V::zero_f()), high);
      const I codes = V::cvtt(V::add(r, V::set1(kJustBelowHalf)));
      return PARTIAL ? V::store_codes(code_at(), codes, m) : V::store_codes(code_at(), codes);
    }
    if (relu) v = V::max(v, V::zero_f());  // v > 0 ? v : 0, -0 to +0
    if constexpr ((MODE & kFloat) != 0) {
      float* fp = f + y * f_row + x * f_pixel + c;
      PARTIAL ? V::store_f(fp, v, m) : V::store_f(fp, v);
    }
    if constexpr ((MODE & kQuantized) != 0) {
      const I codes = V::codes(v, inverse, low, high);
      PARTIAL ? V::store_codes(code_at(), codes, m) : V::store_codes(code_at(), codes);
    }
  }
};

// --- conv2d ---------------------------------------------------------------------------------------------------

struct ConvGeometry {
  int kh, sh, sw, out_w;
  int pairs;               // per window row
  const std::int16_t* in;  // first tap of output pixel (0, 0), inside the zero border
  int in_row, in_cs;
};

// MR output pixels x NV vectors of channels. Vector j reads block j / VPB at offset (j % VPB) * L pairs; blocks
// lie block_distance values apart and are all 16 channels wide (zeros past the layer's channels). PARTIAL: the
// last vector's outputs exist only in the lanes of m.
template <class V, bool VNNI, int MR, int NV, bool PARTIAL, class Finish>
inline void conv_tile(const ConvGeometry& g, const Finish& fin, const std::int16_t* w, std::ptrdiff_t block_distance,
                      const std::int16_t* in, int oy, int ox, int c0, typename V::M m) {
  using I = typename V::I;
  constexpr int L = V::L, VPB = kConvBlock / L;
  I a[MR][NV];
  for (int p = 0; p < MR; ++p)
    for (int j = 0; j < NV; ++j) a[p][j] = V::zero();
  const int pixel_step = g.sw * g.in_cs;
  for (int ky = 0; ky < g.kh; ++ky) {
    const std::int16_t* x = in + static_cast<std::ptrdiff_t>(ky) * g.in_row;
    const std::int16_t* const x_end = x + 2 * g.pairs;
    for (; x != x_end; x += 2, w += 2 * kConvBlock) {
      I wv[NV];
      for (int j = 0; j < NV; ++j) wv[j] = V::load_w(w + (j / VPB) * block_distance + (j % VPB) * 2 * L);
      for (int p = 0; p < MR; ++p) {
        const I xv = V::splat_pair(x + p * pixel_step);
        for (int j = 0; j < NV; ++j) a[p][j] = V::template dot_add<VNNI>(a[p][j], xv, wv[j]);
      }
    }
  }
  for (int p = 0; p < MR; ++p)
    for (int j = 0; j < NV; ++j) {
      if (PARTIAL && j == NV - 1)
        fin.template finish<true>(oy, ox + p, c0 + j * L, a[p][j], m);
      else
        fin.template finish<false>(oy, ox + p, c0 + j * L, a[p][j], m);
    }
}

// One output row of one group of channels. A row whose width is not a multiple of MR ends with a tile that
// overlaps the one before it: it writes some pixels twice, with the same values, instead of running narrower tiles.
template <class V, bool VNNI, int NV, bool PARTIAL, class Finish>
void conv_row(const ConvGeometry& g, const Finish& fin, const std::int16_t* w, std::ptrdiff_t block_distance, int oy,
              int c0, typename V::M m) {
  constexpr int MR = V::template tile_pixels<NV>();
  const std::int16_t* in = g.in + static_cast<std::ptrdiff_t>(oy) * g.sh * g.in_row;
  const std::ptrdiff_t pixel = static_cast<std::ptrdiff_t>(g.sw) * g.in_cs;
  if (g.out_w < MR) {
    for (int ox = 0; ox < g.out_w; ++ox)
      conv_tile<V, VNNI, 1, NV, PARTIAL>(g, fin, w, block_distance, in + ox * pixel, oy, ox, c0, m);
    return;
  }
  int ox = 0;
  for (; ox + MR <= g.out_w; ox += MR)
    conv_tile<V, VNNI, MR, NV, PARTIAL>(g, fin, w, block_distance, in + ox * pixel, oy, ox, c0, m);
  if (ox < g.out_w) {
    ox = g.out_w - MR;
    conv_tile<V, VNNI, MR, NV, PARTIAL>(g, fin, w, block_distance, in + ox * pixel, oy, ox, c0, m);
  }
}

template <class V, bool VNNI, int NV, class Finish>
void conv_row_dispatch(const ConvGeometry& g, const Finish& fin, const std::int16_t* w, std::ptrdiff_t block_distance,
                       int oy, int c0, int vectors, bool partial, typename V::M m) {
  if constexpr (NV > 1) {
    if (vectors < NV) return conv_row_dispatch<V, VNNI, NV - 1>(g, fin, w, block_distance, oy, c0, vectors, partial, m);
  }
  if (partial) return conv_row<V, VNNI, NV, true>(g, fin, w, block_distance, oy, c0, m);
  conv_row<V, VNNI, NV, false>(g, fin, w, block_distance, oy, c0, m);
}

template <class V, bool VNNI, class Finish>
[[gnu::noinline]] void conv2d_step(const Int8ForwardPlan::Step& step, Int8ForwardPlan::Buffer& in, const Finish& fin) {
  constexpr int L = V::L, G = V::kGroupVectors;
  const Layer& layer = *step.layer;
  const int acc_c = static_cast<int>(step.scale.size());  // output channels rounded up to 4
  const ConvGeometry g{layer.kernel_h,  layer.stride_h,   layer.stride_w,
                       layer.out.w,     step.pairs,       in.at(-layer.pad.top, -layer.pad.left),
                       in.row_stride(), in.channel_stride};
  const std::ptrdiff_t block_distance = static_cast<std::ptrdiff_t>(kConvBlock) * g.kh * g.pairs * 2;
  // Rows outer, channel groups inner: the input rows of one output row stay in L1 across the groups.
  for (int oy = 0; oy < layer.out.h; ++oy)
    for (int c0 = 0; c0 < acc_c; c0 += G * L) {
      const int width = std::min(G * L, acc_c - c0);
      const int vectors = (width + L - 1) / L;
      const int last = width - (vectors - 1) * L;
      conv_row_dispatch<V, VNNI, G>(g, fin, step.weights.data() + static_cast<std::ptrdiff_t>(c0) * g.kh * g.pairs * 2,
                                    block_distance, oy, c0, vectors, last < L, V::mask(last));
    }
}

// --- depthwise ------------------------------------------------------------------------------------------------

// A tile is MR output pixels x one group of 2L channels (one vector of int16 codes). The 16-bit pair dot product
// would need the codes of two taps interleaved (one shuffle per pair of taps and pixel, as the 4-lane code does);
// here one tap's vector of codes is multiplied as it lies in memory, once by the tap's weights of the even channels
// with zeros between them, once by those of the odd channels: each lane of the two int32 sums then holds one
// channel's product, and the even and odd sums are interleaved back into channel order once per output.
// Weights: step.tap_weights, (taps, cs).
template <class V, bool VNNI, int MR, bool PARTIAL, class Finish>
inline void dw_tile(const Int8ForwardPlan::Step& step, const Finish& fin, const std::int16_t* in, int oy, int ox,
                    int c0, int limit, typename V::M16 in_mask) {
  using I = typename V::I;
  constexpr int L = V::L;
  const int cs = step.in_cs;
  const int pixel_step = step.layer->stride_w * cs;
  const int taps = step.layer->kernel_h * step.layer->kernel_w;
  const std::ptrdiff_t* offset = step.tap_offsets.data();
  const std::int16_t* w = step.tap_weights.data() + c0;
  I even[MR], odd[MR];
  for (int p = 0; p < MR; ++p) even[p] = odd[p] = V::zero();
  const I low_half = V::set1_i32(0x0000FFFF), high_half = V::set1_i32(static_cast<std::int32_t>(0xFFFF0000u));
  for (int t = 0; t < taps; ++t, w += cs) {
    const I wt = PARTIAL ? V::load_i16(w, in_mask) : V::load_w(w);
    const I we = V::and_i(wt, low_half), wo = V::and_i(wt, high_half);
    const std::int16_t* x = in + offset[t];
    for (int p = 0; p < MR; ++p) {
      const I xv = PARTIAL ? V::load_i16(x + p * pixel_step, in_mask) : V::load_w(x + p * pixel_step);
      even[p] = V::template dot_add<VNNI>(even[p], xv, we);
      odd[p] = V::template dot_add<VNNI>(odd[p], xv, wo);
    }
  }
  const int n0 = std::min(L, limit - c0), n1 = std::min(L, limit - c0 - L);
  for (int p = 0; p < MR; ++p) {
    I first, second;
    V::interleave(even[p], odd[p], first, second);
    if (n0 == L)
      fin.template finish<false>(oy, ox + p, c0, first, V::mask(L));
    else
      fin.template finish<true>(oy, ox + p, c0, first, V::mask(n0));
    if (n1 == L)
      fin.template finish<false>(oy, ox + p, c0 + L, second, V::mask(L));
    else if (n1 > 0)
      fin.template finish<true>(oy, ox + p, c0 + L, second, V::mask(n1));
  }
}

// The same tile for a kernel KW wide at stride SW, where the path has the registers (V::dw_reuse_pixels, 0: not
// used): one kernel
// row's inputs, (MR - 1) * SW + KW vectors, are loaded once and serve every tap of the row, where dw_tile loads
// MR * KW (vector loads of codes that straddle cache lines were what limited it).
template <class V, bool VNNI, int MR, bool PARTIAL, int KW, int SW, class Finish>
inline void dw_tile_reuse(const Int8ForwardPlan::Step& step, const Finish& fin, const std::int16_t* in,
                          std::ptrdiff_t in_row, int oy, int ox, int c0, int limit, typename V::M16 in_mask) {
  using I = typename V::I;
  constexpr int L = V::L, N = (MR - 1) * SW + KW;
  const int cs = step.in_cs;
  const int kh = step.layer->kernel_h;
  const std::int16_t* w = step.tap_weights.data() + c0;
  I even[MR], odd[MR];
  for (int p = 0; p < MR; ++p) even[p] = odd[p] = V::zero();
  const I low_half = V::set1_i32(0x0000FFFF), high_half = V::set1_i32(static_cast<std::int32_t>(0xFFFF0000u));
  for (int ky = 0; ky < kh; ++ky) {
    const std::int16_t* x = in + ky * in_row;
    I xv[N];
    for (int j = 0; j < N; ++j) xv[j] = PARTIAL ? V::load_i16(x + j * cs, in_mask) : V::load_w(x + j * cs);
    for (int kx = 0; kx < KW; ++kx, w += cs) {
      const I wt = PARTIAL ? V::load_i16(w, in_mask) : V::load_w(w);
      const I we = V::and_i(wt, low_half), wo = V::and_i(wt, high_half);
      for (int p = 0; p < MR; ++p) {
        even[p] = V::template dot_add<VNNI>(even[p], xv[p * SW + kx], we);
        odd[p] = V::template dot_add<VNNI>(odd[p], xv[p * SW + kx], wo);
      }
    }
  }
  const int n0 = std::min(L, limit - c0), n1 = std::min(L, limit - c0 - L);
  for (int p = 0; p < MR; ++p) {
    I first, second;
    V::interleave(even[p], odd[p], first, second);
    if (n0 == L)
      fin.template finish<false>(oy, ox + p, c0, first, V::mask(L));
    else
      fin.template finish<true>(oy, ox + p, c0, first, V::mask(n0));
    if (n1 == L)
      fin.template finish<false>(oy, ox + p, c0 + L, second, V::mask(L));
    else if (n1 > 0)
      fin.template finish<true>(oy, ox + p, c0 + L, second, V::mask(n1));
  }
}

template <class V, bool VNNI, bool PARTIAL, int KW, int SW, class Finish>
void dw_row_reuse(const Int8ForwardPlan::Step& step, const Finish& fin, const std::int16_t* row, std::ptrdiff_t in_row,
                  int oy, int c0, int limit, typename V::M16 in_mask) {
  constexpr int MR = V::template dw_reuse_pixels<SW>();
  const int out_w = step.layer->out.w;
  const std::ptrdiff_t pixel = static_cast<std::ptrdiff_t>(SW) * step.in_cs;
  if (out_w < MR) {
    for (int ox = 0; ox < out_w; ++ox)
      dw_tile<V, VNNI, 1, PARTIAL>(step, fin, row + ox * pixel + c0, oy, ox, c0, limit, in_mask);
    return;
  }
  int ox = 0;
  for (; ox + MR <= out_w; ox += MR)
    dw_tile_reuse<V, VNNI, MR, PARTIAL, KW, SW>(step, fin, row + ox * pixel + c0, in_row, oy, ox, c0, limit, in_mask);
  if (ox < out_w) {
    ox = out_w - MR;  // overlaps the tile before: same values written twice
    dw_tile_reuse<V, VNNI, MR, PARTIAL, KW, SW>(step, fin, row + ox * pixel + c0, in_row, oy, ox, c0, limit, in_mask);
  }
}

template <class V, bool VNNI, bool PARTIAL, class Finish>
void dw_row(const Int8ForwardPlan::Step& step, const Finish& fin, const std::int16_t* row, int oy, int c0, int limit,
            typename V::M16 in_mask) {
  constexpr int MR = V::kDwPixels;
  const int out_w = step.layer->out.w;
  const std::ptrdiff_t pixel = static_cast<std::ptrdiff_t>(step.layer->stride_w) * step.in_cs;
  if (out_w < MR) {
    for (int ox = 0; ox < out_w; ++ox)
      dw_tile<V, VNNI, 1, PARTIAL>(step, fin, row + ox * pixel + c0, oy, ox, c0, limit, in_mask);
    return;
  }
  int ox = 0;
  for (; ox + MR <= out_w; ox += MR)
    dw_tile<V, VNNI, MR, PARTIAL>(step, fin, row + ox * pixel + c0, oy, ox, c0, limit, in_mask);
  if (ox < out_w) {
    ox = out_w - MR;  // overlaps the tile before: same values written twice
    dw_tile<V, VNNI, MR, PARTIAL>(step, fin, row + ox * pixel + c0, oy, ox, c0, limit, in_mask);
  }
}

// Depthwise kernels 5 wide at stride 2 along x: output ox reads input pixels 2 ox .. 2 ox + 4 (from the padded
// window's corner), so the taps (0, 1) and (2, 3) of every output fall on the pixel pairs (2m, 2m + 1) with m = ox
// and ox + 1, and tap 4 on the first pixel of pair ox + 2. With each input row rewritten once as pairs (the codes of
// pixels 2m and 2m + 1 interleaved channel by channel), one vpdpwssd sums two taps of L channels, all its lanes
// useful and the lanes in channel order: 3 products per kernel row and L channels, where dw_tile_reuse makes 10
// per 2L channels (half its lanes multiply by zero) and then interleaves. The same sums in another order, so
// the same bits. Channels go in groups of L (no half-empty group when cs is not a multiple of 2L).
constexpr int kPairKernelWidth = 5;
constexpr int kPairTaps = (kPairKernelWidth + 1) / 2;

// MR output pixels x L channels from the kernel rows' pair rows (rows[ky] at the tile's first pair).
template <class V, bool VNNI, int MR, bool PARTIAL, class Finish>
inline void dw_pair_tile(const Finish& fin, const std::int16_t* const* rows, int kh, const std::int16_t* w,
                         std::ptrdiff_t w_tap, int oy, int ox, int c0, int n) {
  using I = typename V::I;
  constexpr int L = V::L, N = MR + kPairTaps - 1;
  I acc[MR];
  for (int p = 0; p < MR; ++p) acc[p] = V::zero();
  for (int ky = 0; ky < kh; ++ky) {
    I xv[N];
    for (int j = 0; j < N; ++j) xv[j] = V::load_w(rows[ky] + j * 2 * L);
    for (int t = 0; t < kPairTaps; ++t) {
      const I wt = V::load_w(w + (ky * kPairTaps + t) * w_tap);
      for (int p = 0; p < MR; ++p) acc[p] = V::template dot_add<VNNI>(acc[p], xv[p + t], wt);
    }
  }
  for (int p = 0; p < MR; ++p) fin.template finish<PARTIAL>(oy, ox + p, c0, acc[p], V::mask(n));
}

template <class V, bool VNNI, bool PARTIAL, class Finish>
void dw_pair_row(const Finish& fin, const std::int16_t* const* rows, int kh, const std::int16_t* w,
                 std::ptrdiff_t w_tap, int out_w, int oy, int c0, int n) {
  constexpr int MR = V::kDwPairPixels, L = V::L;
  const std::int16_t* at[8];  // kh <= 8, checked by the caller
  const auto tile = [&](auto pixels, int ox) {
    for (int ky = 0; ky < kh; ++ky) at[ky] = rows[ky] + static_cast<std::ptrdiff_t>(ox) * 2 * L;
    dw_pair_tile<V, VNNI, decltype(pixels)::value, PARTIAL>(fin, at, kh, w, w_tap, oy, ox, c0, n);
  };
  if (out_w < MR) {
    for (int ox = 0; ox < out_w; ++ox) tile(std::integral_constant<int, 1>{}, ox);
    return;
  }
  int ox = 0;
  for (; ox + MR <= out_w; ox += MR) tile(std::integral_constant<int, MR>{}, ox);
  if (ox < out_w) tile(std::integral_constant<int, MR>{}, out_w - MR);  // overlaps the tile before: same values
}

// The step through pair rows: each input row the kernel reaches is rewritten once, into a ring of kh rows (a row
// stays while an output row still reads it), group by group of L channels.
template <class V, bool VNNI, class Finish>
void depthwise_pairs(const Int8ForwardPlan::Step& step, Int8ForwardPlan::Buffer& in, const Finish& fin) {
  constexpr int L = V::L;
  const Layer& layer = *step.layer;
  const int cs = step.in_cs, kh = layer.kernel_h, out_w = layer.out.w, limit = layer.out.c;
  const int groups = (limit + L - 1) / L;
  const int pairs = out_w + kPairTaps - 1;  // pair ox + t for every output ox and pair t
  // Pixels a row holds from the window's corner on: past them (beyond the buffer's right border) only taps
  // of weight zero reach, and they read zeros.
  const int available = layer.pad.left + in.shape.w + in.border.right;
  const int whole = std::min(pairs, available / 2);  // pairs with both pixels in the row
  const std::ptrdiff_t group_size = static_cast<std::ptrdiff_t>(pairs) * 2 * L;
  thread_local std::vector<std::int16_t> ring;
  const std::size_t ring_size = static_cast<std::size_t>(kh) * groups * group_size;
  if (ring.size() < ring_size) ring.resize(ring_size);
  int held[8];  // the input row in each slot of the ring
  std::fill(held, held + kh, -1);
  const std::int16_t* origin = in.at(-layer.pad.top, -layer.pad.left);
  const std::ptrdiff_t in_row = in.row_stride();
  const std::int16_t* rows[8];
  const std::ptrdiff_t w_tap = static_cast<std::ptrdiff_t>(step.pair_weights.size()) / (kh * kPairTaps);
  for (int oy = 0; oy < layer.out.h; ++oy) {
    for (int ky = 0; ky < kh; ++ky) {
      const int r = oy * layer.stride_h + ky, slot = r % kh;
      std::int16_t* pair_row = ring.data() + static_cast<std::ptrdiff_t>(slot) * groups * group_size;
      if (held[slot] != r) {
        held[slot] = r;
        const std::int16_t* src = origin + static_cast<std::ptrdiff_t>(r) * in_row;
        for (int g = 0; g < groups; ++g) {
          const int c0 = g * L, n = std::min(L, cs - c0);
          std::int16_t* dst = pair_row + g * group_size;
          const std::int16_t* pixel = src + c0;
          int m = 0;
          for (; m < whole; ++m, pixel += 2 * cs) V::store_i(dst + m * 2 * L, V::pair_pixels(pixel, pixel + cs, n));
          for (; m < pairs; ++m, pixel += 2 * cs)
            V::store_i(dst + m * 2 * L, V::pair_pixels(2 * m < available ? pixel : nullptr, nullptr, n));
        }
      }
      rows[ky] = pair_row;
    }
    for (int g = 0; g < groups; ++g) {
      const int c0 = g * L, n = std::min(L, limit - c0);
      const std::int16_t* at[8];
      for (int ky = 0; ky < kh; ++ky) at[ky] = rows[ky] + g * group_size;
      const std::int16_t* w = step.pair_weights.data() + 2 * c0;
      if (n == L)
        dw_pair_row<V, VNNI, false>(fin, at, kh, w, w_tap, out_w, oy, c0, n);
      else
        dw_pair_row<V, VNNI, true>(fin, at, kh, w, w_tap, out_w, oy, c0, n);
    }
  }
}

// Layers of at most 8 channels (the compact models' 3-channel depthwise convs) at stride 1 along x: a vector of
// 2L codes holds 2L / 8 neighbouring pixels of the 8-channel stride, and those of the next output pixels lie one
// pixel further on, so one vector load per tap serves 2L / 8 outputs, where dw_tile_reuse spends a vector (and its
// products) on one pixel's 8 channels. Each tap's 8 weights repeat across the vector. The same sums, the same bits.
// A tile: MR vectors of pixels along a row, their even- and odd-channel sums.
template <class V, bool VNNI, int MR, class Finish>
inline void dw_packed_tile(const Int8ForwardPlan::Step& step, const Finish& fin, const std::int16_t* in,
                           std::ptrdiff_t in_row, int oy, int ox, int limit) {
  using I = typename V::I;
  constexpr int L = V::L, P = 2 * L / 8;  // pixels per vector
  const int kh = step.layer->kernel_h, kw = step.layer->kernel_w;
  I even[MR], odd[MR];
  for (int j = 0; j < MR; ++j) even[j] = odd[j] = V::zero();
  const I low_half = V::set1_i32(0x0000FFFF), high_half = V::set1_i32(static_cast<std::int32_t>(0xFFFF0000u));
  const std::int16_t* w = step.tap_weights.data();
  for (int ky = 0; ky < kh; ++ky)
    for (int kx = 0; kx < kw; ++kx, w += 8) {
      const I wt = V::repeat_8_codes(w);
      const I we = V::and_i(wt, low_half), wo = V::and_i(wt, high_half);
      const std::int16_t* x = in + ky * in_row + kx * 8;
      for (int j = 0; j < MR; ++j) {
        const I xv = V::load_w(x + j * P * 8);
        even[j] = V::template dot_add<VNNI>(even[j], xv, we);
        odd[j] = V::template dot_add<VNNI>(odd[j], xv, wo);
      }
    }
  const auto m = V::mask(std::min(8, limit));
  for (int j = 0; j < MR; ++j) {
    I first, second;  // codes 0..L-1 and L..2L-1 of the vector: pixels (2 per L codes) in channel order
    V::interleave(even[j], odd[j], first, second);
    const int p = ox + j * P;
    if constexpr (P == 4) {
      fin.template finish<true>(oy, p, 0, first, m);
      fin.template finish<true>(oy, p + 1, 0, V::upper_half(first), m);
      fin.template finish<true>(oy, p + 2, 0, second, m);
      fin.template finish<true>(oy, p + 3, 0, V::upper_half(second), m);
    } else {
      fin.template finish<true>(oy, p, 0, first, m);
      fin.template finish<true>(oy, p + 1, 0, second, m);
    }
  }
}

// Whether depthwise_packed runs the step: the path has its tile, 8 channels, stride 1, a tile's width.
template <class V>
bool packs_pixels(const Int8ForwardPlan::Step& step) {
  return V::kDwPackedVectors > 0 && step.layer->kind == LayerKind::depthwise_conv2d && step.in_cs == 8 &&
         step.layer->stride_w == 1 && step.layer->out.w >= V::kDwPackedVectors * 2 * V::L / 8;
}

template <class V, bool VNNI, class Finish>
void depthwise_packed(const Int8ForwardPlan::Step& step, Int8ForwardPlan::Buffer& in, const Finish& fin) {
  constexpr int MR = V::kDwPackedVectors, P = 2 * V::L / 8, pixels = MR * P;
  const Layer& layer = *step.layer;
  const std::ptrdiff_t in_row = in.row_stride();
  const std::int16_t* origin = in.at(-layer.pad.top, -layer.pad.left);
  for (int oy = 0; oy < layer.out.h; ++oy) {
    const std::int16_t* row = origin + static_cast<std::ptrdiff_t>(oy) * layer.stride_h * in_row;
    int ox = 0;
    for (; ox + pixels <= layer.out.w; ox += pixels)
      dw_packed_tile<V, VNNI, MR>(step, fin, row + ox * 8, in_row, oy, ox, layer.out.c);
    if (ox < layer.out.w) {  // overlaps the tile before: same values written twice
      ox = layer.out.w - pixels;
      dw_packed_tile<V, VNNI, MR>(step, fin, row + ox * 8, in_row, oy, ox, layer.out.c);
    }
  }
}

template <class V, bool VNNI, class Finish>
[[gnu::noinline]] void depthwise_step(const Int8ForwardPlan::Step& step, Int8ForwardPlan::Buffer& in,
                                      const Finish& fin) {
  constexpr int kGroup = 2 * V::L;  // int16 codes per vector
  const Layer& layer = *step.layer;
  const int cs = step.in_cs, in_row = in.row_stride();
  // Only the layer's channels are written: the consumer's channels past C stay zero.
  const int limit = layer.out.c;
  if (!step.pair_weights.empty() && layer.kernel_h <= 8) return depthwise_pairs<V, VNNI>(step, in, fin);
  if constexpr (V::kDwPackedVectors > 0) {
    if (packs_pixels<V>(step)) return depthwise_packed<V, VNNI>(step, in, fin);
  }
  const std::int16_t* origin = in.at(-layer.pad.top, -layer.pad.left);
  for (int oy = 0; oy < layer.out.h; ++oy) {
    const std::int16_t* row = origin + static_cast<std::ptrdiff_t>(oy) * layer.stride_h * in_row;
    for (int c0 = 0; c0 < limit; c0 += kGroup) {
      const int n = std::min(kGroup, cs - c0);  // a multiple of 8: cs is
      if constexpr (V::template dw_reuse_pixels<1>() > 0) {
        if (layer.kernel_w == 5 && layer.stride_w == 1) {
          if (n == kGroup) {
            dw_row_reuse<V, VNNI, false, 5, 1>(step, fin, row, in_row, oy, c0, limit, V::mask16(n));
          } else {
            dw_row_reuse<V, VNNI, true, 5, 1>(step, fin, row, in_row, oy, c0, limit, V::mask16(n));
          }
          continue;
        }
      }
      if constexpr (V::template dw_reuse_pixels<2>() > 0) {
        if (layer.kernel_w == 5 && layer.stride_w == 2) {
          if (n == kGroup) {
            dw_row_reuse<V, VNNI, false, 5, 2>(step, fin, row, in_row, oy, c0, limit, V::mask16(n));
          } else {
            dw_row_reuse<V, VNNI, true, 5, 2>(step, fin, row, in_row, oy, c0, limit, V::mask16(n));
          }
          continue;
        }
      }
      if (n == kGroup)
        dw_row<V, VNNI, false>(step, fin, row, oy, c0, limit, V::mask16(n));
      else
        dw_row<V, VNNI, true>(step, fin, row, oy, c0, limit, V::mask16(n));
    }
  }
}

// Calls run(finisher) with the Finisher of the sink's mode: the modes of int8_simd.cpp's run_step, chosen the same
// way.
template <class V, class Run>
void with_finisher(const Int8ForwardPlan::Step& step, const Int8ForwardPlan::Sink& sink, Run run) {
  const bool relu = step.layer->activation == Activation::relu;
  const float* scale = step.scale.data();
  const float* bias = step.bias.data();
  if (sink.q && sink.f)
    run(Finisher<V, kQuantized | kFloat>(sink, relu, scale, bias));
  else if (sink.q && relu && sink.q_low <= 0.0f)
    run(Finisher<V, kQuantized | kReluCodes>(sink, relu, scale, bias));
  else if (sink.q)
    run(Finisher<V, kQuantized>(sink, relu, scale, bias));
  else
    run(Finisher<V, kFloat>(sink, relu, scale, bias));
}

// Whether the wide path takes this step. Layers narrower than one vector (the per-neuron models' 3-channel tail)
// run faster on the 4-lane code: most of a wide vector would be masked, and AVX-512's masked stores cost more than
// the work (28x28x3 layers: 2-3x), except the depthwise convs the path packs pixels for (packs_pixels).
template <class V>
bool takes_step(const Int8ForwardPlan::Step& step) {
  if (step.layer->kind == LayerKind::dense) return false;
  if (packs_pixels<V>(step)) return true;
  const int channels = step.layer->kind == LayerKind::conv2d ? static_cast<int>(step.scale.size()) : step.in_cs / 2;
  return channels >= V::L;
}

template <class V, bool VNNI>
bool run_step(const Int8ForwardPlan::Step& step, Int8ForwardPlan::Buffer& in, const Int8ForwardPlan::Sink& sink) {
  if (!takes_step<V>(step)) return false;
  with_finisher<V>(step, sink, [&](const auto& fin) {
    if (step.layer->kind == LayerKind::conv2d) return conv2d_step<V, VNNI>(step, in, fin);
    depthwise_step<V, VNNI>(step, in, fin);
  });
  return true;
}

// plan_relu_codes: whole vectors, then the last few values through a zero-filled block (AVX2 has no 16-bit masked
// store).
template <class V>
void relu_codes(const float* values, std::size_t count, float scale, float high, std::int16_t* out) {
  using F = typename V::F;
  const F inverse = V::set1(quantizer_inverse(scale)), top = V::set1(high), half = V::set1(kJustBelowHalf);
  const auto codes = [&](F v) { return V::cvtt(V::add(V::min(V::max(V::mul(v, inverse), V::zero_f()), top), half)); };
  std::size_t i = 0;
  for (; i + V::L <= count; i += V::L) V::store_codes(out + i, codes(V::load_f(values + i)));
  if (i == count) return;
  float block[V::L] = {};
  std::int16_t result[V::L];
  std::copy_n(values + i, count - i, block);
  V::store_codes(result, codes(V::load_f(block)));
  std::copy_n(result, count - i, out + i);
}

// quantize_values (the model input into layer 0's buffer): V::codes is its arithmetic.
template <class V>
void quantize(const float* values, std::size_t count, float scale, bool unsigned_range, std::int16_t* out) {
  using F = typename V::F;
  const F inverse = V::set1(quantizer_inverse(scale));
  const F low = V::set1(unsigned_range ? 0.0f : -static_cast<float>(kInt8Max));
  const F high = V::set1(static_cast<float>(unsigned_range ? kUint8Max : kInt8Max));
  std::size_t i = 0;
  for (; i + V::L <= count; i += V::L) V::store_codes(out + i, V::codes(V::load_f(values + i), inverse, low, high));
  if (i == count) return;
  float block[V::L] = {};
  std::int16_t result[V::L];
  std::copy_n(values + i, count - i, block);
  V::store_codes(result, V::codes(V::load_f(block), inverse, low, high));
  std::copy_n(result, count - i, out + i);
}

}  // namespace wide_int8
}  // namespace cortexlens
