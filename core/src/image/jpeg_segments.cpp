// See jpeg_segments.hpp for why this parser exists. Layout: JPEG (ITU T.81, annex B).
#include "image/jpeg_segments.hpp"

namespace cortexlens {
namespace {

constexpr std::uint8_t kMarkerSoi = 0xD8;
constexpr std::uint8_t kMarkerEoi = 0xD9;
constexpr std::uint8_t kMarkerSos = 0xDA;

bool is_standalone_marker(std::uint8_t marker) {
  return marker == 0x01 || (marker >= 0xD0 && marker <= kMarkerEoi);  // TEM, RST0..7, SOI, EOI
}

bool is_frame_header_marker(std::uint8_t marker) {
  // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC) which share the range.
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

std::uint16_t read_u16_be(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }

}  // namespace

JpegSegmentReader::JpegSegmentReader(const std::uint8_t* bytes, std::size_t size, Extent extent)
    : bytes_(bytes), size_(size), position_(2), extent_(extent), finished_(true) {
  if (bytes != nullptr && size >= 2 && bytes[0] == 0xFF && bytes[1] == kMarkerSoi) finished_ = false;
}

bool JpegSegmentReader::next(JpegSegment& segment) {
  if (finished_) return false;
  finished_ = true;  // until this segment proves well formed
  // Like stb_image, step over junk between segments to the next 0xFF: the walk must see every segment stb
  // would act on (find_jpeg_hazard depends on it).
  while (position_ < size_ && bytes_[position_] != 0xFF) ++position_;
  const std::size_t marker_offset = position_;
  // Any number of 0xFF fill bytes may precede a marker.
  while (position_ < size_ && bytes_[position_] == 0xFF) ++position_;
  if (position_ >= size_) return false;
  const std::uint8_t marker = bytes_[position_++];
  if (marker == 0x00) return false;  // a stuffed zero belongs to entropy-coded data, never to the header

  segment = JpegSegment{};
  segment.marker = marker;
  segment.marker_offset = marker_offset;
  if (is_standalone_marker(marker)) {
    segment.end_offset = position_;
    finished_ = marker == kMarkerEoi;
    return true;
  }
  if (size_ - position_ < 2) return false;
  const std::size_t length = read_u16_be(bytes_ + position_);  // counts itself, not the marker
  if (length < 2) return false;
  segment.payload = bytes_ + position_ + 2;
  if (length > size_ - position_) {  // cut short by the end of the file: hand over what there is, then stop
    segment.payload_size = size_ - position_ - 2;
    segment.end_offset = size_;
    position_ = size_;
    return true;
  }
  segment.payload_size = length - 2;
  position_ += length;
  segment.end_offset = position_;
  finished_ = false;
  if (marker == kMarkerSos) {  // entropy-coded data follows
    if (extent_ == Extent::header) {
      finished_ = true;
    } else {
      skip_entropy_coded_data();
    }
  }
  return true;
}

void JpegSegmentReader::skip_entropy_coded_data() {
  while (position_ + 1 < size_) {
    if (bytes_[position_] != 0xFF) {
      ++position_;
      continue;
    }
    const std::uint8_t next = bytes_[position_ + 1];
    if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) {  // stuffed byte or restart marker: still data
      position_ += 2;
    } else if (next == 0xFF) {  // fill byte before a marker
      ++position_;
    } else {
      return;  // position_ is at the 0xFF of the next marker
    }
  }
  position_ = size_;
}

bool read_jpeg_frame_header(const std::uint8_t* bytes, std::size_t size, JpegFrameHeader& frame) {
  JpegSegmentReader reader(bytes, size);
  JpegSegment segment;
  while (reader.next(segment)) {
    // Payload: sample precision u8, height u16, width u16, component count u8, ...
    if (is_frame_header_marker(segment.marker) && segment.payload_size >= 5) {
      frame.marker = segment.marker;
      frame.sample_precision = segment.payload[0];
      frame.height = read_u16_be(segment.payload + 1);
      frame.width = read_u16_be(segment.payload + 3);
      return true;
    }
  }
  return false;
}

std::string find_jpeg_hazard(const std::uint8_t* bytes, std::size_t size) {
  constexpr std::uint8_t kMarkerDht = 0xC4;
  constexpr std::uint8_t kMarkerSof2 = 0xC2;
  constexpr int kMaxCodes = 256;
  constexpr int kTableSlots = 4;  // stb refuses ids above 3 itself
  auto byte_at = [&](std::size_t offset) -> int { return offset < size ? bytes[offset] : 0; };
  bool dc_defined[kTableSlots] = {}, ac_defined[kTableSlots] = {};
  bool progressive = false, frame_seen = false;
  int scan_number = 0;

  JpegSegmentReader reader(bytes, size, JpegSegmentReader::Extent::whole_file);
  JpegSegment segment;
  while (reader.next(segment)) {
    if (is_frame_header_marker(segment.marker) && !frame_seen) {
      frame_seen = true;
      progressive = segment.marker == kMarkerSof2;
    } else if (segment.marker == kMarkerDht) {
      // Like stb: each table's header is taken from the bytes that follow even once the segment's length says
      // it has ended, and bytes past the end of the file read as zero.
      std::size_t at = static_cast<std::size_t>(segment.payload - bytes);
      std::ptrdiff_t remaining = static_cast<std::ptrdiff_t>(segment.payload_size);
      while (remaining > 0) {  // one segment may define several tables back to back
        const int table_class = byte_at(at) >> 4, table_id = byte_at(at) & 15;
        if (table_class > 1 || table_id >= kTableSlots) break;  // stb stops with an error here
        int codes = 0;
        for (std::size_t length = 1; length <= 16; ++length) codes += byte_at(at + length);
        if (codes > kMaxCodes) {
          return "defines a Huffman table with " + std::to_string(codes) + " codes; a table holds at most 256";
        }
        (table_class == 0 ? dc_defined : ac_defined)[table_id] = true;
        at += static_cast<std::size_t>(17 + codes);
        remaining -= 17 + codes;
      }
    } else if (segment.marker == kMarkerSos && segment.payload_size >= 1) {
      ++scan_number;
      // Payload: component count, then per component (id, DC table << 4 | AC table), then Ss, Se, Ah << 4 | Al.
      const std::size_t components = segment.payload[0];
      if (segment.payload_size < 1 + 2 * components + 3) continue;  // stb refuses the length itself
      const std::uint8_t* tail = segment.payload + 1 + 2 * components;
      const bool dc_scan = tail[0] == 0, first_pass = (tail[2] >> 4) == 0;
      // Which tables stb's decoder reads: both for sequential JPEG; in a progressive one the DC table for a
      // first DC pass (refinements are raw bits) and the AC table for every AC pass.
      const bool uses_dc = !progressive || (dc_scan && first_pass);
      const bool uses_ac = !progressive || !dc_scan;
      for (std::size_t i = 0; i < components; ++i) {
        const int dc_table = segment.payload[2 + 2 * i] >> 4, ac_table = segment.payload[2 + 2 * i] & 15;
        if (dc_table >= kTableSlots || ac_table >= kTableSlots) continue;  // stb refuses these itself
        if ((uses_dc && !dc_defined[dc_table]) || (uses_ac && !ac_defined[ac_table])) {
          const bool dc_missing = uses_dc && !dc_defined[dc_table];
          return "uses " + std::string(dc_missing ? "DC" : "AC") + " Huffman table " +
                 std::to_string(dc_missing ? dc_table : ac_table) + " in scan " + std::to_string(scan_number) +
                 " without defining it first (a DHT segment must come before the scan)";
        }
      }
    }
  }
  return {};
}

}  // namespace cortexlens
