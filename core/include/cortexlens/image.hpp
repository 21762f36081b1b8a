// Image input: bytes of a JPEG/PNG/BMP/GIF file -> upright 8-bit RGB -> a square crop -> 112x112 -> recentred.
// One decoder (stb_image) is used everywhere, natively and in the browser, so the page and the command line
// see identical pixels. (The authors decoded with libjpeg; stb_image differs by up to 3 levels on ~5% of JPEG
// pixels, which moves a response by up to ~0.005, about 1% of its spread across images.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cortexlens/status.hpp"
#include "cortexlens/tensor.hpp"

namespace cortexlens {

// Refused from the header, before any pixel is decoded. 50 megapixels covers current phone cameras
// (48 MP) while keeping the decoded RGB under 150 MB in a browser tab.
struct ImageLimits {
  static constexpr int max_side = 20000;
  static constexpr std::int64_t max_pixels = 50'000'000;
  static constexpr std::size_t max_file_bytes = 100u << 20;
};

// The RGB means the published models subtract (their "recentring"), in 0..255 units.
constexpr float kChannelMeans[3] = {116.222f, 109.270f, 100.381f};
constexpr int kModelInputSide = 112;

struct ImageHeader {
  int width = 0, height = 0;  // as stored in the file, before orientation
  int channels = 0;           // as stored: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA (a GIF always says 4)
  int exif_orientation = 1;   // 1..8 (EXIF tag 0x0112); 1 when absent or not a JPEG
  std::string format;         // "jpeg", "png", "bmp", "gif"
  int upright_width() const { return exif_orientation >= 5 ? height : width; }
  int upright_height() const { return exif_orientation >= 5 ? width : height; }
};

// Upright 8-bit RGB, (H, W, 3) row-major.
struct RgbImage {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;
};

// Reads only the header: format (by signature, not by file name), dimensions, channels, EXIF orientation.
// Refuses, each with a message saying what was found: an empty or over-large buffer, an unknown format,
// dimensions over ImageLimits (the size found and the limit), a header cut off by the end of the file, a JPEG
// coding stb_image lacks (lossless, arithmetic, 12-bit), and a JPEG Huffman table over 256 codes (stb_image
// 2.27 would write out of bounds on it). Malformed EXIF never fails: it means orientation 1.
Result<ImageHeader> probe_image(const std::uint8_t* bytes, std::size_t size);

// Probes, then decodes the first frame, converts grey/alpha/16-bit to 8-bit RGB (16-bit rounds to nearest;
// alpha is composited over kChannelMeans, which the model sees as zero input), and applies the EXIF orientation
// so phone photos are upright, as browsers show them. A file that ends before its image data does (a JPEG
// without its end marker included) is refused as truncated rather than decoded with the rest made up.
// Peak memory is several times the 3 bytes per pixel of the result (stb's working buffers, freed before
// returning); ImageLimits is what bounds it.
Result<RgbImage> decode_image(const std::uint8_t* bytes, std::size_t size);

// A square region of an upright image, in pixels: top-left corner and side.
struct SquareCrop {
  int x = 0, y = 0, side = 0;
};

// The largest centred square (odd margins put the extra pixel right/below). Side 0 for an empty size.
SquareCrop centred_crop(int width, int height);

// Checks the image is consistent (pixels.size() == width * height * 3), and the crop has a positive side
// and lies inside the image.
Status check_crop(const RgbImage& image, const SquareCrop& crop);

// Crops, resizes to side x side with area averaging when shrinking (triangle filter when enlarging; an identity
// copy when the crop already has that side), and returns the 8-bit result the model will see, rounded to
// nearest. Only pixels inside the crop contribute (edges clamp to the crop). side must be 1..max_side.
Result<RgbImage> crop_resize(const RgbImage& image, const SquareCrop& crop, int side = kModelInputSide);

// Pixel values minus kChannelMeans, as float (H, W, 3): the model input. An inconsistent image (see
// check_crop) gives an empty tensor.
Tensor recentre(const RgbImage& image);

// The inverse for display: adds the means back, rounds to nearest and clamps to 0..255 (NaN becomes 0).
// recentre then unrecentre returns the image unchanged. A tensor that is not (H, W, 3) gives an empty image.
RgbImage unrecentre(const Tensor& input);

// The whole path from file bytes to model input: decode, crop (centred when crop is null), resize, recentre.
Result<Tensor> image_to_input(const std::uint8_t* bytes, std::size_t size, const SquareCrop* crop = nullptr);

}  // namespace cortexlens
