// `cortexlens probe`: tuning curves and heatmaps from parametric stimuli (cortexlens/probes.hpp). The same drawing
// and the same passes as the page's "Tuning" view, so the CSV here and the page's export hold the same numbers
// (with --isa sse, the page's arithmetic; see docs/ARCHITECTURE.md).
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "cortexlens/fnv1a.hpp"
#include "cortexlens/model_runner.hpp"
#include "cortexlens/probes.hpp"
#include "cortexlens/quantize.hpp"
#include "model_source.hpp"
#include "thread_pool.hpp"

namespace cortexlens::cli {

namespace {

constexpr const char* kProbeUsage =
    "usage: cortexlens probe MODEL --family grating|dots|bar|uniform --vary NAME=VALUES [--vary NAME=VALUES]\n"
    "                        [--set NAME=VALUE ...] [--precision int8|float] [--save-stimuli DIR] [-o OUT.csv]\n"
    "                        [--threads N] [--config CONFIG.json]\n"
    "  Draws the family's stimulus (112x112 RGB) at every point of a sweep over one parameter (a tuning curve) or two\n"
    "  (a heatmap; the first --vary is the slow axis) with the others fixed, runs MODEL on each and writes a CSV: the\n"
    "  stimulus index, every parameter, the FNV-1a hash of the stimulus' pixels, and the response of every output.\n"
    "  VALUES: FIRST:LAST:STEP (0:180:15 includes 180) or V1,V2,...; colours may be written #RRGGBB.\n"
    "  --set NAME=VALUE fixes a parameter (repeatable; default: the family's defaults below).\n"
    "  --save-stimuli DIR writes each stimulus as DIR/stimulus_NNNN.png (NNNN = the CSV's index).\n"
    "  --precision: int8 needs an int8 .clm file, whose default it is; float runs any model.\n";

std::string family_help() {
  std::string text = "\nParameters (name, unit, range, default):\n";
  char line[256];
  for (ProbeFamily family : probe_families()) {
    text += std::string("  ") + probe_family_name(family) + (family == ProbeFamily::bar ? " (or curve)" : "") + "\n";
    for (const auto& p : probe_parameters(family)) {
      std::snprintf(line, sizeof line, "    %-12s %-13s %g..%g, default %g: %s\n", p.name, p.unit, p.low, p.high,
                    p.initial, p.about);
      text += line;
    }
  }
  return text;
}

// "#RRGGBB" or a number.
bool parse_value(const std::string& text, double& out) {
  if (text.size() == 7 && text[0] == '#') {
    char* end = nullptr;
    const long colour = std::strtol(text.c_str() + 1, &end, 16);
    if (end != text.c_str() + 7) return false;
    out = static_cast<double>(colour);
    return true;
  }
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size() && std::isfinite(out);
}

// Takes every `--name VALUE` and `--name=VALUE` out of args (the parser refuses repeats; these options repeat).
Result<std::vector<std::string>> take_repeated(Args& args, const std::string& name) {
  std::vector<std::string> values;
  for (std::size_t i = 0; i < args.size();) {
    if (args[i] == name) {
      if (i + 1 >= args.size()) return Status::error(name + ": expected NAME=VALUE after it, found nothing");
      values.push_back(args[i + 1]);
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
    } else if (args[i].rfind(name + "=", 0) == 0) {
      values.push_back(args[i].substr(name.size() + 1));
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  return values;
}

std::string number_text(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", v);
  return buffer;
}

}  // namespace

Outcome run_probe(const Args& given) {
  static const std::string usage = std::string(kProbeUsage) + family_help();
  Args args = given;
  auto varies = take_repeated(args, "--vary");
  auto sets = take_repeated(args, "--set");
  if (!varies) return Outcome::usage_error(varies.message(), usage.c_str());
  if (!sets) return Outcome::usage_error(sets.message(), usage.c_str());

  std::string model_path, family_name, config, save_dir, out_path;
  std::optional<Precision> precision;
  int threads = default_thread_count();
  ArgParser parser("probe", usage.c_str());
  parser.positional("MODEL", model_path)
      .text("--family", "grating|dots|bar|uniform", family_name)
      .required()
      .choice<std::optional<Precision>>(
          "--precision", "int8|float",
          {{"float", Precision::float32}, {"float32", Precision::float32}, {"int8", Precision::int8}}, precision)
      .text("--save-stimuli", "DIR", save_dir)
      .text("-o|--out", "OUT.csv", out_path)
      .integer("--threads", "N", 1, 1024, threads)
      .text("--config", "CONFIG.json", config);
  if (Outcome parsed = parser.parse(args); !parsed.is_ok()) return parsed;
  if (varies.value().empty() || varies.value().size() > 2)
    return parser.usage_error("expected --vary once (a tuning curve) or twice (a heatmap), found it " +
                              std::to_string(varies.value().size()) + " times");

  auto family = probe_family_from_name(family_name);
  if (!family) return parser.usage_error(family.message());
  std::vector<std::pair<std::string, double>> fixed_values;
  for (const std::string& item : sets.value()) {
    const std::size_t eq = item.find('=');
    double value = 0;
    if (eq == std::string::npos || !parse_value(item.substr(eq + 1), value))
      return parser.usage_error("--set '" + item + "': expected NAME=NUMBER (or NAME=#RRGGBB)");
    fixed_values.emplace_back(item.substr(0, eq), value);
  }
  std::vector<SweepAxis> axes;
  for (const std::string& item : varies.value()) {
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos) return parser.usage_error("--vary '" + item + "': expected NAME=VALUES");
    auto values = parse_sweep_values(item.substr(eq + 1));
    if (!values) return parser.usage_error("--vary " + item.substr(0, eq) + ": " + values.message());
    axes.push_back({item.substr(0, eq), std::move(values).value()});
  }
  auto fixed = probe_settings(family.value(), fixed_values);
  if (!fixed) return parser.usage_error(fixed.message());
  auto sweep_result = make_probe_sweep(fixed.value(), axes);
  if (!sweep_result) return parser.usage_error(sweep_result.message());
  const ProbeSweep& sweep = sweep_result.value();

  auto model = load_model_file(model_path, config);
  if (!model) return model.status();
  const Model& m = model.value();
  if (!precision) precision = is_int8_model(m) ? Precision::int8 : Precision::float32;
  if (!save_dir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(save_dir, error);
    if (error) return Status::error("cannot create '" + save_dir + "': " + error.message());
  }

  const std::size_t points = sweep.point_count();
  std::vector<std::string> rows(points);
  std::vector<std::unique_ptr<ModelRunner>> runners(static_cast<std::size_t>(threads));
  const auto& specs = probe_parameters(family.value());
  // Rows land by stimulus index: the table does not depend on the number of threads.
  CL_RETURN_IF_ERROR(parallel_for(points, threads, [&](int worker, std::size_t k) -> Status {
    auto& runner = runners[static_cast<std::size_t>(worker)];
    if (!runner) {
      auto created = ModelRunner::create(m, *precision);
      if (!created) return created.status();
      runner = std::move(created).value();
    }
    const ProbeSettings settings = sweep_point(sweep, k);
    auto image = draw_probe(settings);
    if (!image) return image.status();
    std::vector<float> outputs(runner->output_size());
    CL_RETURN_IF_ERROR(runner->run(recentre(image.value()), outputs.data()));
    char index[48];
    std::snprintf(index, sizeof index, "stimulus_%04zu.png", k);
    if (!save_dir.empty())
      CL_RETURN_IF_ERROR(write_png((std::filesystem::path(save_dir) / index).string(), image.value()));
    std::string row = std::to_string(k);
    for (std::size_t p = 0; p < specs.size(); ++p) row += "," + number_text(settings.values[p]);
    char hash[24];
    std::snprintf(hash, sizeof hash, ",%016" PRIx64, fnv1a_64(image.value().pixels));
    row += hash;
    char number[32];
    for (float value : outputs) {
      std::snprintf(number, sizeof number, ",%.9g", value);  // 9 digits: every float32 reads back exactly
      row += number;
    }
    rows[k] = std::move(row);
    return Status::ok();
  }));

  FILE* out = out_path.empty() ? stdout : std::fopen(out_path.c_str(), "w");
  if (!out) return Status::error("cannot write '" + out_path + "'");
  std::string header = "stimulus";
  for (const auto& p : specs) header += std::string(",") + p.name;
  header += ",pixels_fnv1a";
  for (const auto& name : m.output_names) header += "," + name;
  std::fprintf(out, "%s\n", header.c_str());
  for (const auto& row : rows) std::fprintf(out, "%s\n", row.c_str());
  if (out != stdout && std::fclose(out) != 0) return Status::error("error writing '" + out_path + "'");
  return Status::ok();
}

}  // namespace cortexlens::cli
