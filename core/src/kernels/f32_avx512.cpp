// The float32 ForwardPlan kernels on AVX-512 (16 floats per vector, 32 registers, fused multiply-add); compiled
// with -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma (core/CMakeLists.txt) and called only when active_isa()
// is avx512. The forward kernels themselves: f32_wide_kernels.hpp; the input-gradient kernels of
// engine/backward_plan.cpp (conv2d_backward_row, depthwise_backward_run) are in this file only.
//
// Register tiles (32 zmm): conv 6 pixels x 4 vectors (64 channels: 24 accumulators, 4 weights, the broadcast is a
// memory operand of the FMA), narrower blocks take more pixels (8 x 3, 12 x 2, 12 x 1); depthwise 4 pixels x 4
// vectors. 24 accumulators cover the FMA latency on both FMA pipes with room to spare.
#include <immintrin.h>

#include <cstddef>

#include "kernels/f32_wide.hpp"

namespace cortexlens::f32_avx512 {

namespace {

struct V {
  using type = __m512;
  using mask = __mmask16;
  static constexpr int lanes = 16;
  static constexpr int kConvVectors = 4;
  static constexpr int conv_tile_pixels(int vectors) { return vectors == 4 ? 6 : vectors == 3 ? 8 : 12; }
  static constexpr int kDwVectors = 4;
  static constexpr int kDwTile = 4;

  static type load(const float* p) { return _mm512_loadu_ps(p); }
  static type load_masked(const float* p, mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, type v) { _mm512_storeu_ps(p, v); }
  static void store_masked(float* p, mask m, type v) { _mm512_mask_storeu_ps(p, m, v); }
  static type broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static type zero() { return _mm512_setzero_ps(); }
  static type fma(type a, type b, type acc) { return _mm512_fmadd_ps(a, b, acc); }
  static type add(type a, type b) { return _mm512_add_ps(a, b); }
  // maxps returns its second operand when either is NaN: zero first keeps a NaN as NaN, like the reference. The
  // all-lanes maskz form is the same vmaxps; GCC 12's plain _mm512_max_ps warns about its undefined source operand.
  static type relu(type v) { return _mm512_maskz_max_ps(0xFFFF, _mm512_setzero_ps(), v); }
  // Once per dense layer: plain adds in a fixed order (GCC 12's _mm512_reduce_add_ps warns about an undefined
  // operand inside its own header).
  static float sum_lanes(type v) {
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, v);
    float sum = 0.0f;
    for (float x : lanes) sum += x;
    return sum;
  }
  static mask tail_mask(int n) { return static_cast<mask>((1u << n) - 1u); }
};

#include "kernels/f32_wide_kernels.hpp"

// MR pixels (2, or 1 at the row's end) x J blocks: J = kernel rows x blocks per row, so a 5x5 conv on 3 channels
// (15 columns per kernel row, one block) sums its whole transposed kernel in 10 accumulators per tile where the
// 4-lane path passes over the tile once per kernel row. The partial last block of a row is loaded and added
// through its mask: past it lie the next channel's weights and the next pixel's gradient.
template <int MR, int J>
inline void conv_backward_tile(const F32ConvBackwardRow& r, const float* dy, const int* active, int count,
                               const float* const (&w)[J], const int (&width)[J], const __mmask16 (&m)[J],
                               float* const (&dx)[J], std::ptrdiff_t offset) {
  __m512 acc[MR][J];
  for (int p = 0; p < MR; ++p)
    for (int j = 0; j < J; ++j) acc[p][j] = _mm512_setzero_ps();
  for (int i = 0; i < count; ++i) {
    const int oc = active[i];
    __m512 g[MR];
    for (int p = 0; p < MR; ++p) g[p] = _mm512_set1_ps(dy[p * r.dy_step + oc]);
    for (int j = 0; j < J; ++j) {
      const __m512 wv = _mm512_maskz_loadu_ps(m[j], w[j] + oc * width[j]);
      for (int p = 0; p < MR; ++p) acc[p][j] = _mm512_fmadd_ps(g[p], wv, acc[p][j]);
    }
  }
  // Pixel by pixel: neighbours' destinations overlap when the stride is below the kernel width.
  for (int p = 0; p < MR; ++p)
    for (int j = 0; j < J; ++j) {
      if (dx[j] == nullptr) continue;
      float* d = dx[j] + offset + p * r.dx_step;
      _mm512_mask_storeu_ps(d, m[j], _mm512_add_ps(_mm512_maskz_loadu_ps(m[j], d), acc[p][j]));
    }
}

template <int J>
void conv_backward_row(const F32ConvBackwardRow& r) {
  const int blocks = (r.run_stride + 15) / 16;
  const float* w[J];
  int width[J];
  __mmask16 m[J];
  float* dx[J];
  for (int j = 0; j < J; ++j) {
    const int ky = j / blocks, c0 = (j % blocks) * 16;
    width[j] = r.run_stride - c0 < 16 ? r.run_stride - c0 : 16;
    m[j] = static_cast<__mmask16>((1u << width[j]) - 1u);
    w[j] = r.weights + (static_cast<std::ptrdiff_t>(ky) * r.run_stride + c0) * r.out_c;
    dx[j] = r.dx_rows[ky] == nullptr ? nullptr : r.dx_rows[ky] + c0;
  }
  int ox = 0, t = 0;
  for (; ox + 2 <= r.out_w; ox += 2, ++t)
    if (r.counts[t])
      conv_backward_tile<2, J>(r, r.dy + ox * r.dy_step, r.active + t * r.out_c, r.counts[t], w, width, m, dx,
                               static_cast<std::ptrdiff_t>(ox) * r.dx_step);
  if (ox < r.out_w && r.counts[t])
    conv_backward_tile<1, J>(r, r.dy + ox * r.dy_step, r.active + t * r.out_c, r.counts[t], w, width, m, dx,
                             static_cast<std::ptrdiff_t>(ox) * r.dx_step);
}

// MR pixels x NV vectors of 16 channels, the last of them masked to the channels left (cs is a multiple of 4).
template <int MR, int NV>
inline void depthwise_backward_tile(const F32DepthwiseBackwardRun& r, int t, int c0, __mmask16 last) {
  __mmask16 lanes[NV];
  for (int v = 0; v < NV; ++v) lanes[v] = v + 1 < NV ? 0xFFFF : last;
  __m512 acc[MR][NV];
  for (int p = 0; p < MR; ++p)
    for (int v = 0; v < NV; ++v) acc[p][v] = _mm512_setzero_ps();
  const std::ptrdiff_t offset = static_cast<std::ptrdiff_t>(t) * r.cs + c0;
  for (int k = 0; k < r.count; ++k) {
    const float* g = r.taps[k].dy + offset;
    __m512 w[NV];
    for (int v = 0; v < NV; ++v) w[v] = _mm512_maskz_loadu_ps(lanes[v], r.taps[k].w + c0 + v * 16);
    for (int p = 0; p < MR; ++p)
      for (int v = 0; v < NV; ++v)
        acc[p][v] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(lanes[v], g + p * r.cs + v * 16), w[v], acc[p][v]);
  }
  for (int p = 0; p < MR; ++p)
    for (int v = 0; v < NV; ++v) {
      float* d = r.dx + (t + p) * r.dx_step + c0 + v * 16;
      __m512 value = acc[p][v];
      if (r.mask) {
        // Behind the ReLU below: only where its output is positive (a NaN there gives 0, as on the 4-lane path).
        const __m512 m = _mm512_maskz_loadu_ps(lanes[v], r.mask + (t + p) * r.mask_step + c0 + v * 16);
        value = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(m, _mm512_setzero_ps(), _CMP_GT_OQ), value);
      }
      _mm512_mask_storeu_ps(d, lanes[v], value);
    }
}

// Channels in groups of up to 4 vectors (64), the group's last vector masked.
template <int MR>
inline void depthwise_backward_pixels(const F32DepthwiseBackwardRun& r, int t) {
  for (int c0 = 0; c0 < r.cs; c0 += 64) {
    const int left = r.cs - c0 < 64 ? r.cs - c0 : 64;
    const int vectors = (left + 15) / 16;
    const int tail = left - (vectors - 1) * 16;
    const __mmask16 last = static_cast<__mmask16>((1u << tail) - 1u);
    switch (vectors) {
      case 4:
        depthwise_backward_tile<MR, 4>(r, t, c0, last);
        break;
      case 3:
        depthwise_backward_tile<MR, 3>(r, t, c0, last);
        break;
      case 2:
        depthwise_backward_tile<MR, 2>(r, t, c0, last);
        break;
      default:
        depthwise_backward_tile<MR, 1>(r, t, c0, last);
        break;
    }
  }
}

}  // namespace

void depthwise_backward_run(const F32DepthwiseBackwardRun& run) {
  int t = 0;
  for (; t + 4 <= run.pixels; t += 4) depthwise_backward_pixels<4>(run, t);
  for (; t < run.pixels; ++t) depthwise_backward_pixels<1>(run, t);
}

void conv2d_backward_row(const F32ConvBackwardRow& row) {
  static_assert(kConvBackwardMaxVectors == 8, "one case per vector count below");
  switch (row.kh * ((row.run_stride + 15) / 16)) {
    case 1:
      return conv_backward_row<1>(row);
    case 2:
      return conv_backward_row<2>(row);
    case 3:
      return conv_backward_row<3>(row);
    case 4:
      return conv_backward_row<4>(row);
    case 5:
      return conv_backward_row<5>(row);
    case 6:
      return conv_backward_row<6>(row);
    case 7:
      return conv_backward_row<7>(row);
    default:
      return conv_backward_row<8>(row);
  }
}

void conv2d(const F32Geometry& g, const float* weights, const float* bias) { conv2d_wide<V>(g, weights, bias); }
void depthwise(const F32Geometry& g, const float* weights, const float* bias) { depthwise_wide<V>(g, weights, bias); }
void dense(const F32Dense& d) { dense_wide<V>(d); }

// 16 values per compare; the rare selected ones are written one by one from the mask.
std::size_t select_tail(const float* values, const std::uint32_t* thresholds, std::size_t n, std::uint32_t* hits,
                        std::uint32_t& max_bits) {
  const __m512i magnitude = _mm512_set1_epi32(0x7fffffff), infinity = _mm512_set1_epi32(0x7f800000);
  __m512i largest = _mm512_setzero_si512();
  std::size_t count = 0;
  for (std::size_t i = 0; i < n; i += 16) {
    const __mmask16 live = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512i bits = _mm512_and_si512(_mm512_maskz_loadu_epi32(live, values + i), magnitude);
    const __m512i threshold = _mm512_maskz_loadu_epi32(live, thresholds + i);
    largest = _mm512_mask_max_epu32(largest, _mm512_cmple_epu32_mask(bits, infinity), largest, bits);
    for (unsigned hit = _mm512_mask_cmpge_epu32_mask(live, bits, threshold); hit != 0; hit &= hit - 1)
      hits[count++] = static_cast<std::uint32_t>(i) + static_cast<std::uint32_t>(__builtin_ctz(hit));
  }
  const std::uint32_t seen = _mm512_reduce_max_epu32(largest);
  if (seen > max_bits) max_bits = seen;
  return count;
}

}  // namespace cortexlens::f32_avx512
