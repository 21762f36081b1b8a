// Private to the core: the EXIF orientation of a JPEG, which decode.cpp applies so that photos are upright.
//
// Why a hand-written EXIF reader: stb_image ignores EXIF, and no EXIF library in Debian builds for
// WebAssembly here, while browsers do rotate photos by their EXIF orientation; without it the page would show
// a phone photo upright and the model would see it on its side. It reads one tag, so it stays tiny.
// It treats the bytes as hostile: every offset and count is checked against the buffer, the walk
// only moves forward, and nothing recurses or allocates.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cortexlens {

// The EXIF orientation (tag 0x0112 in IFD0 of the first APP1 "Exif\0\0" segment), 1..8.
// Returns 1 when the file is not a JPEG, has no EXIF, or the EXIF is malformed: a broken EXIF block must
// never make an otherwise valid photo fail to load.
int read_jpeg_exif_orientation(const std::uint8_t* bytes, std::size_t size);

}  // namespace cortexlens
