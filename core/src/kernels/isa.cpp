#include "cortexlens/isa.hpp"

#include <atomic>
#if defined(__x86_64__) && !defined(__EMSCRIPTEN__)
#include <cpuid.h>
#endif
#if defined(__x86_64__) && !defined(__EMSCRIPTEN__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace cortexlens {

namespace {

bool cpu_has_avx2() {
#if defined(__x86_64__) && !defined(__EMSCRIPTEN__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

bool cpu_has_avx512() {
#if defined(__x86_64__) && !defined(__EMSCRIPTEN__)
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#else
  return false;
#endif
}

#if defined(__x86_64__) && !defined(__EMSCRIPTEN__)
// AVX-VNNI (the 256-bit int8 dot products) straight from CPUID leaf 7, sub-leaf 1, EAX bit 4: GCC 12 knows
// __builtin_cpu_supports("avxvnni"), clang 14 (the fuzz build) does not.
bool cpu_has_avx_vnni() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return false;
  return (eax >> 4) & 1u;
}
#endif

std::atomic<int>& chosen() {
  static std::atomic<int> isa{-1};  // -1: not chosen, use best_isa()
  return isa;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar:
      return "scalar";
    case Isa::sse:
      return "sse";
    case Isa::avx2:
      return "avx2";
    case Isa::avx512:
      return "avx512";
  }
  return "unknown";
}

Result<Isa> parse_isa(const std::string& name) {
  for (Isa isa : {Isa::scalar, Isa::sse, Isa::avx2, Isa::avx512})
    if (name == isa_name(isa)) return isa;
  return Status::error("unknown instruction set '" + name + "', expected scalar, sse, avx2 or avx512");
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> isas = {Isa::scalar, Isa::sse};
  if (cpu_has_avx2()) isas.push_back(Isa::avx2);
  if (cpu_has_avx512()) isas.push_back(Isa::avx512);
  return isas;
}

Isa best_isa() { return supported_isas().back(); }

Isa active_isa() {
  const int isa = chosen().load(std::memory_order_relaxed);
  if (isa >= 0) return static_cast<Isa>(isa);
  static const Isa best = best_isa();
  return best;
}

Status set_isa(Isa isa) {
  std::string available;
  for (Isa s : supported_isas()) {
    if (s == isa) {
      chosen().store(static_cast<int>(isa), std::memory_order_relaxed);
      return Status::ok();
    }
    available += (available.empty() ? "" : ", ") + std::string(isa_name(s));
  }
  return Status::error(std::string("this CPU (or this build) cannot run ") + isa_name(isa) + ": it supports " +
                       available);
}

bool has_vnni(Isa isa) {
#if defined(__x86_64__) && !defined(__EMSCRIPTEN__)
  if (isa == Isa::avx512) return cpu_has_avx512() && __builtin_cpu_supports("avx512vnni");
  if (isa == Isa::avx2) return cpu_has_avx2() && cpu_has_avx_vnni();
#endif
  (void)isa;
  return false;
}

bool has_amx_int8() {
#if defined(__x86_64__) && !defined(__EMSCRIPTEN__) && defined(__linux__)
  static const bool granted = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!cpu_has_avx512() || !__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
    const bool tile = (edx >> 24) & 1u, int8 = (edx >> 25) & 1u;
    if (!tile || !int8) return false;
    // Linux keeps the 8 KB tile state off until a process asks (ARCH_REQ_XCOMP_PERM for XTILEDATA, feature 18);
    // without the grant the first tile instruction faults. A refusal (an old kernel, a too small signal stack)
    // leaves the VNNI kernels in charge.
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return granted;
#else
  return false;
#endif
}

}  // namespace cortexlens
