// Naming conventions of the published V4 data set (Cowley et al. 2026), kept apart from the Keras mapping.
#include <cctype>

#include "cortexlens/keras_import.hpp"

namespace cortexlens {

namespace {
struct Session {
  const char* id;
  int neurons;
};
// Order and sizes of the 219 outputs of the shared models, as published.
constexpr Session kSessions[] = {{"190923", 33}, {"201025", 89}, {"210225", 55}, {"211022", 42}};
constexpr std::size_t kSharedOutputs = 219;

std::string leading_digits(const std::string& text, std::size_t from) {
  std::size_t end = from;
  while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
  return text.substr(from, end - from);
}
}  // namespace

std::vector<std::string> v4_output_names(const std::string& model_name, std::size_t count) {
  // "compact_model_<session>_neuron<i>" (std::regex would add ~100 KB to the wasm module for this one match).
  const std::string prefix = "compact_model_";
  const std::size_t at = model_name.find(prefix);
  if (count == 1 && at != std::string::npos && model_name.find("shared_") == std::string::npos) {
    const std::string session = leading_digits(model_name, at + prefix.size());
    const std::size_t neuron_at = at + prefix.size() + session.size();
    if (!session.empty() && model_name.compare(neuron_at, 7, "_neuron") == 0) {
      const std::string neuron = leading_digits(model_name, neuron_at + 7);
      if (!neuron.empty()) return {session + "_n" + neuron};
    }
  }
  std::vector<std::string> names;
  if (count == kSharedOutputs && model_name.find("shared_compact_model") != std::string::npos) {
    for (const auto& session : kSessions)
      for (int i = 0; i < session.neurons; ++i) names.push_back(std::string(session.id) + "_n" + std::to_string(i));
    return names;
  }
  for (std::size_t i = 0; i < count; ++i) names.push_back("output" + std::to_string(i));
  return names;
}

}  // namespace cortexlens
