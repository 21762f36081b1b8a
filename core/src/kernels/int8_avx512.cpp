// The int8 plan steps on AVX-512 (F, BW, VL): 16 int32 lanes per vector, 32 registers. Built only natively on
// x86-64, with -mavx512* and -ffp-contract=off (core/CMakeLists.txt); run only when active_isa() is avx512.
// The code is int8_wide.hpp's; this file says what a vector is.
#include <immintrin.h>

#include <cstring>

#include "kernels/int8_wide.hpp"

namespace cortexlens {

namespace {

struct Avx512 {
  static constexpr int L = 16;
  // Up to 4 vectors (64 channels) per tile: 4 x 6 accumulators, 4 weight vectors and a splat in 32 registers.
  static constexpr int kGroupVectors = 4;
  template <int NV>
  static constexpr int tile_pixels() {
    return NV >= 4 ? 6 : NV == 3 ? 8 : NV == 2 ? 12 : 16;
  }
  // 5-wide depthwise kernels, pixels per tile that loads a kernel row's inputs once: 2 x 6 or 2 x 4 accumulators
  // beside 10 or 11 input vectors.
  template <int SW>
  static constexpr int dw_reuse_pixels() {
    return SW == 1 ? 6 : 4;
  }
  static constexpr int kDwPixels = 8;  // depthwise: 8 pixels x (even, odd) accumulators
  using I = __m512i;
  using F = __m512;
  using M = __mmask16;    // int32 lanes
  using M16 = __mmask32;  // int16 lanes
  static M16 mask16(int n) { return n >= 32 ? ~M16{0} : static_cast<M16>((1u << n) - 1u); }
  static I load_i16(const std::int16_t* p, M16 m) { return _mm512_maskz_loadu_epi16(m, p); }
  static I set1_i32(std::int32_t x) { return _mm512_set1_epi32(x); }
  static I and_i(I a, I b) { return _mm512_and_si512(a, b); }
  // (even channels' sums, odd channels' sums) -> channels [0, 16) and [16, 32) in order.
  static void interleave(I even, I odd, I& first, I& second) {
    const I lo = _mm512_unpacklo_epi32(even, odd);  // per 128-bit lane k: channels 8k .. 8k + 3
    const I hi = _mm512_unpackhi_epi32(even, odd);  // 8k + 4 .. 8k + 7
    first =
        _mm512_permutex2var_epi32(lo, _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23), hi);
    second = _mm512_permutex2var_epi32(
        lo, _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31), hi);
  }
  static M mask(int n) { return static_cast<M>((1u << n) - 1u); }
  static I zero() { return _mm512_setzero_si512(); }
  static F zero_f() { return _mm512_setzero_ps(); }
  static F set1(float x) { return _mm512_set1_ps(x); }
  static I load_w(const std::int16_t* p) { return _mm512_loadu_si512(p); }
  static I load_w(const std::int16_t* p, M m) { return _mm512_maskz_loadu_epi32(m, p); }
  static I splat_pair(const std::int16_t* p) {
    std::int32_t pair;
    std::memcpy(&pair, p, sizeof pair);
    return _mm512_set1_epi32(pair);
  }
  template <bool VNNI>
  static I dot_add(I acc, I x, I w) {
    if constexpr (VNNI)
      return _mm512_dpwssd_epi32(acc, x, w);
    else
      return _mm512_add_epi32(acc, _mm512_madd_epi16(x, w));
  }
  static F cvt(I a) { return _mm512_cvtepi32_ps(a); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  // Operand order as in the 4-lane code: vminps/vmaxps return the second operand on equality.
  static F min(F a, F b) { return _mm512_min_ps(a, b); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static I cvtt(F a) { return _mm512_cvttps_epi32(a); }
  static F load_f(const float* p) { return _mm512_loadu_ps(p); }
  static F load_f(const float* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store_f(float* p, F v) { _mm512_storeu_ps(p, v); }
  static void store_f(float* p, F v, M m) { _mm512_mask_storeu_ps(p, m, v); }
  // Codes are within -127..255: the truncating narrowing is exact.
  static void store_codes(std::int16_t* p, I q) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(q));
  }
  static void store_codes(std::int16_t* p, I q, M m) { _mm256_mask_storeu_epi16(p, m, _mm512_cvtepi32_epi16(q)); }
  // quantize_values: clamp, truncate, then the exact fraction decides the rounding half away from zero.
  static I codes(F v, F inverse, F low, F high) {
    const F x = max(min(mul(v, inverse), high), low);
    const I whole = _mm512_cvttps_epi32(x);
    const F fraction = _mm512_sub_ps(x, _mm512_cvtepi32_ps(whole));
    const I one = _mm512_set1_epi32(1);
    I q = _mm512_mask_add_epi32(whole, _mm512_cmp_ps_mask(fraction, _mm512_set1_ps(0.5f), _CMP_GE_OQ), whole, one);
    q = _mm512_mask_sub_epi32(q, _mm512_cmp_ps_mask(fraction, _mm512_set1_ps(-0.5f), _CMP_LE_OQ), q, one);
    return q;
  }
};

}  // namespace

bool run_int8_step_avx512(const Int8ForwardPlan::Step& step, Int8ForwardPlan::Buffer& in,
                          const Int8ForwardPlan::Sink& sink, bool vnni) {
  return vnni ? wide_int8::run_step<Avx512, true>(step, in, sink) : wide_int8::run_step<Avx512, false>(step, in, sink);
}

void plan_relu_codes_avx512(const float* values, std::size_t count, float scale, float high, std::int16_t* out) {
  wide_int8::relu_codes<Avx512>(values, count, scale, high, out);
}

void quantize_values_avx512(const float* values, std::size_t count, float scale, bool unsigned_range,
                            std::int16_t* out) {
  wide_int8::quantize<Avx512>(values, count, scale, unsigned_range, out);
}

}  // namespace cortexlens
