// Reader and writer of the Cortex Lens model file; models/FORMAT.md is the specification this code follows.
#include "cortexlens/model_file.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "cortexlens/forward.hpp"
#include "kernels/int8_arithmetic.hpp"
#include "model/quantize_internals.hpp"

namespace cortexlens {

namespace {

constexpr std::size_t kHeaderBytes = 20;        // magic 8, version 4, flags 4, section count 4
constexpr std::size_t kSectionHeaderBytes = 8;  // tag 4, payload length 4
constexpr std::size_t kChecksumBytes = 4;
constexpr char kTagMeta[4] = {'M', 'E', 'T', 'A'};
constexpr char kTagLayer[4] = {'L', 'A', 'Y', 'R'};
constexpr char kTagTest[4] = {'T', 'E', 'S', 'T'};
constexpr std::uint32_t kTestInputUniformPixels = 1;
constexpr std::uint8_t kLayerFlagBias = 1;
// int8 only: the layer's input is quantized to 0..255 (it is the previous layer's ReLU output).
constexpr std::uint8_t kLayerFlagUnsignedInput = 2;
// Up to 2^53 every integer is exact in a double, which is how JS (the page) will see parameter counts.
constexpr std::uint64_t kMaxParams = std::uint64_t{1} << 53;

// ---------------------------------------------------------------------------------------------------------------
// Writing

class ByteWriter {
 public:
  void bytes(const void* data, std::size_t size) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    out_.insert(out_.end(), p, p + size);
  }
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) {
    out_.push_back(static_cast<std::uint8_t>(v));
    out_.push_back(static_cast<std::uint8_t>(v >> 8));
  }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  // Unsigned LEB128: 7 bits per byte, low first, high bit set on every byte but the last.
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<std::uint8_t>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<std::uint8_t>(v));
  }
  void f32(float v) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    u32(bits);
  }
  void f32s(const std::vector<float>& values) {
    for (float v : values) f32(v);
  }
  void string(const std::string& text) {
    varint(text.size());
    bytes(text.data(), text.size());
  }
  void shape(const Shape3& s) {
    varint(static_cast<std::uint32_t>(s.h));
    varint(static_cast<std::uint32_t>(s.w));
    varint(static_cast<std::uint32_t>(s.c));
  }
  std::vector<std::uint8_t>& data() { return out_; }

 private:
  std::vector<std::uint8_t> out_;
};

void write_section(ByteWriter& file, const char tag[4], ByteWriter& payload) {
  file.bytes(tag, 4);
  file.u32(static_cast<std::uint32_t>(payload.data().size()));
  file.bytes(payload.data().data(), payload.data().size());
}

// The offset of the first byte of `text` that is not part of well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or npos. Names in a file reach the page as JavaScript strings and the
// terminal as text; a damaged byte would otherwise pass as replacement characters.
std::size_t first_invalid_utf8(const std::string& text) {
  const auto* b = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned c = b[i];
    std::size_t length = 0;
    unsigned low = 0x80, high = 0xBF;  // the allowed range of the second byte
    if (c < 0x80)
      length = 1;
    else if (c >= 0xC2 && c <= 0xDF)
      length = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) low = 0xA0;   // overlong
      if (c == 0xED) high = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) low = 0x90;   // overlong
      if (c == 0xF4) high = 0x8F;  // above U+10FFFF
    } else
      return i;
    if (i + length > n) return i;
    for (std::size_t k = 1; k < length; ++k) {
      const unsigned next = b[i + k];
      if (next < (k == 1 ? low : 0x80u) || next > (k == 1 ? high : 0xBFu)) return i;
    }
    i += length;
  }
  return std::string::npos;
}

Status check_string(const std::string& text, const char* what) {
  if (text.size() > ModelFileLimits::max_string_bytes)
    return Status::error(std::string(what) + " has " + std::to_string(text.size()) + " bytes, more than the limit of " +
                         std::to_string(ModelFileLimits::max_string_bytes));
  if (text.find('\0') != std::string::npos) return Status::error(std::string(what) + " contains a NUL byte");
  if (const std::size_t bad = first_invalid_utf8(text); bad != std::string::npos)
    return Status::error(std::string(what) + " is not UTF-8 text (byte " + std::to_string(bad) + ")");
  return Status::ok();
}

// ---------------------------------------------------------------------------------------------------------------
// Reading: a bounded cursor over one part of the file with a sticky first error. Values read after an error are
// zero, and every count is checked (and the error state tested) before it sizes an allocation.

class ByteReader {
 public:
  ByteReader(const std::uint8_t* file, std::size_t begin, std::size_t end, std::string where)
      : file_(file), pos_(begin), end_(end), where_(std::move(where)) {}

  bool ok() const { return status_.is_ok(); }
  const Status& status() const { return status_; }
  std::size_t offset() const { return pos_; }
  std::size_t remaining() const { return end_ - pos_; }
  void set_where(std::string where) { where_ = std::move(where); }

  // Records the first error, naming the place and the byte offset of the field.
  void fail(std::size_t at, const std::string& message) {
    if (ok()) status_ = Status::error(where_ + ", offset " + std::to_string(at) + ": " + message);
  }
  bool need(std::size_t size, const char* field) {
    if (!ok()) return false;
    if (size > remaining()) {
      fail(pos_, std::string(field) + " needs " + std::to_string(size) + " bytes but only " +
                     std::to_string(remaining()) + " remain before offset " + std::to_string(end_) +
                     " (the end of this part of the file)");
      return false;
    }
    return true;
  }
  std::uint8_t u8(const char* field) {
    if (!need(1, field)) return 0;
    return file_[pos_++];
  }
  std::uint16_t u16(const char* field) {
    if (!need(2, field)) return 0;
    const std::uint16_t v = static_cast<std::uint16_t>(file_[pos_] | (file_[pos_ + 1] << 8));
    pos_ += 2;
    return v;
  }
  std::uint32_t u32(const char* field) {
    if (!need(4, field)) return 0;
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= std::uint32_t{file_[pos_ + i]} << (8 * i);
    pos_ += 4;
    return v;
  }
  // Unsigned LEB128 of at most max_bytes bytes; overlong forms (a last byte of 0 after the first) are refused so
  // every value has exactly one encoding and the checksum covers one meaning.
  std::uint64_t varint(const char* field, int max_bytes) {
    const std::size_t at = pos_;
    std::uint64_t v = 0;
    for (int i = 0; i < max_bytes; ++i) {
      if (!need(1, field)) return 0;
      const std::uint8_t b = file_[pos_++];
      v |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
      if (!(b & 0x80)) {
        if (i > 0 && b == 0) {
          fail(at, std::string(field) + " is an overlong varint, expected the shortest encoding");
          return 0;
        }
        return v;
      }
    }
    fail(at, std::string(field) + " is a varint longer than " + std::to_string(max_bytes) + " bytes");
    return 0;
  }
  float f32(const char* field) {
    const std::uint32_t bits = u32(field);
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
  // A varint that must lie in [low, high].
  std::uint32_t bounded(const char* field, std::uint32_t low, std::uint32_t high) {
    const std::size_t at = pos_;
    const std::uint64_t v = varint(field, 5);
    if (ok() && (v < low || v > high))
      fail(at, std::string(field) + " is " + std::to_string(v) + ", expected " + std::to_string(low) + ".." +
                   std::to_string(high));
    return ok() ? static_cast<std::uint32_t>(v) : 0;
  }
  std::string string(const char* field) {
    const std::size_t at = pos_;
    const std::uint64_t size = varint(field, 5);
    if (!ok()) return {};
    if (size > ModelFileLimits::max_string_bytes) {
      fail(at, std::string(field) + " declares " + std::to_string(size) + " bytes, more than the limit of " +
                   std::to_string(ModelFileLimits::max_string_bytes));
      return {};
    }
    if (!need(size, field)) return {};
    std::string text(reinterpret_cast<const char*>(file_ + pos_), size);
    if (text.find('\0') != std::string::npos) {
      fail(pos_, std::string(field) + " contains a NUL byte, expected text");
      return {};
    }
    if (const std::size_t bad = first_invalid_utf8(text); bad != std::string::npos) {
      fail(pos_ + bad, std::string(field) + " is not UTF-8 text (byte " + std::to_string(bad) + " of " +
                           std::to_string(size) + "), expected UTF-8");
      return {};
    }
    pos_ += size;
    return text;
  }
  // `count` finite float32 values; the caller has bounded count, this checks it against the bytes left.
  std::vector<float> finite_f32s(std::size_t count, const char* field) {
    std::vector<float> values;
    if (!need(count * 4, field)) return values;
    values.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t at = pos_;
      values[i] = f32(field);
      if (!std::isfinite(values[i])) {
        fail(at, std::string(field) + " [" + std::to_string(i) + "] is " + std::to_string(values[i]) +
                     ", expected a finite number");
        return {};
      }
    }
    return values;
  }
  std::vector<std::int8_t> i8s(std::size_t count, const char* field) {
    std::vector<std::int8_t> values;
    if (!need(count, field)) return values;
    values.resize(count);
    std::memcpy(values.data(), file_ + pos_, count);
    pos_ += count;
    return values;
  }
  Shape3 shape(const char* field) {
    Shape3 s;
    const std::size_t at = pos_;
    s.h = static_cast<int>(bounded(field, 1, ModelLimits::max_dim));
    s.w = static_cast<int>(bounded(field, 1, ModelLimits::max_dim));
    s.c = static_cast<int>(bounded(field, 1, ModelLimits::max_dim));
    if (ok() && static_cast<std::int64_t>(s.size()) > ModelLimits::max_tensor_elements)
      fail(at, std::string(field) + " (" + std::to_string(s.h) + "," + std::to_string(s.w) + "," + std::to_string(s.c) +
                   ") has more than " + std::to_string(ModelLimits::max_tensor_elements) + " elements");
    return s;
  }
  // Every byte of a section must be used: trailing bytes mean the writer and reader disagree on the layout.
  void expect_end() {
    if (ok() && pos_ != end_)
      fail(pos_, std::to_string(end_ - pos_) + " unused bytes at the end of the section, expected none");
  }

 private:
  const std::uint8_t* file_;
  std::size_t pos_, end_;
  std::string where_;
  Status status_ = Status::ok();
};

std::string hex32(std::uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", v);
  return text;
}

std::string printable(const std::uint8_t* bytes, std::size_t size) {
  std::string text = "'";
  for (std::size_t i = 0; i < size; ++i) {
    if (bytes[i] >= 0x20 && bytes[i] < 0x7f && bytes[i] != '\'') {
      text += static_cast<char>(bytes[i]);
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", bytes[i]);
      text += escaped;
    }
  }
  return text + "'";
}

std::string tag_text(const char tag[4]) { return std::string(tag, 4); }

struct SectionSpan {
  std::size_t header = 0;          // offset of the tag
  std::size_t begin = 0, end = 0;  // payload
};

// Expected tag of section k of n: META, then LAYR for each layer, then TEST.
const char* expected_tag(std::uint32_t k, std::uint32_t n) {
  return k == 0 ? kTagMeta : (k + 1 == n ? kTagTest : kTagLayer);
}

std::int64_t weight_count(LayerKind kind, const Shape3& in, const Shape3& out, int kh, int kw) {
  const std::int64_t taps = static_cast<std::int64_t>(kh) * kw;
  switch (kind) {
    case LayerKind::conv2d:
      return taps * in.c * out.c;
    case LayerKind::depthwise_conv2d:
      return taps * in.c;
    case LayerKind::dense:
      return static_cast<std::int64_t>(in.size()) * out.c;
  }
  return 0;
}

}  // namespace

std::uint32_t crc32_ieee(const std::uint8_t* bytes, std::size_t size) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t crc = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < size; ++i) crc = table[(crc ^ bytes[i]) & 0xFFu] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

bool is_model_file(const std::uint8_t* bytes, std::size_t size) {
  return size >= sizeof kModelFileMagic && std::memcmp(bytes, kModelFileMagic, sizeof kModelFileMagic) == 0;
}

Tensor test_vector_input(const Shape3& input, const std::vector<float>& channel_means, std::uint32_t seed) {
  Tensor tensor(input);
  std::uint32_t state = seed;
  for (std::size_t i = 0; i < tensor.data.size(); ++i) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    const float pixel = static_cast<float>(state >> 24);  // 0..255
    tensor.data[i] = pixel - channel_means[i % static_cast<std::size_t>(input.c)];
  }
  return tensor;
}

Result<TestVector> make_test_vector(const Model& source_model, const Model& file_model,
                                    const std::vector<float>& channel_means, std::uint32_t seed) {
  if (seed == 0) return Status::error("test vector seed must be nonzero (xorshift32 stays at 0)");
  if (channel_means.size() != static_cast<std::size_t>(source_model.input.c))
    return Status::error("test vector: " + std::to_string(channel_means.size()) + " channel means, expected " +
                         std::to_string(source_model.input.c));
  const Tensor input = test_vector_input(source_model.input, channel_means, seed);
  auto expected = forward(source_model, input);
  if (!expected) return expected.status();
  const Precision precision = is_int8_model(file_model) ? Precision::int8 : Precision::float32;
  auto got = forward_with_precision(file_model, input, precision);
  if (!got) return got.status();
  if (got.value().outputs.size() != expected.value().outputs.size())
    return Status::error("test vector: the file model has " + std::to_string(got.value().outputs.size()) +
                         " outputs, the source model " + std::to_string(expected.value().outputs.size()));
  TestVector vector;
  vector.seed = seed;
  vector.expected = expected.value().outputs;
  std::vector<float> measured(vector.expected.size());
  for (std::size_t i = 0; i < vector.expected.size(); ++i)
    measured[i] = std::fabs(got.value().outputs[i] - vector.expected[i]);
  // An int8 output's error on one input may be near zero by luck, and a tolerance of four times that would refuse
  // an engine that rounds one activation differently; its largest error over a few more inputs is the
  // quantization noise the output really has.
  if (precision == Precision::int8) {
    for (std::uint32_t k = 1; k <= kInt8ToleranceExtraInputs; ++k) {
      if (seed + k == 0) continue;
      const Tensor extra = test_vector_input(source_model.input, channel_means, seed + k);
      auto reference = forward(source_model, extra);
      if (!reference) return reference.status();
      auto quantized = forward_with_precision(file_model, extra, precision);
      if (!quantized) return quantized.status();
      for (std::size_t i = 0; i < measured.size(); ++i)
        measured[i] = std::max(measured[i], std::fabs(quantized.value().outputs[i] - reference.value().outputs[i]));
    }
  }
  for (std::size_t i = 0; i < vector.expected.size(); ++i)
    vector.tolerance.push_back(std::max(4.0f * measured[i], 1e-4f * std::max(1.0f, std::fabs(vector.expected[i]))));
  return vector;
}

// Long by design: the mirror of read_model_file, refusing first what the reader would refuse, then writing the
// parts in the order models/FORMAT.md gives them.
Result<std::vector<std::uint8_t>> write_model_file(const Model& model, const ModelFileMetadata& metadata,
                                                   const TestVector& test_vector) {
  const std::string where = "writing model '" + model.name + "': ";
  CL_RETURN_IF_ERROR(validate_model(model).with_context(where));
  CL_RETURN_IF_ERROR(check_int8_layers(model).with_context(where));
  std::size_t int8_layers = 0;
  for (const auto& layer : model.layers) int8_layers += layer.int8 ? 1 : 0;
  if (int8_layers != 0 && int8_layers != model.layers.size())
    return Status::error(where + std::to_string(int8_layers) + " of " + std::to_string(model.layers.size()) +
                         " layers have int8 weights, expected all or none");
  const bool int8 = int8_layers != 0;
  CL_RETURN_IF_ERROR(check_string(model.name, "model name").with_context(where));
  CL_RETURN_IF_ERROR(check_string(metadata.source, "source").with_context(where));
  CL_RETURN_IF_ERROR(check_string(metadata.citation, "citation").with_context(where));
  if (metadata.channel_means.size() != static_cast<std::size_t>(model.input.c))
    return Status::error(where + std::to_string(metadata.channel_means.size()) + " channel means, expected " +
                         std::to_string(model.input.c) + " (one per input channel)");
  for (float m : metadata.channel_means)
    if (!std::isfinite(m)) return Status::error(where + "a channel mean is not finite");
  if (model.output_names.size() > ModelFileLimits::max_outputs)
    return Status::error(where + std::to_string(model.output_names.size()) + " outputs, more than the limit of " +
                         std::to_string(ModelFileLimits::max_outputs));
  for (const auto& name : model.output_names) CL_RETURN_IF_ERROR(check_string(name, "output name").with_context(where));
  if (model.source_layers.size() > ModelFileLimits::max_source_layers)
    return Status::error(where + std::to_string(model.source_layers.size()) +
                         " source layers, more than the limit of " +
                         std::to_string(ModelFileLimits::max_source_layers));
  for (const auto& row : model.source_layers) {
    CL_RETURN_IF_ERROR(check_string(row.name, "source layer name").with_context(where));
    CL_RETURN_IF_ERROR(check_string(row.class_name, "source layer class").with_context(where));
    if (row.params < 0 || static_cast<std::uint64_t>(row.params) > kMaxParams)
      return Status::error(where + "source layer '" + row.name + "' has " + std::to_string(row.params) +
                           " parameters, expected 0..2^53");
  }
  for (const auto& layer : model.layers) CL_RETURN_IF_ERROR(check_string(layer.name, "layer name").with_context(where));
  const std::size_t outputs = model.output_count();
  if (test_vector.seed == 0) return Status::error(where + "test vector seed is 0, expected nonzero");
  if (test_vector.expected.size() != outputs || test_vector.tolerance.size() != outputs)
    return Status::error(where + "test vector has " + std::to_string(test_vector.expected.size()) +
                         " expected values and " + std::to_string(test_vector.tolerance.size()) +
                         " tolerances, expected " + std::to_string(outputs) + " of each");
  for (std::size_t i = 0; i < outputs; ++i)
    if (!std::isfinite(test_vector.expected[i]) || !std::isfinite(test_vector.tolerance[i]) ||
        !(test_vector.tolerance[i] > 0.0f))
      return Status::error(where + "test vector output " + std::to_string(i) + ": expected " +
                           std::to_string(test_vector.expected[i]) + ", tolerance " +
                           std::to_string(test_vector.tolerance[i]) + "; expected finite values and tolerance > 0");

  ByteWriter file;
  file.bytes(kModelFileMagic, sizeof kModelFileMagic);
  file.u32(kModelFileVersion);
  file.u32(int8 ? kModelFileFlagInt8 : 0u);
  file.u32(static_cast<std::uint32_t>(model.layers.size() + 2));

  ByteWriter meta;
  meta.string(model.name);
  meta.string(metadata.source);
  meta.string(metadata.citation);
  meta.shape(model.input);
  meta.f32s(metadata.channel_means);
  meta.varint(outputs);
  for (const auto& name : model.output_names) meta.string(name);
  meta.varint(model.source_layers.size());
  for (const auto& row : model.source_layers) {
    meta.string(row.name);
    meta.string(row.class_name);
    meta.shape(row.output);
    meta.varint(static_cast<std::uint64_t>(row.params));
  }
  write_section(file, kTagMeta, meta);

  for (const auto& layer : model.layers) {
    ByteWriter record;
    record.string(layer.name);
    record.u8(static_cast<std::uint8_t>(layer.kind));
    record.u8(static_cast<std::uint8_t>(layer.activation));
    record.u8(int8 ? 1 : 0);
    // Depthwise stages of SeparableConv2D have no bias; not storing their zeros saves ~4 bytes per channel.
    bool has_bias = false;
    for (float b : layer.bias) has_bias = has_bias || b != 0.0f;
    const bool unsigned_input = int8 && layer.int8->unsigned_input;
    record.u8(
        static_cast<std::uint8_t>((has_bias ? kLayerFlagBias : 0) | (unsigned_input ? kLayerFlagUnsignedInput : 0)));
    for (int v : {layer.kernel_h, layer.kernel_w, layer.stride_h, layer.stride_w, layer.pad.top, layer.pad.bottom,
                  layer.pad.left, layer.pad.right})
      record.varint(static_cast<std::uint32_t>(v));
    record.shape(layer.in);
    record.shape(layer.out);
    if (int8) {
      record.f32(layer.int8->input_scale);
      for (float scale : layer.int8->weight_scales) record.u16(half_at_least(scale));  // exact: checked above
      record.bytes(layer.int8->weights.data(), layer.int8->weights.size());
    } else {
      record.f32s(layer.weights);
    }
    if (has_bias) record.f32s(layer.bias);
    write_section(file, kTagLayer, record);
  }

  ByteWriter test;
  test.varint(kTestInputUniformPixels);
  test.u32(test_vector.seed);
  test.varint(outputs);
  test.f32s(test_vector.expected);
  test.f32s(test_vector.tolerance);
  write_section(file, kTagTest, test);

  file.u32(crc32_ieee(file.data().data(), file.data().size()));
  return std::move(file.data());
}

static_assert(static_cast<int>(LayerKind::conv2d) == 0 && static_cast<int>(LayerKind::depthwise_conv2d) == 1 &&
                  static_cast<int>(LayerKind::dense) == 2,
              "layer kind codes are part of the file format (FORMAT.md)");
static_assert(static_cast<int>(Activation::linear) == 0 && static_cast<int>(Activation::relu) == 1,
              "activation codes are part of the file format (FORMAT.md)");

// Long by design: one pass over the file in the order models/FORMAT.md gives its parts (header, section table,
// checksum, META, LAYR, TEST, whole-model checks), each count and offset checked where it is read. Split, the cursor
// and the half-built model would travel between functions and the order of the checks would be harder to follow.
Result<LoadedModel> read_model_file(const std::uint8_t* bytes, std::size_t size) {
  // --- header ---
  const std::size_t magic_size = sizeof kModelFileMagic;
  if (size < magic_size || std::memcmp(bytes, kModelFileMagic, magic_size) != 0)
    return Status::error("header, offset 0: magic is " + printable(bytes, std::min(size, magic_size)) +
                         (size < magic_size ? " (the file has only " + std::to_string(size) + " bytes)" : "") +
                         ", expected 'CLENSMDL' (not a Cortex Lens model file)");
  if (size > ModelFileLimits::max_file_bytes)
    return Status::error("file has " + std::to_string(size) + " bytes, more than the limit of " +
                         std::to_string(ModelFileLimits::max_file_bytes));
  ByteReader header(bytes, 0, size, "header");
  header.u32("magic");  // already checked; skip 8 bytes as two words
  header.u32("magic");
  const std::size_t version_at = header.offset();
  const std::uint32_t version = header.u32("version");
  if (header.ok() && version != kModelFileVersion)
    header.fail(version_at, "version is " + std::to_string(version) + ", expected " +
                                std::to_string(kModelFileVersion) + " (this reader knows only version 1)");
  const std::size_t flags_at = header.offset();
  const std::uint32_t flags = header.u32("flags");
  if (header.ok() && (flags & ~kModelFileFlagInt8) != 0)
    header.fail(flags_at, "flags are " + hex32(flags) + ", expected only bit 0 (int8) to be used");
  const std::size_t count_at = header.offset();
  const std::uint32_t section_count = header.u32("section count");
  if (header.ok() && (section_count < 3 || section_count > ModelFileLimits::max_sections))
    header.fail(count_at, "section count is " + std::to_string(section_count) + ", expected 3.." +
                              std::to_string(ModelFileLimits::max_sections) + " (META, 1.." +
                              std::to_string(ModelLimits::max_layers) + " layers, TEST)");
  if (!header.ok()) return header.status();
  const bool int8 = (flags & kModelFileFlagInt8) != 0;

  // --- section table: walked without allocating, so truncation is named before anything is parsed ---
  if (size < kHeaderBytes + kChecksumBytes)
    return Status::error("file has " + std::to_string(size) + " bytes, expected at least " +
                         std::to_string(kHeaderBytes + kChecksumBytes) + " (header and checksum; file truncated?)");
  const std::size_t sections_end = size - kChecksumBytes;
  std::vector<SectionSpan> spans(section_count);  // bounded by max_sections above
  std::size_t pos = kHeaderBytes;
  for (std::uint32_t k = 0; k < section_count; ++k) {
    const char* tag = expected_tag(k, section_count);
    const std::string which = "section " + std::to_string(k) + " of " + std::to_string(section_count);
    if (sections_end - pos < kSectionHeaderBytes)
      return Status::error(which + ", offset " + std::to_string(pos) + ": the file ends (" +
                           std::to_string(sections_end - pos) + " bytes before the 4-byte checksum), expected the " +
                           "8-byte header of section '" + tag_text(tag) + "' (file truncated?)");
    if (std::memcmp(bytes + pos, tag, 4) != 0)
      return Status::error(which + ", offset " + std::to_string(pos) + ": tag is " + printable(bytes + pos, 4) +
                           ", expected '" + tag_text(tag) + "'");
    std::uint32_t length = 0;
    for (int i = 0; i < 4; ++i) length |= std::uint32_t{bytes[pos + 4 + i]} << (8 * i);
    const std::size_t begin = pos + kSectionHeaderBytes;
    if (length > sections_end - begin)
      return Status::error(which + " '" + tag_text(tag) + "', offset " + std::to_string(pos + 4) + ": length is " +
                           std::to_string(length) + " bytes but only " + std::to_string(sections_end - begin) +
                           " remain before the checksum (file truncated?)");
    spans[k] = {pos, begin, begin + length};
    pos = begin + length;
  }
  if (pos != sections_end)
    return Status::error("offset " + std::to_string(pos) + ": " + std::to_string(sections_end - pos) +
                         " bytes after the last section, expected only the 4-byte checksum");

  // --- checksum, before any payload is trusted ---
  std::uint32_t stored = 0;
  for (int i = 0; i < 4; ++i) stored |= std::uint32_t{bytes[sections_end + i]} << (8 * i);
  const std::uint32_t computed = crc32_ieee(bytes, sections_end);
  if (stored != computed)
    return Status::error("checksum, offset " + std::to_string(sections_end) + ": the file stores CRC-32 " +
                         hex32(stored) + " but bytes 0.." + std::to_string(sections_end - 1) + " have CRC-32 " +
                         hex32(computed) + " (the file is corrupt)");

  LoadedModel loaded;
  loaded.version = version;
  loaded.precision = int8 ? Precision::int8 : Precision::float32;
  Model& model = loaded.model;

  // --- META ---
  {
    ByteReader r(bytes, spans[0].begin, spans[0].end, "section 0 'META'");
    model.name = r.string("model name");
    loaded.metadata.source = r.string("source");
    loaded.metadata.citation = r.string("citation");
    model.input = r.shape("input shape");
    if (!r.ok()) return r.status();
    loaded.metadata.channel_means = r.finite_f32s(static_cast<std::size_t>(model.input.c), "channel means");
    const std::size_t outputs_at = r.offset();
    const std::uint32_t outputs = r.bounded("output count", 1, ModelFileLimits::max_outputs);
    // Each name is at least its 1-byte length: bound the count by the bytes left before reserving.
    if (r.ok() && std::size_t{outputs} > r.remaining())
      r.fail(outputs_at, "output count " + std::to_string(outputs) + " needs at least " + std::to_string(outputs) +
                             " bytes of names but the section has " + std::to_string(r.remaining()) + " left");
    if (!r.ok()) return r.status();
    model.output_names.reserve(outputs);
    for (std::uint32_t i = 0; i < outputs && r.ok(); ++i) model.output_names.push_back(r.string("output name"));
    const std::size_t rows_at = r.offset();
    const std::uint32_t rows = r.bounded("source layer count", 0, ModelFileLimits::max_source_layers);
    constexpr std::size_t kMinRowBytes = 6;  // two string lengths, three dimensions and params, 1 byte each
    if (r.ok() && std::size_t{rows} * kMinRowBytes > r.remaining())
      r.fail(rows_at, "source layer count " + std::to_string(rows) + " needs at least " +
                          std::to_string(std::size_t{rows} * kMinRowBytes) + " bytes but the section has " +
                          std::to_string(r.remaining()) + " left");
    if (!r.ok()) return r.status();
    model.source_layers.reserve(rows);
    for (std::uint32_t i = 0; i < rows && r.ok(); ++i) {
      SourceLayer row;
      row.name = r.string("source layer name");
      row.class_name = r.string("source layer class");
      // Source shapes are descriptive (Flatten/Dense are (1, 1, N)), so only their dimensions are bounded.
      row.output.h = static_cast<int>(r.bounded("source layer output shape", 1, 1u << 30));
      row.output.w = static_cast<int>(r.bounded("source layer output shape", 1, 1u << 30));
      row.output.c = static_cast<int>(r.bounded("source layer output shape", 1, 1u << 30));
      const std::size_t params_at = r.offset();
      const std::uint64_t params = r.varint("source layer params", 8);
      if (r.ok() && params > kMaxParams)
        r.fail(params_at, "source layer params is " + std::to_string(params) + ", expected 0..2^53");
      row.params = static_cast<std::int64_t>(params);
      model.source_layers.push_back(std::move(row));
    }
    r.expect_end();
    if (!r.ok()) return r.status();
  }

  // --- LAYR, one per layer ---
  const std::uint32_t layer_count = section_count - 2;
  model.layers.reserve(layer_count);
  Shape3 previous = model.input;
  std::int64_t total_weights = 0;
  for (std::uint32_t k = 1; k <= layer_count; ++k) {
    ByteReader r(bytes, spans[k].begin, spans[k].end,
                 "section " + std::to_string(k) + " 'LAYR' (layer " + std::to_string(k - 1) + ")");
    Layer layer;
    layer.name = r.string("layer name");
    if (r.ok())
      r.set_where("section " + std::to_string(k) + " 'LAYR' (layer " + std::to_string(k - 1) + " '" + layer.name +
                  "')");
    const std::size_t kind_at = r.offset();
    const std::uint8_t kind = r.u8("kind");
    if (r.ok() && kind > 2)
      r.fail(kind_at, "kind is " + std::to_string(kind) + ", expected 0 (conv2d), 1 (depthwise_conv2d) or 2 (dense)");
    const std::size_t activation_at = r.offset();
    const std::uint8_t activation = r.u8("activation");
    if (r.ok() && activation > 1)
      r.fail(activation_at, "activation is " + std::to_string(activation) + ", expected 0 (linear) or 1 (relu)");
    const std::size_t precision_at = r.offset();
    const std::uint8_t precision = r.u8("precision");
    if (r.ok() && precision != (int8 ? 1 : 0))
      r.fail(precision_at, "precision is " + std::to_string(precision) + ", expected " +
                               (int8 ? "1 (int8)" : "0 (float32)") + " as the header flags say");
    const std::size_t flags_at = r.offset();
    const std::uint8_t layer_flags = r.u8("layer flags");
    if (r.ok() && (layer_flags & ~(kLayerFlagBias | kLayerFlagUnsignedInput)) != 0)
      r.fail(flags_at, "layer flags are " + std::to_string(layer_flags) +
                           ", expected only bit 0 (bias) and bit 1 (unsigned int8 input) to be used");
    // Unsigned quantization clamps negative inputs to zero, right only for what a ReLU produced.
    const bool unsigned_input = (layer_flags & kLayerFlagUnsignedInput) != 0;
    if (r.ok() && unsigned_input && !int8)
      r.fail(flags_at, "layer flags set bit 1 (unsigned int8 input) in a float32 file, expected it only in int8 files");
    if (r.ok() && unsigned_input && (model.layers.empty() || model.layers.back().activation != Activation::relu))
      r.fail(flags_at, "layer flags set bit 1 (unsigned int8 input), but the layer's input is " +
                           std::string(model.layers.empty() ? "the model input" : "a linear layer's output") +
                           ", which can be negative; expected bit 1 only after a ReLU layer");
    layer.kind = static_cast<LayerKind>(kind);
    layer.activation = static_cast<Activation>(activation);
    layer.kernel_h = static_cast<int>(r.bounded("kernel height", 1, ModelLimits::max_kernel));
    layer.kernel_w = static_cast<int>(r.bounded("kernel width", 1, ModelLimits::max_kernel));
    layer.stride_h = static_cast<int>(r.bounded("stride height", 1, ModelLimits::max_kernel));
    layer.stride_w = static_cast<int>(r.bounded("stride width", 1, ModelLimits::max_kernel));
    layer.pad.top = static_cast<int>(r.bounded("pad top", 0, ModelLimits::max_kernel - 1));
    layer.pad.bottom = static_cast<int>(r.bounded("pad bottom", 0, ModelLimits::max_kernel - 1));
    layer.pad.left = static_cast<int>(r.bounded("pad left", 0, ModelLimits::max_kernel - 1));
    layer.pad.right = static_cast<int>(r.bounded("pad right", 0, ModelLimits::max_kernel - 1));
    const std::size_t in_at = r.offset();
    layer.in = r.shape("input shape");
    if (r.ok() && layer.in != previous)
      r.fail(in_at, "input shape (" + std::to_string(layer.in.h) + "," + std::to_string(layer.in.w) + "," +
                        std::to_string(layer.in.c) + ") does not connect to the previous output (" +
                        std::to_string(previous.h) + "," + std::to_string(previous.w) + "," +
                        std::to_string(previous.c) + ")");
    layer.out = r.shape("output shape");
    if (!r.ok()) return r.status();
    const std::int64_t weights = weight_count(layer.kind, layer.in, layer.out, layer.kernel_h, layer.kernel_w);
    total_weights += weights;
    if (weights > ModelLimits::max_tensor_elements || total_weights > ModelLimits::max_total_weights)
      r.fail(in_at, "shapes imply " + std::to_string(weights) + " weights (" + std::to_string(total_weights) +
                        " so far), more than the limits of " + std::to_string(ModelLimits::max_tensor_elements) +
                        " per layer and " + std::to_string(ModelLimits::max_total_weights) + " per model");
    if (!r.ok()) return r.status();
    const std::size_t n = static_cast<std::size_t>(weights);
    const std::size_t channels = static_cast<std::size_t>(layer.out.c);
    if (int8) {
      Int8Weights q;
      q.unsigned_input = unsigned_input;
      const std::size_t scale_at = r.offset();
      q.input_scale = r.f32("input scale");
      if (r.ok() && !(std::isfinite(q.input_scale) && q.input_scale > 0.0f))
        r.fail(scale_at, "input scale is " + std::to_string(q.input_scale) + ", expected a positive finite number");
      if (r.need(2 * channels, "weight scales")) q.weight_scales.resize(channels);
      for (std::size_t c = 0; r.ok() && c < channels; ++c) {
        const std::size_t at = r.offset();
        const std::uint16_t half = r.u16("weight scales");
        q.weight_scales[c] = half_to_float(half);
        if (r.ok() && !(q.weight_scales[c] > 0.0f && std::isfinite(q.weight_scales[c])))
          r.fail(at, "weight scale " + std::to_string(c) + " is " + std::to_string(q.weight_scales[c]) + " (float16 " +
                         hex32(half) + "), expected a positive finite number");
      }
      const std::size_t q_at = r.offset();
      q.weights = r.i8s(n, "int8 weights");
      for (std::size_t i = 0; r.ok() && i < n; ++i)
        if (q.weights[i] < -kInt8Max)
          r.fail(q_at + i, "int8 weight " + std::to_string(i) + " is -128, expected -127..127");
      if (r.ok()) {
        layer.weights.resize(n);
        for (std::size_t i = 0; i < n; ++i) layer.weights[i] = q.weights[i] * q.weight_scales[i % channels];
        layer.int8 = std::move(q);
      }
    } else {
      layer.weights = r.finite_f32s(n, "weights");
    }
    if (layer_flags & kLayerFlagBias)
      layer.bias = r.finite_f32s(channels, "bias");
    else
      layer.bias.assign(channels, 0.0f);
    r.expect_end();
    if (!r.ok()) return r.status();
    previous = layer.out;
    model.layers.push_back(std::move(layer));
  }

  // --- TEST ---
  {
    ByteReader r(bytes, spans[section_count - 1].begin, spans[section_count - 1].end,
                 "section " + std::to_string(section_count - 1) + " 'TEST'");
    const std::size_t kind_at = r.offset();
    const std::uint32_t input_kind = r.bounded("test input kind", 0, 255);
    if (r.ok() && input_kind != kTestInputUniformPixels)
      r.fail(kind_at,
             "test input kind is " + std::to_string(input_kind) + ", expected 1 (uniform pixels from xorshift32)");
    const std::size_t seed_at = r.offset();
    loaded.test_vector.seed = r.u32("seed");
    if (r.ok() && loaded.test_vector.seed == 0) r.fail(seed_at, "seed is 0, expected nonzero");
    const std::size_t count_at = r.offset();
    const std::uint32_t count = r.bounded("output count", 0, ModelFileLimits::max_outputs);
    if (r.ok() && count != model.output_names.size())
      r.fail(count_at, "output count is " + std::to_string(count) + ", expected " +
                           std::to_string(model.output_names.size()) + " (the outputs named in META)");
    if (!r.ok()) return r.status();
    loaded.test_vector.expected = r.finite_f32s(count, "expected outputs");
    const std::size_t tolerance_at = r.offset();
    loaded.test_vector.tolerance = r.finite_f32s(count, "tolerances");
    for (std::size_t i = 0; r.ok() && i < count; ++i)
      if (!(loaded.test_vector.tolerance[i] > 0.0f))
        r.fail(tolerance_at + 4 * i, "tolerance " + std::to_string(i) + " is " +
                                         std::to_string(loaded.test_vector.tolerance[i]) + ", expected > 0");
    r.expect_end();
    if (!r.ok()) return r.status();
  }

  // --- whole-model checks, then the test vector ---
  CL_RETURN_IF_ERROR(validate_model(model));
  CL_RETURN_IF_ERROR(check_int8_layers(model));
  const Tensor input = test_vector_input(model.input, loaded.metadata.channel_means, loaded.test_vector.seed);
  auto result = forward_with_precision(model, input, loaded.precision);
  if (!result) return result.status().with_context("test vector: ");
  loaded.test_outputs = result.value().outputs;
  for (std::size_t i = 0; i < loaded.test_outputs.size(); ++i) {
    const float got = loaded.test_outputs[i], want = loaded.test_vector.expected[i];
    const float tolerance = loaded.test_vector.tolerance[i];
    if (!(std::fabs(got - want) <= tolerance)) {
      char text[256];
      std::snprintf(text, sizeof text, "test vector: output %zu ('%s') is %.9g, file expects %.9g (tolerance %.3g)", i,
                    model.output_names[i].c_str(), got, want, tolerance);
      return Status::error(std::string(text) + "; the " + precision_name(loaded.precision) +
                           " layers in this file do not compute what the converter computed");
    }
  }
  return loaded;
}

}  // namespace cortexlens
