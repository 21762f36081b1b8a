// See exif_orientation.hpp for why this parser exists. Layouts: EXIF 2.32 (APP1 "Exif\0\0" followed by a TIFF
// header: byte order "II"/"MM", 42, offset of IFD0; each IFD entry is tag u16, type u16, count u32, value-or-offset
// 4 bytes), found by walking the JPEG's segments (jpeg_segments.hpp).
#include "image/exif_orientation.hpp"

#include <cstring>

#include "image/jpeg_segments.hpp"

namespace cortexlens {
namespace {

constexpr std::uint8_t kMarkerApp1 = 0xE1;
constexpr std::uint16_t kTagOrientation = 0x0112;
constexpr std::uint16_t kTiffTypeShort = 3;
constexpr std::size_t kIfdEntryBytes = 12;

std::uint16_t read_u16_be(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }

// The TIFF block inside an EXIF segment, in its declared byte order. Callers check bounds before reading.
struct TiffView {
  const std::uint8_t* data;
  std::size_t size;
  bool little_endian;

  std::uint16_t u16(std::size_t at) const {
    const std::uint8_t* p = data + at;
    return little_endian ? static_cast<std::uint16_t>(p[0] | (p[1] << 8)) : read_u16_be(p);
  }
  std::uint32_t u32(std::size_t at) const {
    const std::uint8_t* p = data + at;
    return little_endian ? (std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
                            std::uint32_t{p[3]} << 24)
                         : (std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 |
                            std::uint32_t{p[3]});
  }
};

int orientation_from_tiff(const std::uint8_t* data, std::size_t size) {
  constexpr int kDefault = 1;
  if (size < 8) return kDefault;
  TiffView tiff{data, size, false};
  if (data[0] == 'I' && data[1] == 'I') {
    tiff.little_endian = true;
  } else if (!(data[0] == 'M' && data[1] == 'M')) {
    return kDefault;
  }
  if (tiff.u16(2) != 42) return kDefault;

  const std::uint32_t ifd0 = tiff.u32(4);
  if (ifd0 > size - 2) return kDefault;                   // size >= 8, so no wrap-around
  const std::size_t first_entry = std::size_t{ifd0} + 2;  // <= size
  const std::size_t entries_in_buffer = (size - first_entry) / kIfdEntryBytes;
  const std::size_t entry_count = tiff.u16(ifd0);
  for (std::size_t i = 0; i < entry_count && i < entries_in_buffer; ++i) {
    const std::size_t entry = first_entry + i * kIfdEntryBytes;
    if (tiff.u16(entry) != kTagOrientation) continue;
    // Chromium's reader (Skia's) likewise wants exactly one SHORT: the page and the model must agree.
    if (tiff.u16(entry + 2) != kTiffTypeShort || tiff.u32(entry + 4) != 1) return kDefault;
    const int value = tiff.u16(entry + 8);  // a SHORT sits in the first two bytes of the value field
    return value >= 1 && value <= 8 ? value : kDefault;
  }
  return kDefault;
}

}  // namespace

int read_jpeg_exif_orientation(const std::uint8_t* bytes, std::size_t size) {
  static constexpr char kExifSignature[6] = {'E', 'x', 'i', 'f', '\0', '\0'};
  JpegSegmentReader reader(bytes, size);
  JpegSegment segment;
  while (reader.next(segment)) {
    // Other APP1 segments (XMP) carry a different signature; only the first EXIF one counts.
    if (segment.marker == kMarkerApp1 && segment.payload_size >= sizeof kExifSignature &&
        std::memcmp(segment.payload, kExifSignature, sizeof kExifSignature) == 0) {
      return orientation_from_tiff(segment.payload + sizeof kExifSignature,
                                   segment.payload_size - sizeof kExifSignature);
    }
  }
  return 1;
}

}  // namespace cortexlens
