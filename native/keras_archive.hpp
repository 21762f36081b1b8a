// Native readers of the Keras containers, by libraries: libzip for the .keras zip, libhdf5 (from memory) for
// model.weights.h5. They only extract bytes and named float32 tensors; the Keras mapping is core's import_keras.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cortexlens/keras_import.hpp"

namespace cortexlens {

struct KerasArchive {
  std::string config_json;
  std::vector<NamedTensor> tensors;  // every dataset under layers/ of model.weights.h5
};

// Limits for hostile archives: checked on the sizes the container declares, before inflating or reading.
struct ArchiveLimits {
  static constexpr std::uint64_t max_member_bytes = 256ull << 20;
  static constexpr std::uint64_t max_config_bytes = 16ull << 20;
  static constexpr std::int64_t max_dataset_elements = 64ll << 20;
  static constexpr int max_datasets = 4096;
};

Result<KerasArchive> read_keras_archive(const std::vector<std::uint8_t>& bytes);
Result<std::vector<NamedTensor>> read_weights_h5(const std::vector<std::uint8_t>& bytes);

}  // namespace cortexlens
