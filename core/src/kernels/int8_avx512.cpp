// The int8 plan steps on AVX-512 (F, BW, VL): 16 int32 lanes per vector, 32 registers. Built only natively on
// x86-64, with -mavx512* and -ffp-contract=off (core/CMakeLists.txt); run only when active_isa() is avx512.
// The code is int8_wide.hpp's; this file says what a vector is.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

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
  // depthwise_pairs: 7 accumulators beside 9 pair vectors; 7 pixels divide the published models' widths (56, 28),
  // where 8 left a tile to overlap the one before.
  static constexpr int kDwPairPixels = 7;
  // depthwise_packed: 7 vectors of 4 pixels (the 28-wide maps of the published models in one tile) x (even, odd).
  static constexpr int kDwPackedVectors = 7;
  using I = __m512i;
  using F = __m512;
  using M = __mmask16;    // int32 lanes
  using M16 = __mmask32;  // int16 lanes
  static M16 mask16(int n) { return n >= 32 ? ~M16{0} : static_cast<M16>((1u << n) - 1u); }
  static I load_i16(const std::int16_t* p, M16 m) { return _mm512_maskz_loadu_epi16(m, p); }
  // Codes 8..15 of 16 lanes moved to 0..7 (the second pixel of a depthwise_packed vector).
  static I upper_half(I v) { return _mm512_shuffle_i32x4(v, v, _MM_SHUFFLE(3, 2, 3, 2)); }
  // 8 codes repeated over the vector.
  static I repeat_8_codes(const std::int16_t* p) {
    return _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static I set1_i32(std::int32_t x) { return _mm512_set1_epi32(x); }
  static void store_i(std::int16_t* p, I v) { _mm512_storeu_si512(p, v); }
  // The codes of n (8 or 16) channels of pixels a and b interleaved, lane k = (a[k], b[k]); a null pixel is zeros.
  static I pair_pixels(const std::int16_t* a, const std::int16_t* b, int n) {
    const I order = _mm512_setr_epi32(0x00100000, 0x00110001, 0x00120002, 0x00130003, 0x00140004, 0x00150005,
                                      0x00160006, 0x00170007, 0x00180008, 0x00190009, 0x001A000A, 0x001B000B,
                                      0x001C000C, 0x001D000D, 0x001E000E, 0x001F000F);
    const __mmask16 m = static_cast<__mmask16>((1u << n) - 1u);
    const __m256i first = a ? _mm256_maskz_loadu_epi16(m, a) : _mm256_setzero_si256();
    const __m256i second = b ? _mm256_maskz_loadu_epi16(m, b) : _mm256_setzero_si256();
    return _mm512_permutexvar_epi16(order, _mm512_inserti64x4(_mm512_castsi256_si512(first), second, 1));
  }
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

// GCC names the instruction sets' macros __AMX_TILE__ and __AMX_INT8__, clang __AMXTILE__ and __AMXINT8__.
#if (defined(__AMX_TILE__) || defined(__AMXTILE__)) && (defined(__AMX_INT8__) || defined(__AMXINT8__))
#define CORTEXLENS_AMX_KERNEL 1

// conv2d on AMX tiles: TDPBUSD multiplies a tile of 16 rows x 64 unsigned bytes by one of 16 rows x 16 x 4 signed
// bytes into 16 x 16 int32 sums, 16,384 multiply-adds in ~17 cycles, where two vpdpwssd a cycle do 64. A tile's
// rows are 16 output pixels of one output row, each its window (Step::quad_weights gives the order). A window of
// one row (kh = 1) lies in the input itself, one stride apart from the next pixel's, so the tile loads straight
// from the input; taller windows are first gathered, 16 pixels at a time, into a small buffer. The input codes become
// bytes once per step (signed ones shifted by 128, which quad_correction takes back), windows are read in whole tiles
// of 64 bytes (past their end the weights are zero), and the sums are exact, so the results are the bits of the other
// paths. Tiles 0-3: sums of up to 4 blocks of 16 channels; 4, 5: inputs; 6, 7: weights. The inputs and the weights
// alternate between their two tiles, so that a load need not wait for the product reading the tile before.
namespace amx {

constexpr int kRows = 16, kTileBytes = 64, kChannels = 16, kMaxBlocks = 4;

struct alignas(64) TileConfig {
  std::uint8_t palette = 1;
  std::uint8_t start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t colsb[16] = {};
  std::uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64, "LDTILECFG reads 64 bytes");

// The step's input as bytes at the same offsets, with a tile's overhang past its end.
const std::uint8_t* input_bytes(const Int8ForwardPlan::Buffer& in, bool shift) {
  thread_local std::vector<std::uint8_t> bytes;
  const std::size_t n = in.elements();
  if (bytes.size() < n + kTileBytes) bytes.assign(n + kTileBytes, 0);
  const __m512i offset = _mm512_set1_epi16(shift ? 128 : 0);
  const std::int16_t* codes = in.origin;
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512i v = _mm512_add_epi16(_mm512_loadu_si512(codes + i), offset);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(bytes.data() + i), _mm512_cvtepi16_epi8(v));
  }
  for (; i < n; ++i) bytes[i] = static_cast<std::uint8_t>(codes[i] + (shift ? 128 : 0));
  return bytes.data();
}

// Copies `pixels` windows, kh rows of `run` bytes from `window` (rows in_row apart, pixels pixel_bytes apart), each
// to a row of `out` of `row_bytes`; the bytes past kh * run stay as they are (zero weights meet them).
void gather_windows(const std::uint8_t* window, std::ptrdiff_t in_row, int pixel_bytes, int kh, int run, int pixels,
                    std::uint8_t* out, int row_bytes) {
  const int whole = run / kTileBytes * kTileBytes;  // then one partial piece of run - whole bytes, if any
  const __mmask64 last = (__mmask64{1} << (run - whole)) - 1;
  for (int p = 0; p < pixels; ++p) {
    std::uint8_t* dst = out + static_cast<std::ptrdiff_t>(p) * row_bytes;
    const std::uint8_t* src = window + static_cast<std::ptrdiff_t>(p) * pixel_bytes;
    for (int ky = 0; ky < kh; ++ky, dst += run, src += in_row) {
      for (int k = 0; k < whole; k += kTileBytes) _mm512_storeu_si512(dst + k, _mm512_loadu_si512(src + k));
      if (last) _mm512_mask_storeu_epi8(dst + whole, last, _mm512_maskz_loadu_epi8(last, src + whole));
    }
  }
}

// Sums of `blocks` (1-4) blocks of 16 channels over `chunks` tiles of each pixel's window (row p of the inputs at
// a + p * a_stride), into sums[j].
[[gnu::always_inline]] inline void tile_sums(const std::uint8_t* a, int a_stride, int chunks,
                                             const std::int8_t* weights, std::size_t block_size, int blocks,
                                             std::int32_t (*sums)[kRows * kChannels]) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
// One chunk: inputs into tile A, then each block's weights into tiles B0 and B1 in turn, multiplied into its sums.
// A macro, not a function: the tile numbers are spelled into the instructions, so they must be literal.
#define CORTEXLENS_AMX_CHUNK(A, B0, B1)                \
  do {                                                 \
    _tile_loadd(A, a, a_stride);                       \
    _tile_loadd(B0, b, kTileBytes);                    \
    _tile_dpbusd(0, A, B0);                            \
    if (blocks > 1) {                                  \
      _tile_loadd(B1, b + block_size, kTileBytes);     \
      _tile_dpbusd(1, A, B1);                          \
    }                                                  \
    if (blocks > 2) {                                  \
      _tile_loadd(B0, b + 2 * block_size, kTileBytes); \
      _tile_dpbusd(2, A, B0);                          \
    }                                                  \
    if (blocks > 3) {                                  \
      _tile_loadd(B1, b + 3 * block_size, kTileBytes); \
      _tile_dpbusd(3, A, B1);                          \
    }                                                  \
  } while (false)
  for (int chunk = 0; chunk < chunks; ++chunk, a += kTileBytes) {
    const std::int8_t* b = weights + static_cast<std::size_t>(chunk) * kRows * kTileBytes;
    if (chunk % 2 == 0)
      CORTEXLENS_AMX_CHUNK(4, 6, 7);
    else
      CORTEXLENS_AMX_CHUNK(5, 7, 6);
  }
#undef CORTEXLENS_AMX_CHUNK
  _tile_stored(0, sums[0], kChannels * 4);
  if (blocks > 1) _tile_stored(1, sums[1], kChannels * 4);
  if (blocks > 2) _tile_stored(2, sums[2], kChannels * 4);
  if (blocks > 3) _tile_stored(3, sums[3], kChannels * 4);
}

template <class Finish>
[[gnu::noinline]] void conv2d_step(const Int8ForwardPlan::Step& step, Int8ForwardPlan::Buffer& in, const Finish& fin) {
  const Layer& layer = *step.layer;
  const int acc_c = static_cast<int>(step.scale.size());
  const int blocks_total = (acc_c + kChannels - 1) / kChannels;
  const int chunks = step.quads / kRows;
  const int pixels = std::min(kRows, layer.out.w);
  const int pixel_bytes = layer.stride_w * in.channel_stride;
  const int run = layer.kernel_w * in.channel_stride;
  const bool gather = layer.kernel_h > 1;
  const std::size_t block_size = static_cast<std::size_t>(step.quads) * kChannels * 4;
  const std::uint8_t* bytes = input_bytes(in, !layer.int8->unsigned_input);
  const std::uint8_t* origin = bytes + (in.at(-layer.pad.top, -layer.pad.left) - in.origin);
  const std::ptrdiff_t in_row = in.row_stride();
  const int window_bytes = chunks * kTileBytes;
  thread_local std::vector<std::uint8_t> windows;
  if (gather) windows.assign(static_cast<std::size_t>(kRows) * window_bytes, 0);

  TileConfig config;
  for (int t = 0; t < 6; ++t) config.rows[t] = static_cast<std::uint8_t>(pixels), config.colsb[t] = kTileBytes;
  for (int t = 6; t < 8; ++t) config.rows[t] = kRows, config.colsb[t] = kTileBytes;
  _tile_loadconfig(&config);

  alignas(64) std::int32_t sums[kMaxBlocks][kRows * kChannels];
  for (int oy = 0; oy < layer.out.h; ++oy) {
    const std::uint8_t* row = origin + static_cast<std::ptrdiff_t>(oy) * layer.stride_h * in_row;
    for (int ox = 0; ox < layer.out.w; ox += pixels) {
      ox = std::min(ox, layer.out.w - pixels);  // the last tile overlaps the one before: same values written twice
      const std::uint8_t* a = row + static_cast<std::ptrdiff_t>(ox) * pixel_bytes;
      int a_stride = pixel_bytes;
      if (gather) {
        gather_windows(a, in_row, pixel_bytes, layer.kernel_h, run, pixels, windows.data(), window_bytes);
        a = windows.data();
        a_stride = window_bytes;
      }
      for (int b0 = 0; b0 < blocks_total; b0 += kMaxBlocks) {
        const int blocks = std::min(kMaxBlocks, blocks_total - b0);
        tile_sums(a, a_stride, chunks, step.quad_weights.data() + block_size * b0, block_size, blocks, sums);
        for (int j = 0; j < blocks; ++j) {
          const int c = (b0 + j) * kChannels;
          const __m512i correction = _mm512_loadu_si512(step.quad_correction.data() + c);
          const int n = std::min(kChannels, acc_c - c);
          const __mmask16 m = Avx512::mask(n);
          const __m512 scale = fin.scales(c, m, n < kChannels), bias = fin.biases(c, m, n < kChannels);
          for (int p = 0; p < pixels; ++p) {
            const __m512i acc = _mm512_sub_epi32(_mm512_load_si512(sums[j] + p * kChannels), correction);
            if (n == kChannels)
              fin.template finish<false>(oy, ox + p, c, acc, m, scale, bias);
            else
              fin.template finish<true>(oy, ox + p, c, acc, m, scale, bias);
          }
        }
      }
    }
  }
  _tile_release();
}

}  // namespace amx
#endif

}  // namespace

bool int8_amx_kernel_built() {
#if defined(CORTEXLENS_AMX_KERNEL)
  return true;
#else
  return false;
#endif
}

bool run_int8_step_avx512(const Int8ForwardPlan::Step& step, Int8ForwardPlan::Buffer& in,
                          const Int8ForwardPlan::Sink& sink, bool vnni, bool amx) {
#if defined(CORTEXLENS_AMX_KERNEL)
  if (amx && step.layer->kind == LayerKind::conv2d && !step.quad_weights.empty() &&
      wide_int8::takes_step<Avx512>(step)) {
    wide_int8::with_finisher<Avx512>(step, sink, [&](const auto& fin) { amx::conv2d_step(step, in, fin); });
    return true;
  }
#endif
  (void)amx;
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
