#pragma once
// The shared-size models' reference distributions (219 outputs x 101 quantiles and the top and bottom images, for
// each of seven models: 3.3 of the manifest's 4.8 MB) are kept in files of their own beside manifest.json, named
// by the entry's "referenceFile": the page parses the manifest at every visit, and only its compression view needs
// them (models/MANIFEST.md). `pack` writes them out; the tools that read a manifest put them back.
#include <nlohmann/json.hpp>
#include <string>

#include "cortexlens/status.hpp"

namespace cortexlens::cli {

// True for what a "referenceFile" may name: a plain file name of letters, digits, '_', '-' and '.', ending in
// ".reference.json" (never a path: a manifest cannot point a tool outside its folder).
bool is_reference_file_name(const std::string& name);

// For every entry of `manifest` whose kind is "shared-size": writes its "reference" to dir/<id>.reference.json and
// leaves "referenceFile" in its place.
Status write_reference_files(nlohmann::json& manifest, const std::string& dir);

// For every entry with a "referenceFile": reads dir/<file> into its "reference". Refuses, naming the entry, a name
// that is not a plain file name, a missing or unreadable file, and one that is not a JSON array or object.
Status inline_reference_files(nlohmann::json& manifest, const std::string& dir);

}  // namespace cortexlens::cli
