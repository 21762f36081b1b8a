// libFuzzer target for the native .keras door, as `cortexlens` opens a user's file: bytes written to a temporary
// file -> load_model_file (read_file_bytes, libzip, libhdf5 from memory, import_keras) -> validate + forward.
// Inputs that start with the HDF5 signature also go through the other native door, a `.weights.h5` with the
// demo model's config.json beside it, so the fuzzer reaches libhdf5's parser directly (a mutation inside a zip
// member fails the member's CRC before HDF5 ever sees it). libzip and libhdf5 are Debian's, not instrumented:
// coverage guidance and the sanitizers see our code, a crash inside either library still stops the run (libhdf5 runs
// in this process here; `cortexlens` runs it in a child process that may crash).
// Run (build/fuzz from `cmake --preset fuzz`):
//   mkdir -p /tmp/ka && build/fuzz/tests/fuzz_keras_archive -dict=tests/fuzz/keras.dict /tmp/ka \
//     tests/fuzz/corpus/keras_archive
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "demo_model.hpp"
#include "fuzz_common.hpp"
#include "keras_archive.hpp"
#include "model_source.hpp"

namespace {

struct TempFiles {
  std::string dir;
  std::string keras, weights, config;
  TempFiles() {
    // /dev/shm keeps the per-input writes in memory where it exists.
    const char* base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string pattern = std::string(base) + "/fuzz_keras_archive.XXXXXX";
    if (!mkdtemp(pattern.data())) std::abort();
    dir = pattern;
    keras = dir + "/model.keras";
    weights = dir + "/model.weights.h5";
    config = dir + "/config.json";
    write(config, reinterpret_cast<const std::uint8_t*>(demo_config().data()), demo_config().size());
  }
  ~TempFiles() {
    std::remove(keras.c_str());
    std::remove(weights.c_str());
    std::remove(config.c_str());
    rmdir(dir.c_str());
  }
  static const std::string& demo_config() {
    static const std::string text = cortexlens::demo::build_demo_keras().config_json;
    return text;
  }
  static void write(const std::string& path, const std::uint8_t* data, std::size_t size) {
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (!file || (size && std::fwrite(data, 1, size, file) != size) || std::fclose(file) != 0) std::abort();
  }
};

void check(const cortexlens::Result<cortexlens::Model>& model) {
  if (model)
    cortexlens::fuzz::check_accepted_model(model.value());
  else if (model.message().empty())
    __builtin_trap();  // a refusal must say why
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cortexlens;
  static TempFiles files;
  // In process, not in the child `cortexlens` uses: libFuzzer has to see a crash inside libhdf5 and our coverage.
  static const bool configured = (set_weights_reader(WeightsReader::in_process), true);
  (void)configured;
  TempFiles::write(files.keras, data, size);
  check(load_model_file(files.keras));
  if (size >= 8 && std::memcmp(data, "\x89HDF\r\n\x1a\n", 8) == 0) {
    TempFiles::write(files.weights, data, size);
    check(load_model_file(files.weights, files.config));
  }
  return 0;
}
