// Which instruction set the fast kernels run on. One binary runs on any x86-64: the widest path this CPU and this
// build support is chosen at run time (CPU detection), and can be forced lower (`cortexlens ... --isa sse`) so
// tests cover every path the machine has.
//
//   scalar  the plain `_ref` twins (what every fast kernel is tested against)
//   sse     the portable 4-lane path: SSE natively, wasm SIMD128 in the browser; float results are bit-identical
//           between the two (separate multiply and add, fixed summation order)
//   avx2    AVX2 + FMA (and AVX-VNNI for int8 where the CPU has it)
//   avx512  AVX-512 F/BW/VL (and AVX-512 VNNI for int8 where the CPU has it)
//
// int8 results are bit-identical on every path (exact int32 sums, one epilogue). Float paths wider than sse fuse
// multiply-adds and sum in another order, so they agree with the reference within a relative tolerance
// (tests/test_isa.cpp states it), not bit for bit. aarch64 would add a `neon` value beside sse: the 4-lane kernels
// map one to one onto NEON (vfmaq_f32, vdotq_s32), chosen the same way.
#pragma once

#include <string>
#include <vector>

#include "cortexlens/status.hpp"

namespace cortexlens {

enum class Isa { scalar, sse, avx2, avx512 };

const char* isa_name(Isa isa);
// "scalar", "sse", "avx2", "avx512"; anything else is an error naming the accepted values.
Result<Isa> parse_isa(const std::string& name);

// The paths this CPU and this build can run, narrowest first (always scalar and sse).
std::vector<Isa> supported_isas();
// The widest of supported_isas().
Isa best_isa();
// What the kernels use now: best_isa() unless set_isa() chose another. Read on every layer, so a change applies to
// the next pass; set it before starting threads.
Isa active_isa();
// Fails, naming what this CPU supports, when `isa` is not among supported_isas().
Status set_isa(Isa isa);

// Whether the CPU has the int8 dot-product extension of the given path (AVX-VNNI for avx2, AVX-512 VNNI for
// avx512); the int8 kernels use it when present and the plain multiply-add sequence otherwise.
bool has_vnni(Isa isa);

// Whether the int8 convolutions may use AMX tiles (TDPBUSD) on the avx512 path: the CPU has AMX-TILE and AMX-INT8
// and the kernel granted this process the tile state (Linux asks programs to request it; the first call does).
bool has_amx_int8();

}  // namespace cortexlens
