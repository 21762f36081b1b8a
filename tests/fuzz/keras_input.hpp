// The byte format the Keras-import fuzz target reads, shared with the program that writes its seed corpus
// (make_fuzz_seeds.cpp), so the seeds are exactly what the target parses:
//   config.json text, a NUL byte, then tensor records until the input ends:
//     name bytes, a NUL byte, rank (one byte, taken modulo 5), rank dimensions (uint16 little-endian each),
//     then the values as float32 little-endian; values the input runs out of are filled with a fixed ramp, so
//     the fuzzer can grow a shape without having to grow the input with it.
// Keeping shapes to 16 bits and counts under kMaxValues bounds the allocation per record; import_keras' own
// limits are still reached through the config (filters, units, input sizes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cortexlens/keras_import.hpp"

namespace cortexlens::fuzz {

inline constexpr std::int64_t kMaxValues = std::int64_t{1} << 20;

struct KerasInput {
  std::string config_json;
  std::vector<NamedTensor> tensors;
};

inline KerasInput parse_keras_input(const std::uint8_t* data, std::size_t size) {
  KerasInput input;
  const std::uint8_t* end = data + size;
  const std::uint8_t* p = data;
  const auto* nul = static_cast<const std::uint8_t*>(std::memchr(p, 0, size));
  const std::uint8_t* config_end = nul ? nul : end;
  input.config_json.assign(reinterpret_cast<const char*>(p), static_cast<std::size_t>(config_end - p));
  p = nul ? nul + 1 : end;
  while (p < end) {
    const auto* name_end = static_cast<const std::uint8_t*>(std::memchr(p, 0, static_cast<std::size_t>(end - p)));
    if (!name_end || name_end + 1 >= end) break;
    NamedTensor tensor;
    tensor.name.assign(reinterpret_cast<const char*>(p), static_cast<std::size_t>(name_end - p));
    p = name_end + 1;
    const int rank = *p++ % 5;
    std::int64_t count = 1;
    for (int i = 0; i < rank; ++i) {
      std::int64_t dim = 0;
      if (end - p >= 2) {
        dim = p[0] | (p[1] << 8);
        p += 2;
      } else {
        p = end;
      }
      tensor.shape.push_back(dim);
      // Saturates just above the limit: four 16-bit dimensions overflow a signed 64-bit product.
      count = count > kMaxValues ? kMaxValues + 1 : count * dim;
    }
    if (count > kMaxValues) break;
    tensor.data.resize(static_cast<std::size_t>(count));
    for (std::int64_t i = 0; i < count; ++i) {
      float value;
      if (end - p >= 4) {
        std::memcpy(&value, p, 4);
        p += 4;
      } else {
        value = 0.01f * static_cast<float>(i % 97) - 0.3f;
      }
      tensor.data[static_cast<std::size_t>(i)] = value;
    }
    input.tensors.push_back(std::move(tensor));
  }
  return input;
}

// The inverse, for the seed writer.
inline std::vector<std::uint8_t> format_keras_input(const std::string& config_json,
                                                    const std::vector<NamedTensor>& tensors) {
  std::vector<std::uint8_t> bytes(config_json.begin(), config_json.end());
  bytes.push_back(0);
  for (const auto& tensor : tensors) {
    bytes.insert(bytes.end(), tensor.name.begin(), tensor.name.end());
    bytes.push_back(0);
    bytes.push_back(static_cast<std::uint8_t>(tensor.shape.size()));
    for (const std::int64_t dim : tensor.shape) {
      bytes.push_back(static_cast<std::uint8_t>(dim & 0xff));
      bytes.push_back(static_cast<std::uint8_t>((dim >> 8) & 0xff));
    }
    const auto* raw = reinterpret_cast<const std::uint8_t*>(tensor.data.data());
    bytes.insert(bytes.end(), raw, raw + tensor.data.size() * sizeof(float));
  }
  return bytes;
}

}  // namespace cortexlens::fuzz
