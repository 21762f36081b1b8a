#include "manifest_references.hpp"

#include <string>

#include "model_pack.hpp"
#include "model_source.hpp"

namespace cortexlens::cli {

using json = nlohmann::json;

namespace {
constexpr const char* kSuffix = ".reference.json";
constexpr std::uint64_t kMaxReferenceFileBytes = 16u << 20;  // one shared-size model's is ~0.5 MB
}  // namespace

bool is_reference_file_name(const std::string& name) {
  const std::string suffix = kSuffix;
  if (name.size() <= suffix.size() || name.size() > 128 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  if (name[0] == '.') return false;
  for (const char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
          c == '.'))
      return false;
  return true;
}

Status write_reference_files(json& manifest, const std::string& dir) {
  if (!manifest.is_object() || !manifest.contains("models") || !manifest["models"].is_array()) return Status::ok();
  for (json& entry : manifest["models"]) {
    if (!entry.is_object() || entry.value("kind", std::string()) != "shared-size" || !entry.contains("reference"))
      continue;
    const std::string name = entry.value("id", std::string()) + kSuffix;
    if (!is_reference_file_name(name))
      return Status::error("manifest entry '" + entry.value("id", std::string()) +
                           "': its id cannot name a reference file (expected letters, digits, '_', '-', '.')");
    const std::string text = entry["reference"].dump();
    CL_RETURN_IF_ERROR(write_file_bytes(dir + "/" + name, std::vector<std::uint8_t>(text.begin(), text.end())));
    entry.erase("reference");
    entry["referenceFile"] = name;
  }
  return Status::ok();
}

Status inline_reference_files(json& manifest, const std::string& dir) {
  if (!manifest.is_object() || !manifest.contains("models") || !manifest["models"].is_array()) return Status::ok();
  for (json& entry : manifest["models"]) {
    if (!entry.is_object() || !entry.contains("referenceFile")) continue;
    const std::string id = entry.value("id", std::string("?"));
    const json& file = entry["referenceFile"];
    if (!file.is_string() || !is_reference_file_name(file.get<std::string>()))
      return Status::error("manifest entry '" + id + "': referenceFile " + file.dump().substr(0, 80) +
                           " is not a plain file name ending in .reference.json");
    const std::string path = dir + "/" + file.get<std::string>();
    auto bytes = read_file_bytes(path, kMaxReferenceFileBytes);
    if (!bytes) return bytes.status().with_context("manifest entry '" + id + "': ");
    json reference = json::parse(bytes.value().begin(), bytes.value().end(), nullptr, /*allow_exceptions=*/false);
    if (reference.is_discarded() || !(reference.is_array() || reference.is_object()))
      return Status::error("manifest entry '" + id + "': '" + path +
                           "' is not a JSON array or object (its reference distributions)");
    entry["reference"] = std::move(reference);
  }
  return Status::ok();
}

}  // namespace cortexlens::cli
