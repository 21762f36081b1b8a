// Restores the instruction set the kernels used before a test forced others (set_isa), also when a REQUIRE ends
// the test early; shared by the tests that run a kernel on every path the CPU has.
#pragma once

#include "cortexlens/isa.hpp"

namespace cortexlens::test {

struct IsaGuard {
  Isa saved = active_isa();
  ~IsaGuard() { (void)set_isa(saved); }
};

}  // namespace cortexlens::test
