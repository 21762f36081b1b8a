#include "v4_data.hpp"

#include <zip.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "model_source.hpp"

namespace cortexlens {

Result<ResponseTable> read_npy_matrix(const std::vector<std::uint8_t>& bytes) {
  static const char kMagic[] = "\x93NUMPY";
  if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, 6) != 0)
    return Status::error("not a NumPy .npy file (no \\x93NUMPY magic)");
  const int major = bytes[6];
  std::size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = bytes[8] | (bytes[9] << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return Status::error(".npy file truncated in its header");
    header_len = bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) | (static_cast<std::size_t>(bytes[11]) << 24);
    header_start = 12;
  } else {
    return Status::error(".npy format version " + std::to_string(major) + ", expected 1, 2 or 3");
  }
  if (header_len > 65536 || header_start + header_len > bytes.size())
    return Status::error(".npy header length " + std::to_string(header_len) + " does not fit the file");
  const std::string header(reinterpret_cast<const char*>(bytes.data() + header_start), header_len);
  if (header.find("'descr': '<f8'") == std::string::npos)
    return Status::error(".npy header " + header + " does not describe little-endian float64 ('<f8')");
  if (header.find("'fortran_order': False") == std::string::npos)
    return Status::error(".npy array is in Fortran order, expected C order");
  const auto shape_at = header.find("'shape': (");
  if (shape_at == std::string::npos) return Status::error(".npy header has no shape");
  long long rows = -1, cols = -1;
  if (std::sscanf(header.c_str() + shape_at + 10, "%lld, %lld)", &rows, &cols) != 2 || rows <= 0 || cols <= 0 ||
      rows > 1'000'000 || cols > 1'000'000)
    return Status::error(".npy shape in " + header + " is not two positive dimensions");
  const std::size_t data_start = header_start + header_len;
  const std::size_t count = static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
  if ((bytes.size() - data_start) / 8 < count)
    return Status::error(".npy data holds " + std::to_string((bytes.size() - data_start) / 8) + " values, expected " +
                         std::to_string(count));
  ResponseTable table;
  table.neurons = static_cast<int>(rows);
  table.images = static_cast<int>(cols);
  table.values.resize(count);
  std::memcpy(table.values.data(), bytes.data() + data_start, count * 8);  // x86 and wasm are little-endian
  return table;
}

struct SessionImages::Archive {
  std::vector<std::uint8_t> bytes;
  zip_t* zip = nullptr;
  ~Archive() {
    if (zip) zip_discard(zip);
  }
};

Result<SessionImages> SessionImages::open(const std::string& data_dir, const std::string& session) {
  const std::string path = data_dir + "/sessions/images_" + session + ".zip";
  auto bytes = read_file_bytes(path);
  if (!bytes) return bytes.status();
  auto archive = std::make_shared<Archive>();
  archive->bytes = std::move(bytes).value();
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(archive->bytes.data(), archive->bytes.size(), 0, &error);
  if (source) archive->zip = zip_open_from_source(source, ZIP_RDONLY, &error);
  if (!archive->zip) {
    if (source) zip_source_free(source);
    return Status::error("'" + path + "' is not a readable zip: " + zip_error_strerror(&error));
  }
  SessionImages images;
  images.archive_ = std::move(archive);
  images.session_ = session;
  return images;
}

Result<std::vector<std::uint8_t>> SessionImages::image_bytes(int number) const {
  // The published archives differ: 190923 keeps its images in a folder images_<session>/, the others at the root.
  char name[64], in_folder[64];
  std::snprintf(in_folder, sizeof in_folder, "images_%s/image%04d.jpg", session_.c_str(), number);
  std::snprintf(name, sizeof name, "image%04d.jpg", number);
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat(archive_->zip, in_folder, 0, &stat) == 0)
    std::snprintf(name, sizeof name, "%s", in_folder);
  else if (zip_stat(archive_->zip, name, 0, &stat) != 0)
    return Status::error(std::string("no image '") + in_folder + "' or '" + name + "' in the session archive");
  if (!(stat.valid & ZIP_STAT_SIZE) || stat.size > (64u << 20))
    return Status::error(std::string("image '") + name + "' has no plausible size in the session archive");
  std::vector<std::uint8_t> data(stat.size);
  zip_file_t* file = zip_fopen(archive_->zip, name, 0);
  if (!file) return Status::error(std::string("cannot open '") + name + "'");
  const zip_int64_t got = zip_fread(file, data.data(), stat.size);
  zip_fclose(file);
  if (got != static_cast<zip_int64_t>(stat.size)) return Status::error(std::string("'") + name + "' is truncated");
  return data;
}

Result<ResponseTable> read_session_responses(const std::string& data_dir, const std::string& session) {
  const std::string path = data_dir + "/sessions/responses_repeat_averaged_" + session + ".npy";
  auto bytes = read_file_bytes(path);
  if (!bytes) return bytes.status();
  auto table = read_npy_matrix(bytes.value());
  if (!table) return table.status().with_context("'" + path + "': ");
  return table;
}

bool parse_neuron_name(const std::string& output_name, std::string& session, int& neuron) {
  const auto at = output_name.find("_n");
  if (at == std::string::npos || at == 0 || at + 2 >= output_name.size()) return false;
  session = output_name.substr(0, at);
  char* end = nullptr;
  const long value = std::strtol(output_name.c_str() + at + 2, &end, 10);
  if (*end != '\0' || value < 0) return false;
  neuron = static_cast<int>(value);
  return true;
}

double pearson_r(const std::vector<double>& a, const std::vector<double>& b) {
  const std::size_t n = std::min(a.size(), b.size());
  if (n < 2) return std::numeric_limits<double>::quiet_NaN();
  double mean_a = 0, mean_b = 0;
  for (std::size_t i = 0; i < n; ++i) mean_a += a[i], mean_b += b[i];
  mean_a /= n;
  mean_b /= n;
  double cov = 0, var_a = 0, var_b = 0;
  for (std::size_t i = 0; i < n; ++i) {
    cov += (a[i] - mean_a) * (b[i] - mean_b);
    var_a += (a[i] - mean_a) * (a[i] - mean_a);
    var_b += (b[i] - mean_b) * (b[i] - mean_b);
  }
  if (var_a <= 0 || var_b <= 0) return std::numeric_limits<double>::quiet_NaN();
  return cov / std::sqrt(var_a * var_b);
}

}  // namespace cortexlens
