// Writes the images tests/screen_cli.cmake screens: PNGs of bright and dark dots at different places and sizes (the
// demo model's responses differ across them), in a folder with a subfolder, plus one file that is not an image.
// Usage: make_screen_images DIR
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "image_fixtures.hpp"

using namespace cortexlens;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_screen_images DIR\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir / "more");
  constexpr int side = 112;
  for (int k = 0; k < 18; ++k) {
    const double cx = 56 + 3.0 * (k % 5) - 6, cy = 56 + 2.0 * (k % 3) - 2, radius = 2 + k % 4;
    const int level = k % 6 == 5 ? 20 : 235;  // a few dark dots
    std::vector<std::uint8_t> pixels(side * side * 3);
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) {
        const bool inside = std::hypot(x - cx, y - cy) <= radius;
        for (int c = 0; c < 3; ++c)
          pixels[(y * side + x) * 3 + c] = static_cast<std::uint8_t>(inside ? level : 110 + 2 * c + k % 3);
      }
    char name[32];
    std::snprintf(name, sizeof name, "%s/dot%02d.png", k < 12 ? "." : "more", k);
    if (!fixtures::write_file((dir / name).string(), fixtures::encode_png(side, side, 3, pixels))) return 1;
  }
  const std::string not_an_image = "this file is called .png but holds text";
  if (!fixtures::write_file((dir / "broken.png").string(), fixtures::Bytes(not_an_image.begin(), not_an_image.end())))
    return 1;
  return 0;
}
