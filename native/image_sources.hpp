// The images a command runs over, gathered from paths on its command line: image files, folders of them, and zip
// or tar archives of them. Archives are read by libraries (libzip for zip, libarchive for tar and its compressed
// forms), never by a parser of our own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cortexlens/status.hpp"

namespace cortexlens {

// The file names an image member or folder entry must have to be taken: .jpg, .jpeg, .png, .bmp, .gif, any case
// (what decode_image reads). A single image file named on the command line is taken whatever its name.
bool has_image_extension(const std::string& name);

struct ImageEntry {
  std::string name;        // what reports show: the path, or "<archive path>/<member name>"
  std::uint64_t size = 0;  // bytes, as the file system or the archive declares them
};

class ImageCollection {
 public:
  // Each path is one of:
  //   - a folder: its image files (has_image_extension), recursively, sorted by path; names and folders starting
  //     with '.' (hidden files, macOS "._" companions) are left out;
  //   - a zip archive (.zip) or a tar archive (.tar, .tar.gz, .tgz, .tar.bz2, .tbz2, .tar.xz, .txz, .tar.zst): its
  //     image members in the order the archive stores them (hidden ones and __MACOSX/ left out);
  //   - any other file: one image (whether it decodes is found out when it is read).
  // Fails, naming the path, when a path does not exist, a folder cannot be listed, an archive cannot be opened or
  // listed, or a folder or archive holds no image at all.
  static Result<ImageCollection> open(const std::vector<std::string>& paths);

  ImageCollection(ImageCollection&&) noexcept;
  ImageCollection& operator=(ImageCollection&&) noexcept;
  ~ImageCollection();

  const std::vector<ImageEntry>& entries() const { return entries_; }

  // The bytes of entry i, at most max_bytes (a larger entry is refused before it is read). A failure concerns
  // that entry only (a corrupt member, a file removed since open). Files and zip members are read in any order at
  // the same cost; a tar archive is a stream, read forward, so increasing i is what is cheap (a smaller i than
  // the last one read opens the archive again). Not thread-safe: one thread reads, others decode.
  Result<std::vector<std::uint8_t>> read(std::size_t i, std::uint64_t max_bytes);

  // One archive or a group of loose files; defined in image_sources.cpp.
  struct Source;

 private:
  ImageCollection() = default;
  struct Location {
    std::size_t source = 0;
    std::size_t member = 0;  // the source's own numbering (a zip index, a tar header ordinal, a file number)
  };
  std::vector<std::unique_ptr<Source>> sources_;
  std::vector<ImageEntry> entries_;
  std::vector<Location> locations_;  // one per entry
};

}  // namespace cortexlens
