// Four-lane float vectors for the fast kernels, one set of names on every target:
//   wasm:   <wasm_simd128.h> (f32x4), compiled with -msimd128; Eigen has no wasm back end, so this is explicit.
//   x86-64: SSE (always present on x86-64), so the default build runs on any x86-64 machine.
//   other:  a plain struct the compiler may vectorize on its own.
// The kernels are written once against these names and tested against the scalar `_ref` twins on each target.
#pragma once

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#elif defined(__SSE2__)
#include <immintrin.h>
#endif

namespace cortexlens::simd {

#if defined(__wasm_simd128__)

using f32x4 = v128_t;
inline f32x4 load(const float* p) { return wasm_v128_load(p); }
inline void store(float* p, f32x4 v) { wasm_v128_store(p, v); }
inline f32x4 splat(float x) { return wasm_f32x4_splat(x); }
// One v128.load32_splat instead of a scalar load followed by a splat.
inline f32x4 load_splat(const float* p) { return wasm_v128_load32_splat(p); }
// wasm 1.0 SIMD has no fused multiply-add: a mul and an add, two instructions per four multiply-adds.
inline f32x4 mul_add(f32x4 acc, f32x4 a, f32x4 b) { return wasm_f32x4_add(acc, wasm_f32x4_mul(a, b)); }
inline f32x4 add(f32x4 a, f32x4 b) { return wasm_f32x4_add(a, b); }
// pmax is a single maxps in V8; the IEEE max (wasm_f32x4_max) is a multi-instruction sequence. Operand order keeps
// a NaN as NaN, like std::max(x, 0.0f) in the reference.
inline f32x4 relu(f32x4 v) { return wasm_f32x4_pmax(v, wasm_f32x4_splat(0.0f)); }
// v where a > 0, else +0 (a NaN counts as not positive): the ReLU derivative applied to a gradient, bit for bit
// what `a > 0 ? v : 0.0f` gives.
inline f32x4 where_positive(f32x4 a, f32x4 v) { return wasm_v128_and(v, wasm_f32x4_gt(a, wasm_f32x4_splat(0.0f))); }
// Bit i set when lane i is not zero (a NaN is not zero).
inline int nonzero_lanes(f32x4 v) { return wasm_i32x4_bitmask(wasm_f32x4_ne(v, wasm_f32x4_splat(0.0f))); }
inline float sum_lanes(f32x4 v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

#elif defined(__SSE2__)

using f32x4 = __m128;
inline f32x4 load(const float* p) { return _mm_loadu_ps(p); }
inline void store(float* p, f32x4 v) { _mm_storeu_ps(p, v); }
inline f32x4 splat(float x) { return _mm_set1_ps(x); }
inline f32x4 load_splat(const float* p) { return _mm_set1_ps(*p); }
// Never fused, even where FMA exists: a separate multiply and add round exactly like wasm, so native and wasm
// results are bit-identical (the page's results are tested against the command line's).
inline f32x4 mul_add(f32x4 acc, f32x4 a, f32x4 b) { return _mm_add_ps(acc, _mm_mul_ps(a, b)); }
inline f32x4 add(f32x4 a, f32x4 b) { return _mm_add_ps(a, b); }
// maxps returns its second operand when either is NaN: zero first keeps a NaN as NaN, like the reference.
inline f32x4 relu(f32x4 v) { return _mm_max_ps(_mm_setzero_ps(), v); }
inline f32x4 where_positive(f32x4 a, f32x4 v) { return _mm_and_ps(v, _mm_cmpgt_ps(a, _mm_setzero_ps())); }
inline int nonzero_lanes(f32x4 v) { return _mm_movemask_ps(_mm_cmpneq_ps(v, _mm_setzero_ps())); }
inline float sum_lanes(f32x4 v) {
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, v);
  return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}

#else

struct f32x4 {
  float v[4];
};
inline f32x4 load(const float* p) { return {{p[0], p[1], p[2], p[3]}}; }
inline void store(float* p, f32x4 a) {
  for (int i = 0; i < 4; ++i) p[i] = a.v[i];
}
inline f32x4 splat(float x) { return {{x, x, x, x}}; }
inline f32x4 load_splat(const float* p) { return splat(*p); }
inline f32x4 mul_add(f32x4 acc, f32x4 a, f32x4 b) {
  for (int i = 0; i < 4; ++i) acc.v[i] += a.v[i] * b.v[i];
  return acc;
}
inline f32x4 add(f32x4 a, f32x4 b) {
  for (int i = 0; i < 4; ++i) a.v[i] += b.v[i];
  return a;
}
inline f32x4 relu(f32x4 a) {
  for (int i = 0; i < 4; ++i) a.v[i] = a.v[i] < 0.0f ? 0.0f : a.v[i];
  return a;
}
inline f32x4 where_positive(f32x4 a, f32x4 v) {
  for (int i = 0; i < 4; ++i) v.v[i] = a.v[i] > 0.0f ? v.v[i] : 0.0f;
  return v;
}
inline int nonzero_lanes(f32x4 a) {
  int bits = 0;
  for (int i = 0; i < 4; ++i) bits |= (a.v[i] != 0.0f) << i;
  return bits;
}
inline float sum_lanes(f32x4 a) { return (a.v[0] + a.v[1]) + (a.v[2] + a.v[3]); }

#endif

}  // namespace cortexlens::simd
