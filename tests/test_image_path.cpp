// Nearly identical images (cortexlens/image_path.hpp): each transform measured on images whose answer is known, the
// path, the population distance; and one FNV-1a hash per transform of a fixed image, the same natively and in wasm
// (this file runs on both targets), which is what makes the page's pixels the CLI's.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "cortexlens/fnv1a.hpp"
#include "cortexlens/image_path.hpp"

using namespace cortexlens;

namespace {

RgbImage make_image(int w, int h, std::uint8_t (*pixel)(int x, int y, int c)) {
  RgbImage image;
  image.width = w;
  image.height = h;
  image.pixels.resize(static_cast<std::size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) image.pixels[(static_cast<std::size_t>(y) * w + x) * 3 + c] = pixel(x, y, c);
  return image;
}

int at(const RgbImage& image, int x, int y, int c) {
  return image.pixels[(static_cast<std::size_t>(y) * image.width + x) * 3 + c];
}

// A textured 112x112 test image: a diagonal colour ramp with a checker and a bright square off centre.
std::uint8_t textured(int x, int y, int c) {
  int v = (x * 2 + y * (c + 1)) % 200 + ((x / 7 + y / 5) % 2) * 40;
  if (x >= 60 && x < 70 && y >= 30 && y < 40) v = 250;
  return static_cast<std::uint8_t>(v);
}

RgbImage transformed(const RgbImage& image, TransformKind kind, double amount, std::uint64_t seed = 1) {
  auto out = apply_transform(image, {kind, amount, seed});
  REQUIRE(out.is_ok());
  return out.value();
}

}  // namespace

TEST_CASE("image path: an integer shift moves pixels exactly and repeats the edge column") {
  const RgbImage image = make_image(112, 112, textured);
  for (int k : {1, 2, 5, -3}) {
    const RgbImage moved = transformed(image, TransformKind::shift, k);
    for (int y = 0; y < 112; y += 3)
      for (int x = 0; x < 112; ++x) {
        const int source = std::clamp(x - k, 0, 111);
        for (int c = 0; c < 3; ++c) REQUIRE(at(moved, x, y, c) == at(image, source, y, c));
      }
  }
  // Half a pixel: the mean of the two neighbours, rounded to nearest.
  const RgbImage half = transformed(image, TransformKind::shift, 0.5);
  CHECK(at(half, 50, 10, 0) == (at(image, 49, 10, 0) + at(image, 50, 10, 0) + 1) / 2);
}

TEST_CASE("image path: the identities leave the image unchanged") {
  const RgbImage image = make_image(112, 112, textured);
  for (auto kind : {TransformKind::shift, TransformKind::scale, TransformKind::rotate, TransformKind::contrast,
                    TransformKind::blur, TransformKind::noise})
    CHECK(transformed(image, kind, identity_amount(kind)).pixels == image.pixels);
  // A full turn is the identity up to the fixed-point sine (exact here: cos 360 = 1, sin 360 = 0).
  CHECK(transformed(image, TransformKind::rotate, 180).pixels != image.pixels);
  CHECK(transformed(image, TransformKind::rotate, -180).pixels ==
        transformed(image, TransformKind::rotate, 180).pixels);
}

TEST_CASE("image path: a quarter turn moves the right of the image to the top (counter-clockwise)") {
  const RgbImage image = make_image(112, 112, textured);
  const RgbImage turned = transformed(image, TransformKind::rotate, 90);
  // Pixel centres map to pixel centres on an even-sided square: (x, y) <- (111 - y, x).
  for (int y = 0; y < 112; y += 5)
    for (int x = 0; x < 112; x += 5)
      for (int c = 0; c < 3; ++c) REQUIRE(at(turned, x, y, c) == at(image, 111 - y, x, c));
  const RgbImage back = transformed(transformed(turned, TransformKind::rotate, 90), TransformKind::rotate, 180);
  CHECK(back.pixels == image.pixels);
}

TEST_CASE("image path: scale zooms about the centre") {
  // A centred white square of side 20 on black becomes side 40 at scale 2.
  const RgbImage image = make_image(
      112, 112, [](int x, int y, int) -> std::uint8_t { return x >= 46 && x < 66 && y >= 46 && y < 66 ? 255 : 0; });
  const RgbImage zoomed = transformed(image, TransformKind::scale, 2);
  int white = 0;
  for (int y = 0; y < 112; ++y)
    for (int x = 0; x < 112; ++x) white += at(zoomed, x, y, 0) >= 128;
  CHECK(white == 40 * 40);
  CHECK(at(zoomed, 37, 56, 0) == 255);
  CHECK(at(zoomed, 35, 56, 0) == 64);  // bilinear: a quarter of the way into the square's edge
  CHECK(at(zoomed, 34, 56, 0) == 0);
}

TEST_CASE("image path: contrast scales each channel's distance from its mean") {
  const RgbImage image = make_image(112, 112, [](int x, int, int c) -> std::uint8_t { return x < 56 ? 100 : 140 + c; });
  const RgbImage flat = transformed(image, TransformKind::contrast, 0);
  for (int c = 0; c < 3; ++c) CHECK(at(flat, 0, 0, c) == at(flat, 111, 111, c));
  CHECK(at(flat, 0, 0, 0) == 120);
  const RgbImage doubled = transformed(image, TransformKind::contrast, 2);
  CHECK(at(doubled, 0, 0, 0) == 80);
  CHECK(at(doubled, 111, 0, 0) == 160);
  CHECK(at(transformed(image, TransformKind::contrast, 0.5), 0, 0, 0) == 110);
}

TEST_CASE("image path: blur keeps a flat image flat and spreads a dot by its sigma") {
  const RgbImage grey = make_image(112, 112, [](int, int, int) -> std::uint8_t { return 77; });
  CHECK(transformed(grey, TransformKind::blur, 2.5).pixels == grey.pixels);
  const RgbImage dot = make_image(
      112, 112, [](int x, int y, int) -> std::uint8_t { return x >= 50 && x < 60 && y >= 50 && y < 60 ? 255 : 0; });
  const RgbImage blurred = transformed(dot, TransformKind::blur, 2);
  // The total light is kept (taps sum to exactly 1), and the profile is symmetric about the square's centre.
  long before = 0, after = 0;
  for (std::size_t i = 0; i < dot.pixels.size(); ++i) {
    before += dot.pixels[i];
    after += blurred.pixels[i];
  }
  CHECK(std::abs(after - before) < before / 100);
  for (int d = 0; d < 10; ++d) CHECK(at(blurred, 50 + d, 55, 0) == at(blurred, 59 - d, 55, 0));
  // The edge's midpoint falls half way (a Gaussian's cumulative at 0 is 1/2).
  CHECK(std::abs(at(blurred, 49, 55, 0) + at(blurred, 50, 55, 0) - 255) <= 4);
  // sigma 2: 6 pixels out (3 sigma) the blurred edge has died out.
  CHECK(at(blurred, 40, 55, 0) <= 1);
}

TEST_CASE("image path: noise has the asked standard deviation and depends only on the seed") {
  const RgbImage grey = make_image(112, 112, [](int, int, int) -> std::uint8_t { return 128; });
  const RgbImage noisy = transformed(grey, TransformKind::noise, 10, 7);
  double sum = 0, squares = 0;
  for (std::uint8_t v : noisy.pixels) {
    sum += v - 128.0;
    squares += (v - 128.0) * (v - 128.0);
  }
  const double n = static_cast<double>(noisy.pixels.size());
  CHECK(std::abs(sum / n) < 0.2);
  CHECK(std::sqrt(squares / n) == Approx(10).epsilon(0.03));
  CHECK(transformed(grey, TransformKind::noise, 10, 7).pixels == noisy.pixels);
  CHECK(transformed(grey, TransformKind::noise, 10, 8).pixels != noisy.pixels);
}

TEST_CASE("image path: blends and paths") {
  const RgbImage a = make_image(112, 112, textured);
  const RgbImage b = make_image(112, 112, [](int, int, int) -> std::uint8_t { return 200; });
  CHECK(blend_images(a, b, 0).value().pixels == a.pixels);
  CHECK(blend_images(a, b, 1).value().pixels == b.pixels);
  CHECK(at(blend_images(a, b, 0.5).value(), 3, 4, 1) == (at(a, 3, 4, 1) + 200 + 1) / 2);

  auto blend = image_path(a, &b, nullptr, 5);
  REQUIRE(blend.is_ok());
  REQUIRE(blend->size() == 5);
  CHECK(blend.value()[0].pixels == a.pixels);
  CHECK(blend.value()[4].pixels == b.pixels);

  const ImageTransform shift{TransformKind::shift, 2, 1};
  auto path = image_path(a, nullptr, &shift, 3);
  REQUIRE(path.is_ok());
  CHECK(path.value()[0].pixels == a.pixels);
  CHECK(path.value()[1].pixels == transformed(a, TransformKind::shift, 1).pixels);
  CHECK(path.value()[2].pixels == transformed(a, TransformKind::shift, 2).pixels);
  CHECK(path_amount({TransformKind::scale, 1.2, 1}, 1, 3) == Approx(1.1));
}

TEST_CASE("image path: bad requests are refused with what was expected") {
  const RgbImage a = make_image(112, 112, textured);
  const RgbImage small = make_image(50, 50, textured);
  CHECK(blend_images(a, small, 0.5).message().find("expected one size") != std::string::npos);
  CHECK(image_path(a, nullptr, nullptr, 5).message().find("either a second image or a transform") != std::string::npos);
  const ImageTransform shift{TransformKind::shift, 2, 1};
  CHECK(image_path(a, nullptr, &shift, 1).message().find("expected 2..256") != std::string::npos);
  CHECK(image_path(a, nullptr, &shift, 1000).message().find("expected 2..256") != std::string::npos);
  CHECK(parse_transform("twist=3").message().find("unknown transform 'twist'") != std::string::npos);
  CHECK(parse_transform("shift").message().find("has no '='") != std::string::npos);
  CHECK(parse_transform("shift=abc").message().find("is not a number") != std::string::npos);
  CHECK(parse_transform("scale=0").message().find("expected 0.25..4") != std::string::npos);
  CHECK(parse_transform("blur=nan").message().find("out of range") != std::string::npos);
  CHECK(parse_transform("rotate=-3").value().amount == -3);
  RgbImage broken = a;
  broken.pixels.pop_back();
  CHECK(apply_transform(broken, shift).message().find("width * height * 3") != std::string::npos);
}

TEST_CASE("image path: population distance is the RMS change in natural-image spreads") {
  const PopulationSpread spread = spread_from_quartiles({0, 0, 1}, {1.349, 2 * 1.349, 1});  // 1, 2, (none)
  auto d = population_distance({3, 4, 9}, {1, 0, 0}, spread);
  REQUIRE(d.is_ok());
  CHECK(d->used == 2);
  CHECK(d->distance == Approx(std::sqrt((4.0 + 4.0) / 2)));
  CHECK(!population_distance({1, 2}, {1, 2, 3}, spread).is_ok());
  CHECK(percentile_of(0.5, {0, 1}) == Approx(50));
  CHECK(percentile_of(-1, {0, 1}) == 0);
  CHECK(percentile_of(2, {0, 1, 2}) == 100);
  CHECK(std::isnan(percentile_of(1, {})));
}

// Golden hashes of every transform of the textured image. The same test binary runs natively and compiled to wasm,
// so both must produce these exact bytes; tests/wasm/path.test.mjs checks the module the page loads against the
// CLI as well.
TEST_CASE("image path: every transform gives the same bytes on every target") {
  const RgbImage image = make_image(112, 112, textured);
  struct Case {
    TransformKind kind;
    double amount;
    std::uint32_t hash;
  };
  const Case cases[] = {
      {TransformKind::shift, 2, 0xaa4f43e1u},      {TransformKind::shift, 1.3, 0xe9959eb7u},
      {TransformKind::scale, 1.05, 0x76bfe726u},   {TransformKind::rotate, 3, 0x424dbd0eu},
      {TransformKind::rotate, -37.5, 0x62eebd3eu}, {TransformKind::contrast, 0.8, 0x02c7ee7au},
      {TransformKind::blur, 1, 0xb62f64b9u},       {TransformKind::blur, 0.7, 0xf08d15c8u},
      {TransformKind::noise, 4, 0x1b1dfa2du},
  };
  for (const Case& c : cases) {
    INFO(transform_name(c.kind) << "=" << c.amount);
    CHECK(fnv1a_32(transformed(image, c.kind, c.amount).pixels) == c.hash);
  }
}
