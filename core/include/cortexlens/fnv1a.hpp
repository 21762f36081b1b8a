// FNV-1a hashes of bytes. The CLI prints them beside the pixels it drew (`probe`: 64 bits, `path`: 32 bits) and the
// page computes the same ones (web/src/hash.js), so two sets of pixels are compared by their hashes in tests and by
// eye in CSV files. Not for security: a quick, well-known, platform-independent fingerprint.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cortexlens {

inline std::uint32_t fnv1a_32(const std::uint8_t* data, std::size_t size) {
  std::uint32_t hash = 0x811c9dc5u;
  for (std::size_t i = 0; i < size; ++i) hash = (hash ^ data[i]) * 0x01000193u;
  return hash;
}

inline std::uint64_t fnv1a_64(const std::uint8_t* data, std::size_t size) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < size; ++i) hash = (hash ^ data[i]) * 0x100000001b3ull;
  return hash;
}

inline std::uint32_t fnv1a_32(const std::vector<std::uint8_t>& bytes) { return fnv1a_32(bytes.data(), bytes.size()); }
inline std::uint64_t fnv1a_64(const std::vector<std::uint8_t>& bytes) { return fnv1a_64(bytes.data(), bytes.size()); }

}  // namespace cortexlens
