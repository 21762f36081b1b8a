#include "cortexlens/responses.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

namespace cortexlens {

namespace {

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

// "190923/0001" or "190923/image0001.jpg" -> session and number; false otherwise.
bool parse_session_image(const std::string& id, std::string& session, int& number) {
  const auto slash = id.find('/');
  if (slash == std::string::npos) return false;
  session = id.substr(0, slash);
  std::string rest = id.substr(slash + 1);
  if (rest.rfind("image", 0) == 0) rest = rest.substr(5);
  if (rest.size() > 4 && rest.compare(rest.size() - 4, 4, ".jpg") == 0) rest.resize(rest.size() - 4);
  if (rest.empty() || rest.size() > 4 || rest.find_first_not_of("0123456789") != std::string::npos) return false;
  number = std::atoi(rest.c_str());
  bool known = false;
  for (const auto& s : kImageSessions) known = known || s == session;
  return known && number >= 1 && number <= 1200;
}

}  // namespace

bool parse_finite_number(const std::string& text, double& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(value)) return false;
  out = value;
  return true;
}

Result<ResponseCsv> parse_response_csv(const std::string& text, const std::string& source, bool own_images) {
  ResponseCsv csv;
  std::map<std::string, int> seen;  // normalised image id -> line
  std::size_t pos = 0;
  int line_number = 0;
  bool first_content = true;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = trim(text.substr(pos, end - pos));
    pos = end + 1;
    ++line_number;
    if (line.empty()) continue;
    const std::string where = source + " line " + std::to_string(line_number) + ": ";
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (;;) {
      const auto comma = line.find(',', start);
      fields.push_back(trim(line.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (fields.size() != 2)
      return Status::error(where + "found " + std::to_string(fields.size()) +
                           (fields.size() == 1 ? " column" : " columns") + ", expected 2 (image, response)");
    double value = 0;
    const bool numeric = parse_finite_number(fields[1], value);
    if (first_content && !numeric) {  // a header line
      first_content = false;
      continue;
    }
    first_content = false;
    if (!numeric)
      return Status::error(where + "response '" + fields[1] + "' is not a number, expected a finite decimal number");
    std::string id = fields[0];
    if (own_images) {
      if (id.empty() || id.find("..") != std::string::npos || id.front() == '/')
        return Status::error(where + "image '" + id + "' is not a file name inside the images folder");
    } else {
      std::string session;
      int number = 0;
      if (!parse_session_image(id, session, number))
        return Status::error(where + "unknown image id '" + id +
                             "', expected SESSION/NUMBER with SESSION one of 190923, 201025, 210225 and NUMBER "
                             "1..1200 (e.g. 190923/0001), or give --images DIR for your own images");
      char normal[32];
      std::snprintf(normal, sizeof normal, "%s/%04d", session.c_str(), number);
      id = normal;
    }
    if (auto it = seen.find(id); it != seen.end())
      return Status::error(where + "image '" + id + "' appears again (first on line " + std::to_string(it->second) +
                           "), expected one response per image (average repeats first)");
    seen[id] = line_number;
    csv.rows.push_back({id, value, line_number});
  }
  if (csv.rows.size() < kMinResponses)
    return Status::error(source + ": " + std::to_string(csv.rows.size()) + " responses, expected at least " +
                         std::to_string(kMinResponses) +
                         " (the readout is cross-validated and every 5th image is held out to measure r)");
  bool varies = false;
  for (const auto& row : csv.rows) varies = varies || row.response != csv.rows.front().response;
  if (!varies)
    return Status::error(source + ": every response is " + std::to_string(csv.rows.front().response) +
                         ", expected responses that vary across images");
  return csv;
}

Result<NeuronFit> fit_neuron(const Model& shared, const std::vector<Tensor>& inputs,
                             const std::vector<double>& responses, const std::string& name,
                             const PruneOptions& options) {
  if (inputs.size() != responses.size())
    return Status::error(std::to_string(inputs.size()) + " images and " + std::to_string(responses.size()) +
                         " responses, expected one response per image");
  if (inputs.size() < kMinResponses)
    return Status::error(std::to_string(inputs.size()) + " responses, expected at least " +
                         std::to_string(kMinResponses));
  std::vector<Tensor> fit_inputs, heldout_inputs;
  std::vector<double> fit_responses, heldout_responses;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!std::isfinite(responses[i]))
      return Status::error("response " + std::to_string(i + 1) + " is not finite, expected a finite number");
    (held_out_row(i) ? heldout_inputs : fit_inputs).push_back(inputs[i]);
    (held_out_row(i) ? heldout_responses : fit_responses).push_back(responses[i]);
  }
  // The features: the shared model's last-stage map, flattened (a dense readout of zeros gives the layout).
  auto base = with_dense_readout(shared, {}, 0.0, name);
  if (!base) return base.status();
  auto layout = prunable_layout(base.value());
  if (!layout) return layout.status();
  auto features = readout_features(base.value(), layout.value(), fit_inputs, options);
  if (!features) return features.status();
  MatrixD x;
  x.rows = features->rows;
  x.cols = features->cols;
  x.values = std::move(features->values);
  auto cv = fit_ridge_cv(x, fit_responses, 5);
  if (!cv) return cv.status();
  auto fitted = with_dense_readout(shared, cv->fit.weights, cv->fit.intercept, name);
  if (!fitted) return fitted.status();
  auto predicted = predict_all(fitted.value(), heldout_inputs, options);
  if (!predicted) return predicted.status();
  NeuronFit fit;
  fit.model = std::move(fitted).value();
  fit.model.name = name;
  fit.fit_images = static_cast<int>(fit_inputs.size());
  fit.heldout_images = static_cast<int>(heldout_inputs.size());
  fit.features = x.cols;
  fit.lambda = cv->fit.lambda;
  fit.heldout_r = correlation(predicted.value(), heldout_responses);
  fit.heldout_ci = correlation_interval_fisher(fit.heldout_r, heldout_inputs.size());
  return fit;
}

}  // namespace cortexlens
