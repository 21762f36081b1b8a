// `cortexlens synth`: preferred-image synthesis from a terminal, the same engine (and, for the same seed, the same
// image) as the page. `cortexlens synth-check`: do synthesized images beat every natural test image?
#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb_image_write.h>

#include "commands.hpp"
#include "cortexlens/forward.hpp"
#include "cortexlens/image.hpp"
#include "cortexlens/synthesis.hpp"
#include "model_source.hpp"
#include "v4_data.hpp"

namespace cortexlens::cli {

namespace {

constexpr const char* kSynthUsage =
    "usage: cortexlens synth MODEL -o OUT.png [--minimize] [--steps N] [--seed S] [--recipe authors|fourier]\n"
    "                        [--grayscale] [--output I | --layer L --channel C [--at Y,X]] [--config CONFIG.json]\n"
    "                        [--trace TRACE.csv]\n"
    "  Synthesizes the image that maximizes (or minimizes) output I (default 0) of MODEL, or the mean of channel C\n"
    "  of executable layer L (a unit at Y,X with --at), writes it as a 112x112 PNG and prints its response.\n"
    "  Defaults: --steps 1000 --seed 1 --recipe authors. The same seed gives the same image here and in the page.\n";

constexpr const char* kCheckUsage =
    "usage: cortexlens synth-check [MODEL...] [--data DIR] [--count N] [--steps N] [--recipes authors,fourier]\n"
    "  For each per-neuron model (default: N = 20 models spread over the sessions): its responses to all test-session\n"
    "  images (1200 x 3 sessions), and the responses to its maximizing and minimizing synthesized images (seed 1).\n"
    "  Prints one CSV row per model and recipe, then how many synthesized images beat the best (worst) natural image\n"
    "  and the median ratio of the synthesized to the best natural response.\n";

std::string data_dir_default() {
  const char* env = std::getenv("CORTEXLENS_DATA_DIR");
  return env && *env ? env : CORTEXLENS_DEFAULT_DATA_DIR;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median_value(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

Status write_png(const std::string& path, const RgbImage& image) {
  std::vector<unsigned char> bytes;
  auto sink = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<unsigned char>*>(context);
    out->insert(out->end(), static_cast<unsigned char*>(data), static_cast<unsigned char*>(data) + size);
  };
  if (!stbi_write_png_to_func(sink, &bytes, image.width, image.height, 3, image.pixels.data(), image.width * 3))
    return Status::error("could not encode the PNG");
  FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) return Status::error("cannot write '" + path + "'");
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
  return std::fclose(file) == 0 && ok ? Status::ok() : Status::error("error writing '" + path + "'");
}

Outcome run_synth(const Args& args) {
  std::string model_path, out_path, config, trace_path;
  SynthOptions options;
  OutputSelector selector = OutputSelector::output(0);
  ArgParser parser("synth", kSynthUsage);
  parser.positional("MODEL", model_path)
      .text("-o", "OUT.png", out_path)
      .required()
      .flag("--minimize", options.minimize)
      .flag("--grayscale", options.grayscale)
      .integer("--steps", "N", 1, SynthLimits::max_steps, options.steps)
      .integer("--seed", "S", 0, LLONG_MAX, options.seed)
      .choice("--recipe", "authors|fourier", {{"authors", SynthRecipe::authors}, {"fourier", SynthRecipe::fourier}},
              options.recipe)
      .integer("--output", "I", 0, INT_MAX, selector.channel)
      .integer("--layer", "L", 0, INT_MAX, selector.layer)
      .integer("--channel", "C", 0, INT_MAX, selector.channel)
      .integers("--at", "Y,X", ',', {&selector.y, &selector.x}, 0, INT_MAX)
      .text("--config", "CONFIG.json", config)
      .text("--trace", "TRACE.csv", trace_path);
  if (Outcome parsed = parser.parse(args); !parsed.is_ok()) return parsed;
  if (parser.given("--layer") != parser.given("--channel"))
    return parser.usage_error("--layer and --channel go together");

  auto model = load_model_file(model_path, config);
  if (!model) return model.status();
  const auto start = std::chrono::steady_clock::now();
  auto result = synthesize(model.value(), selector, options);
  const double elapsed = seconds_since(start);
  if (!result) return result.status();
  const RgbImage pixels = unrecentre(result.value().image);
  if (auto status = write_png(out_path, pixels); !status) return status;
  // The response of the image as written (8-bit pixels), which is what anyone re-reading the PNG will measure.
  auto written = forward(model.value(), recentre(pixels));
  if (!trace_path.empty()) {
    FILE* file = std::fopen(trace_path.c_str(), "w");
    if (!file) return Status::error("cannot write '" + trace_path + "'");
    std::fprintf(file, "step,response\n");
    for (std::size_t s = 0; s < result.value().trace.size(); ++s)
      std::fprintf(file, "%zu,%.7g\n", s + 1, result.value().trace[s]);
    std::fclose(file);
  }
  std::printf("response: %.7g\n", result.value().response);
  if (written && selector.layer < 0)
    std::printf("response of the 8-bit PNG: %.7g\n", written.value().outputs[selector.channel]);
  std::printf("steps: %d, recipe: %s, seed: %llu, %.3f s (%.2f ms per step)\n", result.value().steps_done,
              options.recipe == SynthRecipe::authors ? "authors" : "fourier",
              static_cast<unsigned long long>(options.seed), elapsed, 1000.0 * elapsed / result.value().steps_done);
  return Status::ok();
}

// Long by design: one check in the order it prints (arguments, models, the natural images' responses, synthesis,
// the comparison); its parts share the loaded models and images.
Outcome run_synth_check(const Args& args) {
  std::string data_dir = data_dir_default();
  std::vector<std::string> models;
  int count = 20, steps = 1000;
  bool authors = true, fourier = true;
  ArgParser parser("synth-check", kCheckUsage);
  parser.positionals("MODEL", models, 0)
      .text("--data", "DIR", data_dir)
      .integer("--count", "N", 1, 219, count)
      .integer("--steps", "N", 1, SynthLimits::max_steps, steps)
      .custom("--recipes", "authors,fourier", "authors and/or fourier, separated by a comma",
              [&authors, &fourier](const std::string& text) {
                authors = fourier = false;
                for (std::size_t begin = 0; begin <= text.size();) {
                  const std::size_t comma = std::min(text.find(',', begin), text.size());
                  const std::string word = text.substr(begin, comma - begin);
                  if (word != "authors" && word != "fourier") return false;
                  (word == "authors" ? authors : fourier) = true;
                  begin = comma + 1;
                }
                return true;
              });
  if (Outcome parsed = parser.parse(args); !parsed.is_ok()) return parsed;
  // Always in this order, whatever the order given, so that runs' tables line up.
  std::vector<SynthRecipe> recipes;
  if (authors) recipes.push_back(SynthRecipe::authors);
  if (fourier) recipes.push_back(SynthRecipe::fourier);
  if (models.empty()) {
    // Every k-th published per-neuron model in name order, so all four sessions are represented.
    std::vector<std::string> all;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(data_dir + "/compact_models", error))
      if (entry.path().extension() == ".keras") all.push_back(entry.path().string());
    if (all.empty()) return Status::error("no models in '" + data_dir + "/compact_models'");
    std::sort(all.begin(), all.end());
    const std::size_t n = std::min<std::size_t>(count, all.size());
    for (std::size_t k = 0; k < n; ++k) models.push_back(all[k * all.size() / n]);
  }

  // The natural images: all 1200 of each test session whose images are available.
  std::vector<Tensor> images;
  for (const char* session : {"190923", "201025", "210225"}) {
    auto archive = SessionImages::open(data_dir, session);
    if (!archive) return archive.status();
    for (int number = 1; number <= 1200; ++number) {
      auto bytes = archive.value().image_bytes(number);
      if (!bytes) return bytes.status();
      auto input = image_to_input(bytes.value().data(), bytes.value().size());
      if (!input)
        return input.status().with_context("image " + std::to_string(number) + " of " + std::string(session) + ": ");
      images.push_back(std::move(input).value());
    }
  }
  std::fprintf(stderr, "%zu natural images decoded\n", images.size());

  struct Tally {
    int above = 0, below = 0, n = 0;
    std::vector<double> ratio_max, ratio_min, range_max, range_min;
    double seconds = 0;
  };
  std::vector<Tally> tallies(recipes.size());
  std::printf(
      "model,recipe,natural_min,natural_median,natural_max,synth_max,synth_min,max_ratio,min_ratio,"
      "max_beats_all,min_below_all,seconds\n");
  for (const auto& path : models) {
    auto model = load_model_file(path);
    if (!model) return model.status();
    std::vector<double> natural;
    natural.reserve(images.size());
    for (const Tensor& input : images) {
      auto out = forward(model.value(), input);
      if (!out) return out.status();
      natural.push_back(out.value().outputs[0]);
    }
    const double lo = *std::min_element(natural.begin(), natural.end());
    const double hi = *std::max_element(natural.begin(), natural.end());
    const double mid = median_value(natural);
    for (std::size_t r = 0; r < recipes.size(); ++r) {
      SynthOptions options;
      options.recipe = recipes[r];
      options.steps = steps;
      const auto start = std::chrono::steady_clock::now();
      auto up = synthesize(model.value(), OutputSelector::output(0), options);
      options.minimize = true;
      auto down = synthesize(model.value(), OutputSelector::output(0), options);
      const double elapsed = seconds_since(start);
      if (!up || !down) return (up ? down : up).status();
      const double smax = up.value().response, smin = down.value().response;
      Tally& t = tallies[r];
      ++t.n;
      t.above += smax > hi;
      t.below += smin < lo;
      t.ratio_max.push_back(smax / hi);
      t.ratio_min.push_back(smin / lo);
      // Relative to the spread of natural responses (meaningful whatever the sign of the outputs).
      t.range_max.push_back((smax - mid) / (hi - mid));
      t.range_min.push_back((mid - smin) / (mid - lo));
      t.seconds += elapsed;
      std::printf("%s,%s,%.6g,%.6g,%.6g,%.6g,%.6g,%.4f,%.4f,%d,%d,%.1f\n", model.value().name.c_str(),
                  recipes[r] == SynthRecipe::authors ? "authors" : "fourier", lo, mid, hi, smax, smin, smax / hi,
                  smin / lo, smax > hi, smin < lo, elapsed);
      std::fflush(stdout);
    }
  }
  for (std::size_t r = 0; r < recipes.size(); ++r) {
    const Tally& t = tallies[r];
    std::printf(
        "# %s recipe, %d steps, %d models: maximizing image above the best of %zu natural images for %d; "
        "minimizing image below the worst for %d; median synth/best-natural ratio %.3f (min: synth/worst "
        "%.3f); median (synth - median) / (best - median) %.3f (min side %.3f); %.1f s per model for max+min\n",
        recipes[r] == SynthRecipe::authors ? "authors" : "fourier", steps, t.n, images.size(), t.above, t.below,
        median_value(t.ratio_max), median_value(t.ratio_min), median_value(t.range_max), median_value(t.range_min),
        t.seconds / std::max(1, t.n));
  }
  return Status::ok();
}

}  // namespace cortexlens::cli
