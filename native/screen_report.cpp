#include "screen_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace cortexlens {

double numpy_percentile_linear(const std::vector<float>& sorted, double p) {
  const std::size_t n = sorted.size();
  const double position = static_cast<double>(n - 1) * (p / 100.0);
  if (position >= static_cast<double>(n - 1)) return sorted.back();
  const double below = std::floor(position);
  const double t = position - below;
  const std::size_t i = static_cast<std::size_t>(below);
  const float a = sorted[i], b = sorted[i + 1];
  const double difference = static_cast<double>(b - a);  // float32 subtraction, as NumPy does it
  return t >= 0.5 ? static_cast<double>(b) - difference * (1.0 - t) : static_cast<double>(a) + difference * t;
}

OutputSummary summarize_output(const std::vector<float>& responses, std::size_t k) {
  OutputSummary summary;
  std::vector<RankedImage> ranked;
  ranked.reserve(responses.size());
  for (std::size_t i = 0; i < responses.size(); ++i)
    if (std::isfinite(responses[i])) ranked.push_back({i, responses[i]});
  summary.images = ranked.size();
  if (ranked.empty()) return summary;
  const std::size_t kept = std::min(k, ranked.size());
  std::vector<RankedImage> order = ranked;
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(kept), order.end(),
                    [](const RankedImage& x, const RankedImage& y) {
                      return x.response != y.response ? x.response > y.response : x.image < y.image;
                    });
  summary.top.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(kept));
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(kept), ranked.end(),
                    [](const RankedImage& x, const RankedImage& y) {
                      return x.response != y.response ? x.response < y.response : x.image < y.image;
                    });
  summary.bottom.assign(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(kept));
  std::vector<float> sorted(ranked.size());
  for (std::size_t i = 0; i < ranked.size(); ++i) sorted[i] = ranked[i].response;
  std::sort(sorted.begin(), sorted.end());
  for (double p : kScreenPercentiles) summary.quantiles.push_back(numpy_percentile_linear(sorted, p));
  return summary;
}

namespace {

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string number_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

std::string percentile_text(double p) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", p);
  return text;
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace

std::string screen_csv(const ScreenReport& report) {
  std::string out = "model,output,kind,rank_or_percentile,image,response\n";
  const std::string failures = std::to_string(report.failures.size());
  for (const auto& model : report.models) {
    const std::string model_name = csv_field(model.name);
    for (const auto& output : model.outputs) {
      const std::string prefix = model_name + "," + csv_field(output.name) + ",";
      const OutputSummary& s = output.summary;
      for (std::size_t r = 0; r < s.top.size(); ++r)
        out += prefix + "top," + std::to_string(r + 1) + "," + csv_field(report.image_names[s.top[r].image]) + "," +
               number_text(s.top[r].response) + "\n";
      for (std::size_t r = 0; r < s.bottom.size(); ++r)
        out += prefix + "bottom," + std::to_string(r + 1) + "," + csv_field(report.image_names[s.bottom[r].image]) +
               "," + number_text(s.bottom[r].response) + "\n";
      for (std::size_t q = 0; q < s.quantiles.size(); ++q)
        out +=
            prefix + "quantile," + percentile_text(kScreenPercentiles[q]) + ",," + number_text(s.quantiles[q]) + "\n";
      out += prefix + "count,images,," + std::to_string(s.images) + "\n";
      out += prefix + "count,failures,," + failures + "\n";
    }
  }
  for (const auto& failure : report.failures) {
    // One line each, whatever the name or message holds.
    std::string line = "# failed: " + report.image_names[failure.image] + ": " + failure.message;
    std::replace(line.begin(), line.end(), '\n', ' ');
    std::replace(line.begin(), line.end(), '\r', ' ');
    out += line + "\n";
  }
  return out;
}

// Long by design: the JSON document in the order it is written.
std::string screen_json(const ScreenReport& report) {
  auto ranked_list = [&](const std::vector<RankedImage>& ranked) {
    std::string out = "[";
    for (std::size_t r = 0; r < ranked.size(); ++r)
      out += std::string(r ? ", " : "") + "{\"rank\": " + std::to_string(r + 1) +
             ", \"image\": " + json_string(report.image_names[ranked[r].image]) +
             ", \"response\": " + number_text(ranked[r].response) + "}";
    return out + "]";
  };
  std::string out = "{\n  \"images\": " + std::to_string(report.image_names.size()) + ",\n  \"failures\": [";
  for (std::size_t f = 0; f < report.failures.size(); ++f)
    out += std::string(f ? "," : "") +
           "\n    {\"image\": " + json_string(report.image_names[report.failures[f].image]) +
           ", \"message\": " + json_string(report.failures[f].message) + "}";
  out += report.failures.empty() ? "],\n" : "\n  ],\n";
  out += "  \"top\": " + std::to_string(report.top_k) + ",\n  \"models\": [";
  for (std::size_t m = 0; m < report.models.size(); ++m) {
    const auto& model = report.models[m];
    out += std::string(m ? "," : "") + "\n    {\"model\": " + json_string(model.name) +
           ", \"precision\": " + json_string(model.precision) + ", \"outputs\": [";
    for (std::size_t o = 0; o < model.outputs.size(); ++o) {
      const auto& output = model.outputs[o];
      const OutputSummary& s = output.summary;
      out += std::string(o ? "," : "") + "\n      {\"output\": " + json_string(output.name) +
             ", \"images\": " + std::to_string(s.images) + ", \"failures\": " + std::to_string(report.failures.size()) +
             ",\n       \"top\": " + ranked_list(s.top) + ",\n       \"bottom\": " + ranked_list(s.bottom) +
             ",\n       \"quantiles\": [";
      for (std::size_t q = 0; q < s.quantiles.size(); ++q)
        out += std::string(q ? ", " : "") + "{\"percentile\": " + percentile_text(kScreenPercentiles[q]) +
               ", \"response\": " + number_text(s.quantiles[q]) + "}";
      out += "]}";
    }
    out += model.outputs.empty() ? "]}" : "\n    ]}";
  }
  out += report.models.empty() ? "]\n}\n" : "\n  ]\n}\n";
  return out;
}

}  // namespace cortexlens
