// Image input: every accepted format decodes to the pixels written, EXIF orientations come out upright,
// resizing averages areas exactly, recentring round-trips, and broken files fail with a message that names
// what was wrong. Fixtures are built in code (tests/image_fixtures.cpp); broken files are in tests/bad_inputs,
// made by tests/make_bad_inputs.cpp.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "cortexlens/image.hpp"
#include "image_fixtures.hpp"

#ifndef CORTEXLENS_TEST_INPUTS_DIR
#define CORTEXLENS_TEST_INPUTS_DIR "tests/bad_inputs"
#endif

using namespace cortexlens;
namespace fx = cortexlens::fixtures;
using Catch::Matchers::Contains;

namespace {

// A file of the committed corpus; fails the test with the path tried when it is missing.
fx::Bytes read_bad_input(const std::string& name) {
  const std::string path = std::string(CORTEXLENS_TEST_INPUTS_DIR) + "/" + name;
  fx::Bytes bytes;
  INFO("reading " << path << " (set CORTEXLENS_TEST_INPUTS_DIR, or run from the repository root)");
  REQUIRE(fx::read_file(path, bytes));
  return bytes;
}

// Deterministic pseudo-random bytes (a 32-bit LCG), identical on every platform.
std::vector<std::uint8_t> random_bytes(std::size_t count, std::uint32_t seed) {
  std::vector<std::uint8_t> bytes(count);
  for (auto& byte : bytes) {
    seed = seed * 1664525u + 1013904223u;
    byte = static_cast<std::uint8_t>(seed >> 24);
  }
  return bytes;
}

RgbImage decode_ok(const fx::Bytes& file) {
  Result<RgbImage> decoded = decode_image(file.data(), file.size());
  INFO(decoded.message());
  REQUIRE(decoded.is_ok());
  return decoded.value();
}

std::uint8_t pixel(const RgbImage& image, int x, int y, int channel) {
  return image.pixels[(static_cast<std::size_t>(y) * image.width + x) * 3 + channel];
}

// The exact value of `value` (0..255 scale) at opacity `alpha` (0..1) over the channel mean.
double composited(double value, double alpha, int channel) {
  return value * alpha + kChannelMeans[channel] * (1.0 - alpha);
}

// Round to nearest: within half a level of the exact value (either neighbour at an exact tie).
void require_rounded(std::uint8_t actual, double exact) {
  INFO("actual " << int{actual} << ", exact " << exact);
  REQUIRE(std::abs(actual - exact) <= 0.5 + 1e-3);
}

RgbImage make_image(int width, int height, std::vector<std::uint8_t> pixels) {
  RgbImage image;
  image.width = width;
  image.height = height;
  image.pixels = std::move(pixels);
  return image;
}

}  // namespace

TEST_CASE("PNG and BMP decode to exactly the pixels written", "[image][decode]") {
  const int width = 7, height = 5;  // odd sizes: BMP rows need padding
  const std::vector<std::uint8_t> rgb = random_bytes(width * height * 3, 1);
  SECTION("RGB PNG") { REQUIRE(decode_ok(fx::encode_png(width, height, 3, rgb)).pixels == rgb); }
  SECTION("RGB BMP") { REQUIRE(decode_ok(fx::encode_bmp(width, height, 3, rgb)).pixels == rgb); }
  SECTION("grey PNG becomes equal R, G, B") {
    const std::vector<std::uint8_t> grey = random_bytes(width * height, 2);
    const RgbImage image = decode_ok(fx::encode_png(width, height, 1, grey));
    REQUIRE(image.width == width);
    REQUIRE(image.height == height);
    for (std::size_t i = 0; i < grey.size(); ++i) {
      for (int c = 0; c < 3; ++c) REQUIRE(image.pixels[i * 3 + c] == grey[i]);
    }
  }
}

TEST_CASE("BMP rows stored top-down (negative height) decode upright; nonsense sizes are refused",
          "[image][decode][bmp]") {
  const int width = 4, height = 3;  // 12-byte rows: no padding
  const std::vector<std::uint8_t> rgb = random_bytes(width * height * 3, 15);
  const fx::Bytes bottom_up = fx::encode_bmp(width, height, 3, rgb);
  const std::size_t pixel_offset = bottom_up[10] | bottom_up[11] << 8;
  const std::size_t row_bytes = width * 3;
  fx::Bytes top_down(bottom_up.begin(), bottom_up.begin() + static_cast<std::ptrdiff_t>(pixel_offset));
  for (int row = height - 1; row >= 0; --row) {
    const auto begin = bottom_up.begin() + static_cast<std::ptrdiff_t>(pixel_offset + row * row_bytes);
    top_down.insert(top_down.end(), begin, begin + static_cast<std::ptrdiff_t>(row_bytes));
  }
  auto set_i32_le = [](fx::Bytes& bytes, std::size_t at, std::int32_t value) {
    for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<std::uint8_t>(static_cast<std::uint32_t>(value) >> (8 * i));
  };
  set_i32_le(top_down, 22, -height);  // BITMAPINFOHEADER: width at 18, height at 22
  const RgbImage image = decode_ok(top_down);
  CHECK(image.height == height);
  CHECK(image.pixels == rgb);
  CHECK(probe_image(top_down.data(), top_down.size())->height == height);

  fx::Bytes lowest_height = top_down;
  set_i32_le(lowest_height, 22, std::numeric_limits<std::int32_t>::min());
  CHECK_THAT(decode_image(lowest_height.data(), lowest_height.size()).message(),
             Contains("size of 4x-2147483648 pixels; expected a positive width and height"));
  fx::Bytes negative_width = bottom_up;
  set_i32_le(negative_width, 18, -4);
  CHECK_THAT(decode_image(negative_width.data(), negative_width.size()).message(), Contains("size of -4x3 pixels"));
}

TEST_CASE("alpha is composited over the channel means", "[image][decode][alpha]") {
  const int width = 4, height = 3;
  // Opaque, transparent, half and random alphas.
  std::vector<std::uint8_t> alphas = {255, 0, 128, 1, 254, 64, 200, 255, 0, 37, 99, 180};
  SECTION("RGBA PNG and BMP") {
    std::vector<std::uint8_t> rgba = random_bytes(width * height * 4, 3);
    for (int i = 0; i < width * height; ++i) rgba[i * 4 + 3] = alphas[i];
    for (const fx::Bytes& file : {fx::encode_png(width, height, 4, rgba), fx::encode_bmp(width, height, 4, rgba)}) {
      const RgbImage image = decode_ok(file);
      for (int i = 0; i < width * height; ++i) {
        for (int c = 0; c < 3; ++c) {
          require_rounded(image.pixels[i * 3 + c], composited(rgba[i * 4 + c], alphas[i] / 255.0, c));
        }
      }
    }
  }
  SECTION("grey + alpha PNG") {
    std::vector<std::uint8_t> grey_alpha = random_bytes(width * height * 2, 4);
    for (int i = 0; i < width * height; ++i) grey_alpha[i * 2 + 1] = alphas[i];
    const RgbImage image = decode_ok(fx::encode_png(width, height, 2, grey_alpha));
    for (int i = 0; i < width * height; ++i) {
      for (int c = 0; c < 3; ++c) {
        require_rounded(image.pixels[i * 3 + c], composited(grey_alpha[i * 2], alphas[i] / 255.0, c));
      }
    }
  }
  SECTION("a fully transparent pixel becomes the rounded means, which recentre to within half a level of 0") {
    const RgbImage image = decode_ok(fx::encode_png(1, 1, 4, {250, 3, 77, 0}));
    REQUIRE(image.pixels == std::vector<std::uint8_t>{116, 109, 100});
  }
}

TEST_CASE("16-bit PNG rounds to the nearest 8-bit level", "[image][decode][png16]") {
  // 4848 / 257 = 18.86: rounding gives 19 where truncating (stb's own v >> 8) would give 18.
  const std::vector<std::uint16_t> samples = {0, 4848, 65535, 32896, 128, 129, 65407, 257, 1000};
  SECTION("RGB") {
    const RgbImage image = decode_ok(fx::encode_png16(3, 1, 3, samples));
    for (std::size_t i = 0; i < samples.size(); ++i) require_rounded(image.pixels[i], samples[i] / 257.0);
    REQUIRE(image.pixels[1] == 19);
  }
  SECTION("grey") {
    const RgbImage image = decode_ok(fx::encode_png16(9, 1, 1, samples));
    for (std::size_t i = 0; i < samples.size(); ++i) {
      for (int c = 0; c < 3; ++c) require_rounded(image.pixels[i * 3 + c], samples[i] / 257.0);
    }
  }
  SECTION("RGBA and grey + alpha") {
    const std::vector<std::uint16_t> rgba = {60000, 4848, 20000, 65535, 60000, 4848,
                                             20000, 0,    60000, 4848,  20000, 32768};
    const RgbImage colour = decode_ok(fx::encode_png16(3, 1, 4, rgba));
    for (int i = 0; i < 3; ++i) {
      for (int c = 0; c < 3; ++c) {
        require_rounded(colour.pixels[i * 3 + c], composited(rgba[i * 4 + c] / 257.0, rgba[i * 4 + 3] / 65535.0, c));
      }
    }
    const std::vector<std::uint16_t> grey_alpha = {60000, 65535, 60000, 0, 60000, 32768};
    const RgbImage grey = decode_ok(fx::encode_png16(3, 1, 2, grey_alpha));
    for (int i = 0; i < 3; ++i) {
      for (int c = 0; c < 3; ++c) {
        require_rounded(grey.pixels[i * 3 + c],
                        composited(grey_alpha[i * 2] / 257.0, grey_alpha[i * 2 + 1] / 65535.0, c));
      }
    }
  }
}

TEST_CASE("JPEG decodes within a few levels", "[image][decode][jpeg]") {
  // Flat 8x8 blocks survive the DCT almost untouched; what is left is YCbCr rounding.
  const int width = 32, height = 16;
  const std::vector<std::uint8_t> block_colours = random_bytes((width / 8) * (height / 8) * 3, 5);
  std::vector<std::uint8_t> rgb(width * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < 3; ++c) rgb[(y * width + x) * 3 + c] = block_colours[((y / 8) * (width / 8) + x / 8) * 3 + c];
    }
  }
  SECTION("baseline RGB") {
    const RgbImage image = decode_ok(fx::encode_jpeg(width, height, 3, rgb, 100));
    REQUIRE(image.width == width);
    REQUIRE(image.height == height);
    for (std::size_t i = 0; i < rgb.size(); ++i) REQUIRE(std::abs(image.pixels[i] - rgb[i]) <= 3);
  }
  SECTION("baseline and progressive, colour and single-component grey") {
    const bool progressive = GENERATE(false, true);
    std::vector<fx::Rgb> colours;
    for (std::size_t i = 0; i < block_colours.size(); i += 3) {
      colours.push_back({block_colours[i], block_colours[i + 1], block_colours[i + 2]});
    }
    const fx::Bytes colour_file = fx::encode_flat_block_jpeg(width, height, 3, colours, progressive);
    REQUIRE(colour_file[fx::find_jpeg_frame_header(colour_file) - 1] == (progressive ? 0xC2 : 0xC0));
    const RgbImage colour = decode_ok(colour_file);
    for (std::size_t i = 0; i < rgb.size(); ++i) REQUIRE(std::abs(colour.pixels[i] - rgb[i]) <= 3);

    const fx::Bytes grey_file = fx::encode_flat_block_jpeg(width, height, 1, colours, progressive);
    REQUIRE(probe_image(grey_file.data(), grey_file.size())->channels == 1);
    const RgbImage grey = decode_ok(grey_file);
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        for (int c = 0; c < 3; ++c) REQUIRE(std::abs(pixel(grey, x, y, c) - rgb[(y * width + x) * 3]) <= 1);
      }
    }
  }
}

TEST_CASE("GIF decodes its first frame exactly, transparency over the means", "[image][decode][gif]") {
  const int width = 9, height = 7;  // 63 pixels: several LZW clear codes per frame
  const std::vector<fx::Rgb> palette = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {12, 34, 56}};
  std::vector<std::uint8_t> first(width * height), second(width * height, 1);
  for (std::size_t i = 0; i < first.size(); ++i) first[i] = static_cast<std::uint8_t>((i * 7 + i / 5) % 5);
  const RgbImage image = decode_ok(fx::encode_gif(width, height, palette, {first, second}, 4));
  REQUIRE(image.width == width);
  REQUIRE(image.height == height);
  for (std::size_t i = 0; i < first.size(); ++i) {
    for (int c = 0; c < 3; ++c) {
      if (first[i] == 4) {
        require_rounded(image.pixels[i * 3 + c], kChannelMeans[c]);
      } else {
        REQUIRE(image.pixels[i * 3 + c] == palette[first[i]][c]);
      }
    }
  }
}

TEST_CASE("probe_image reads the header only", "[image][probe]") {
  const std::vector<std::uint8_t> rgba = random_bytes(5 * 3 * 4, 6);
  struct Case {
    fx::Bytes file;
    const char* format;
    int width, height, channels;
  };
  const std::vector<Case> cases = {
      {fx::encode_png(5, 3, 4, rgba), "png", 5, 3, 4},
      {fx::encode_png(5, 3, 2, rgba), "png", 5, 3, 2},
      {fx::encode_bmp(5, 3, 3, rgba), "bmp", 5, 3, 3},
      {fx::encode_flat_block_jpeg(16, 8, 1, std::vector<fx::Rgb>(2, fx::Rgb{7, 7, 7}), false), "jpeg", 16, 8, 1},
      {fx::insert_after_soi(fx::encode_jpeg(5, 3, 3, rgba, 90), fx::exif_segment(6, true)), "jpeg", 5, 3, 3},
      {fx::encode_gif(5, 3, {{1, 2, 3}, {4, 5, 6}}, {std::vector<std::uint8_t>(15, 1)}), "gif", 5, 3, 4},
  };
  for (const Case& c : cases) {
    Result<ImageHeader> header = probe_image(c.file.data(), c.file.size());
    INFO(c.format << ": " << header.message());
    REQUIRE(header.is_ok());
    CHECK(header->format == c.format);
    CHECK(header->width == c.width);
    CHECK(header->height == c.height);
    CHECK(header->channels == c.channels);
  }
  const Result<ImageHeader> rotated = probe_image(cases[4].file.data(), cases[4].file.size());
  CHECK(rotated->exif_orientation == 6);
  CHECK(rotated->upright_width() == 3);
  CHECK(rotated->upright_height() == 5);
}

// The upright image is 17x9 blocks of 8x8 pixels, each a random colour, so each of the 8 orientations (and a
// wrong implementation of any) gives a different stored image. At 136x72 it spans several of the decoder's
// 64-pixel tiles, partial ones included.
TEST_CASE("all 8 EXIF orientations come out upright", "[image][exif]") {
  const int block = 8, blocks_across = 17, blocks_down = 9;
  const int upright_width = blocks_across * block, upright_height = blocks_down * block;
  const std::vector<std::uint8_t> colours = random_bytes(blocks_across * blocks_down * 3, 16);
  auto upright_colour = [&](int ux, int uy) { return &colours[((uy / block) * blocks_across + ux / block) * 3]; };

  // EXIF's own wording of each orientation: which side of the upright picture the stored 0th row and the
  // stored 0th column show. Deliberately a different formulation from the decoder's coordinate table.
  enum Side { kTop, kBottom, kLeft, kRight };
  const Side row0[9] = {kTop, kTop, kTop, kBottom, kBottom, kLeft, kRight, kRight, kLeft};
  const Side column0[9] = {kLeft, kLeft, kRight, kRight, kLeft, kTop, kTop, kBottom, kBottom};

  const int orientation = GENERATE(1, 2, 3, 4, 5, 6, 7, 8);
  const bool big_endian = GENERATE(false, true);
  const bool transposed = orientation >= 5;
  const int stored_width = transposed ? upright_height : upright_width;
  const int stored_height = transposed ? upright_width : upright_height;
  std::vector<std::uint8_t> stored(stored_width * stored_height * 3);
  for (int sy = 0; sy < stored_height; ++sy) {
    for (int sx = 0; sx < stored_width; ++sx) {
      int ux = 0, uy = 0;
      // Stored row sy runs from the row-0 side inwards; stored column sx from the column-0 side.
      switch (row0[orientation]) {
        case kTop:
          uy = sy;
          break;
        case kBottom:
          uy = upright_height - 1 - sy;
          break;
        case kLeft:
          ux = sy;
          break;
        case kRight:
          ux = upright_width - 1 - sy;
          break;
      }
      switch (column0[orientation]) {
        case kTop:
          uy = sx;
          break;
        case kBottom:
          uy = upright_height - 1 - sx;
          break;
        case kLeft:
          ux = sx;
          break;
        case kRight:
          ux = upright_width - 1 - sx;
          break;
      }
      for (int c = 0; c < 3; ++c) stored[(sy * stored_width + sx) * 3 + c] = upright_colour(ux, uy)[c];
    }
  }
  const fx::Bytes file = fx::insert_after_soi(fx::encode_jpeg(stored_width, stored_height, 3, stored, 100),
                                              fx::exif_segment(orientation, big_endian));
  INFO("orientation " << orientation << (big_endian ? ", big-endian" : ", little-endian"));

  const Result<ImageHeader> header = probe_image(file.data(), file.size());
  REQUIRE(header.is_ok());
  REQUIRE(header->exif_orientation == orientation);
  REQUIRE(header->width == stored_width);
  REQUIRE(header->upright_width() == upright_width);
  REQUIRE(header->upright_height() == upright_height);

  const RgbImage image = decode_ok(file);
  REQUIRE(image.width == upright_width);
  REQUIRE(image.height == upright_height);
  for (int uy = 0; uy < upright_height; ++uy) {
    for (int ux = 0; ux < upright_width; ++ux) {
      for (int c = 0; c < 3; ++c) REQUIRE(std::abs(pixel(image, ux, uy, c) - upright_colour(ux, uy)[c]) <= 4);
    }
  }
}

TEST_CASE("EXIF that is absent or malformed means orientation 1 and never a failure", "[image][exif]") {
  const std::vector<std::uint8_t> rgb = random_bytes(16 * 8 * 3, 7);
  const fx::Bytes jpeg = fx::encode_jpeg(16, 8, 3, rgb, 95);
  const RgbImage reference = decode_ok(jpeg);
  const fx::Bytes tiff_le = {'I', 'I', 42, 0, 8, 0, 0, 0};
  auto with_tiff_tail = [&](std::initializer_list<std::uint8_t> tail) {
    fx::Bytes tiff = tiff_le;
    tiff.insert(tiff.end(), tail);
    return fx::insert_after_soi(jpeg, fx::exif_segment_from_tiff(tiff));
  };
  const std::vector<fx::Bytes> files = {
      jpeg,                                                              // no EXIF at all
      fx::insert_after_soi(jpeg, fx::exif_segment_from_tiff({})),        // signature only
      with_tiff_tail({}),                                                // IFD0 offset at the very end
      with_tiff_tail({1, 0}),                                            // one entry announced, none present
      with_tiff_tail({1, 0, 0x12, 0x01, 4, 0, 1, 0, 0, 0, 6, 0, 0, 0}),  // Orientation as LONG: not a SHORT
      with_tiff_tail({1, 0, 0x12, 0x01, 3, 0, 2, 0, 0, 0, 6, 0, 0, 0}),  // count 2
      with_tiff_tail({1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0}),  // value 0
      fx::insert_after_soi(jpeg, fx::exif_segment(200, false)),          // value 200
      // An XMP APP1 before nothing else: a different signature, ignored.
      fx::insert_after_soi(jpeg, {0xFF, 0xE1, 0, 12, 'h', 't', 't', 'p', ':', '/', '/', 'n', 's', '.'}),
  };
  for (std::size_t i = 0; i < files.size(); ++i) {
    INFO("case " << i);
    const Result<ImageHeader> header = probe_image(files[i].data(), files[i].size());
    REQUIRE(header.is_ok());
    CHECK(header->exif_orientation == 1);
    CHECK(decode_ok(files[i]).pixels == reference.pixels);
  }
  // Only the first EXIF segment counts, and it may follow an XMP one.
  const fx::Bytes two =
      fx::insert_after_soi(fx::insert_after_soi(jpeg, fx::exif_segment(3, false)), fx::exif_segment(8, false));
  CHECK(probe_image(two.data(), two.size())->exif_orientation == 8);
  const fx::Bytes after_xmp = fx::insert_after_soi(fx::insert_after_soi(jpeg, fx::exif_segment(5, false)),
                                                   {0xFF, 0xE1, 0, 6, 'h', 't', 't', 'p'});
  CHECK(probe_image(after_xmp.data(), after_xmp.size())->exif_orientation == 5);
}

TEST_CASE("centred_crop takes the largest centred square", "[image][crop]") {
  CHECK(centred_crop(640, 480).x == 80);
  CHECK(centred_crop(640, 480).y == 0);
  CHECK(centred_crop(640, 480).side == 480);
  CHECK(centred_crop(301, 600).x == 0);
  CHECK(centred_crop(301, 600).y == 149);
  CHECK(centred_crop(301, 600).side == 301);
  CHECK(centred_crop(7, 7).side == 7);
  CHECK(centred_crop(0, 5).side == 0);
}

TEST_CASE("check_crop refuses crops outside the image, saying where", "[image][crop]") {
  const RgbImage image = make_image(40, 30, std::vector<std::uint8_t>(40 * 30 * 3, 9));
  CHECK(check_crop(image, {0, 0, 30}).is_ok());
  CHECK(check_crop(image, {10, 0, 30}).is_ok());
  const Status outside = check_crop(image, {11, 0, 30});
  CHECK_THAT(outside.message(), Contains("x=11 y=0 side=30") && Contains("40x30") && Contains("x + side <= 40"));
  CHECK_THAT(check_crop(image, {-1, 0, 5}).message(), Contains("reaches outside"));
  CHECK_THAT(check_crop(image, {0, 0, 0}).message(), Contains("has no area"));
  CHECK_THAT(check_crop(image, {2147483000, 0, 2000}).message(), Contains("reaches outside"));  // no int overflow
  const RgbImage inconsistent = make_image(40, 30, std::vector<std::uint8_t>(17));
  CHECK_THAT(check_crop(inconsistent, {0, 0, 5}).message(), Contains("17 bytes") && Contains("width * height * 3"));
}

TEST_CASE("crop_resize: constant stays constant, shrinking averages areas exactly, equal sides copy",
          "[image][resize]") {
  SECTION("a constant image stays constant at any ratio, shrinking or enlarging") {
    const int source_side = GENERATE(112, 113, 224, 250, 300, 56, 37);
    const RgbImage image = make_image(source_side + 9, source_side, [&] {
      std::vector<std::uint8_t> p((source_side + 9) * source_side * 3);
      for (std::size_t i = 0; i < p.size(); ++i)
        p[i] = static_cast<std::uint8_t>(i % 3 == 0 ? 201 : i % 3 == 1 ? 3 : 255);
      return p;
    }());
    const Result<RgbImage> resized = crop_resize(image, centred_crop(image.width, image.height));
    REQUIRE(resized.is_ok());
    REQUIRE(resized->width == kModelInputSide);
    for (std::size_t i = 0; i < resized->pixels.size(); ++i) {
      REQUIRE(resized->pixels[i] == (i % 3 == 0 ? 201 : i % 3 == 1 ? 3 : 255));
    }
  }
  SECTION("224 -> 112: each output pixel is the mean of its 2x2 block, also for a 1-pixel checkerboard") {
    const bool checkerboard = GENERATE(true, false);
    std::vector<std::uint8_t> pixels = random_bytes(224 * 224 * 3, 8);
    if (checkerboard) {
      for (int y = 0; y < 224; ++y) {
        for (int x = 0; x < 224; ++x) {
          for (int c = 0; c < 3; ++c) pixels[(y * 224 + x) * 3 + c] = (x + y) % 2 == 0 ? 10 : 203;
        }
      }
    }
    const RgbImage image = make_image(224, 224, pixels);
    const Result<RgbImage> resized = crop_resize(image, {0, 0, 224});
    REQUIRE(resized.is_ok());
    for (int y = 0; y < 112; ++y) {
      for (int x = 0; x < 112; ++x) {
        for (int c = 0; c < 3; ++c) {
          double sum = 0;
          for (int dy = 0; dy < 2; ++dy) {
            for (int dx = 0; dx < 2; ++dx) sum += pixel(image, 2 * x + dx, 2 * y + dy, c);
          }
          require_rounded(pixel(resized.value(), x, y, c), sum / 4);
        }
      }
    }
    if (checkerboard) REQUIRE(pixel(resized.value(), 5, 7, 1) == 107);  // (10 + 203) / 2 = 106.5, rounded up
  }
  SECTION("a 336 crop at an offset -> 112: the mean of each 3x3 block, nothing from outside the crop") {
    const RgbImage image = make_image(350, 340, random_bytes(350 * 340 * 3, 9));
    const SquareCrop crop{5, 3, 336};
    const Result<RgbImage> resized = crop_resize(image, crop);
    REQUIRE(resized.is_ok());
    for (int y = 0; y < 112; ++y) {
      for (int x = 0; x < 112; ++x) {
        for (int c = 0; c < 3; ++c) {
          double sum = 0;
          for (int dy = 0; dy < 3; ++dy) {
            for (int dx = 0; dx < 3; ++dx) sum += pixel(image, crop.x + 3 * x + dx, crop.y + 3 * y + dy, c);
          }
          require_rounded(pixel(resized.value(), x, y, c), sum / 9);
        }
      }
    }
  }
  SECTION("a 112 crop is copied exactly") {
    const RgbImage image = make_image(130, 120, random_bytes(130 * 120 * 3, 10));
    const Result<RgbImage> resized = crop_resize(image, {11, 4, 112});
    REQUIRE(resized.is_ok());
    for (int y = 0; y < 112; ++y) {
      for (int x = 0; x < 112; ++x) {
        for (int c = 0; c < 3; ++c) REQUIRE(pixel(resized.value(), x, y, c) == pixel(image, 11 + x, 4 + y, c));
      }
    }
  }
  SECTION("enlarging interpolates: a horizontal ramp stays a non-decreasing ramp within its range") {
    std::vector<std::uint8_t> ramp(56 * 56 * 3);
    for (int y = 0; y < 56; ++y) {
      for (int x = 0; x < 56; ++x) {
        for (int c = 0; c < 3; ++c) ramp[(y * 56 + x) * 3 + c] = static_cast<std::uint8_t>(x * 4);
      }
    }
    const Result<RgbImage> resized = crop_resize(make_image(56, 56, ramp), {0, 0, 56});
    REQUIRE(resized.is_ok());
    for (int y = 0; y < 112; ++y) {
      for (int x = 1; x < 112; ++x) REQUIRE(pixel(resized.value(), x, y, 0) >= pixel(resized.value(), x - 1, y, 0));
      REQUIRE(pixel(resized.value(), 0, y, 2) == 0);
      REQUIRE(pixel(resized.value(), 111, y, 2) == 220);
    }
  }
  SECTION("bad crops and sides are refused") {
    const RgbImage image = make_image(50, 50, std::vector<std::uint8_t>(50 * 50 * 3));
    CHECK_THAT(crop_resize(image, {0, 0, 51}).message(), Contains("reaches outside the 50x50 image"));
    CHECK_THAT(crop_resize(image, {0, 0, 50}, 0).message(), Contains("output side is 0"));
  }
}

TEST_CASE("recentre subtracts the means; unrecentre undoes it exactly and clamps", "[image][recentre]") {
  const RgbImage image = make_image(5, 4, random_bytes(5 * 4 * 3, 11));
  const Tensor input = recentre(image);
  REQUIRE(input.shape == Shape3{4, 5, 3});
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 5; ++x) {
      for (int c = 0; c < 3; ++c)
        REQUIRE(input.at(y, x, c) == static_cast<float>(pixel(image, x, y, c)) - kChannelMeans[c]);
    }
  }
  const RgbImage back = unrecentre(input);
  REQUIRE(back.width == 5);
  REQUIRE(back.height == 4);
  REQUIRE(back.pixels == image.pixels);

  Tensor extreme(Shape3{1, 2, 3});
  extreme.data = {-1000.0f,
                  1000.0f,
                  std::numeric_limits<float>::quiet_NaN(),
                  0.4f - kChannelMeans[0],
                  0.6f - kChannelMeans[1],
                  254.5f - kChannelMeans[2]};
  REQUIRE(unrecentre(extreme).pixels == std::vector<std::uint8_t>{0, 255, 0, 0, 1, 255});

  CHECK(recentre(make_image(2, 2, std::vector<std::uint8_t>(5))).data.empty());
  CHECK(unrecentre(Tensor(Shape3{2, 2, 4})).pixels.empty());
}

TEST_CASE("image_to_input: a 112x112 PNG becomes exactly pixel - mean", "[image][input]") {
  const std::vector<std::uint8_t> rgb = random_bytes(112 * 112 * 3, 12);
  const fx::Bytes png = fx::encode_png(112, 112, 3, rgb);
  const Result<Tensor> input = image_to_input(png.data(), png.size());
  REQUIRE(input.is_ok());
  REQUIRE(input->shape == Shape3{112, 112, 3});
  for (std::size_t i = 0; i < rgb.size(); ++i)
    REQUIRE(input->data[i] == static_cast<float>(rgb[i]) - kChannelMeans[i % 3]);

  SECTION("an explicit crop of a larger image") {
    const std::vector<std::uint8_t> big = random_bytes(150 * 120 * 3, 13);
    const fx::Bytes file = fx::encode_png(150, 120, 3, big);
    const SquareCrop crop{30, 8, 112};
    const Result<Tensor> cropped = image_to_input(file.data(), file.size(), &crop);
    REQUIRE(cropped.is_ok());
    for (int y = 0; y < 112; ++y) {
      for (int x = 0; x < 112; ++x) {
        for (int c = 0; c < 3; ++c) {
          REQUIRE(cropped->at(y, x, c) == static_cast<float>(big[((8 + y) * 150 + 30 + x) * 3 + c]) - kChannelMeans[c]);
        }
      }
    }
    const SquareCrop outside{100, 0, 112};
    CHECK_THAT(image_to_input(file.data(), file.size(), &outside).message(), Contains("outside the 150x120 image"));
  }
}

TEST_CASE("inputs refused before reading any pixel", "[image][bad]") {
  const std::uint8_t one_byte = 0xFF;
  CHECK_THAT(probe_image(nullptr, 0).message(), Contains("empty (0 bytes)"));
  CHECK_THAT(decode_image(&one_byte, 0).message(), Contains("empty (0 bytes)"));
  // The size alone is refused; the bytes behind the pointer are never read.
  CHECK_THAT(probe_image(&one_byte, ImageLimits::max_file_bytes + 1).message(),
             Contains("104857601 bytes") && Contains("at most 104857600 bytes (100 MiB)"));
  CHECK_THAT(probe_image(&one_byte, 1).message(), Contains("unrecognised image format") && Contains("ff (\".\")"));
}

// Every file in tests/bad_inputs with the message it must produce. decode_image and image_to_input repeat the
// probe's refusal; files the probe accepts must fail in decode_image.
TEST_CASE("the bad-input corpus fails with messages that say what was found", "[image][bad]") {
  struct Expectation {
    const char* file;
    std::vector<const char*> message_parts;
    bool probe_accepts;
  };
  const char* truncated_data = "before the end of its image data: it looks truncated";
  const std::vector<Expectation> expectations = {
      {"empty.jpg", {"empty (0 bytes)", "expected a JPEG, PNG, BMP or GIF file"}, false},
      {"html_named.jpg",
       {"unrecognised image format", "3c 21 44 4f 43 54 59 50 (\"<!DOCTYP\")", "expected a JPEG"},
       false},
      {"random_4096_seed1234.bin", {"unrecognised image format", "2f d3 26 35"}, false},
      {"random_after_jpeg_magic.jpg", {"the JPEG header is malformed"}, false},
      {"random_after_png_magic.png", {"the PNG header is malformed"}, false},
      {"truncated_jpeg_3_bytes.jpg", {"JPEG file ends after 3 bytes, inside its header: it looks truncated"}, false},
      {"truncated_jpeg_100_bytes.jpg", {"JPEG file ends after 100 bytes, inside its header"}, false},
      {"truncated_jpeg_at_scan.jpg", {"JPEG file ends after 607 bytes", truncated_data}, true},
      {"truncated_jpeg_half.jpg", {"JPEG file ends after 1069 bytes", truncated_data}, true},
      {"truncated_jpeg_no_eoi.jpg", {"JPEG file ends after 2137 bytes", truncated_data}, true},
      {"truncated_png_20_bytes.png", {"PNG file ends after 20 bytes, inside its header"}, false},
      {"truncated_png_after_ihdr.png", {"PNG file ends after 33 bytes", truncated_data}, true},
      {"truncated_png_half.png", {"PNG file ends after 4557 bytes", truncated_data}, true},
      {"truncated_png_no_iend.png", {"PNG file ends after 9103 bytes", truncated_data}, true},
      {"truncated_bmp_half.bmp", {"BMP file ends after 4635 bytes", truncated_data}, true},
      {"truncated_gif_8_bytes.gif", {"GIF file ends after 8 bytes, inside its header"}, false},
      {"truncated_gif_half.gif", {"GIF file ends after 887 bytes", truncated_data}, true},
      {"gif_no_frames.gif", {"the GIF file holds no image frame; expected at least one"}, true},
      {"png_claims_60000x60000.png", {"PNG image is 60000x60000 pixels", "at most 20000 pixels"}, false},
      {"png_claims_20000x20000.png", {"20000x20000 pixels (400.0 megapixels)", "at most 50 megapixels"}, false},
      {"jpeg_claims_30000x30000.jpg", {"JPEG image is 30000x30000 pixels", "at most 20000 pixels"}, false},
      {"jpeg_arithmetic_sof9.jpg", {"arithmetic coding (frame marker 0xC9)", "only baseline and progressive"}, false},
      {"jpeg_12_bit.jpg", {"12-bit samples", "only 8-bit JPEG"}, false},
      {"jpeg_huffman_table_320_codes.jpg", {"Huffman table with 320 codes; a table holds at most 256"}, false},
      {"jpeg_without_huffman_tables.jpg", {"uses DC Huffman table 0 in scan 1 without defining it first"}, false},
  };
  for (const Expectation& expected : expectations) {
    INFO(expected.file);
    const fx::Bytes bytes = read_bad_input(expected.file);
    const Result<ImageHeader> header = probe_image(bytes.data(), bytes.size());
    const Result<RgbImage> decoded = decode_image(bytes.data(), bytes.size());
    const Result<Tensor> input = image_to_input(bytes.data(), bytes.size());
    CHECK(header.is_ok() == expected.probe_accepts);
    REQUIRE_FALSE(decoded.is_ok());
    REQUIRE_FALSE(input.is_ok());
    CHECK(input.message() == decoded.message());
    if (!expected.probe_accepts) CHECK(header.message() == decoded.message());
    for (const char* part : expected.message_parts) CHECK_THAT(decoded.message(), Contains(part));
  }
}

// stb_image 2.27 overruns its arrays on such a table wherever it appears, including between the scans of a
// progressive JPEG, so the check must walk past entropy-coded data.
TEST_CASE("a Huffman table with over 256 codes is refused, also between progressive scans", "[image][bad]") {
  const fx::Bytes progressive =
      fx::encode_flat_block_jpeg(16, 16, 3, std::vector<fx::Rgb>(4, fx::Rgb{50, 100, 150}), true);
  auto with_table_before_eoi = [&](int codes_per_length) {
    fx::Bytes table = {0xFF, 0xC4};
    const int codes = 16 * codes_per_length;
    const int length = 2 + 17 + codes;
    table.insert(table.end(), {static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length), 0x11});
    table.insert(table.end(), 16, static_cast<std::uint8_t>(codes_per_length));
    for (int i = 0; i < codes; ++i) table.push_back(static_cast<std::uint8_t>(i));
    fx::Bytes file(progressive.begin(), progressive.end() - 2);
    file.insert(file.end(), table.begin(), table.end());
    file.insert(file.end(), {0xFF, 0xD9});
    return file;
  };
  const fx::Bytes overfull = with_table_before_eoi(20);
  CHECK_THAT(decode_image(overfull.data(), overfull.size()).message(),
             Contains("Huffman table with 320 codes; a table holds at most 256"));
  // 16 lengths x 1 code: a legal (if useless) table after the last scan, which must not be refused.
  const fx::Bytes legal = with_table_before_eoi(1);
  CHECK(decode_ok(legal).pixels == decode_ok(progressive).pixels);
}

// stb_image 2.27 leaves its Huffman tables uninitialised until a DHT segment defines them.
TEST_CASE("a scan using a Huffman table the file never defined is refused", "[image][bad]") {
  fx::Bytes baseline = fx::encode_flat_block_jpeg(16, 8, 1, std::vector<fx::Rgb>(2, fx::Rgb{9, 9, 9}), false);
  const std::size_t scan = fx::find_jpeg_scan_data(baseline);
  REQUIRE(decode_image(baseline.data(), baseline.size()).is_ok());
  baseline[scan - 4] = 0x01;  // the one component's selector: DC table 0 (defined), AC table 1 (never defined)
  CHECK_THAT(decode_image(baseline.data(), baseline.size()).message(),
             Contains("uses AC Huffman table 1 in scan 1 without defining it first"));
}

TEST_CASE("the corrupted-EXIF files in the corpus decode, upright as stored", "[image][bad][exif]") {
  fx::Bytes reference = read_bad_input("truncated_jpeg_no_eoi.jpg");
  reference.insert(reference.end(), {0xFF, 0xD9});  // the complete JPEG the EXIF files were built from
  const RgbImage expected = decode_ok(reference);
  for (const char* name : {"exif_ifd_offset_out_of_range.jpg", "exif_entry_count_too_large.jpg",
                           "exif_bad_byte_order.jpg", "exif_orientation_9.jpg", "exif_truncated_tiff.jpg"}) {
    INFO(name);
    const fx::Bytes bytes = read_bad_input(name);
    const Result<ImageHeader> header = probe_image(bytes.data(), bytes.size());
    REQUIRE(header.is_ok());
    CHECK(header->exif_orientation == 1);
    CHECK(decode_ok(bytes).pixels == expected.pixels);
  }
}

TEST_CASE("every prefix of a valid file fails cleanly or decodes; none crashes", "[image][bad]") {
  const std::vector<std::uint8_t> rgb = random_bytes(24 * 16 * 3, 14);
  const std::vector<fx::Bytes> files = {
      fx::insert_after_soi(fx::encode_jpeg(24, 16, 3, rgb, 80), fx::exif_segment(6, false)),
      fx::encode_png(24, 16, 3, rgb),
      fx::encode_bmp(24, 16, 3, rgb),
      fx::encode_gif(24, 16, {{0, 0, 0}, {9, 9, 9}}, {std::vector<std::uint8_t>(rgb.begin(), rgb.begin() + 24 * 16)}),
      fx::encode_flat_block_jpeg(24, 16, 3, std::vector<fx::Rgb>(6, fx::Rgb{1, 2, 3}), true),
      fx::encode_flat_block_jpeg(24, 16, 1, std::vector<fx::Rgb>(6, fx::Rgb{1, 2, 3}), false),
  };
  for (const fx::Bytes& file : files) {
    const RgbImage complete = decode_ok(file);
    std::size_t shortest_accepted = file.size();
    for (std::size_t length = 0; length < file.size(); ++length) {
      const Result<RgbImage> decoded = decode_image(file.data(), length);
      INFO("prefix of " << length << " of " << file.size() << " bytes");
      if (decoded.is_ok()) {
        // Only bytes the decoder never needs may be missing (a GIF's trailer, a PNG's IEND checksum).
        REQUIRE(decoded->pixels == complete.pixels);
        shortest_accepted = std::min(shortest_accepted, length);
      } else {
        REQUIRE_FALSE(decoded.message().empty());
      }
    }
    CHECK(file.size() - shortest_accepted <= 4);
  }
}
