// The responses file of `cortexlens fit`: CSV rows "image,response", checked line by line so that a bad file gets
// a message naming the line, what was found and what was expected.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "cortexlens/status.hpp"
#include "cortexlens/tensor.hpp"

namespace cortexlens {

// Fewer responses than this cannot fit a cross-validated readout and leave enough held-out images for an r.
inline constexpr std::size_t kMinResponses = 50;

struct ResponseRow {
  std::string image;  // "190923/0001" (a shipped session image) or a file name under the images folder
  double response = 0.0;
  int line = 0;  // 1-based line in the file
};

struct ResponseCsv {
  std::vector<ResponseRow> rows;  // file order
};

// A whole decimal number (strtod syntax, nothing after it) that is finite.
bool parse_finite_number(const std::string& text, double& out);

// `source` names the file in messages. With own_images false, every image must be a shipped session image
// (SESSION/NUMBER, SESSION one of the image sessions, NUMBER 1..1200, also written SESSION/imageNNNN.jpg); with
// own_images true it is a relative file name (no "..").
Result<ResponseCsv> parse_response_csv(const std::string& text, const std::string& source, bool own_images);
Result<ResponseCsv> read_response_csv(const std::string& path, const std::string& images_dir);

// The rows' images decoded to model inputs, in row order: from the session archives in data_dir, or from files in
// images_dir when it is given.
Result<std::vector<Tensor>> load_response_images(const ResponseCsv& csv, const std::string& images_dir,
                                                 const std::string& data_dir);

}  // namespace cortexlens
