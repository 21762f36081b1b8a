// The responses file of `cortexlens fit` read from disk, and the images it names (the parsing is the core's,
// cortexlens/responses.hpp, shared with the page).
#pragma once

#include <string>
#include <vector>

#include "cortexlens/responses.hpp"
#include "cortexlens/status.hpp"
#include "cortexlens/tensor.hpp"

namespace cortexlens {

Result<ResponseCsv> read_response_csv(const std::string& path, const std::string& images_dir);

// The rows' images decoded to model inputs, in row order: from the session archives in data_dir, or from files in
// images_dir when it is given.
Result<std::vector<Tensor>> load_response_images(const ResponseCsv& csv, const std::string& images_dir,
                                                 const std::string& data_dir);

}  // namespace cortexlens
