// Access to the published V4 data folder (../shared/data/v4 by default): models, session images, recorded
// responses. Read-only, native only; nothing here is ever copied into the repository.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cortexlens/status.hpp"
#include "cortexlens/tensor.hpp"

namespace cortexlens {

// Recorded responses of one session: (neurons, images), spike counts averaged over repeats.
struct ResponseTable {
  int neurons = 0, images = 0;
  std::vector<double> values;  // row-major (neuron, image)
  double at(int neuron, int image) const { return values[static_cast<std::size_t>(neuron) * images + image]; }
};

// Reads a NumPy .npy file holding a 2-D little-endian float64 array in C order. NumPy's format is a magic
// string, a Python-literal header and raw data; no Debian package offers a C++ reader, so this is the one small
// parser we keep, bounded and strict: anything but '<f8', C order and two dimensions is refused.
Result<ResponseTable> read_npy_matrix(const std::vector<std::uint8_t>& bytes);

// The JPEGs of one session, read from images_<session>.zip with libzip.
class SessionImages {
 public:
  static Result<SessionImages> open(const std::string& data_dir, const std::string& session);
  // 1-based image number, as in image0601.jpg.
  Result<std::vector<std::uint8_t>> image_bytes(int number) const;
  const std::string& session() const { return session_; }

 private:
  struct Archive;
  std::shared_ptr<Archive> archive_;
  std::string session_;
};

Result<ResponseTable> read_session_responses(const std::string& data_dir, const std::string& session);

// "190923_n4" -> session "190923", neuron 4; false when the name is not of that form.
bool parse_neuron_name(const std::string& output_name, std::string& session, int& neuron);

// Pearson correlation in double precision; NaN when either side is constant.
double pearson_r(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace cortexlens
