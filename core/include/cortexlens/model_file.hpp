// The Cortex Lens model file (".clm"): a versioned, little-endian, magic-tagged binary holding one executable
// Model (BatchNorm folded, pads explicit), its metadata and an embedded test vector. models/FORMAT.md is the
// byte-by-byte specification; this header is its API.
//
// Reading treats every byte as hostile: each count and shape is bounded (ModelLimits, ModelFileLimits) before
// anything is allocated, the checksum is checked before any section is parsed, the parsed model goes through
// validate_model (and the int8 checks of quantize.hpp), and finally the test vector is run and compared. Every
// error names the byte offset and section where the problem was found, what was found and what was expected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cortexlens/model.hpp"
#include "cortexlens/quantize.hpp"
#include "cortexlens/status.hpp"

namespace cortexlens {

inline constexpr char kModelFileMagic[8] = {'C', 'L', 'E', 'N', 'S', 'M', 'D', 'L'};
inline constexpr std::uint32_t kModelFileVersion = 1;
// Header flags (u32 at byte 12). Unknown bits are refused so a future writer cannot be silently misread.
inline constexpr std::uint32_t kModelFileFlagInt8 = 1u;  // every layer carries int8 weights

// Bounds on the parts of a file that ModelLimits does not cover.
struct ModelFileLimits {
  static constexpr std::size_t max_file_bytes = 512u << 20;
  static constexpr std::uint32_t max_string_bytes = 4096;   // any name, source or citation
  static constexpr std::uint32_t max_outputs = 65536;       // output names
  static constexpr std::uint32_t max_source_layers = 1024;  // rows of the original layer table
  static constexpr std::uint32_t max_sections = ModelLimits::max_layers + 2;
};

// What the file says about where the model came from; the Model itself carries name, input shape, output names
// and the original layer table.
struct ModelFileMetadata {
  std::string source;    // e.g. "cowleygroup/V4_compact_models: compact_models/compact_model_190923_neuron0.keras"
  std::string citation;  // the paper to credit
  std::vector<float> channel_means;  // (input.c): what was subtracted from 0..255 pixels to make the input
};

// The embedded check. The input is not stored: it is generated from `seed` by test_vector_input (FORMAT.md gives
// the formula), so the file carries only the expected outputs of the ORIGINAL float model and a tolerance per
// output. Loading runs the file's own precision on that input and refuses any output further than its tolerance.
struct TestVector {
  std::uint32_t seed = 1;        // nonzero
  std::vector<float> expected;   // (outputs) the source float model's outputs
  std::vector<float> tolerance;  // (outputs) absolute, > 0
};

// Uniform pseudo-random pixels 0..255 from xorshift32(seed), minus channel_means: shape (H, W, C) of `input`.
// Precondition: channel_means.size() == input.c, seed != 0.
Tensor test_vector_input(const Shape3& input, const std::vector<float>& channel_means, std::uint32_t seed);

struct LoadedModel {
  Model model;  // validated; int8 files also carry Layer::int8 (and dequantized Layer::weights)
  ModelFileMetadata metadata;
  TestVector test_vector;
  Precision precision = Precision::float32;  // what the file stores; also what the test vector was run with
  std::vector<float> test_outputs;           // what this load computed on the test vector
  std::uint32_t version = 0;
};

// Serializes a model. The model must pass validate_model; an int8 model (every layer has int8) is written as int8,
// anything else as float32 (a model with int8 on only some layers is refused). The test vector must have one
// expected value and one positive tolerance per output. The result is deterministic (same input, same bytes).
Result<std::vector<std::uint8_t>> write_model_file(const Model& model, const ModelFileMetadata& metadata,
                                                   const TestVector& test_vector);

// Parses, validates and self-checks a file (see the top of this header). `bytes` may be any size, including 0.
Result<LoadedModel> read_model_file(const std::uint8_t* bytes, std::size_t size);

// Builds the test vector for `file_model` (what will be written) from the float `source_model` it was made from:
// expected = source_model's outputs on test_vector_input(seed); tolerance per output = max(4 x the measured
// |file_model - source_model| difference, 1e-4 x max(1, |expected|)). For a float file the measured difference is
// only float reordering, on this input; for int8 it is the quantization error, the largest over this input and
// the inputs of seeds seed + 1 .. seed + kInt8ToleranceExtraInputs, so a wrong kernel still fails.
constexpr std::uint32_t kInt8ToleranceExtraInputs = 4;
Result<TestVector> make_test_vector(const Model& source_model, const Model& file_model,
                                    const std::vector<float>& channel_means, std::uint32_t seed = 20260127);

// CRC-32 (IEEE 802.3, the polynomial of zip, gzip and PNG) of `size` bytes. Used for the file checksum because
// any standard tool (e.g. Python's zlib.crc32) can check it independently, and because zlib is not available in
// the wasm build, this small table-driven version is used on both targets.
std::uint32_t crc32_ieee(const std::uint8_t* bytes, std::size_t size);

// True when the bytes start with the model file magic (for dispatching on content rather than extension).
bool is_model_file(const std::uint8_t* bytes, std::size_t size);

}  // namespace cortexlens
