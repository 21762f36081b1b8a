// libFuzzer target for the Keras mapping both doors share (the page hands jsfive's tensors to it through the wasm
// module, the CLI libhdf5's): hostile config.json text and named tensors -> import_keras -> validate + forward.
// The input format (config, NUL, tensor records) is in keras_input.hpp; seeds in tests/fuzz/corpus/keras_import
// are written by make_fuzz_seeds from the demo model and the test fixtures, and keras.dict names the config's
// keys and the layer classes. Run (build/fuzz from `cmake --preset fuzz`):
//   mkdir -p /tmp/ki && build/fuzz/tests/fuzz_keras_import -dict=tests/fuzz/keras.dict /tmp/ki \
//     tests/fuzz/corpus/keras_import
#include <cstddef>
#include <cstdint>

#include "cortexlens/keras_import.hpp"
#include "fuzz_common.hpp"
#include "keras_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cortexlens;
  const fuzz::KerasInput input = fuzz::parse_keras_input(data, size);
  // Both naming paths: an arbitrary file name, and a published model's, whose output names come from the V4 table.
  const Result<Model> model = import_keras(input.config_json, input.tensors, "fuzzed");
  if (model) {
    fuzz::check_accepted_model(model.value());
    const Result<Model> published = import_keras(input.config_json, input.tensors, "compact_model_190923_neuron7");
    if (!published || published->output_count() != model->output_count()) __builtin_trap();
  } else if (model.message().empty()) {
    __builtin_trap();  // a refusal must say why
  }
  return 0;
}
