// The int8 plan steps on AVX2: 8 int32 lanes per vector, 16 registers; AVX-VNNI's vpdpwssd where the CPU has it.
// Built only natively on x86-64, with -mavx2 -mavxvnni and -ffp-contract=off (core/CMakeLists.txt); run only when
// active_isa() is avx2. The code is int8_wide.hpp's; this file says what a vector is.
#include <immintrin.h>

#include <cstring>

#include "kernels/int8_wide.hpp"

namespace cortexlens {

namespace {

struct Avx2 {
  static constexpr int L = 8;
  // One block of 16 channels per tile: 2 x 6 accumulators, 2 weight vectors and a splat in 16 registers.
  static constexpr int kGroupVectors = 2;
  template <int NV>
  static constexpr int tile_pixels() {
    return NV >= 2 ? 6 : 12;
  }
  // 5-wide depthwise kernels, pixels per tile that loads a kernel row's inputs once: stride 1 only (at stride 2,
  // the 2 pixels that fit gain nothing).
  template <int SW>
  static constexpr int dw_reuse_pixels() {
    return SW == 1 ? 4 : 0;
  }
  static constexpr int kDwPixels = 4;  // depthwise: 4 pixels x (even, odd) accumulators
  // depthwise_pairs: 6 accumulators beside 8 pair vectors.
  static constexpr int kDwPairPixels = 6;
  // depthwise_packed: not here (its 2 x 7 accumulators and weights need more than 16 registers).
  static constexpr int kDwPackedVectors = 0;
  using I = __m256i;
  using F = __m256;
  // A partial vector of int16 codes: always 8 of 16 (channel strides are multiples of 8).
  using M16 = int;
  static M16 mask16(int n) { return n; }
  static I load_i16(const std::int16_t* p, M16) {
    return _mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static I set1_i32(std::int32_t x) { return _mm256_set1_epi32(x); }
  static void store_i(std::int16_t* p, I v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  // The codes of 8 channels of pixels a and b interleaved, lane k = (a[k], b[k]); a null pixel is zeros. (n is
  // always 8: channel strides are multiples of 8.)
  static I pair_pixels(const std::int16_t* a, const std::int16_t* b, int) {
    const __m128i first = a ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(a)) : _mm_setzero_si128();
    const __m128i second = b ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(b)) : _mm_setzero_si128();
    return _mm256_set_m128i(_mm_unpackhi_epi16(first, second), _mm_unpacklo_epi16(first, second));
  }
  static I and_i(I a, I b) { return _mm256_and_si256(a, b); }
  // (even channels' sums, odd channels' sums) -> channels [0, 8) and [8, 16) in order.
  static void interleave(I even, I odd, I& first, I& second) {
    const I lo = _mm256_unpacklo_epi32(even, odd);  // channels 0..3 | 8..11
    const I hi = _mm256_unpackhi_epi32(even, odd);  // channels 4..7 | 12..15
    first = _mm256_permute2x128_si256(lo, hi, 0x20);
    second = _mm256_permute2x128_si256(lo, hi, 0x31);
  }
  // A partial vector: -1 in the lanes that exist, and how many they are (AVX2 stores 16-bit values unmasked).
  struct M {
    __m256i lanes;
    int n;
  };
  static M mask(int n) {
    return {_mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), n};
  }
  static I zero() { return _mm256_setzero_si256(); }
  static F zero_f() { return _mm256_setzero_ps(); }
  static F set1(float x) { return _mm256_set1_ps(x); }
  static I load_w(const std::int16_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static I load_w(const std::int16_t* p, const M& m) {
    return _mm256_maskload_epi32(reinterpret_cast<const int*>(p), m.lanes);
  }
  static I splat_pair(const std::int16_t* p) {
    std::int32_t pair;
    std::memcpy(&pair, p, sizeof pair);
    return _mm256_set1_epi32(pair);
  }
  template <bool VNNI>
  static I dot_add(I acc, I x, I w) {
    if constexpr (VNNI)
      return _mm256_dpwssd_avx_epi32(acc, x, w);
    else
      return _mm256_add_epi32(acc, _mm256_madd_epi16(x, w));
  }
  static F cvt(I a) { return _mm256_cvtepi32_ps(a); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  // Operand order as in the 4-lane code: vminps/vmaxps return the second operand on equality.
  static F min(F a, F b) { return _mm256_min_ps(a, b); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static I cvtt(F a) { return _mm256_cvttps_epi32(a); }
  static F load_f(const float* p) { return _mm256_loadu_ps(p); }
  static F load_f(const float* p, const M& m) { return _mm256_maskload_ps(p, m.lanes); }
  static void store_f(float* p, F v) { _mm256_storeu_ps(p, v); }
  static void store_f(float* p, F v, const M& m) { _mm256_maskstore_ps(p, m.lanes, v); }
  // Codes are within -127..255: the saturating narrowing is exact.
  static __m128i narrow(I q) { return _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)); }
  static void store_codes(std::int16_t* p, I q) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), narrow(q)); }
  static void store_codes(std::int16_t* p, I q, const M& m) {
    const __m128i codes = narrow(q);
    if (m.n == 4) return _mm_storel_epi64(reinterpret_cast<__m128i*>(p), codes);
    std::int16_t all[8];
    _mm_storeu_si128(reinterpret_cast<__m128i*>(all), codes);
    std::memcpy(p, all, sizeof(std::int16_t) * static_cast<std::size_t>(m.n));
  }
  // quantize_values: clamp, truncate, then the exact fraction decides the rounding half away from zero.
  static I codes(F v, F inverse, F low, F high) {
    const F x = max(min(mul(v, inverse), high), low);
    const I whole = _mm256_cvttps_epi32(x);
    const F fraction = _mm256_sub_ps(x, _mm256_cvtepi32_ps(whole));
    // Comparison masks are -1 where true.
    I q = _mm256_sub_epi32(whole, _mm256_castps_si256(_mm256_cmp_ps(fraction, _mm256_set1_ps(0.5f), _CMP_GE_OQ)));
    q = _mm256_add_epi32(q, _mm256_castps_si256(_mm256_cmp_ps(fraction, _mm256_set1_ps(-0.5f), _CMP_LE_OQ)));
    return q;
  }
};

}  // namespace

bool run_int8_step_avx2(const Int8ForwardPlan::Step& step, Int8ForwardPlan::Buffer& in,
                        const Int8ForwardPlan::Sink& sink, bool vnni) {
  return vnni ? wide_int8::run_step<Avx2, true>(step, in, sink) : wide_int8::run_step<Avx2, false>(step, in, sink);
}

void plan_relu_codes_avx2(const float* values, std::size_t count, float scale, float high, std::int16_t* out) {
  wide_int8::relu_codes<Avx2>(values, count, scale, high, out);
}

void quantize_values_avx2(const float* values, std::size_t count, float scale, bool unsigned_range, std::int16_t* out) {
  wide_int8::quantize<Avx2>(values, count, scale, unsigned_range, out);
}

}  // namespace cortexlens
