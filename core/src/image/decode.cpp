// From file bytes to upright 8-bit RGB: probe_image and decode_image (image.hpp). The crop, resize and recentring
// that make the model input are model_input.cpp.
#include "cortexlens/image.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include "image/exif_orientation.hpp"
#include "image/jpeg_segments.hpp"

#define STBI_NO_STDIO
#include <stb_image.h>

namespace cortexlens {

void stb_clear_failure_reason();  // defined in stb_impl.cpp, the only file that sees stb's internals

namespace {

constexpr int kRgb = 3;
constexpr int kRgba = 4;

// Feeds stb_image through its callback interface rather than stbi_*_from_memory: that is the only way to learn
// that the decoder wanted bytes past the end of the file. stb's memory reader quietly hands out zeros there,
// and its JPEG, GIF and BMP decoders then "succeed" with the missing part of a truncated file made up.
struct ByteSource {
  const std::uint8_t* bytes = nullptr;
  std::size_t size = 0;
  std::size_t position = 0;
  bool read_past_end = false;
};

int source_read(void* user, char* data, int wanted) {
  auto& source = *static_cast<ByteSource*>(user);
  const std::size_t remaining = source.size - source.position;
  if (remaining == 0) {
    // stb asks again only once it has used every byte it was given, so this request is for data that is not there.
    source.read_past_end = true;
    return 0;
  }
  const std::size_t count = std::min(remaining, static_cast<std::size_t>(std::max(wanted, 0)));
  std::memcpy(data, source.bytes + source.position, count);
  source.position += count;
  return static_cast<int>(count);
}

void source_skip(void* user, int count) {
  auto& source = *static_cast<ByteSource*>(user);
  if (count >= 0) {
    source.position += std::min(source.size - source.position, static_cast<std::size_t>(count));
  } else {
    source.position -= std::min(source.position, static_cast<std::size_t>(-static_cast<long long>(count)));
  }
}

int source_eof(void* user) {
  const auto& source = *static_cast<const ByteSource*>(user);
  return source.position >= source.size ? 1 : 0;
}

const stbi_io_callbacks kByteSourceCallbacks = {source_read, source_skip, source_eof};

std::string stb_reason() {
  const char* reason = stbi_failure_reason();
  return reason != nullptr && reason[0] != '\0' ? reason : "no reason given";
}

// "outofdata" is stb's word for a PNG chunk that runs past the end of the file: a truncation, said plainly.
bool stb_ran_out_of_data(const ByteSource& source) {
  const char* reason = stbi_failure_reason();
  return source.read_past_end || (reason != nullptr && std::strcmp(reason, "outofdata") == 0);
}

struct StbFree {
  void operator()(void* pixels) const { stbi_image_free(pixels); }
};

const char* detect_format(const std::uint8_t* bytes, std::size_t size) {
  auto starts_with = [&](const char* magic, std::size_t length) {
    return size >= length && std::memcmp(bytes, magic, length) == 0;
  };
  if (starts_with("\xFF\xD8\xFF", 3)) return "jpeg";
  if (starts_with("\x89PNG\r\n\x1A\n", 8)) return "png";
  if (starts_with("GIF87a", 6) || starts_with("GIF89a", 6)) return "gif";
  if (starts_with("BM", 2)) return "bmp";
  return nullptr;
}

std::string display_name(const std::string& format) {
  std::string upper = format;
  for (char& c : upper) c = static_cast<char>(c - 'a' + 'A');
  return upper;
}

// What the unrecognised file starts with, so a user can tell an HTML error page or a HEIC photo apart.
std::string describe_first_bytes(const std::uint8_t* bytes, std::size_t size) {
  const std::size_t shown = std::min<std::size_t>(size, 8);
  std::string hex, text;
  char buffer[4];
  for (std::size_t i = 0; i < shown; ++i) {
    std::snprintf(buffer, sizeof buffer, i == 0 ? "%02x" : " %02x", bytes[i]);
    hex += buffer;
    text += bytes[i] >= 0x20 && bytes[i] < 0x7F ? static_cast<char>(bytes[i]) : '.';
  }
  return hex + " (\"" + text + "\")";
}

std::uint32_t read_u32_be(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | std::uint32_t{p[3]};
}

// The size a header claims, read without stb: stb refuses large headers with a bare "too large", and the
// user should hear the size found and the limit instead.
bool read_claimed_size(const std::string& format, const std::uint8_t* bytes, std::size_t size, std::int64_t& width,
                       std::int64_t& height) {
  if (format == "png") {  // signature, then IHDR: length, "IHDR", width u32 BE, height u32 BE
    if (size < 24 || std::memcmp(bytes + 12, "IHDR", 4) != 0) return false;
    width = read_u32_be(bytes + 16);
    height = read_u32_be(bytes + 20);
    return true;
  }
  if (format == "gif") {  // signature, then the logical screen: width u16 LE, height u16 LE
    if (size < 10) return false;
    width = bytes[6] | bytes[7] << 8;
    height = bytes[8] | bytes[9] << 8;
    return true;
  }
  if (format == "jpeg") {
    JpegFrameHeader frame;
    if (!read_jpeg_frame_header(bytes, size, frame)) return false;
    width = frame.width;
    height = frame.height;
    return true;
  }
  return false;  // stb's BMP header reader does not refuse on size, so it always tells us
}

// stb_image's header reader tries every format in turn and ends with a bare "unknown image type", so the
// useful reason is lost; name what we can see ourselves.
std::string unreadable_header_message(const std::string& format, const std::uint8_t* bytes, std::size_t size) {
  JpegFrameHeader frame;
  if (format == "jpeg" && read_jpeg_frame_header(bytes, size, frame)) {
    if (frame.marker > 0xC2) {
      char marker[8];
      std::snprintf(marker, sizeof marker, "0x%02X", frame.marker);
      return std::string("the JPEG uses lossless, hierarchical or arithmetic coding (frame marker ") + marker +
             "); only baseline and progressive JPEG (markers 0xC0..0xC2) are supported";
    }
    if (frame.sample_precision != 8) {
      return "the JPEG has " + std::to_string(frame.sample_precision) + "-bit samples; only 8-bit JPEG is supported";
    }
  }
  return "the " + display_name(format) + " header is malformed or describes a variant that is not supported";
}

Status check_dimensions(const std::string& format, std::int64_t width, std::int64_t height) {
  const std::string size_text = std::to_string(width) + "x" + std::to_string(height);
  if (width > ImageLimits::max_side || height > ImageLimits::max_side) {
    return Status::error("the " + display_name(format) + " image is " + size_text +
                         " pixels; each side may be at most " + std::to_string(ImageLimits::max_side) + " pixels");
  }
  if (width * height > ImageLimits::max_pixels) {
    char megapixels[64];
    std::snprintf(megapixels, sizeof megapixels, "%.1f megapixels", static_cast<double>(width * height) / 1e6);
    return Status::error("the " + display_name(format) + " image is " + size_text + " pixels (" + megapixels +
                         "); at most " + std::to_string(ImageLimits::max_pixels / 1'000'000) +
                         " megapixels are accepted");
  }
  return Status::ok();
}

std::string truncation_message(const std::string& format, std::size_t size, const char* where) {
  return "the " + display_name(format) + " file ends after " + std::to_string(size) + " bytes, " + where +
         ": it looks truncated";
}

std::uint8_t round_to_u8(float value) {
  if (!(value > 0.0f)) return 0;  // also NaN
  if (value >= 255.0f) return 255;
  return static_cast<std::uint8_t>(std::lround(value));
}

// RGBA (8- or 16-bit samples) -> 8-bit RGB. Transparent pixels become the channel means, which recentring
// turns into zero input: the model sees "nothing" there rather than black or white.
template <typename Sample>
void composite_rgba_over_means(const Sample* rgba, std::size_t pixel_count, std::uint8_t* rgb) {
  constexpr float kMaxSample = sizeof(Sample) == 1 ? 255.0f : 65535.0f;
  constexpr float kToU8 = 255.0f / kMaxSample;
  for (std::size_t i = 0; i < pixel_count; ++i, rgba += kRgba, rgb += kRgb) {
    const Sample alpha = rgba[3];
    if (alpha == static_cast<Sample>(kMaxSample)) {
      for (int c = 0; c < kRgb; ++c) {
        // 16 -> 8 bits rounds to nearest (v / 257), where stb's own conversion truncates (v >> 8).
        rgb[c] = sizeof(Sample) == 1 ? static_cast<std::uint8_t>(rgba[c])
                                     : static_cast<std::uint8_t>((static_cast<std::uint32_t>(rgba[c]) + 128) / 257);
      }
    } else {
      const float opacity = static_cast<float>(alpha) / kMaxSample;
      for (int c = 0; c < kRgb; ++c) {
        rgb[c] = round_to_u8(static_cast<float>(rgba[c]) * kToU8 * opacity + kChannelMeans[c] * (1.0f - opacity));
      }
    }
  }
}

// Where each stored pixel (sx, sy) lands in the upright image, as EXIF defines the 8 orientations, with W and H
// the stored width and height:  ux = ux_from_w * (W - 1) + ux_from_h * (H - 1) + ux_per_sx * sx + ux_per_sy * sy,
// and likewise uy.
struct OrientationMap {
  int ux_from_w, ux_from_h, ux_per_sx, ux_per_sy;
  int uy_from_w, uy_from_h, uy_per_sx, uy_per_sy;
};

OrientationMap orientation_map(int orientation) {
  switch (orientation) {
    case 2:
      return {1, 0, -1, 0, /**/ 0, 0, 0, 1};  // mirrored left-right: ux = W-1-sx, uy = sy
    case 3:
      return {1, 0, -1, 0, /**/ 0, 1, 0, -1};  // rotated 180:         ux = W-1-sx, uy = H-1-sy
    case 4:
      return {0, 0, 1, 0, /**/ 0, 1, 0, -1};  // mirrored top-bottom:  ux = sx,     uy = H-1-sy
    case 5:
      return {0, 0, 0, 1, /**/ 0, 0, 1, 0};  // transposed:           ux = sy,     uy = sx
    case 6:
      return {0, 1, 0, -1, /**/ 0, 0, 1, 0};  // turn 90 clockwise:    ux = H-1-sy, uy = sx
    case 7:
      return {0, 1, 0, -1, /**/ 1, 0, -1, 0};  // transverse:           ux = H-1-sy, uy = W-1-sx
    case 8:
      return {0, 0, 0, 1, /**/ 1, 0, -1, 0};  // turn 90 anticlockwise: ux = sy,    uy = W-1-sx
    default:
      return {0, 0, 1, 0, /**/ 0, 0, 0, 1};  // 1: already upright
  }
}

RgbImage orient_upright(RgbImage stored, int orientation) {
  if (orientation < 2 || orientation > 8) return stored;
  const OrientationMap map = orientation_map(orientation);
  const std::ptrdiff_t w = stored.width, h = stored.height;
  RgbImage upright;
  upright.width = orientation >= 5 ? stored.height : stored.width;
  upright.height = orientation >= 5 ? stored.width : stored.height;
  upright.pixels.resize(stored.pixels.size());
  const std::ptrdiff_t ux0 = map.ux_from_w * (w - 1) + map.ux_from_h * (h - 1);
  const std::ptrdiff_t uy0 = map.uy_from_w * (w - 1) + map.uy_from_h * (h - 1);
  const std::ptrdiff_t upright_w = upright.width;
  // Destination pixel index, linear in (sx, sy).
  const std::ptrdiff_t origin = uy0 * upright_w + ux0;
  const std::ptrdiff_t step_sx = map.uy_per_sx * upright_w + map.ux_per_sx;
  const std::ptrdiff_t step_sy = map.uy_per_sy * upright_w + map.ux_per_sy;
  // In tiles: a rotation writes each stored row down an upright column, and done row by row that misses the
  // cache on every pixel (turning a 12-megapixel photo then cost more than decoding it).
  constexpr std::ptrdiff_t kTile = 64;
  const std::uint8_t* source = stored.pixels.data();
  std::uint8_t* target = upright.pixels.data();
  for (std::ptrdiff_t tile_y = 0; tile_y < h; tile_y += kTile) {
    for (std::ptrdiff_t tile_x = 0; tile_x < w; tile_x += kTile) {
      const std::ptrdiff_t end_y = std::min(tile_y + kTile, h), end_x = std::min(tile_x + kTile, w);
      for (std::ptrdiff_t sy = tile_y; sy < end_y; ++sy) {
        std::ptrdiff_t destination = origin + sy * step_sy + tile_x * step_sx;
        const std::uint8_t* pixel = source + (sy * w + tile_x) * kRgb;
        for (std::ptrdiff_t sx = tile_x; sx < end_x; ++sx, destination += step_sx, pixel += kRgb) {
          std::memcpy(target + destination * kRgb, pixel, kRgb);
        }
      }
    }
  }
  return upright;
}

}  // namespace

Result<ImageHeader> probe_image(const std::uint8_t* bytes, std::size_t size) {
  if (bytes == nullptr || size == 0) {
    return Status::error("the image file is empty (0 bytes); expected a JPEG, PNG, BMP or GIF file");
  }
  if (size > ImageLimits::max_file_bytes) {
    return Status::error("the image file has " + std::to_string(size) + " bytes; at most " +
                         std::to_string(ImageLimits::max_file_bytes) + " bytes (" +
                         std::to_string(ImageLimits::max_file_bytes >> 20) + " MiB) are accepted");
  }
  const char* format = detect_format(bytes, size);
  if (format == nullptr) {
    return Status::error("unrecognised image format: the file starts with " + describe_first_bytes(bytes, size) +
                         "; expected a JPEG, PNG, BMP or GIF file");
  }

  ImageHeader header;
  header.format = format;
  if (header.format == "jpeg") {
    const std::string hazard = find_jpeg_hazard(bytes, size);
    if (!hazard.empty()) return Status::error("the JPEG " + hazard);
  }
  ByteSource source{bytes, size};
  stb_clear_failure_reason();
  const bool header_read =
      stbi_info_from_callbacks(&kByteSourceCallbacks, &source, &header.width, &header.height, &header.channels) != 0;
  if (!header_read || source.read_past_end) {
    std::int64_t claimed_width = 0, claimed_height = 0;
    if (read_claimed_size(header.format, bytes, size, claimed_width, claimed_height)) {
      CL_RETURN_IF_ERROR(check_dimensions(header.format, claimed_width, claimed_height));
    }
    if (stb_ran_out_of_data(source)) return Status::error(truncation_message(format, size, "inside its header"));
    return Status::error(unreadable_header_message(header.format, bytes, size));
  }
  // A negative BMP height means rows stored top-down; stb's info passes it through, its loader takes abs().
  if (header.format == "bmp" && header.height < 0 && header.height != std::numeric_limits<int>::min()) {
    header.height = -header.height;
  }
  if (header.width <= 0 || header.height <= 0) {
    return Status::error("the " + display_name(format) + " header gives a size of " + std::to_string(header.width) +
                         "x" + std::to_string(header.height) + " pixels; expected a positive width and height");
  }
  CL_RETURN_IF_ERROR(check_dimensions(header.format, header.width, header.height));
  if (header.format == "jpeg") header.exif_orientation = read_jpeg_exif_orientation(bytes, size);
  return header;
}

Result<RgbImage> decode_image(const std::uint8_t* bytes, std::size_t size) {
  Result<ImageHeader> probed = probe_image(bytes, size);
  if (!probed) return probed.status();
  const ImageHeader& header = probed.value();
  const std::string format = display_name(header.format);

  // JPEG has no alpha; every other format may (PNG through tRNS, which stb's header scan cannot see).
  const bool may_have_alpha = header.format != "jpeg";
  const int requested_channels = may_have_alpha ? kRgba : kRgb;
  bool sixteen_bit = false;
  if (header.format == "png") {
    ByteSource source{bytes, size};
    sixteen_bit = stbi_is_16_bit_from_callbacks(&kByteSourceCallbacks, &source) != 0;
  }

  ByteSource source{bytes, size};
  int width = 0, height = 0, channels_in_file = 0;
  stb_clear_failure_reason();
  std::unique_ptr<void, StbFree> decoded(
      sixteen_bit ? static_cast<void*>(stbi_load_16_from_callbacks(&kByteSourceCallbacks, &source, &width, &height,
                                                                   &channels_in_file, requested_channels))
                  : static_cast<void*>(stbi_load_from_callbacks(&kByteSourceCallbacks, &source, &width, &height,
                                                                &channels_in_file, requested_channels)));
  if (stb_ran_out_of_data(source)) {
    return Status::error(truncation_message(header.format, size, "before the end of its image data"));
  }
  if (!decoded) {
    const char* reason = stbi_failure_reason();
    if (header.format == "gif" && (reason == nullptr || reason[0] == '\0')) {
      // stb reaches the GIF trailer without having met an image: it returns nothing and says nothing.
      return Status::error("the GIF file holds no image frame; expected at least one");
    }
    return Status::error("could not decode the " + format + " image: stb_image reports \"" + stb_reason() + "\"");
  }
  if (width != header.width || height != header.height) {
    return Status::error("internal error: the " + format + " header says " + std::to_string(header.width) + "x" +
                         std::to_string(header.height) + " but the decoder produced " + std::to_string(width) + "x" +
                         std::to_string(height));
  }

  RgbImage stored;
  stored.width = width;
  stored.height = height;
  const std::size_t pixel_count = static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
  stored.pixels.resize(pixel_count * kRgb);
  if (requested_channels == kRgb) {
    std::memcpy(stored.pixels.data(), decoded.get(), stored.pixels.size());
  } else if (sixteen_bit) {
    composite_rgba_over_means(static_cast<const std::uint16_t*>(decoded.get()), pixel_count, stored.pixels.data());
  } else {
    composite_rgba_over_means(static_cast<const std::uint8_t*>(decoded.get()), pixel_count, stored.pixels.data());
  }
  decoded.reset();
  return orient_upright(std::move(stored), header.exif_orientation);
}

}  // namespace cortexlens
