// libFuzzer target for the model-file loader: hostile bytes -> read_model_file (walk, checksum, parse, validate,
// test vector). Random bytes would almost never pass the CRC-32, so each input is also tried with its last 4 bytes
// replaced by the correct checksum: that lets the fuzzer reach every field parser behind it. Build with clang:
//   clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -Icore/include -Icore/src \
//     core/src/model/{model,model_file,quantize}.cpp core/src/kernels/*.cpp \
//     core/src/engine/{forward,forward_plan,forward_int8,int8_forward_plan}.cpp tests/fuzz/fuzz_model_file.cpp \
//     -o fuzz_model_file
//   mkdir -p /tmp/clm_corpus && cp models/demo/*.clm tests/bad_models/*.clm /tmp/clm_corpus/
//   ./fuzz_model_file -max_total_time=60 -timeout=10 /tmp/clm_corpus
#include <cstddef>
#include <cstdint>
#include <vector>

#include "cortexlens/model_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cortexlens;
  (void)read_model_file(data, size);
  if (size < 24) return 0;
  std::vector<std::uint8_t> signed_copy(data, data + size);
  const std::uint32_t crc = crc32_ieee(signed_copy.data(), size - 4);
  for (int i = 0; i < 4; ++i)
    signed_copy[size - 4 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(crc >> (8 * i));
  const Result<LoadedModel> loaded = read_model_file(signed_copy.data(), signed_copy.size());
  // A file that loads must be one the writer can write again, and that must load to the same test outputs.
  if (loaded) {
    auto again = write_model_file(loaded->model, loaded->metadata, loaded->test_vector);
    if (!again) __builtin_trap();
    auto reloaded = read_model_file(again->data(), again->size());
    if (!reloaded || reloaded->test_outputs != loaded->test_outputs) __builtin_trap();
  }
  return 0;
}
