// The f32x4 multiply-add peak of the wasm engine running this module: 12 independent accumulators (enough to
// cover the add latency on two vector pipes), each step a f32x4.mul and a f32x4.add, as in the conv kernels (wasm
// SIMD 1.0 has no fused multiply-add). Returns multiply-adds done, so the caller divides by its own clock.
#include <wasm_simd128.h>

#include <emscripten/emscripten.h>

extern "C" EMSCRIPTEN_KEEPALIVE double peak_f32x4_multiply_adds(int iterations, float seed) {
  constexpr int kAcc = 12;
  v128_t acc[kAcc];
  for (int a = 0; a < kAcc; ++a) acc[a] = wasm_f32x4_splat(seed * static_cast<float>(a));
  // Multiplier just below 1 and a small addend keep values finite and normal for any iteration count.
  const v128_t m = wasm_f32x4_splat(0.999999f), x = wasm_f32x4_splat(seed);
  for (int i = 0; i < iterations; ++i)
    for (int a = 0; a < kAcc; ++a) acc[a] = wasm_f32x4_add(wasm_f32x4_mul(acc[a], m), x);
  v128_t sum = acc[0];
  for (int a = 1; a < kAcc; ++a) sum = wasm_f32x4_add(sum, acc[a]);
  // Using the result keeps the loop from being removed; the value itself is not interesting.
  volatile float sink = wasm_f32x4_extract_lane(sum, 0);
  (void)sink;
  return static_cast<double>(iterations) * kAcc * 4;
}
