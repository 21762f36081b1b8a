#include "response_csv.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>

#include "cortexlens/image.hpp"
#include "model_pack.hpp"
#include "model_source.hpp"
#include "v4_data.hpp"

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

Result<ResponseCsv> read_response_csv(const std::string& path, const std::string& images_dir) {
  auto bytes = read_file_bytes(path, 64u << 20);
  if (!bytes) return bytes.status();
  return parse_response_csv(std::string(bytes->begin(), bytes->end()), "'" + path + "'", !images_dir.empty());
}

Result<std::vector<Tensor>> load_response_images(const ResponseCsv& csv, const std::string& images_dir,
                                                 const std::string& data_dir) {
  std::vector<Tensor> inputs;
  std::map<std::string, SessionImages> sessions;
  for (const auto& row : csv.rows) {
    const std::string where = "line " + std::to_string(row.line) + ": image '" + row.image + "': ";
    std::vector<std::uint8_t> bytes;
    if (!images_dir.empty()) {
      auto read = read_file_bytes(images_dir + "/" + row.image, ImageLimits::max_file_bytes);
      if (!read) return read.status().with_context(where);
      bytes = std::move(read).value();
    } else {
      const std::string session = row.image.substr(0, row.image.find('/'));
      const int number = std::atoi(row.image.c_str() + session.size() + 1);
      if (!sessions.count(session)) {
        auto opened = SessionImages::open(data_dir, session);
        if (!opened) return opened.status().with_context(where);
        sessions.emplace(session, std::move(opened).value());
      }
      auto read = sessions.at(session).image_bytes(number);
      if (!read) return read.status().with_context(where);
      bytes = std::move(read).value();
    }
    auto input = image_to_input(bytes.data(), bytes.size());
    if (!input) return input.status().with_context(where);
    inputs.push_back(std::move(input).value());
  }
  return inputs;
}

}  // namespace cortexlens
