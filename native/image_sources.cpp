#include "image_sources.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <zip.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <system_error>

#include "model_source.hpp"

namespace cortexlens {

namespace fs = std::filesystem;

namespace {

std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_zip_path(const std::string& path) { return ends_with(lowercase(path), ".zip"); }

bool is_tar_path(const std::string& path) {
  const std::string lower = lowercase(path);
  for (const char* suffix : {".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst"})
    if (ends_with(lower, suffix)) return true;
  return false;
}

// Hidden names, and the "__MACOSX/" folder of resource forks that macOS puts into the zips it makes: their
// "._image.jpg" files carry the image's name and extension but no image.
bool is_hidden_member(const std::string& relative_path) {
  std::size_t begin = 0;
  while (begin < relative_path.size()) {
    const std::size_t slash = std::min(relative_path.find('/', begin), relative_path.size());
    const std::string part = relative_path.substr(begin, slash - begin);
    if ((!part.empty() && part[0] == '.' && part != "." && part != "..") || part == "__MACOSX") return true;
    begin = slash + 1;
  }
  return false;
}

struct Listed {
  std::size_t member;
  std::string name;  // inside the source
  std::uint64_t size;
};

Status too_large(const std::string& name, std::uint64_t size, std::uint64_t max_bytes) {
  return Status::error("'" + name + "' has " + std::to_string(size) + " bytes, more than the limit of " +
                       std::to_string(max_bytes));
}

}  // namespace

bool has_image_extension(const std::string& name) {
  const std::string lower = lowercase(name);
  for (const char* suffix : {".jpg", ".jpeg", ".png", ".bmp", ".gif"})
    if (ends_with(lower, suffix)) return true;
  return false;
}

struct ImageCollection::Source {
  virtual ~Source() = default;
  // `name` is the entry's name, for messages.
  virtual Result<std::vector<std::uint8_t>> read(std::size_t member, const std::string& name,
                                                 std::uint64_t max_bytes) = 0;
};

namespace {

// Loose files: member i is paths[i].
struct FileSource : ImageCollection::Source {
  std::vector<std::string> paths;
  Result<std::vector<std::uint8_t>> read(std::size_t member, const std::string&, std::uint64_t max_bytes) override {
    return read_file_bytes(paths[member], max_bytes);
  }
};

struct ZipSource : ImageCollection::Source {
  zip_t* zip = nullptr;
  ~ZipSource() override {
    if (zip) zip_discard(zip);
  }

  static Result<std::unique_ptr<ZipSource>> open(const std::string& path, std::vector<Listed>& listed) {
    auto source = std::make_unique<ZipSource>();
    int code = 0;
    source->zip = zip_open(path.c_str(), ZIP_RDONLY, &code);
    if (!source->zip) {
      zip_error_t error;
      zip_error_init_with_code(&error, code);
      const std::string message = "'" + path + "' is not a readable zip archive: " + zip_error_strerror(&error);
      zip_error_fini(&error);
      return Status::error(message);
    }
    const zip_int64_t count = zip_get_num_entries(source->zip, 0);
    for (zip_int64_t i = 0; i < count; ++i) {
      zip_stat_t stat;
      zip_stat_init(&stat);
      if (zip_stat_index(source->zip, static_cast<zip_uint64_t>(i), 0, &stat) != 0 || !(stat.valid & ZIP_STAT_NAME))
        return Status::error("'" + path + "': cannot read the directory entry of member " + std::to_string(i) + ": " +
                             zip_strerror(source->zip));
      const std::string name = stat.name;
      if (ends_with(name, "/") || !has_image_extension(name) || is_hidden_member(name)) continue;
      listed.push_back({static_cast<std::size_t>(i), name, (stat.valid & ZIP_STAT_SIZE) ? stat.size : 0});
    }
    return source;
  }

  Result<std::vector<std::uint8_t>> read(std::size_t member, const std::string& name,
                                         std::uint64_t max_bytes) override {
    zip_stat_t stat;
    zip_stat_init(&stat);
    if (zip_stat_index(zip, member, 0, &stat) != 0 || !(stat.valid & ZIP_STAT_SIZE))
      return Status::error("'" + name + "': no size in the zip directory");
    if (stat.size > max_bytes) return too_large(name, stat.size, max_bytes);
    std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> file(zip_fopen_index(zip, member, 0), zip_fclose);
    if (!file) return Status::error("'" + name + "': cannot open it in the archive: " + zip_strerror(zip));
    std::vector<std::uint8_t> data(stat.size);
    std::uint64_t done = 0;
    while (done < stat.size) {
      const zip_int64_t got = zip_fread(file.get(), data.data() + done, stat.size - done);
      if (got <= 0)
        return Status::error("'" + name + "' is truncated or corrupt: read " + std::to_string(done) + " of " +
                             std::to_string(stat.size) + " bytes (" + zip_file_strerror(file.get()) + ")");
      done += static_cast<std::uint64_t>(got);
    }
    return data;
  }
};

// A tar archive, plain or compressed (any filter libarchive has). Its members are numbered by header ordinal; the
// reader keeps its place between reads, since a tar can only be read from the front.
struct TarSource : ImageCollection::Source {
  std::string path;
  std::map<std::size_t, std::string> member_names;  // ordinal -> name in the archive, for the listed members
  archive* reader = nullptr;
  std::size_t next_ordinal = 0;  // of the header reader would read next

  ~TarSource() override { close(); }
  void close() {
    if (reader) archive_read_free(reader);
    reader = nullptr;
  }

  Status reopen() {
    close();
    reader = archive_read_new();
    archive_read_support_filter_all(reader);
    archive_read_support_format_tar(reader);
    next_ordinal = 0;
    if (archive_read_open_filename(reader, path.c_str(), 1 << 16) != ARCHIVE_OK) {
      const std::string message = "'" + path + "' is not a readable tar archive: " + archive_error_string(reader);
      close();
      return Status::error(message);
    }
    return Status::ok();
  }

  // The next header, or null at the end; a broken archive is an error.
  Result<archive_entry*> next_header() {
    archive_entry* entry = nullptr;
    const int code = archive_read_next_header(reader, &entry);
    if (code == ARCHIVE_EOF) return static_cast<archive_entry*>(nullptr);
    if (code < ARCHIVE_WARN)
      return Status::error("'" + path + "': cannot read member " + std::to_string(next_ordinal) + ": " +
                           archive_error_string(reader));
    ++next_ordinal;
    return entry;
  }

  static Result<std::unique_ptr<TarSource>> open(const std::string& path, std::vector<Listed>& listed) {
    auto source = std::make_unique<TarSource>();
    source->path = path;
    CL_RETURN_IF_ERROR(source->reopen());
    while (true) {
      auto entry = source->next_header();
      if (!entry) return entry.status();
      if (!entry.value()) break;
      const std::size_t ordinal = source->next_ordinal - 1;
      const char* name_text = archive_entry_pathname(entry.value());
      const std::string name = name_text ? name_text : "";
      if (archive_entry_filetype(entry.value()) == AE_IFREG && has_image_extension(name) && !is_hidden_member(name)) {
        const la_int64_t size = archive_entry_size(entry.value());
        listed.push_back({ordinal, name, size > 0 ? static_cast<std::uint64_t>(size) : 0});
        source->member_names[ordinal] = name;
      }
    }
    // Reading starts from the front again.
    CL_RETURN_IF_ERROR(source->reopen());
    return source;
  }

  Result<std::vector<std::uint8_t>> read(std::size_t member, const std::string& name,
                                         std::uint64_t max_bytes) override {
    if (!reader || next_ordinal > member) CL_RETURN_IF_ERROR(reopen());
    while (true) {
      auto entry = next_header();
      if (!entry) return entry.status();
      if (!entry.value())
        return Status::error("'" + path + "' ended before member " + std::to_string(member) +
                             " (it changed since it was listed?)");
      if (next_ordinal - 1 < member) continue;  // the next header skips this member's data
      const char* found = archive_entry_pathname(entry.value());
      if (!found || member_names[member] != found)
        return Status::error("'" + path + "' changed since it was listed: member " + std::to_string(member) + " is '" +
                             (found ? found : "") + "', expected '" + member_names[member] + "'");
      const la_int64_t size = archive_entry_size(entry.value());
      if (size < 0) return Status::error("'" + name + "' has no size in the archive");
      if (static_cast<std::uint64_t>(size) > max_bytes)
        return too_large(name, static_cast<std::uint64_t>(size), max_bytes);
      std::vector<std::uint8_t> data(static_cast<std::size_t>(size));
      std::size_t done = 0;
      while (done < data.size()) {
        const la_ssize_t got = archive_read_data(reader, data.data() + done, data.size() - done);
        if (got <= 0) {
          const std::string reason = got < 0 ? archive_error_string(reader) : "end of data";
          close();  // the stream's position is unknown now: the next read starts over
          return Status::error("'" + name + "' is truncated or corrupt: read " + std::to_string(done) + " of " +
                               std::to_string(data.size()) + " bytes (" + reason + ")");
        }
        done += static_cast<std::size_t>(got);
      }
      return data;
    }
  }
};

// The image files under a folder, sorted by path.
Result<std::vector<std::string>> list_folder(const std::string& folder) {
  std::vector<std::string> files;
  std::error_code error;
  fs::recursive_directory_iterator it(folder, fs::directory_options::none, error), end;
  for (; !error && it != end; it.increment(error)) {
    const fs::path relative = it->path().lexically_relative(folder);
    if (is_hidden_member(relative.generic_string())) {
      if (it->is_directory(error)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(error) && has_image_extension(it->path().filename().string()))
      files.push_back(it->path().generic_string());
  }
  if (error) return Status::error("cannot list folder '" + folder + "': " + error.message());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

ImageCollection::ImageCollection(ImageCollection&&) noexcept = default;
ImageCollection& ImageCollection::operator=(ImageCollection&&) noexcept = default;
ImageCollection::~ImageCollection() = default;

// Long by design: one branch per kind of path, each listing its images into the same three tables.
Result<ImageCollection> ImageCollection::open(const std::vector<std::string>& paths) {
  ImageCollection collection;
  // Loose files, from every argument that names one, share one source.
  auto files = std::make_unique<FileSource>();
  const std::size_t files_source = 0;
  collection.sources_.push_back(nullptr);  // filled with `files` at the end
  for (const std::string& path : paths) {
    std::error_code error;
    const fs::file_status status = fs::status(path, error);
    if (error || !fs::exists(status))
      return Status::error("'" + path + "': no such file or folder, expected an image, a folder or an archive");
    std::vector<Listed> listed;
    if (fs::is_directory(status)) {
      auto found = list_folder(path);
      if (!found) return found.status();
      if (found.value().empty())
        return Status::error("folder '" + path + "' holds no image files (.jpg, .jpeg, .png, .bmp, .gif)");
      for (const std::string& file : found.value()) {
        std::error_code size_error;
        const std::uintmax_t size = fs::file_size(file, size_error);
        collection.entries_.push_back({file, size_error ? 0 : static_cast<std::uint64_t>(size)});
        collection.locations_.push_back({files_source, files->paths.size()});
        files->paths.push_back(file);
      }
      continue;
    }
    std::unique_ptr<Source> source;
    if (is_zip_path(path)) {
      auto zip = ZipSource::open(path, listed);
      if (!zip) return zip.status();
      source = std::move(zip).value();
    } else if (is_tar_path(path)) {
      auto tar = TarSource::open(path, listed);
      if (!tar) return tar.status();
      source = std::move(tar).value();
    } else {
      std::error_code size_error;
      const std::uintmax_t size = fs::file_size(path, size_error);
      collection.entries_.push_back({path, size_error ? 0 : static_cast<std::uint64_t>(size)});
      collection.locations_.push_back({files_source, files->paths.size()});
      files->paths.push_back(path);
      continue;
    }
    if (listed.empty())
      return Status::error("archive '" + path + "' holds no image files (.jpg, .jpeg, .png, .bmp, .gif)");
    const std::size_t index = collection.sources_.size();
    collection.sources_.push_back(std::move(source));
    for (const Listed& member : listed) {
      collection.entries_.push_back({path + "/" + member.name, member.size});
      collection.locations_.push_back({index, member.member});
    }
  }
  collection.sources_[files_source] = std::move(files);
  return collection;
}

Result<std::vector<std::uint8_t>> ImageCollection::read(std::size_t i, std::uint64_t max_bytes) {
  if (i >= entries_.size())
    return Status::error("image " + std::to_string(i) + " asked for, the collection has " +
                         std::to_string(entries_.size()));
  const Location& at = locations_[i];
  return sources_[at.source]->read(at.member, entries_[i].name, max_bytes);
}

}  // namespace cortexlens
