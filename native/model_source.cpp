#include "model_source.hpp"

#include <fstream>

#include "cortexlens/keras_import.hpp"
#include "cortexlens/model_file.hpp"
#include "keras_archive.hpp"

namespace cortexlens {

namespace {
bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

Result<std::vector<std::uint8_t>> read_file_bytes(const std::string& path, std::uint64_t max_bytes) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) return Status::error("cannot open '" + path + "'");
  const std::streamoff size = file.tellg();
  if (size < 0) return Status::error("cannot read '" + path + "' (not a regular file?)");
  if (static_cast<std::uint64_t>(size) > max_bytes)
    return Status::error("'" + path + "' has " + std::to_string(size) + " bytes, more than the limit of " +
                         std::to_string(max_bytes));
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  file.seekg(0);
  if (size > 0 && !file.read(reinterpret_cast<char*>(bytes.data()), size))
    return Status::error("cannot read '" + path + "'");
  return bytes;
}

std::string model_name_from_path(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  for (const char* suffix : {".weights.h5", ".keras", ".h5", ".clm"})
    if (ends_with(name, suffix)) return name.substr(0, name.size() - std::string(suffix).size());
  return name;
}

Result<Model> load_model_file(const std::string& path, const std::string& config_path) {
  auto bytes = read_file_bytes(path);
  if (!bytes) return bytes.status();
  const std::string name = model_name_from_path(path);
  const std::string context = "'" + path + "': ";
  // Cortex Lens model files are recognised by their magic, whatever the file is called.
  if (is_model_file(bytes.value().data(), bytes.value().size()) || ends_with(path, ".clm")) {
    auto loaded = read_model_file(bytes.value().data(), bytes.value().size());
    if (!loaded) return loaded.status().with_context(context);
    return std::move(loaded).value().model;
  }
  if (ends_with(path, ".h5")) {
    std::string config_file = config_path;
    if (config_file.empty()) {
      const auto slash = path.find_last_of('/');
      config_file = (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) + "config.json";
    }
    auto config = read_file_bytes(config_file, 16u << 20);
    if (!config) return config.status().with_context(context + "its config: ");
    auto tensors = read_weights_h5(bytes.value());
    if (!tensors) return tensors.status().with_context(context);
    return import_keras(std::string(config.value().begin(), config.value().end()), tensors.value(), name);
  }
  auto archive = read_keras_archive(bytes.value());
  if (!archive) return archive.status().with_context(context);
  return import_keras(archive.value().config_json, archive.value().tensors, name);
}

}  // namespace cortexlens
