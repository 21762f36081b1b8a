// Private to the core: what decode.cpp needs from a JPEG's marker segments that stb_image does not give it:
// the claimed frame size (for messages), and the checks that keep stb 2.27 in bounds (the EXIF orientation,
// read from the same segments, is exif_orientation.hpp).
// Everything here treats the bytes as hostile: every offset and count is checked against the buffer, the walk
// only moves forward, and nothing recurses or allocates (except a message string).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace cortexlens {

// One marker segment of a JPEG. Standalone markers (SOI, EOI, RSTn, TEM) have no payload.
struct JpegSegment {
  std::uint8_t marker = 0;                // the byte after 0xFF, e.g. 0xE1 for APP1, 0xDA for SOS
  std::size_t marker_offset = 0;          // offset of the marker's 0xFF in the file
  const std::uint8_t* payload = nullptr;  // the bytes after the 2-byte length field
  std::size_t payload_size = 0;
  std::size_t end_offset = 0;  // offset just past the segment (for SOS: where entropy-coded data starts)
};

// Walks the marker segments of a JPEG from SOI, stepping over junk between segments as stb_image does.
// Stops (next() returns false) at the end of the buffer, at EOI, at a malformed marker, and, unless told to
// walk the whole file, after the first SOS (start of scan). A segment cut short by the end of the buffer is
// returned with the bytes there are, and ends the walk. When walking the whole file it skips each scan's
// entropy-coded data (where 0xFF is followed by a stuffed 0x00 or an RSTn marker) to reach the segments
// between scans, which progressive JPEGs have.
class JpegSegmentReader {
 public:
  enum class Extent { header, whole_file };
  JpegSegmentReader(const std::uint8_t* bytes, std::size_t size, Extent extent = Extent::header);
  bool next(JpegSegment& segment);

 private:
  void skip_entropy_coded_data();
  const std::uint8_t* bytes_;
  std::size_t size_;
  std::size_t position_;
  Extent extent_;
  bool finished_;
};

// The first frame header (SOFn) of a JPEG, as claimed, unchecked.
struct JpegFrameHeader {
  std::uint8_t marker = 0;   // 0xC0 baseline, 0xC1 extended, 0xC2 progressive; others are lossless/arithmetic
  int sample_precision = 0;  // bits per sample
  std::int64_t width = 0, height = 0;
};

// False when the header walk finds no frame header. Used to explain why stb_image refused a header
// (size over the limits, or a coding process it does not implement), since stb then only says "unknown".
bool read_jpeg_frame_header(const std::uint8_t* bytes, std::size_t size, JpegFrameHeader& frame);

// What in a JPEG would make stb_image 2.27 (Debian's libstb-dev) read or write out of bounds; empty when
// nothing. It trusts two things that only hostile or broken files violate, so such files must be refused
// before stb sees them:
//  - a Huffman table (DHT segment, anywhere in the file) holds at most 256 codes: more overruns its fixed
//    arrays (upstream 2.28 checks this);
//  - every Huffman table a scan uses was defined before it: stb does not zero its decoder state, so an
//    undefined table is uninitialised memory, and its code search can run off its arrays. (Motion-JPEG frames
//    that rely on default tables land here too.)
// Mirrors the way stb reads the segments, so it sees every table and scan that stb would act on.
std::string find_jpeg_hazard(const std::uint8_t* bytes, std::size_t size);

}  // namespace cortexlens
