// The float32 ForwardPlan kernels on AVX2 + FMA (8 floats per vector, 16 registers); compiled with -mavx2 -mfma
// (core/CMakeLists.txt) and called only when active_isa() is avx2. The kernels themselves: f32_wide_kernels.hpp.
//
// Register tiles (16 ymm): conv 6 pixels x 2 vectors (16 channels: 12 accumulators, 2 weights, 1 broadcast), 8 x 1
// for a last block of 8 channels or fewer; depthwise 4 pixels x 2 vectors, as the 4-lane path.
#include <immintrin.h>

#include <cstddef>

#include "kernels/f32_wide.hpp"

namespace cortexlens::f32_avx2 {

namespace {

struct V {
  using type = __m256;
  using mask = __m256i;
  static constexpr int lanes = 8;
  static constexpr int kConvVectors = 2;
  static constexpr int conv_tile_pixels(int vectors) { return vectors == 2 ? 6 : 8; }
  static constexpr int kDwVectors = 2;
  static constexpr int kDwTile = 4;

  static type load(const float* p) { return _mm256_loadu_ps(p); }
  static type load_masked(const float* p, mask m) { return _mm256_maskload_ps(p, m); }
  static void store(float* p, type v) { _mm256_storeu_ps(p, v); }
  static void store_masked(float* p, mask m, type v) { _mm256_maskstore_ps(p, m, v); }
  // set1 of a plain load, not _mm256_broadcast_ss: GCC treats that builtin's pointer as possibly aliasing the
  // accumulator array and stored every accumulator to the stack on each step (2.2 ms instead of ~1 ms on neuron0).
  static type broadcast(const float* p) { return _mm256_set1_ps(*p); }
  static type zero() { return _mm256_setzero_ps(); }
  static type fma(type a, type b, type acc) { return _mm256_fmadd_ps(a, b, acc); }
  static type add(type a, type b) { return _mm256_add_ps(a, b); }
  // maxps returns its second operand when either is NaN: zero first keeps a NaN as NaN, like the reference.
  static type relu(type v) { return _mm256_max_ps(_mm256_setzero_ps(), v); }
  static float sum_lanes(type v) {
    const __m128 half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 pairs = _mm_add_ps(half, _mm_movehl_ps(half, half));
    return _mm_cvtss_f32(_mm_add_ss(pairs, _mm_movehdup_ps(pairs)));
  }
  static mask tail_mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
};

#include "kernels/f32_wide_kernels.hpp"

}  // namespace

void conv2d(const F32Geometry& g, const float* weights, const float* bias) { conv2d_wide<V>(g, weights, bias); }
void depthwise(const F32Geometry& g, const float* weights, const float* bias) { depthwise_wide<V>(g, weights, bias); }
void dense(const F32Dense& d) { dense_wide<V>(d); }

// 8 values per compare (signed compares: magnitudes are below 2^31, thresholds at least 1), the last n % 8 with a
// masked load; the rare selected ones are written one by one from the compare's sign bits.
std::size_t select_tail(const float* values, const std::uint32_t* thresholds, std::size_t n, std::uint32_t* hits,
                        std::uint32_t& max_bits) {
  const __m256i magnitude = _mm256_set1_epi32(0x7fffffff), above_infinity = _mm256_set1_epi32(0x7f800001);
  const __m256i one = _mm256_set1_epi32(1), lane_index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i largest = _mm256_setzero_si256();
  std::size_t count = 0;
  for (std::size_t i = 0; i < n; i += 8) {
    const int live = n - i >= 8 ? 8 : static_cast<int>(n - i);
    const __m256i load_mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(live), lane_index);
    const __m256i bits =
        _mm256_and_si256(_mm256_maskload_epi32(reinterpret_cast<const int*>(values + i), load_mask), magnitude);
    const __m256i threshold = _mm256_maskload_epi32(reinterpret_cast<const int*>(thresholds + i), load_mask);
    largest = _mm256_max_epi32(largest, _mm256_and_si256(bits, _mm256_cmpgt_epi32(above_infinity, bits)));
    const __m256i selected = _mm256_and_si256(_mm256_cmpgt_epi32(bits, _mm256_sub_epi32(threshold, one)), load_mask);
    for (unsigned hit = static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(selected))); hit != 0;
         hit &= hit - 1)
      hits[count++] = static_cast<std::uint32_t>(i) + static_cast<std::uint32_t>(__builtin_ctz(hit));
  }
  alignas(32) std::uint32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), largest);
  for (std::uint32_t lane : lanes) max_bits = lane > max_bits ? lane : max_bits;
  return count;
}

}  // namespace cortexlens::f32_avx2
