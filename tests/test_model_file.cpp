// The model file (models/FORMAT.md): round trips, and a corrupt-file corpus that exercises every field.
// The corpus is built by an independent walker of the spec (FieldMap below) that records where each field of a
// valid file lies; each case replaces one field (re-encoding it, fixing the section length and the checksum so the
// loader gets past them to the field under test) and checks the loader's message. Runs natively and in wasm.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>

#include "cortexlens/forward.hpp"
#include "cortexlens/isa.hpp"
#include "cortexlens/model_file.hpp"
#include "demo_model.hpp"
#include "image_fixtures.hpp"

using namespace cortexlens;

namespace {

// input (6, 6, 2) -> conv 3x3 relu (6, 6, 3) -> depthwise 3x3 stride 2, no bias (3, 3, 3) -> dense (1, 1, 2)
Model tiny_model() {
  Model m;
  m.name = "tiny";
  m.input = {6, 6, 2};
  m.output_names = {"a", "b"};
  m.source_layers = {{"conv", "Conv2D", {6, 6, 3}, 57}, {"readout", "Dense", {1, 1, 2}, 56}};
  Layer conv;
  conv.kind = LayerKind::conv2d;
  conv.name = "conv";
  conv.kernel_h = conv.kernel_w = 3;
  conv.pad = {1, 1, 1, 1};
  conv.in = {6, 6, 2};
  conv.out = {6, 6, 3};
  conv.activation = Activation::relu;
  for (int i = 0; i < 3 * 3 * 2 * 3; ++i) conv.weights.push_back(0.01f * static_cast<float>((i * 7) % 11 - 5));
  conv.bias = {0.1f, -0.2f, 0.3f};
  Layer depthwise;
  depthwise.kind = LayerKind::depthwise_conv2d;
  depthwise.name = "depthwise";
  depthwise.kernel_h = depthwise.kernel_w = 3;
  depthwise.stride_h = depthwise.stride_w = 2;
  depthwise.pad = {0, 1, 0, 1};
  depthwise.in = {6, 6, 3};
  depthwise.out = {3, 3, 3};
  for (int i = 0; i < 3 * 3 * 3; ++i) depthwise.weights.push_back(0.05f * static_cast<float>((i * 5) % 7 - 3));
  depthwise.bias = {0.0f, 0.0f, 0.0f};
  Layer dense;
  dense.kind = LayerKind::dense;
  dense.name = "readout";
  dense.in = {3, 3, 3};
  dense.out = {1, 1, 2};
  for (int i = 0; i < 27 * 2; ++i) dense.weights.push_back(0.02f * static_cast<float>((i * 3) % 13 - 6));
  dense.bias = {0.5f, -0.5f};
  m.layers = {conv, depthwise, dense};
  return m;
}

ModelFileMetadata tiny_metadata() { return {"unit test", "no citation", {100.0f, 110.0f}}; }

std::vector<float> tiny_scales() {
  const Model model = tiny_model();
  ActivationCalibrator calibrator(model);
  for (std::uint32_t seed : {1u, 2u, 3u})
    REQUIRE(calibrator.add(test_vector_input(model.input, {100.0f, 110.0f}, seed)));
  return calibrator.input_ranges(100.0);
}

std::vector<std::uint8_t> tiny_file(bool int8) {
  Model model = tiny_model();
  Model file_model = model;
  if (int8) REQUIRE(quantize_model(file_model, tiny_scales()));
  auto vector = make_test_vector(model, file_model, tiny_metadata().channel_means, 7);
  REQUIRE(vector);
  auto bytes = write_model_file(file_model, tiny_metadata(), vector.value());
  REQUIRE(bytes);
  return bytes.value();
}

struct Field {
  std::size_t offset = 0, size = 0;
  int section = -1;  // -1: header or checksum
};

std::vector<std::uint8_t> varint(std::uint64_t v) {
  std::vector<std::uint8_t> out;
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
  return out;
}
std::vector<std::uint8_t> le32(std::uint32_t v) {
  return {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v >> 16),
          static_cast<std::uint8_t>(v >> 24)};
}
std::vector<std::uint8_t> f32(float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, 4);
  return le32(bits);
}

// The test's own reading of FORMAT.md: where every field of a valid file lies, by name
// ("LAYR1.kind", "META.output_count", "TEST.expected", "section2.length", ...).
class FieldMap {
 public:
  explicit FieldMap(const std::vector<std::uint8_t>& file) : f_(file) {
    put("magic", 0, 8);
    put("version", 8, 4);
    put("flags", 12, 4);
    put("section_count", 16, 4);
    const std::uint32_t sections = u32(16);
    const bool int8 = u32(12) & 1;
    pos_ = 20;
    for (std::uint32_t k = 0; k < sections; ++k) {
      section_ = -1;
      const std::string s = "section" + std::to_string(k);
      put(s + ".tag", pos_, 4);
      put(s + ".length", pos_ + 4, 4);
      section_starts.push_back(pos_);
      const std::size_t end = pos_ + 8 + u32(pos_ + 4);
      pos_ += 8;
      section_ = static_cast<int>(k);
      if (k == 0) {
        meta();
      } else if (k + 1 == sections) {
        test();
      } else {
        layer("LAYR" + std::to_string(k - 1), int8);
      }
      REQUIRE(pos_ == end);
    }
    section_starts.push_back(pos_);
    section_ = -1;
    put("checksum", pos_, 4);
    REQUIRE(pos_ + 4 == f_.size());
  }
  Field operator[](const std::string& name) const {
    auto it = fields_.find(name);
    REQUIRE(it != fields_.end());
    return it->second;
  }
  std::vector<std::size_t> section_starts;  // offsets of each section's tag, then of the checksum

 private:
  std::uint32_t u32(std::size_t at) const {
    return f_[at] | (f_[at + 1] << 8) | (f_[at + 2] << 16) | (std::uint32_t{f_[at + 3]} << 24);
  }
  void put(const std::string& name, std::size_t at, std::size_t size) { fields_[name] = {at, size, section_}; }
  std::uint64_t var(const std::string& name) {
    std::uint64_t v = 0;
    std::size_t n = 0;
    do {
      v |= static_cast<std::uint64_t>(f_[pos_ + n] & 0x7f) << (7 * n);
    } while (f_[pos_ + n++] & 0x80);
    put(name, pos_, n);
    pos_ += n;
    return v;
  }
  void fixed(const std::string& name, std::size_t size, std::size_t element = 0) {
    put(name, pos_, size);
    // The first two elements of an array can be addressed alone: "TEST.expected[1]".
    for (std::size_t i = 0; element > 0 && i < 2 && (i + 1) * element <= size; ++i)
      put(name + "[" + std::to_string(i) + "]", pos_ + i * element, element);
    pos_ += size;
  }
  void string(const std::string& name) {
    const auto size = var(name + ".length");
    fixed(name, static_cast<std::size_t>(size));
  }
  void meta() {
    string("META.name");
    string("META.source");
    string("META.citation");
    var("META.input_h");
    var("META.input_w");
    channels_ = static_cast<std::size_t>(var("META.input_c"));
    fixed("META.means", 4 * channels_, 4);
    outputs_ = static_cast<std::size_t>(var("META.output_count"));
    for (std::size_t i = 0; i < outputs_; ++i) string("META.output" + std::to_string(i));
    const auto rows = var("META.source_count");
    for (std::uint64_t i = 0; i < rows; ++i) {
      const std::string r = "META.row" + std::to_string(i);
      string(r + ".name");
      string(r + ".class");
      var(r + ".h");
      var(r + ".w");
      var(r + ".c");
      var(r + ".params");
    }
  }
  void layer(const std::string& l, bool int8) {
    string(l + ".name");
    const std::uint8_t kind = f_[pos_];
    fixed(l + ".kind", 1);
    fixed(l + ".activation", 1);
    fixed(l + ".precision", 1);
    const bool bias = f_[pos_] & 1;
    fixed(l + ".flags", 1);
    std::uint64_t k[8];
    const char* names[] = {"kernel_h", "kernel_w",   "stride_h", "stride_w",
                           "pad_top",  "pad_bottom", "pad_left", "pad_right"};
    for (int i = 0; i < 8; ++i) k[i] = var(l + "." + names[i]);
    const auto ih = var(l + ".in_h"), iw = var(l + ".in_w"), ic = var(l + ".in_c");
    var(l + ".out_h");
    var(l + ".out_w");
    const auto oc = var(l + ".out_c");
    const std::uint64_t weights = kind == 0 ? k[0] * k[1] * ic * oc : kind == 1 ? k[0] * k[1] * ic : ih * iw * ic * oc;
    if (int8) {
      fixed(l + ".input_scale", 4);
      fixed(l + ".weight_scales", 2 * oc, 2);
      fixed(l + ".weights", weights, 1);
    } else {
      fixed(l + ".weights", 4 * weights, 4);
    }
    if (bias) fixed(l + ".bias", 4 * oc, 4);
  }
  void test() {
    var("TEST.kind");
    fixed("TEST.seed", 4);
    var("TEST.count");
    fixed("TEST.expected", 4 * outputs_, 4);
    fixed("TEST.tolerance", 4 * outputs_, 4);
  }

  const std::vector<std::uint8_t>& f_;
  std::map<std::string, Field> fields_;
  std::size_t pos_ = 0, channels_ = 0, outputs_ = 0;
  int section_ = -1;
};

void store_le32(std::vector<std::uint8_t>& file, std::size_t at, std::uint32_t v) {
  const auto bytes = le32(v);
  std::copy(bytes.begin(), bytes.end(), file.begin() + static_cast<std::ptrdiff_t>(at));
}

struct Edit {
  std::string field;
  std::vector<std::uint8_t> bytes;
};

// Replaces fields' bytes (located in the original file, applied from the last to the first), keeps the enclosing
// sections' lengths right and re-signs the file, so the loader reaches the fields themselves. `resign` false leaves
// the old checksum (for the checksum cases).
std::vector<std::uint8_t> with_fields(const std::vector<std::uint8_t>& file, std::vector<Edit> edits,
                                      bool resign = true) {
  const FieldMap map(file);
  std::sort(edits.begin(), edits.end(),
            [&](const Edit& a, const Edit& b) { return map[a.field].offset > map[b.field].offset; });
  std::vector<std::uint8_t> out = file;
  for (const auto& edit : edits) {
    const Field field = map[edit.field];
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(field.offset),
              out.begin() + static_cast<std::ptrdiff_t>(field.offset + field.size));
    out.insert(out.begin() + static_cast<std::ptrdiff_t>(field.offset), edit.bytes.begin(), edit.bytes.end());
    if (field.section >= 0) {
      const std::size_t length_at = map.section_starts[static_cast<std::size_t>(field.section)] + 4;
      const std::uint32_t length = out[length_at] | (out[length_at + 1] << 8) | (out[length_at + 2] << 16) |
                                   (std::uint32_t{out[length_at + 3]} << 24);
      store_le32(out, length_at, static_cast<std::uint32_t>(length + edit.bytes.size() - field.size));
    }
  }
  if (resign) store_le32(out, out.size() - 4, crc32_ieee(out.data(), out.size() - 4));
  return out;
}

std::vector<std::uint8_t> with_field(const std::vector<std::uint8_t>& file, const std::string& name,
                                     const std::vector<std::uint8_t>& bytes, bool resign = true) {
  return with_fields(file, {{name, bytes}}, resign);
}

std::string load_error(const std::vector<std::uint8_t>& file) {
  auto loaded = read_model_file(file.data(), file.size());
  return loaded ? std::string("(loaded without error)") : loaded.message();
}

}  // namespace

TEST_CASE("model files round-trip float32 and int8 models exactly", "[model_file]") {
  const bool int8 = GENERATE(false, true);
  const std::vector<std::uint8_t> bytes = tiny_file(int8);
  CHECK(bytes == tiny_file(int8));  // deterministic
  auto loaded = read_model_file(bytes.data(), bytes.size());
  REQUIRE(loaded);
  const LoadedModel& m = loaded.value();
  CHECK(m.precision == (int8 ? Precision::int8 : Precision::float32));
  CHECK(m.version == 1);
  CHECK(m.model.name == "tiny");
  CHECK(m.model.output_names == std::vector<std::string>{"a", "b"});
  CHECK(m.metadata.source == "unit test");
  CHECK(m.metadata.channel_means == std::vector<float>{100.0f, 110.0f});
  REQUIRE(m.model.source_layers.size() == 2);
  CHECK(m.model.source_layers[1].class_name == "Dense");
  CHECK(m.model.source_layers[0].params == 57);
  Model expected = tiny_model();
  if (int8) REQUIRE(quantize_model(expected, tiny_scales()));
  REQUIRE(m.model.layers.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    const Layer &a = m.model.layers[i], &b = expected.layers[i];
    CHECK(a.name == b.name);
    CHECK(a.kind == b.kind);
    CHECK(a.activation == b.activation);
    CHECK(a.pad.top == b.pad.top);
    CHECK(a.pad.right == b.pad.right);
    CHECK(a.stride_h == b.stride_h);
    CHECK(a.in == b.in);
    CHECK(a.out == b.out);
    CHECK(a.weights == b.weights);
    CHECK(a.bias == b.bias);
    CHECK(a.int8.has_value() == int8);
    if (int8) {
      CHECK(a.int8->weights == b.int8->weights);
      CHECK(a.int8->weight_scales == b.int8->weight_scales);
      CHECK(a.int8->input_scale == b.int8->input_scale);
      CHECK(a.int8->unsigned_input == b.int8->unsigned_input);
    }
  }
  CHECK(m.test_outputs.size() == 2);
  // The loaded model computes what the converter computed.
  const Tensor input = test_vector_input(m.model.input, m.metadata.channel_means, m.test_vector.seed);
  CHECK(forward_with_precision(m.model, input, m.precision).value().outputs == m.test_outputs);
}

TEST_CASE("the crc32 is the standard one (zlib/zip/PNG)", "[model_file]") {
  const std::string text = "123456789";
  CHECK(crc32_ieee(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()) == 0xCBF43926u);
  CHECK(crc32_ieee(nullptr, 0) == 0u);
}

TEST_CASE("the test vector input follows the formula in FORMAT.md", "[model_file]") {
  const Tensor t = test_vector_input({2, 2, 3}, {116.222f, 109.270f, 100.381f}, 1);
  // xorshift32 from 1: 270369, 67634689, 2647435461, ...; the pixel is the top byte.
  CHECK(t.data[0] == 0.0f - 116.222f);    // 270369 >> 24 = 0
  CHECK(t.data[1] == 4.0f - 109.270f);    // 67634689 >> 24 = 4
  CHECK(t.data[2] == 157.0f - 100.381f);  // 2647435461 >> 24 = 157
}

TEST_CASE("an int8 test vector tolerates the output's quantization error over several inputs", "[model_file][int8]") {
  const Model model = tiny_model();
  Model file_model = model;
  REQUIRE(quantize_model(file_model, tiny_scales()));
  const std::vector<float> means = tiny_metadata().channel_means;
  const std::uint32_t seed = 7;
  auto vector = make_test_vector(model, file_model, means, seed);
  REQUIRE(vector);
  // Per output: at least 4x the int8 error on the test input and on each extra input, and exactly 4x the largest
  // of them (or the 1e-4 floor).
  std::vector<float> largest(model.output_names.size(), 0.0f);
  for (std::uint32_t k = 0; k <= kInt8ToleranceExtraInputs; ++k) {
    const Tensor x = test_vector_input(model.input, means, seed + k);
    auto f = forward(model, x);
    auto q = forward_with_precision(file_model, x, Precision::int8);
    REQUIRE(f);
    REQUIRE(q);
    for (std::size_t i = 0; i < largest.size(); ++i)
      largest[i] = std::max(largest[i], std::fabs(q.value().outputs[i] - f.value().outputs[i]));
  }
  for (std::size_t i = 0; i < largest.size(); ++i) {
    INFO("output " << i);
    CHECK(largest[i] > 0.0f);
    CHECK(vector.value().tolerance[i] ==
          std::max(4.0f * largest[i], 1e-4f * std::max(1.0f, std::fabs(vector.value().expected[i]))));
  }
  // A float file is held to its own rounding on the test input alone.
  auto float_vector = make_test_vector(model, model, means, seed);
  REQUIRE(float_vector);
  for (std::size_t i = 0; i < largest.size(); ++i)
    CHECK(float_vector.value().tolerance[i] == 1e-4f * std::max(1.0f, std::fabs(float_vector.value().expected[i])));
}

TEST_CASE("corrupt model files: every header byte and every truncation is refused", "[model_file]") {
  const std::vector<std::uint8_t> good = tiny_file(true);
  for (std::size_t size = 0; size < good.size(); ++size) {
    auto loaded = read_model_file(good.data(), size);
    INFO("truncated to " << size << " bytes");
    CHECK_FALSE(loaded);
  }
  CHECK(load_error({}) ==
        "header, offset 0: magic is '' (the file has only 0 bytes), expected 'CLENSMDL' (not a "
        "Cortex Lens model file)");
  CHECK_THAT(load_error(std::vector<std::uint8_t>(good.begin(), good.begin() + 10)),
             Catch::Contains("version needs 4 bytes but only 2 remain"));
  // Cut at a section boundary, the last 4 bytes are taken for the checksum, so the section before the cut is the
  // one found short; the message names it and suggests truncation.
  const FieldMap map(good);
  for (std::size_t k = 0; k < map.section_starts.size(); ++k) {
    const std::size_t at = map.section_starts[k];
    const std::string error =
        load_error(std::vector<std::uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(at)));
    INFO("cut at section " << k << " (offset " << at << ")");
    CHECK_THAT(error, Catch::Contains("truncated?"));
    if (k > 0) CHECK_THAT(error, Catch::Contains("section " + std::to_string(k - 1) + " of "));
  }
  // Every single-byte change anywhere is caught (most by the checksum).
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::vector<std::uint8_t> bad = good;
    bad[i] ^= 0x20;
    INFO("byte " << i << " changed");
    CHECK_FALSE(read_model_file(bad.data(), bad.size()));
  }
}

TEST_CASE("names are UTF-8: any language round-trips, damaged text is refused by the writer", "[model_file]") {
  Model model = tiny_model();
  model.name = "Zürich \u2603 \U0001D11E V4";  // 2-, 3- and 4-byte sequences
  auto vector = make_test_vector(model, model, tiny_metadata().channel_means, 7);
  REQUIRE(vector);
  auto bytes = write_model_file(model, tiny_metadata(), vector.value());
  REQUIRE(bytes);
  auto loaded = read_model_file(bytes.value().data(), bytes.value().size());
  REQUIRE(loaded);
  CHECK(loaded.value().model.name == model.name);

  model.name = std::string("caf\xC3", 4);  // a lead byte without its continuation
  auto refused = write_model_file(model, tiny_metadata(), vector.value());
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.message(), Catch::Contains("is not UTF-8 text (byte 3)"));
}

TEST_CASE("corrupt model files: each field's error names what was found and what was expected", "[model_file]") {
  const bool int8 = GENERATE(false, true);
  const std::vector<std::uint8_t> good = tiny_file(int8);
  REQUIRE(load_error(good) == "(loaded without error)");
  struct Case {
    const char* field;
    std::vector<std::uint8_t> bytes;
    const char* message;
  };
  const std::uint32_t huge = 0xFFFFFFFFu;
  std::vector<Case> cases = {
      {"magic", {'C', 'L', 'E', 'N', 'S', 'M', 'D', 'X'}, "magic is 'CLENSMDX', expected 'CLENSMDL'"},
      {"version", le32(2), "header, offset 8: version is 2, expected 1"},
      {"flags", le32(6), "flags are 0x00000006, expected only bit 0"},
      {"section_count", le32(2), "section count is 2, expected 3..258"},
      {"section_count", le32(huge), "section count is 4294967295, expected 3..258"},
      {"section_count", le32(9), "tag is 'TEST', expected 'LAYR'"},
      {"section0.tag", {'M', 'E', 'T', 'X'}, "section 0 of 5, offset 20: tag is 'METX', expected 'META'"},
      {"section1.length", le32(huge), "length is 4294967295 bytes but only"},
      {"META.name.length", varint(huge), "model name declares 4294967295 bytes, more than the limit of 4096"},
      {"META.name.length", {0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, "model name is a varint longer than 5 bytes"},
      {"META.name.length", {0x84, 0x00}, "model name is an overlong varint"},
      {"META.name", {'t', 'i', 'n', 0}, "model name contains a NUL byte"},
      {"META.name", {'t', 0xC3, 'n', 'y'}, "model name is not UTF-8 text (byte 1 of 4), expected UTF-8"},
      {"META.name", {'t', 0xED, 0xA0, 0x80}, "model name is not UTF-8 text (byte 1 of 4)"},  // a surrogate
      {"META.name", {0xC0, 0xAF, 'n', 'y'}, "model name is not UTF-8 text (byte 0 of 4)"},   // overlong '/'
      {"META.name", {'t', 0xF4, 0x90, 0x80}, "model name is not UTF-8 text (byte 1 of 4)"},  // above U+10FFFF
      {"META.input_c", varint(0), "input shape is 0, expected 1..4096"},
      {"META.input_h", varint(5000), "input shape is 5000, expected 1..4096"},
      {"META.input_c", varint(4096), "channel means needs 16384 bytes"},
      {"META.means[1]", f32(std::numeric_limits<float>::quiet_NaN()),
       "channel means [1] is nan, expected a finite number"},
      {"META.output_count", varint(huge), "output count is 4294967295, expected 1..65536"},
      {"META.output_count", varint(60000), "output count 60000 needs at least 60000 bytes of names"},
      {"META.output_count", varint(0), "output count is 0, expected 1..65536"},
      {"META.source_count", varint(1000), "source layer count 1000 needs at least 6000 bytes"},
      {"META.row0.params", varint(std::uint64_t{1} << 56), "source layer params is a varint longer than 8 bytes"},
      {"META.row0.params", varint((std::uint64_t{1} << 53) + 1),
       "source layer params is 9007199254740993, expected 0..2^53"},
      {"LAYR0.kind", {3}, "layer 0 'conv'), offset"},
      {"LAYR0.kind", {3}, "kind is 3, expected 0 (conv2d), 1 (depthwise_conv2d) or 2 (dense)"},
      {"LAYR0.activation", {2}, "activation is 2, expected 0 (linear) or 1 (relu)"},
      {"LAYR0.precision", {static_cast<std::uint8_t>(int8 ? 0 : 1)}, "as the header flags say"},
      {"LAYR0.flags", {7}, "layer flags are 7, expected only bit 0 (bias) and bit 1 (unsigned int8 input)"},
      {"LAYR0.kernel_h", varint(0), "kernel height is 0, expected 1..256"},
      {"LAYR0.stride_w", varint(300), "stride width is 300, expected 1..256"},
      {"LAYR0.pad_top", varint(3),
       "padding (top 3, bottom 1, left 1, right 1) must be non-negative and smaller than the kernel"},
      {"LAYR1.in_c", varint(4), "input shape (6,6,4) does not connect to the previous output (6,6,3)"},
      {"LAYR1.out_h", varint(4), "input shape (3,3,3) does not connect to the previous output (4,3,3)"},
      {"LAYR2.in_h", varint(4000), "does not connect to the previous output"},
      {"LAYR0.out_c", varint(4096), " bytes but only "},
      {"TEST.kind", varint(2), "test input kind is 2, expected 1"},
      {"TEST.seed", le32(0), "seed is 0, expected nonzero"},
      {"TEST.count", varint(1), "output count is 1, expected 2 (the outputs named in META)"},
      {"TEST.tolerance[1]", f32(0.0f), "tolerance 1 is 0.000000, expected > 0"},
      {"TEST.tolerance[0]", f32(-std::numeric_limits<float>::infinity()),
       "tolerances [0] is -inf, expected a finite number"},
      {"TEST.expected[0]", f32(1000.0f), "test vector: output 0 ('a') is"},
      {"TEST.expected[1]", f32(1000.0f), "output 1 ('b')"},
      {"TEST.expected[0]", f32(1000.0f), "file expects 1000 (tolerance"},
  };
  if (!int8) cases.push_back({"LAYR1.flags", {2}, "set bit 1 (unsigned int8 input) in a float32 file"});
  if (int8) {
    // Unsigned codes clamp negatives to zero: only right after a ReLU (the depthwise layer 1 follows the ReLU conv).
    cases.push_back({"LAYR0.flags", {3}, "the layer's input is the model input, which can be negative"});
    cases.push_back({"LAYR2.flags", {3}, "the layer's input is a linear layer's output"});
    cases.push_back({"LAYR0.input_scale", f32(0.0f), "input scale is 0.000000, expected a positive finite number"});
    cases.push_back({"LAYR0.input_scale", f32(std::numeric_limits<float>::infinity()), "input scale is inf"});
    cases.push_back({"LAYR0.weight_scales[1]",
                     {0x00, 0xbc},
                     "weight scale 1 is -1.000000 (float16 0x0000bc00), expected a positive finite number"});
    cases.push_back({"LAYR0.weight_scales[0]", {0x00, 0x7e}, "weight scale 0 is nan (float16 0x00007e00)"});
    cases.push_back({"LAYR0.weight_scales[0]", {0x00, 0x00}, "weight scale 0 is 0.000000"});
    cases.push_back({"LAYR2.weights[1]", {0x80}, "int8 weight 1 is -128, expected -127..127"});
    cases.push_back({"LAYR2.weights[0]", {0x7f}, "test vector: output"});  // a plausible weight, wrong result
  } else {
    cases.push_back({"LAYR0.weights[1]", f32(std::numeric_limits<float>::infinity()),
                     "weights [1] is inf, expected a finite number"});
    cases.push_back({"LAYR0.bias[0]", f32(std::numeric_limits<float>::quiet_NaN()), "bias [0] is nan"});
    cases.push_back({"LAYR0.weights[0]", f32(5.0f), "test vector: output"});
  }
  for (const auto& c : cases) {
    const std::string error = load_error(with_field(good, c.field, c.bytes));
    INFO(c.field << " -> " << error);
    CHECK_THAT(error, Catch::Contains(c.message));
  }
  // Changes that need several fields to stay self-consistent up to the check under test.
  CHECK_THAT(load_error(with_fields(good, {{"LAYR0.out_h", varint(5)}, {"LAYR1.in_h", varint(5)}})),
             Catch::Contains("layer 'conv' (conv2d): output 5x6 does not follow from input 6x6, kernel, stride and "
                             "padding (expected 6x6)"));
  CHECK_THAT(load_error(with_fields(good, {{"META.output_count", varint(1)},
                                           {"META.output1.length", {}},
                                           {"META.output1", {}},
                                           {"TEST.count", varint(1)},
                                           {"TEST.expected[1]", {}},
                                           {"TEST.tolerance[1]", {}}})),
             Catch::Contains("has 1 output names, expected 2 (one per value of the last layer's (1,1,2) output)"));
  // Bytes added inside a section or after the last one, and a wrong checksum.
  CHECK_THAT(load_error(with_field(good, "META.row1.params", {56, 0})),
             Catch::Contains("1 unused bytes at the end of the section, expected none"));
  std::vector<std::uint8_t> longer = good;
  longer.insert(longer.end() - 4, 0);
  store_le32(longer, longer.size() - 4, crc32_ieee(longer.data(), longer.size() - 4));
  CHECK_THAT(load_error(longer), Catch::Contains("1 bytes after the last section, expected only the 4-byte checksum"));
  CHECK_THAT(load_error(with_field(good, "TEST.seed", le32(12345), /*resign=*/false)),
             Catch::Contains("the file stores CRC-32") && Catch::Contains("(the file is corrupt)"));
}

TEST_CASE("write_model_file refuses what it cannot write faithfully", "[model_file]") {
  Model model = tiny_model();
  TestVector vector{7, {0.0f, 0.0f}, {1.0f, 1.0f}};
  CHECK_THAT(write_model_file(model, {"s", "c", {1.0f}}, vector).message(),
             Catch::Contains("1 channel means, expected 2"));
  CHECK_THAT(write_model_file(model, tiny_metadata(), {7, {0.0f}, {1.0f}}).message(),
             Catch::Contains("test vector has 1 expected values and 1 tolerances, expected 2"));
  CHECK_THAT(write_model_file(model, tiny_metadata(), {7, {0.0f, 0.0f}, {1.0f, 0.0f}}).message(),
             Catch::Contains("tolerance 0.000000; expected finite values and tolerance > 0"));
  CHECK_THAT(write_model_file(model, tiny_metadata(), {0, {0.0f, 0.0f}, {1.0f, 1.0f}}).message(),
             Catch::Contains("seed is 0"));
  Model mixed = model;
  REQUIRE(quantize_model(mixed, {1.0f, 1.0f, 1.0f}));
  mixed.layers[1].int8.reset();
  CHECK_THAT(write_model_file(mixed, tiny_metadata(), vector).message(),
             Catch::Contains("2 of 3 layers have int8 weights, expected all or none"));
  model.layers[1].in.c = 4;
  CHECK_THAT(write_model_file(model, tiny_metadata(), vector).message(),
             Catch::Contains("does not match the previous output"));
}

// --- the committed demo model ---

namespace {
std::vector<std::uint8_t> read_committed(const std::string& name) {
  std::vector<std::uint8_t> bytes;
  REQUIRE(fixtures::read_file(std::string(CORTEXLENS_MODELS_DIR) + "/demo/" + name, bytes));
  return bytes;
}
}  // namespace

TEST_CASE("the committed demo model loads, passes its test vector and prefers a centred dot", "[model_file][demo]") {
  const std::vector<std::uint8_t> bytes = read_committed("demo_dot_detector.clm");
  auto loaded = read_model_file(bytes.data(), bytes.size());
  REQUIRE(loaded);
  const Model& m = loaded.value().model;
  CHECK(m.name == "demo_dot_detector");
  CHECK(loaded.value().precision == Precision::int8);
  CHECK(m.layers.size() == 10);
  auto respond = [&](const Tensor& image) { return forward_int8(m, image).value().outputs[0]; };
  const float dot = respond(demo::dot_image(55.5f, 55.5f, 2.0f, 120.0f));
  const float blank = respond(demo::grey_image());
  const float ring = respond(demo::ring_image(55.5f, 55.5f, 12.0f, 2.0f, 120.0f));
  const float off_centre = respond(demo::dot_image(15.0f, 15.0f, 2.0f, 120.0f));
  const float dark_dot = respond(demo::dot_image(55.5f, 55.5f, 2.0f, -120.0f));
  INFO("dot " << dot << ", blank " << blank << ", ring " << ring << ", off-centre " << off_centre << ", dark dot "
              << dark_dot);
  CHECK(dot > 2.0f * std::max({blank, ring, off_centre, dark_dot, 0.1f}));
  // The float path of the same file agrees.
  CHECK(forward(m, demo::dot_image(55.5f, 55.5f, 2.0f, 120.0f)).value().outputs[0] == Approx(dot).epsilon(0.05));
}

// The accepted error of the demo's int8 file against its float model (issue 20), on images its calibration never
// saw: r >= 0.999 and every response within 2% of the float responses' range. Printed on both targets.
TEST_CASE("the committed demo int8 file is faithful to the float model on held-out images", "[model_file][demo]") {
  const std::vector<std::uint8_t> bytes = read_committed("demo_dot_detector.clm");
  auto loaded = read_model_file(bytes.data(), bytes.size());
  REQUIRE(loaded);
  auto float_model = demo::build_demo_float_model();
  REQUIRE(float_model);
  auto fidelity = demo::measure_demo_fidelity(float_model.value(), loaded.value().model);
  REQUIRE(fidelity);
  const demo::DemoFidelity& f = fidelity.value();
#ifdef __EMSCRIPTEN__
  const char* target = "wasm";
#else
  const char* target = "native";
#endif
  std::printf(
      "demo model (%s): r(int8, float) %.6f, largest |int8 - float| %.4f = %.2f%% of the float spread %.3f, "
      "on %zu held-out images\n",
      target, f.int8_vs_float_r, f.max_abs_difference, 100 * f.max_difference_of_spread(), f.float_spread,
      f.image_count);
  CHECK(f.image_count == 208);
  CHECK(f.int8_vs_float_r >= 0.999);
  CHECK(f.max_difference_of_spread() <= 0.02);
}

#ifndef __EMSCRIPTEN__
// Float rounding may differ between compilers (wasm vs native); natively the generator and this test share one, and
// both run the sse path (make_demo_model forces it), whose float arithmetic does not depend on the CPU.
TEST_CASE("the committed demo model is exactly what models/demo_model.cpp builds now", "[model_file][demo]") {
  const Isa saved = active_isa();
  REQUIRE(set_isa(Isa::sse));
  auto rebuilt = demo::build_demo_model_file();
  REQUIRE(set_isa(saved));
  REQUIRE(rebuilt);
  CHECK(rebuilt.value() == read_committed("demo_dot_detector.clm"));
}
#endif
