// Bindings for image input. The page decodes a file once (decodeImage), then re-crops from the decoded pixels
// as the user moves the crop (cropToInput), so dragging never re-decodes a 12-megapixel photo.
#include "cortexlens/image.hpp"
#include "edge.hpp"

namespace cortexlens::wasm {

namespace {

std::vector<std::uint8_t> bytes_from(const val& bytes) { return to_vector<std::uint8_t>(bytes, "image bytes"); }

val probe_image_js(const val& bytes) {
  const auto data = bytes_from(bytes);
  const ImageHeader header = take_or_throw(probe_image(data.data(), data.size()));
  val out = val::object();
  out.set("width", header.width);
  out.set("height", header.height);
  out.set("channels", header.channels);
  out.set("format", header.format);
  out.set("orientation", header.exif_orientation);
  out.set("uprightWidth", header.upright_width());
  out.set("uprightHeight", header.upright_height());
  return out;
}

val image_object(const RgbImage& image) {
  val out = val::object();
  out.set("width", image.width);
  out.set("height", image.height);
  out.set("pixels", uint8_array(image.pixels));
  return out;
}

val decode_image_js(const val& bytes) {
  const auto data = bytes_from(bytes);
  return image_object(take_or_throw(decode_image(data.data(), data.size())));
}

SquareCrop crop_from(const val& crop, int width, int height) {
  if (crop.isNull() || crop.isUndefined()) return centred_crop(width, height);
  if (!crop["x"].isNumber() || !crop["y"].isNumber() || !crop["side"].isNumber())
    throw_js_error("crop must be {x, y, side} in pixels, or null for the centred square");
  return {crop["x"].as<int>(), crop["y"].as<int>(), crop["side"].as<int>()};
}

// {width, height, pixels: Uint8Array RGB} + crop -> {input: Float32Array recentred, pixels: Uint8Array 112x112 RGB}
val crop_to_input_js(const val& image, const val& crop) {
  RgbImage rgb;
  rgb.width = image["width"].as<int>();
  rgb.height = image["height"].as<int>();
  rgb.pixels = to_vector<std::uint8_t>(image["pixels"], "image pixels");
  if (rgb.width <= 0 || rgb.height <= 0 || rgb.pixels.size() != static_cast<std::size_t>(rgb.width) * rgb.height * 3)
    throw_js_error("image pixels hold " + std::to_string(rgb.pixels.size()) + " bytes, expected width*height*3 = " +
                   std::to_string(static_cast<long long>(rgb.width) * rgb.height * 3));
  const RgbImage seen = take_or_throw(crop_resize(rgb, crop_from(crop, rgb.width, rgb.height)));
  const Tensor input = recentre(seen);
  val out = val::object();
  out.set("input", float32_array(input.data));
  out.set("pixels", uint8_array(seen.pixels));
  return out;
}

val image_to_input_js(const val& bytes, const val& crop) {
  const auto data = bytes_from(bytes);
  const RgbImage decoded = take_or_throw(decode_image(data.data(), data.size()));
  const RgbImage seen = take_or_throw(crop_resize(decoded, crop_from(crop, decoded.width, decoded.height)));
  val out = val::object();
  out.set("input", float32_array(recentre(seen).data));
  out.set("pixels", uint8_array(seen.pixels));
  return out;
}

val channel_means() { return val::array(std::vector<float>{kChannelMeans[0], kChannelMeans[1], kChannelMeans[2]}); }

}  // namespace

EMSCRIPTEN_BINDINGS(cortexlens_image) {
  emscripten::function("probeImage", &probe_image_js);
  emscripten::function("decodeImage", &decode_image_js);
  emscripten::function("cropToInput", &crop_to_input_js);
  emscripten::function("imageToInput", &image_to_input_js);
  emscripten::function("channelMeans", &channel_means);
}

}  // namespace cortexlens::wasm
