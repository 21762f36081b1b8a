// Loading a model from a path, whatever its container: `.keras`, or `.weights.h5` with a separate config.json.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cortexlens/model.hpp"

namespace cortexlens {

// Reads a whole file, refusing ones over max_bytes before reading them.
Result<std::vector<std::uint8_t>> read_file_bytes(const std::string& path, std::uint64_t max_bytes = 512ull << 20);

// The model's name: the file name without directories and extension (".keras", ".weights.h5", ...).
std::string model_name_from_path(const std::string& path);

// `config_path` is only used for `.weights.h5` files (default: config.json beside them). Cortex Lens model files
// (.clm, recognised by their magic) are read with read_model_file; an int8 file's layers carry Layer::int8.
Result<Model> load_model_file(const std::string& path, const std::string& config_path = "");

}  // namespace cortexlens
