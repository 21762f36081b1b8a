#include "screen_state.hpp"

#include <cstring>

namespace cortexlens {

namespace {

constexpr char kMagic[8] = {'C', 'L', 'S', 'C', 'R', 'E', 'E', 'N'};
constexpr std::uint32_t kVersion = 1;

template <typename T>
void put(std::vector<std::uint8_t>& out, T value) {
  const std::size_t at = out.size();
  out.resize(at + sizeof value);
  std::memcpy(out.data() + at, &value, sizeof value);  // x86 and wasm are little-endian, as the layout says
}

// Reads forward through the bytes; every take checks there is enough left.
class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::size_t left() const { return size_ - at_; }
  template <typename T>
  bool take(T& value) {
    if (left() < sizeof value) return false;
    std::memcpy(&value, data_ + at_, sizeof value);
    at_ += sizeof value;
    return true;
  }
  bool take_bytes(void* out, std::size_t size) {
    if (left() < size) return false;
    std::memcpy(out, data_ + at_, size);
    at_ += size;
    return true;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

std::uint64_t fnv1a(const std::uint8_t* data, std::size_t size) {
  Fingerprint fingerprint;
  fingerprint.add(data, size);
  return fingerprint.value();
}

}  // namespace

void Fingerprint::add(const void* data, std::size_t size) {
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  for (std::size_t i = 0; i < size; ++i) {
    hash_ ^= bytes[i];
    hash_ *= 0x100000001b3ull;
  }
}

void Fingerprint::add(const std::string& text) {
  add(static_cast<std::uint64_t>(text.size()));
  add(text.data(), text.size());
}

void Fingerprint::add(std::uint64_t value) { add(&value, sizeof value); }

std::vector<std::uint8_t> encode_screen_state(const ScreenState& state) {
  std::vector<std::uint8_t> out(kMagic, kMagic + sizeof kMagic);
  put(out, kVersion);
  put(out, state.fingerprint);
  put(out, state.images);
  put(out, state.columns);
  put(out, state.done);
  put(out, static_cast<std::uint64_t>(state.failures.size()));
  for (const auto& failure : state.failures) {
    put(out, static_cast<std::uint64_t>(failure.image));
    const std::size_t length = std::min<std::size_t>(failure.message.size(), ScreenStateLimits::max_message_bytes);
    put(out, static_cast<std::uint32_t>(length));
    out.insert(out.end(), failure.message.begin(), failure.message.begin() + static_cast<std::ptrdiff_t>(length));
  }
  const std::size_t at = out.size();
  out.resize(at + state.responses.size() * sizeof(float));
  if (!state.responses.empty()) std::memcpy(out.data() + at, state.responses.data(), state.responses.size() * 4);
  put(out, fnv1a(out.data(), out.size()));
  return out;
}

// Long by design: the fields in the order the layout gives them, each checked as it is read.
Result<ScreenState> decode_screen_state(const std::vector<std::uint8_t>& bytes) {
  if (bytes.size() < sizeof kMagic + 4 + 8 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    return Status::error("not a screen checkpoint (no CLSCREEN magic)");
  std::uint64_t stored_sum = 0;
  std::memcpy(&stored_sum, bytes.data() + bytes.size() - 8, 8);
  if (fnv1a(bytes.data(), bytes.size() - 8) != stored_sum)
    return Status::error("the checkpoint's checksum does not match its contents (a torn or altered file)");
  Reader reader(bytes.data() + sizeof kMagic, bytes.size() - sizeof kMagic - 8);
  std::uint32_t version = 0;
  reader.take(version);
  if (version != kVersion)
    return Status::error("checkpoint version " + std::to_string(version) + ", expected " + std::to_string(kVersion));
  ScreenState state;
  std::uint64_t failures = 0;
  if (!reader.take(state.fingerprint) || !reader.take(state.images) || !reader.take(state.columns) ||
      !reader.take(state.done) || !reader.take(failures))
    return Status::error("the checkpoint ends inside its header");
  if (state.images > ScreenStateLimits::max_images || state.columns > ScreenStateLimits::max_columns ||
      state.done > state.images || failures > state.done)
    return Status::error("the checkpoint declares " + std::to_string(state.done) + " of " +
                         std::to_string(state.images) + " images done, " + std::to_string(failures) + " failed and " +
                         std::to_string(state.columns) + " outputs, which do not fit together or the limits");
  std::uint64_t previous = 0;
  for (std::uint64_t f = 0; f < failures; ++f) {
    ImageFailure failure;
    std::uint64_t image = 0;
    std::uint32_t length = 0;
    if (!reader.take(image) || !reader.take(length)) return Status::error("the checkpoint ends inside its failures");
    if (image >= state.done || (f > 0 && image <= previous) || length > ScreenStateLimits::max_message_bytes)
      return Status::error("checkpoint failure " + std::to_string(f) + " names image " + std::to_string(image) +
                           " with a " + std::to_string(length) +
                           "-byte message, expected increasing images below the " + std::to_string(state.done) +
                           " done and at most " + std::to_string(ScreenStateLimits::max_message_bytes) + " bytes");
    previous = image;
    failure.image = static_cast<std::size_t>(image);
    failure.message.resize(length);
    if (!reader.take_bytes(failure.message.data(), length))
      return Status::error("the checkpoint ends inside failure " + std::to_string(f));
    state.failures.push_back(std::move(failure));
  }
  // done <= 2^32 and columns <= 2^24: the product cannot overflow 64 bits.
  const std::uint64_t values = state.done * state.columns;
  if (reader.left() != values * sizeof(float))
    return Status::error("the checkpoint holds " + std::to_string(reader.left()) + " bytes of responses, expected " +
                         std::to_string(values * sizeof(float)) + " (" + std::to_string(state.done) + " images x " +
                         std::to_string(state.columns) + " outputs)");
  state.responses.resize(static_cast<std::size_t>(values));
  reader.take_bytes(state.responses.data(), state.responses.size() * sizeof(float));
  return state;
}

}  // namespace cortexlens
