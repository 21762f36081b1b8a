// From an upright RGB image to the model input: the crop, the resize, recentring and its inverse, and the whole
// path from file bytes (image.hpp). Decoding is decode.cpp.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "cortexlens/image.hpp"

#include <stb_image_resize.h>

namespace cortexlens {

namespace {

constexpr int kRgb = 3;

std::uint8_t round_to_u8(float value) {
  if (!(value > 0.0f)) return 0;  // also NaN
  if (value >= 255.0f) return 255;
  return static_cast<std::uint8_t>(std::lround(value));
}

Status check_image(const RgbImage& image) {
  const std::int64_t expected = std::int64_t{image.width} * image.height * kRgb;
  if (image.width <= 0 || image.height <= 0 || static_cast<std::int64_t>(image.pixels.size()) != expected) {
    return Status::error("the image is " + std::to_string(image.width) + "x" + std::to_string(image.height) + " with " +
                         std::to_string(image.pixels.size()) +
                         " bytes of pixels; expected a positive size and width * height * 3 bytes");
  }
  return Status::ok();
}

}  // namespace

SquareCrop centred_crop(int width, int height) {
  SquareCrop crop;
  if (width <= 0 || height <= 0) return crop;
  crop.side = std::min(width, height);
  crop.x = (width - crop.side) / 2;
  crop.y = (height - crop.side) / 2;
  return crop;
}

Status check_crop(const RgbImage& image, const SquareCrop& crop) {
  CL_RETURN_IF_ERROR(check_image(image));
  const std::string described =
      "the crop x=" + std::to_string(crop.x) + " y=" + std::to_string(crop.y) + " side=" + std::to_string(crop.side);
  if (crop.side <= 0) return Status::error(described + " has no area; expected a side of at least 1 pixel");
  const std::int64_t right = std::int64_t{crop.x} + crop.side, bottom = std::int64_t{crop.y} + crop.side;
  if (crop.x < 0 || crop.y < 0 || right > image.width || bottom > image.height) {
    return Status::error(described + " reaches outside the " + std::to_string(image.width) + "x" +
                         std::to_string(image.height) + " image; expected x >= 0, y >= 0, x + side <= " +
                         std::to_string(image.width) + ", y + side <= " + std::to_string(image.height));
  }
  return Status::ok();
}

Result<RgbImage> crop_resize(const RgbImage& image, const SquareCrop& crop, int side) {
  CL_RETURN_IF_ERROR(check_crop(image, crop));
  if (side <= 0 || side > ImageLimits::max_side) {
    return Status::error("the output side is " + std::to_string(side) + " pixels; expected 1.." +
                         std::to_string(ImageLimits::max_side));
  }
  RgbImage resized;
  resized.width = side;
  resized.height = side;
  resized.pixels.resize(static_cast<std::size_t>(side) * side * kRgb);
  const std::size_t input_stride = static_cast<std::size_t>(image.width) * kRgb;
  const std::uint8_t* crop_origin =
      image.pixels.data() + static_cast<std::size_t>(crop.y) * input_stride + static_cast<std::size_t>(crop.x) * kRgb;

  if (crop.side == side) {
    const std::size_t row_bytes = static_cast<std::size_t>(side) * kRgb;
    for (int y = 0; y < side; ++y) {
      std::memcpy(&resized.pixels[static_cast<std::size_t>(y) * row_bytes], crop_origin + y * input_stride, row_bytes);
    }
    return resized;
  }

  // The box filter averages exactly the source area under each output pixel when shrinking (what the model's
  // training images went through); for enlarging a box would just repeat pixels, so interpolate linearly.
  // stb works in float internally whatever the pixel type; 8-bit in and out avoids a float copy of the whole
  // crop (600 MB for a 50-megapixel photo) and stb rounds to nearest on the way out. Linear colourspace: the
  // model was trained on averages of the stored values, not of light intensities. Clamping at the crop's edges
  // keeps pixels outside the crop out of the result.
  const stbir_filter filter = crop.side > side ? STBIR_FILTER_BOX : STBIR_FILTER_TRIANGLE;
  const int resized_ok =
      stbir_resize(crop_origin, crop.side, crop.side, static_cast<int>(input_stride), resized.pixels.data(), side, side,
                   side * kRgb, STBIR_TYPE_UINT8, kRgb, STBIR_ALPHA_CHANNEL_NONE, 0, STBIR_EDGE_CLAMP, STBIR_EDGE_CLAMP,
                   filter, filter, STBIR_COLORSPACE_LINEAR, nullptr);
  if (resized_ok == 0) {
    return Status::error("resizing a " + std::to_string(crop.side) + "x" + std::to_string(crop.side) + " crop to " +
                         std::to_string(side) + "x" + std::to_string(side) + " failed: out of memory");
  }
  return resized;
}

Tensor recentre(const RgbImage& image) {
  if (!check_image(image)) return Tensor();
  Tensor input(Shape3{image.height, image.width, kRgb});
  for (std::size_t i = 0; i < image.pixels.size(); ++i) {
    input.data[i] = static_cast<float>(image.pixels[i]) - kChannelMeans[i % kRgb];
  }
  return input;
}

RgbImage unrecentre(const Tensor& input) {
  RgbImage image;
  if (input.shape.h <= 0 || input.shape.w <= 0 || input.shape.c != kRgb || input.data.size() != input.shape.size()) {
    return image;
  }
  image.width = input.shape.w;
  image.height = input.shape.h;
  image.pixels.resize(input.data.size());
  for (std::size_t i = 0; i < input.data.size(); ++i) {
    image.pixels[i] = round_to_u8(input.data[i] + kChannelMeans[i % kRgb]);
  }
  return image;
}

Result<Tensor> image_to_input(const std::uint8_t* bytes, std::size_t size, const SquareCrop* crop) {
  Result<RgbImage> decoded = decode_image(bytes, size);
  if (!decoded) return decoded.status();
  const SquareCrop chosen = crop != nullptr ? *crop : centred_crop(decoded->width, decoded->height);
  Result<RgbImage> resized = crop_resize(decoded.value(), chosen, kModelInputSide);
  if (!resized) return resized.status();
  return recentre(resized.value());
}

}  // namespace cortexlens
