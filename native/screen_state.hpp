// The checkpoint of an unfinished `cortexlens screen` run: which images are done, their responses and the images that
// failed, so that a run stopped at any moment (Ctrl-C, kill, a crash) and started again with --resume ends with
// the same output, byte for byte, as a run never stopped. Responses do not depend on the number of threads or the
// chunk size, so those may differ between the two runs; anything else that decides a response (the images, the
// model files, the precisions) is summed up in a fingerprint, and a checkpoint with another fingerprint is refused.
//
// File layout (little-endian), written whole to a temporary file and renamed over the old one after every chunk:
//   "CLSCREEN", u32 version (1)
//   u64 fingerprint, u64 images, u64 columns (model outputs of all models together), u64 done, u64 failures
//   per failure: u64 image index, u32 message length, the message (UTF-8)
//   f32 responses (done, columns), NaN for failed images
//   u64 FNV-1a 64 of every byte before it (a torn or altered file is refused, not resumed from)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cortexlens/status.hpp"
#include "screen_report.hpp"

namespace cortexlens {

// FNV-1a, 64 bits: not cryptographic; it tells a checkpoint of this run from one of another.
class Fingerprint {
 public:
  void add(const void* data, std::size_t size);
  void add(const std::string& text);  // with its length, so "ab" + "c" differs from "a" + "bc"
  void add(std::uint64_t value);
  std::uint64_t value() const { return hash_; }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ull;
};

struct ScreenState {
  std::uint64_t fingerprint = 0;
  std::uint64_t images = 0, columns = 0;
  std::uint64_t done = 0;              // images [0, done) are finished
  std::vector<ImageFailure> failures;  // among the done images, in image order
  std::vector<float> responses;        // (done, columns)
};

// Bounds on what a checkpoint may declare, checked before anything is allocated.
struct ScreenStateLimits {
  static constexpr std::uint64_t max_images = 1ull << 32;
  static constexpr std::uint64_t max_columns = 1ull << 24;
  static constexpr std::uint64_t max_message_bytes = 1ull << 16;
};

std::vector<std::uint8_t> encode_screen_state(const ScreenState& state);

// Refuses, saying what was found and what was expected: another magic or version, a checksum that does not match,
// counts beyond ScreenStateLimits or inconsistent with each other or with the file's size.
Result<ScreenState> decode_screen_state(const std::vector<std::uint8_t>& bytes);

}  // namespace cortexlens
