// Running a parser of untrusted bytes that lives in a library we cannot fix (Debian's libhdf5) in a forked child
// process, so that a crash or a hang inside it becomes a message for the user instead of ending `cortexlens`.
// POSIX only (fork, pipe, poll): the native tools run on Linux; the page never reaches this code.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cortexlens/status.hpp"

namespace cortexlens {

struct ChildLimits {
  // A well-formed Keras weights file is read in milliseconds; a minute is for a slow disk, not for a loop.
  std::chrono::milliseconds timeout{60'000};
  // Output beyond this is a broken child, not data (the weights it reads are bounded far below).
  std::uint64_t max_output_bytes = 2ull << 30;
  // Address space the child may add to what it inherits (RLIMIT_AS), so that a hostile file cannot take the machine's
  // memory: fuzzing found weights files that send libhdf5 into endless recursion, 24 GB in 40 s. 0: no limit. Not
  // applied under AddressSanitizer, whose shadow memory reserves terabytes of address space.
  std::uint64_t max_added_address_space = 2ull << 30;
};

// Forks; the child runs `work` and sends its bytes (or its error message) back through a pipe, then _exits.
// The parent returns them, or an error naming `what` if the child died by a signal, exited abnormally (a sanitizer
// report), sent a malformed reply, ran past the timeout (it is then killed) or out of its memory. `work` runs only in
// the child, so whatever global state the library keeps is never touched in this process.
Result<std::vector<std::uint8_t>> run_in_child_process(const std::function<Result<std::vector<std::uint8_t>>()>& work,
                                                       const std::string& what, const ChildLimits& limits = {});

}  // namespace cortexlens
