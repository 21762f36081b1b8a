// Image files built in code for the tests and for tests/make_bad_inputs.cpp, so every fixture can be
// regenerated and reviewed: nothing binary comes from outside the project.
// Encoders: stb_image_write for 8-bit PNG, BMP and baseline JPEG; small hand-written writers for what it
// cannot produce (16-bit PNG, GIF, progressive JPEG, EXIF segments).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cortexlens::fixtures {

using Bytes = std::vector<std::uint8_t>;
using Rgb = std::array<std::uint8_t, 3>;

// pixels: (H, W, channels) row-major, channels 1..4 (grey, grey+alpha, RGB, RGBA).
Bytes encode_png(int width, int height, int channels, const std::vector<std::uint8_t>& pixels);
Bytes encode_bmp(int width, int height, int channels, const std::vector<std::uint8_t>& pixels);
// Baseline JPEG, always stored as 3 components (stb_image_write turns grey into YCbCr); no chroma
// subsampling above quality 90.
Bytes encode_jpeg(int width, int height, int channels, const std::vector<std::uint8_t>& pixels, int quality);

// 16-bit PNG; samples: (H, W, channels) row-major, channels 1..4.
Bytes encode_png16(int width, int height, int channels, const std::vector<std::uint16_t>& samples);

// GIF89a with a global palette (up to 256 colours) and one image per frame; frame: (H, W) palette indices.
// transparent_index < 0: no transparency.
Bytes encode_gif(int width, int height, const std::vector<Rgb>& palette,
                 const std::vector<std::vector<std::uint8_t>>& frames, int transparent_index = -1);

// A JPEG made only of DC coefficients, so each 8x8 block decodes to one flat colour: baseline (SOF0, every
// block ends with an end-of-block code) or progressive (SOF2, a single DC scan). stb_image_write cannot
// write either a progressive or a single-component JPEG, hence this.
// width and height are multiples of 8; block_colours: (H/8, W/8) row-major; channels 1 (grey, the first byte
// of each colour) or 3 (RGB, stored as YCbCr).
Bytes encode_flat_block_jpeg(int width, int height, int channels, const std::vector<Rgb>& block_colours,
                             bool progressive);

// PNG chunk: length, type, data, CRC-32 of type and data.
Bytes png_chunk(const char* type, const Bytes& data);
std::uint32_t crc32(const std::uint8_t* data, std::size_t size);
void append_u32_be(Bytes& out, std::uint32_t value);

// An APP1 "Exif\0\0" segment (marker included) whose IFD0 holds a Make entry then Orientation = orientation.
Bytes exif_segment(int orientation, bool big_endian);
// An APP1 segment with "Exif\0\0" followed by the given TIFF bytes, for corrupted EXIF.
Bytes exif_segment_from_tiff(const Bytes& tiff);
// The JPEG with the segment spliced in right after SOI (where cameras put EXIF).
Bytes insert_after_soi(const Bytes& jpeg, const Bytes& segment);

// Offset of the first SOFn marker's payload length field in a JPEG (0 when none), for patching dimensions.
std::size_t find_jpeg_frame_header(const Bytes& jpeg);
// Offset just past the first SOS segment, where entropy-coded data begins (0 when none).
std::size_t find_jpeg_scan_data(const Bytes& jpeg);

bool write_file(const std::string& path, const Bytes& bytes);
bool read_file(const std::string& path, Bytes& bytes);

}  // namespace cortexlens::fixtures
