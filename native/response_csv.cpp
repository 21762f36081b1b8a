#include "response_csv.hpp"

#include <map>

#include "cortexlens/image.hpp"
#include "model_pack.hpp"
#include "model_source.hpp"
#include "v4_data.hpp"

namespace cortexlens {

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
