// libFuzzer target for the image path: hostile bytes -> probe -> decode -> crop -> resize -> recentre.
// Built only with clang and -DCORTEXLENS_FUZZ=ON, e.g.
//   clang++ -std=c++17 -fsanitize=fuzzer,address,undefined -Icore/include -I/usr/include/stb \
//     -Icore/src core/src/image/*.cpp tests/fuzz/fuzz_image.cpp
//   mkdir -p /tmp/fuzz_image && ./a.out -max_total_time=60 /tmp/fuzz_image tests/bad_inputs
// libFuzzer writes new inputs into the first directory, so keep that one out of the repository; the committed
// corpus is a good seed as the second.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cortexlens/image.hpp"

namespace {

// A few-hundred-byte GIF or PNG can claim 50 megapixels, which the product accepts; decoding that on every
// run would slow the fuzzer to a crawl without reaching new code. The limit check itself is still fuzzed.
constexpr std::int64_t kMaxFuzzedPixels = 4'000'000;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cortexlens;
  const Result<ImageHeader> header = probe_image(data, size);
  if (!header) return 0;
  if (std::int64_t{header->width} * header->height > kMaxFuzzedPixels) return 0;

  const Result<RgbImage> image = decode_image(data, size);
  if (!image) {
    // Refusing hostile bytes is fine; an internal inconsistency (the probe and the decoder disagreeing) is a bug.
    if (image.message().rfind("internal error", 0) == 0) __builtin_trap();
    return 0;
  }
  // Decoding must honour what the probe promised.
  if (image->width != header->upright_width() || image->height != header->upright_height()) __builtin_trap();

  // A crop chosen by the input's last bytes as well as the centred one: odd offsets and sides, both
  // shrinking and enlarging.
  SquareCrop crop = centred_crop(image->width, image->height);
  if (size >= 3) {
    crop.side = 1 + data[size - 1] % crop.side;
    crop.x = data[size - 2] % (image->width - crop.side + 1);
    crop.y = data[size - 3] % (image->height - crop.side + 1);
  }
  const Result<RgbImage> resized = crop_resize(image.value(), crop);
  if (!resized) __builtin_trap();  // every crop above lies inside the image
  const Tensor input = recentre(resized.value());
  if (input.shape != Shape3{kModelInputSide, kModelInputSide, 3}) __builtin_trap();
  return 0;
}
