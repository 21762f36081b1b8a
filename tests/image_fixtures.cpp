#include "image_fixtures.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wmissing-field-initializers"
#pragma clang diagnostic ignored "-Wunused-function"
// stb_image_write's JPEG bit writer shifts negative ints (harmless on every compiler we use); keep UBSan's
// report of it from burying ours. GCC has no such pragma: there it prints one "left shift of negative value".
#pragma clang attribute push(__attribute__((no_sanitize("shift"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include <stb_image_write.h>
#if defined(__clang__)
#pragma clang attribute pop
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace cortexlens::fixtures {
namespace {

void append_to_bytes(void* context, void* data, int size) {
  auto* out = static_cast<Bytes*>(context);
  const auto* begin = static_cast<const std::uint8_t*>(data);
  out->insert(out->end(), begin, begin + size);
}

void append_u16_be(Bytes& out, unsigned value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

void append_u16_le(Bytes& out, unsigned value) {
  out.push_back(static_cast<std::uint8_t>(value));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
}

// Most significant bit first, with JPEG's 0xFF -> 0xFF 0x00 byte stuffing.
class JpegBitWriter {
 public:
  explicit JpegBitWriter(Bytes& out) : out_(out) {}
  void put(std::uint32_t bits, int count) {
    for (int i = count - 1; i >= 0; --i) {
      byte_ = static_cast<std::uint8_t>(byte_ << 1 | ((bits >> i) & 1));
      if (++filled_ == 8) flush_byte();
    }
  }
  void pad_with_ones() {
    while (filled_ != 0) put(1, 1);
  }

 private:
  void flush_byte() {
    out_.push_back(byte_);
    if (byte_ == 0xFF) out_.push_back(0x00);
    byte_ = 0;
    filled_ = 0;
  }
  Bytes& out_;
  std::uint8_t byte_ = 0;
  int filled_ = 0;
};

// Least significant bit first, as GIF's LZW codes are packed.
class GifBitWriter {
 public:
  explicit GifBitWriter(Bytes& out) : out_(out) {}
  void put(unsigned code, int width) {
    buffer_ |= static_cast<std::uint32_t>(code) << filled_;
    filled_ += width;
    while (filled_ >= 8) {
      out_.push_back(static_cast<std::uint8_t>(buffer_));
      buffer_ >>= 8;
      filled_ -= 8;
    }
  }
  void flush() {
    if (filled_ > 0) out_.push_back(static_cast<std::uint8_t>(buffer_));
    buffer_ = 0;
    filled_ = 0;
  }

 private:
  Bytes& out_;
  std::uint32_t buffer_ = 0;
  int filled_ = 0;
};

}  // namespace

Bytes encode_png(int width, int height, int channels, const std::vector<std::uint8_t>& pixels) {
  Bytes out;
  stbi_write_png_to_func(append_to_bytes, &out, width, height, channels, pixels.data(), width * channels);
  return out;
}

Bytes encode_bmp(int width, int height, int channels, const std::vector<std::uint8_t>& pixels) {
  Bytes out;
  stbi_write_bmp_to_func(append_to_bytes, &out, width, height, channels, pixels.data());
  return out;
}

Bytes encode_jpeg(int width, int height, int channels, const std::vector<std::uint8_t>& pixels, int quality) {
  Bytes out;
  stbi_write_jpg_to_func(append_to_bytes, &out, width, height, channels, pixels.data(), quality);
  return out;
}

std::uint32_t crc32(const std::uint8_t* data, std::size_t size) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void append_u32_be(Bytes& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(value >> shift));
}

Bytes png_chunk(const char* type, const Bytes& data) {
  Bytes chunk;
  append_u32_be(chunk, static_cast<std::uint32_t>(data.size()));
  chunk.insert(chunk.end(), type, type + 4);
  chunk.insert(chunk.end(), data.begin(), data.end());
  append_u32_be(chunk, crc32(chunk.data() + 4, chunk.size() - 4));
  return chunk;
}

Bytes encode_png16(int width, int height, int channels, const std::vector<std::uint16_t>& samples) {
  static const int kColourType[5] = {0, 0, 4, 2, 6};  // by channel count: grey, grey+alpha, RGB, RGBA
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  Bytes header;
  append_u32_be(header, static_cast<std::uint32_t>(width));
  append_u32_be(header, static_cast<std::uint32_t>(height));
  header.insert(header.end(), {16, static_cast<std::uint8_t>(kColourType[channels]), 0, 0, 0});
  const Bytes ihdr = png_chunk("IHDR", header);
  png.insert(png.end(), ihdr.begin(), ihdr.end());

  Bytes scanlines;  // each row: filter type 0 (none), then big-endian samples
  for (int y = 0; y < height; ++y) {
    scanlines.push_back(0);
    for (int i = 0; i < width * channels; ++i)
      append_u16_be(scanlines, samples[static_cast<std::size_t>(y) * width * channels + i]);
  }
  int compressed_size = 0;
  unsigned char* compressed =
      stbi_zlib_compress(scanlines.data(), static_cast<int>(scanlines.size()), &compressed_size, 8);
  const Bytes idat = png_chunk("IDAT", Bytes(compressed, compressed + compressed_size));
  STBIW_FREE(compressed);
  png.insert(png.end(), idat.begin(), idat.end());
  const Bytes iend = png_chunk("IEND", {});
  png.insert(png.end(), iend.begin(), iend.end());
  return png;
}

Bytes encode_gif(int width, int height, const std::vector<Rgb>& palette,
                 const std::vector<std::vector<std::uint8_t>>& frames, int transparent_index) {
  int size_code = 0;  // the palette holds 2^(size_code + 1) entries
  while ((2u << size_code) < palette.size() && size_code < 7) ++size_code;
  const int table_entries = 2 << size_code;

  Bytes gif = {'G', 'I', 'F', '8', '9', 'a'};
  append_u16_le(gif, static_cast<unsigned>(width));
  append_u16_le(gif, static_cast<unsigned>(height));
  gif.push_back(static_cast<std::uint8_t>(0x80 | 0x70 | size_code));  // global table, 8-bit colour resolution
  gif.push_back(0);                                                   // background index
  gif.push_back(0);                                                   // aspect ratio: unspecified
  for (int i = 0; i < table_entries; ++i) {
    const Rgb colour = i < static_cast<int>(palette.size()) ? palette[i] : Rgb{0, 0, 0};
    gif.insert(gif.end(), colour.begin(), colour.end());
  }

  const int min_code_size = std::max(2, size_code + 1);
  const unsigned clear_code = 1u << min_code_size, end_code = clear_code + 1;
  const int code_width = min_code_size + 1;
  // Without ever letting the dictionary grow past this width, every pixel can be sent as a literal code:
  // after a clear, each literal but the first adds one entry, and the width grows when the next free entry
  // reaches 2^code_width, so a clear is due every 2^min_code_size - 2 literals.
  const int literals_per_clear = (1 << min_code_size) - 2;

  for (const std::vector<std::uint8_t>& frame : frames) {
    if (transparent_index >= 0) {  // graphic control extension
      gif.insert(gif.end(), {0x21, 0xF9, 0x04, 0x01, 0, 0, static_cast<std::uint8_t>(transparent_index), 0});
    }
    gif.push_back(0x2C);  // image descriptor: left, top, width, height, no local table, not interlaced
    append_u16_le(gif, 0);
    append_u16_le(gif, 0);
    append_u16_le(gif, static_cast<unsigned>(width));
    append_u16_le(gif, static_cast<unsigned>(height));
    gif.push_back(0);
    gif.push_back(static_cast<std::uint8_t>(min_code_size));

    Bytes codes;
    GifBitWriter writer(codes);
    for (std::size_t i = 0; i < frame.size(); ++i) {
      if (i % literals_per_clear == 0) writer.put(clear_code, code_width);
      writer.put(frame[i], code_width);
    }
    writer.put(end_code, code_width);
    writer.flush();
    for (std::size_t start = 0; start < codes.size(); start += 255) {  // data sub-blocks of at most 255 bytes
      const std::size_t length = std::min<std::size_t>(255, codes.size() - start);
      gif.push_back(static_cast<std::uint8_t>(length));
      gif.insert(gif.end(), codes.begin() + static_cast<std::ptrdiff_t>(start),
                 codes.begin() + static_cast<std::ptrdiff_t>(start + length));
    }
    gif.push_back(0);
  }
  gif.push_back(0x3B);  // trailer
  return gif;
}

Bytes encode_flat_block_jpeg(int width, int height, int channels, const std::vector<Rgb>& block_colours,
                             bool progressive) {
  // The DC luminance table of ITU T.81 annex K.3: code counts by length 1..16, then the categories 0..11.
  static const std::uint8_t kCodeCounts[16] = {0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0};
  std::uint32_t code_of_category[12];
  int length_of_category[12];
  {
    std::uint32_t code = 0;
    int category = 0;
    for (int length = 1; length <= 16; ++length, code <<= 1) {
      for (int i = 0; i < kCodeCounts[length - 1]; ++i, ++code, ++category) {
        code_of_category[category] = code;
        length_of_category[category] = length;
      }
    }
  }

  Bytes jpeg = {0xFF, 0xD8};
  jpeg.insert(jpeg.end(), {0xFF, 0xDB, 0x00, 67, 0x00});  // one quantisation table, all steps 1
  jpeg.insert(jpeg.end(), 64, 1);
  jpeg.insert(jpeg.end(), {0xFF, static_cast<std::uint8_t>(progressive ? 0xC2 : 0xC0)});
  append_u16_be(jpeg, static_cast<unsigned>(8 + 3 * channels));
  jpeg.push_back(8);
  append_u16_be(jpeg, static_cast<unsigned>(height));
  append_u16_be(jpeg, static_cast<unsigned>(width));
  jpeg.push_back(static_cast<std::uint8_t>(channels));
  for (int c = 0; c < channels; ++c) jpeg.insert(jpeg.end(), {static_cast<std::uint8_t>(c + 1), 0x11, 0x00});
  jpeg.insert(jpeg.end(), {0xFF, 0xC4, 0x00, 31, 0x00});  // DHT: DC table 0
  jpeg.insert(jpeg.end(), kCodeCounts, kCodeCounts + 16);
  for (std::uint8_t category = 0; category < 12; ++category) jpeg.push_back(category);
  if (!progressive) {  // AC table 0 with a single symbol, end-of-block (0x00), coded as the 1-bit "0"
    jpeg.insert(jpeg.end(), {0xFF, 0xC4, 0x00, 20, 0x10, 1});
    jpeg.insert(jpeg.end(), 15, 0);
    jpeg.push_back(0x00);
  }
  // SOS: every component interleaved; a progressive scan covers the DC coefficient alone (spectral range 0..0).
  jpeg.insert(jpeg.end(), {0xFF, 0xDA});
  append_u16_be(jpeg, static_cast<unsigned>(6 + 2 * channels));
  jpeg.push_back(static_cast<std::uint8_t>(channels));
  for (int c = 0; c < channels; ++c) jpeg.insert(jpeg.end(), {static_cast<std::uint8_t>(c + 1), 0x00});
  jpeg.insert(jpeg.end(), {0, static_cast<std::uint8_t>(progressive ? 0 : 63), 0});

  JpegBitWriter writer(jpeg);
  int previous_dc[3] = {0, 0, 0};
  for (const Rgb& colour : block_colours) {
    double levels[3] = {static_cast<double>(colour[0]), 0, 0};
    if (channels == 3) {  // JFIF RGB -> YCbCr
      const double r = colour[0], g = colour[1], b = colour[2];
      levels[0] = 0.299 * r + 0.587 * g + 0.114 * b;
      levels[1] = -0.168736 * r - 0.331264 * g + 0.5 * b + 128;
      levels[2] = 0.5 * r - 0.418688 * g - 0.081312 * b + 128;
    }
    for (int c = 0; c < channels; ++c) {
      // A flat block of level v has DC coefficient 8 * (v - 128).
      const int dc = 8 * (static_cast<int>(std::lround(levels[c])) - 128);
      const int difference = dc - previous_dc[c];
      previous_dc[c] = dc;
      int category = 0;
      while ((std::abs(difference) >> category) != 0) ++category;
      writer.put(code_of_category[category], length_of_category[category]);
      if (category > 0) {
        const int bits = difference >= 0 ? difference : difference + (1 << category) - 1;
        writer.put(static_cast<std::uint32_t>(bits), category);
      }
      if (!progressive) writer.put(0, 1);  // end of block: the 63 AC coefficients are zero
    }
  }
  writer.pad_with_ones();
  jpeg.insert(jpeg.end(), {0xFF, 0xD9});
  return jpeg;
}

Bytes exif_segment_from_tiff(const Bytes& tiff) {
  Bytes segment = {0xFF, 0xE1};
  append_u16_be(segment, static_cast<unsigned>(2 + 6 + tiff.size()));
  segment.insert(segment.end(), {'E', 'x', 'i', 'f', 0, 0});
  segment.insert(segment.end(), tiff.begin(), tiff.end());
  return segment;
}

Bytes exif_segment(int orientation, bool big_endian) {
  Bytes tiff;
  auto u16 = [&](unsigned v) { big_endian ? append_u16_be(tiff, v) : append_u16_le(tiff, v); };
  auto u32 = [&](std::uint32_t v) {
    if (big_endian) {
      append_u32_be(tiff, v);
    } else {
      for (int shift = 0; shift < 32; shift += 8) tiff.push_back(static_cast<std::uint8_t>(v >> shift));
    }
  };
  tiff.insert(tiff.end(), big_endian ? std::initializer_list<std::uint8_t>{'M', 'M'}
                                     : std::initializer_list<std::uint8_t>{'I', 'I'});
  u16(42);
  u32(8);                                                // IFD0 right after the header
  const std::uint32_t make_offset = 8 + 2 + 2 * 12 + 4;  // after IFD0 and its next-IFD link
  u16(2);
  // Make: ASCII, 6 bytes, stored after the IFD.
  u16(0x010F);
  u16(2);
  u32(6);
  u32(make_offset);
  // Orientation: one SHORT, held in the first half of the value field.
  u16(0x0112);
  u16(3);
  u32(1);
  u16(static_cast<unsigned>(orientation));
  u16(0);
  u32(0);  // no IFD1
  tiff.insert(tiff.end(), {'C', 'a', 'n', 'o', 'n', 0});
  return exif_segment_from_tiff(tiff);
}

Bytes insert_after_soi(const Bytes& jpeg, const Bytes& segment) {
  Bytes out = jpeg;
  out.insert(out.begin() + 2, segment.begin(), segment.end());
  return out;
}

namespace {
// Offset just past the marker bytes of the first segment whose marker satisfies wanted (0 when none).
template <typename Predicate>
std::size_t find_segment(const Bytes& jpeg, Predicate wanted, bool past_payload) {
  std::size_t at = 2;
  while (at + 4 <= jpeg.size() && jpeg[at] == 0xFF) {
    const std::uint8_t marker = jpeg[at + 1];
    const std::size_t length = static_cast<std::size_t>(jpeg[at + 2] << 8 | jpeg[at + 3]);
    if (wanted(marker)) return past_payload ? at + 2 + length : at + 2;
    at += 2 + length;
  }
  return 0;
}
}  // namespace

std::size_t find_jpeg_frame_header(const Bytes& jpeg) {
  return find_segment(
      jpeg, [](std::uint8_t m) { return m == 0xC0 || m == 0xC1 || m == 0xC2; }, false);
}

std::size_t find_jpeg_scan_data(const Bytes& jpeg) {
  return find_segment(
      jpeg, [](std::uint8_t m) { return m == 0xDA; }, true);
}

bool write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(file);
}

bool read_file(const std::string& path, Bytes& bytes) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return false;
  bytes.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  return true;
}

}  // namespace cortexlens::fixtures
