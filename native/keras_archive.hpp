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

// Where libhdf5 parses model.weights.h5. Debian's libhdf5 1.10 can still be crashed by a crafted file (fuzzing found
// a segfault in its symbol-table walk, reported in tests/fuzz/README.md), so by default it runs in a forked child
// process (child_process.hpp) and a crash, hang or sanitizer report there becomes an error message here. That costs
// a fork per file (3-6 ms beside the 2 ms read of the demo .keras, measured). Fuzz targets read in process: libFuzzer
// must see the crash and the coverage. In process, the caller must serialize calls (Debian's libhdf5 is not built
// thread-safe); the child never shares it.
enum class WeightsReader { child_process, in_process };
void set_weights_reader(WeightsReader reader);

}  // namespace cortexlens
