// `cortexlens portraits IMAGES... --models DIR -o DIR`: a portrait of every neuron model of a site's pack (the page's
// atlas, web/src/views/atlas.js): its preferred and anti-preferred synthesized images (the authors' recipe, as
// `synth` runs it, best of a few seeds), each image's response measured again on its saved 8-bit PNG, and the
// strongest and weakest of the given natural images (ranked as `screen` ranks them). The portrait is written into
// the pack's manifest.json (entry.portrait, models/MANIFEST.md) and into DIR/portraits.json.
//
// Models are the outer loop (one per worker, every core); the natural images are decoded once and shared. A model
// whose portrait was made from the same model file, images and settings (DIR/.cache/<id>.json holds a fingerprint
// of them) is not made again, so a rebuild of the site costs only what changed.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>

#include "commands.hpp"
#include "cortexlens/image.hpp"
#include "cortexlens/model_runner.hpp"
#include "cortexlens/synthesis.hpp"
#include "image_sources.hpp"
#include "model_pack.hpp"
#include "model_source.hpp"
#include "screen_report.hpp"
#include "screen_state.hpp"
#include "thread_pool.hpp"

namespace cortexlens::cli {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr int kPortraitFormatVersion = 1;  // bump when a portrait's meaning changes: every cache entry is redone
constexpr const char* kPortraitsUsage =
    "usage: cortexlens portraits IMAGES... --models DIR -o OUT_DIR [--steps N] [--seeds K] [--top K] [--threads N]\n"
    "  For every per-neuron model (and the demo) of the pack in DIR (its manifest.json, as `pack` writes it): the\n"
    "  images that maximize and minimize its response (authors' recipe, seeds 1..K, the best kept by the response\n"
    "  of its saved 8-bit PNG), written as OUT_DIR/<id>.max.png and <id>.min.png, and its K strongest and weakest\n"
    "  of IMAGES (files, folders, zip or tar archives, as for `screen`; float precision). Adds entry.portrait to\n"
    "  DIR/manifest.json and writes OUT_DIR/portraits.json. Portraits made with the same model file, images and\n"
    "  settings are kept (OUT_DIR/.cache).\n"
    "  Images in a site's gallery are named by their page keys: SESSION/NNNN for .../SESSION/imageNNNN.jpg and\n"
    "  own/NAME for .../own/NAME.png; other images by their path.\n"
    "  Defaults: --steps 30 --seeds 2 --top 6 --threads: every core.\n";

struct PortraitSettings {
  std::vector<std::string> image_paths;
  std::string models_dir, out_dir;
  int steps = 30, seeds = 2, top = 6, threads = default_thread_count();
};

// The page's key of a gallery image (web/src/services.js galleryImage), else the image's own name.
std::string image_key(const std::string& name) {
  static const std::regex session(R"((?:^|/)(\d{6})/image(\d{4})\.jpg$)");
  static const std::regex own(R"((?:^|/)own/([A-Za-z0-9_-]+)\.png$)");
  std::smatch match;
  if (std::regex_search(name, match, session)) return match[1].str() + "/" + match[2].str();
  if (std::regex_search(name, match, own)) return "own/" + match[1].str();
  return name;
}

std::string hex64(std::uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

double rounded(double value) {
  char text[40];
  std::snprintf(text, sizeof text, "%.7g", value);
  return std::strtod(text, nullptr);
}

Status read_json(const std::string& path, json& out) {
  auto bytes = read_file_bytes(path, 64u << 20);
  if (!bytes) return bytes.status();
  out = json::parse(bytes.value().begin(), bytes.value().end(), nullptr, /*allow_exceptions=*/false);
  if (out.is_discarded()) return Status::error("'" + path + "' is not valid JSON");
  return Status::ok();
}

Status write_json(const std::string& path, const json& value, int indent = -1) {
  const std::string text = value.dump(indent);
  return write_file_bytes(path, std::vector<std::uint8_t>(text.begin(), text.end()));
}

// One model of the manifest that gets a portrait.
struct Subject {
  std::size_t entry = 0;  // index into manifest["models"]
  std::string id, model_path;
  std::uint64_t fingerprint = 0;  // of what decides its portrait
  std::optional<json> portrait;   // from the cache, or made by this run
};

// The natural images, decoded once: 8-bit (a float copy of all 3608 gallery images would take half a gigabyte);
// recentre() gives exactly the tensor image_to_input gave, so responses are `screen`'s, bit for bit.
struct NaturalImages {
  std::vector<std::string> keys;
  std::vector<std::optional<RgbImage>> pixels;
  std::size_t failures = 0;
};

Result<NaturalImages> decode_images(ImageCollection& collection, int threads) {
  const auto& entries = collection.entries();
  NaturalImages images;
  images.pixels.resize(entries.size());
  // Read in order on this thread (a tar archive is a stream), then decode on every core.
  std::vector<std::vector<std::uint8_t>> bytes(entries.size());
  std::vector<std::string> problems(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    images.keys.push_back(image_key(entries[i].name));
    auto read = collection.read(i, ImageLimits::max_file_bytes);
    if (read)
      bytes[i] = std::move(read).value();
    else
      problems[i] = read.message();
  }
  CL_RETURN_IF_ERROR(parallel_for(entries.size(), threads, [&](int, std::size_t i) -> Status {
    if (!problems[i].empty()) return Status::ok();
    auto input = image_to_input(bytes[i].data(), bytes[i].size());
    if (input)
      images.pixels[i] = unrecentre(input.value());
    else
      problems[i] = input.message();
    std::vector<std::uint8_t>().swap(bytes[i]);
    return Status::ok();
  }));
  for (std::size_t i = 0; i < entries.size(); ++i)
    if (!images.pixels[i]) {
      ++images.failures;
      std::fprintf(stderr, "cortexlens portraits: skipped '%s': %s\n", entries[i].name.c_str(), problems[i].c_str());
    }
  return images;
}

// The best of `seeds` syntheses in one direction, judged by the response of the image as saved (8-bit pixels).
struct Synthesized {
  RgbImage pixels;
  float response = std::numeric_limits<float>::quiet_NaN();
  std::uint64_t seed = 0;
};

Result<Synthesized> best_synthesis(const Model& model, ModelRunner& runner, const PortraitSettings& settings,
                                   bool minimize) {
  Synthesized best;
  for (int seed = 1; seed <= settings.seeds; ++seed) {
    SynthOptions options;
    options.minimize = minimize;
    options.steps = settings.steps;
    options.seed = static_cast<std::uint64_t>(seed);
    auto result = synthesize(model, OutputSelector::output(0), options);
    if (!result) return result.status();
    RgbImage pixels = unrecentre(result.value().image);
    float response = 0.0f;
    CL_RETURN_IF_ERROR(runner.run(recentre(pixels), &response));
    if (std::isnan(best.response) || (minimize ? response < best.response : response > best.response))
      best = {std::move(pixels), response, options.seed};
  }
  return best;
}

json ranked_json(const std::vector<RankedImage>& list, const NaturalImages& images) {
  json out = json::array();
  for (const auto& r : list) out.push_back({{"image", images.keys[r.image]}, {"response", rounded(r.response)}});
  return out;
}

// One model's portrait: its natural extremes, its two syntheses, the PNGs, the cache record.
Result<json> make_portrait(const Subject& subject, const NaturalImages& images, const PortraitSettings& settings,
                           const std::string& url_prefix) {
  auto model = load_model_file(subject.model_path);
  if (!model) return model.status();
  auto runner = ModelRunner::create(model.value(), Precision::float32);
  if (!runner) return runner.status();
  std::vector<float> responses(images.pixels.size(), std::numeric_limits<float>::quiet_NaN());
  for (std::size_t i = 0; i < images.pixels.size(); ++i)
    if (images.pixels[i]) CL_RETURN_IF_ERROR(runner.value()->run(recentre(*images.pixels[i]), &responses[i]));
  const OutputSummary natural = summarize_output(responses, static_cast<std::size_t>(settings.top));

  auto up = best_synthesis(model.value(), *runner.value(), settings, /*minimize=*/false);
  if (!up) return up.status();
  auto down = best_synthesis(model.value(), *runner.value(), settings, /*minimize=*/true);
  if (!down) return down.status();
  const std::string max_name = subject.id + ".max.png", min_name = subject.id + ".min.png";
  CL_RETURN_IF_ERROR(write_png(settings.out_dir + "/" + max_name, up.value().pixels));
  CL_RETURN_IF_ERROR(write_png(settings.out_dir + "/" + min_name, down.value().pixels));
  json portrait = {{"max", url_prefix + max_name},
                   {"min", url_prefix + min_name},
                   {"maxResponse", rounded(up.value().response)},
                   {"minResponse", rounded(down.value().response)},
                   {"maxSeed", up.value().seed},
                   {"minSeed", down.value().seed},
                   {"seeds", settings.seeds},
                   {"steps", settings.steps},
                   {"recipe", "authors"},
                   {"precision", "float"},
                   {"images", natural.images},
                   {"top", ranked_json(natural.top, images)},
                   {"bottom", ranked_json(natural.bottom, images)}};
  json cache = {{"fingerprint", hex64(subject.fingerprint)}, {"portrait", portrait}};
  CL_RETURN_IF_ERROR(write_json(settings.out_dir + "/.cache/" + subject.id + ".json", cache));
  return portrait;
}

// What decides a portrait: this format, the settings, the images (names and sizes, as `screen` fingerprints a
// run) and the model file's bytes.
Result<std::uint64_t> portrait_fingerprint(const std::string& model_path, const PortraitSettings& settings,
                                           const std::vector<ImageEntry>& images) {
  Fingerprint fingerprint;
  fingerprint.add(std::string("cortexlens portraits"));
  for (int value : {kPortraitFormatVersion, settings.steps, settings.seeds, settings.top})
    fingerprint.add(static_cast<std::uint64_t>(value));
  fingerprint.add(static_cast<std::uint64_t>(images.size()));
  for (const auto& image : images) {
    fingerprint.add(image.name);
    fingerprint.add(image.size);
  }
  auto bytes = read_file_bytes(model_path);
  if (!bytes) return bytes.status();
  fingerprint.add(bytes.value().data(), bytes.value().size());
  return fingerprint.value();
}

// Whether a cached portrait has the shape this command writes (a damaged or edited cache file is made again, never
// read: nlohmann's typed access aborts on a wrong type in this build, JSON_NOEXCEPTION).
// A field of an object, or null when it has none (operator[] on a const json must not be asked for a missing key).
const json& field(const json& object, const char* key) {
  static const json none;
  if (!object.is_object()) return none;
  const auto it = object.find(key);
  return it == object.end() ? none : *it;
}

bool well_formed(const json& p) {
  auto ranked = [](const json& list) {
    if (!list.is_array()) return false;
    for (const auto& r : list)
      if (!field(r, "image").is_string() || !field(r, "response").is_number()) return false;
    return true;
  };
  return field(p, "max").is_string() && field(p, "min").is_string() && field(p, "maxResponse").is_number() &&
         field(p, "minResponse").is_number() && field(p, "images").is_number_unsigned() && ranked(field(p, "top")) &&
         ranked(field(p, "bottom"));
}

// The cached portrait when it was made from the same inputs and its images are still there.
std::optional<json> cached_portrait(const Subject& subject, const PortraitSettings& settings) {
  json cache;
  if (!read_json(settings.out_dir + "/.cache/" + subject.id + ".json", cache).is_ok() || !cache.is_object() ||
      !field(cache, "fingerprint").is_string() ||
      field(cache, "fingerprint").get<std::string>() != hex64(subject.fingerprint) ||
      !well_formed(field(cache, "portrait")))
    return std::nullopt;
  std::error_code error;
  for (const char* which : {".max.png", ".min.png"})
    if (!fs::is_regular_file(settings.out_dir + "/" + subject.id + which, error)) return std::nullopt;
  return cache["portrait"];
}

// Over every portrait: how many synthesized images beat the natural extremes, and by how much.
void print_summary(const std::vector<Subject>& subjects, std::size_t made, double seconds,
                   const PortraitSettings& settings, std::size_t image_count) {
  std::size_t above = 0, below = 0, n = 0;
  double min_margin = INFINITY, max_margin = -INFINITY, min_low = INFINITY, max_low = -INFINITY;
  for (const auto& s : subjects) {
    const json& p = *s.portrait;
    if (p["top"].empty() || p["bottom"].empty()) continue;
    ++n;
    const double margin = p["maxResponse"].get<double>() - p["top"][0]["response"].get<double>();
    const double low = p["bottom"][0]["response"].get<double>() - p["minResponse"].get<double>();
    above += margin > 0;
    below += low > 0;
    min_margin = std::min(min_margin, margin);
    max_margin = std::max(max_margin, margin);
    min_low = std::min(min_low, low);
    max_low = std::max(max_low, low);
  }
  std::printf(
      "portraits: %zu models (%zu made, %zu up to date) in %.1f s on %d threads; authors' recipe, %d steps, "
      "best of %d seeds; natural images: %zu\n",
      subjects.size(), made, subjects.size() - made, seconds, settings.threads, settings.steps, settings.seeds,
      image_count);
  if (n > 0)
    std::printf(
        "portraits: preferred image (8-bit PNG) above the best natural image for %zu of %zu (margin min %.4g, max "
        "%.4g); anti-preferred below the worst for %zu of %zu (margin min %.4g, max %.4g)\n",
        above, n, min_margin, max_margin, below, n, min_low, max_low);
}

Status write_portraits(const PortraitSettings& settings) {
  const auto start = std::chrono::steady_clock::now();
  const std::string manifest_path = settings.models_dir + "/manifest.json";
  json manifest;
  CL_RETURN_IF_ERROR(read_json(manifest_path, manifest));
  if (field(manifest, "format") != "cortexlens-manifest" || !field(manifest, "models").is_array())
    return Status::error("'" + manifest_path + "' is not a Cortex Lens manifest (expected format " +
                         "\"cortexlens-manifest\" with a models array, as `cortexlens pack` writes)");
  std::error_code error;
  fs::create_directories(settings.out_dir + "/.cache", error);
  if (error) return Status::error("cannot create '" + settings.out_dir + "/.cache': " + error.message());
  // The PNGs' URLs as the page sees them: relative to the folder holding the pack (the site).
  const fs::path site = fs::absolute(fs::path(settings.models_dir)).lexically_normal().parent_path();
  std::string url_prefix =
      fs::absolute(fs::path(settings.out_dir)).lexically_normal().lexically_relative(site).generic_string();
  if (url_prefix.empty() || url_prefix.rfind("..", 0) == 0) url_prefix = settings.out_dir;
  if (url_prefix.back() != '/') url_prefix += '/';

  auto collection = ImageCollection::open(settings.image_paths);
  if (!collection) return collection.status();

  std::vector<Subject> subjects;
  const json& models = manifest["models"];
  for (std::size_t i = 0; i < models.size(); ++i) {
    const json& m = models[i];
    const json& kind = field(m, "kind");
    if (kind != "neuron" && kind != "demo") continue;
    const json &id = field(m, "id"), &file = field(field(m, "files"), "float");
    if (!id.is_string() || !file.is_string())
      return Status::error("manifest entry " + std::to_string(i) + " has no id or float file");
    Subject subject{i, id.get<std::string>(), settings.models_dir + "/" + file.get<std::string>(), 0, std::nullopt};
    if (subject.id.find_first_of("/\\") != std::string::npos || subject.id.rfind('.', 0) == 0)
      return Status::error("manifest id '" + subject.id + "' is not a plain file name");
    auto fingerprint = portrait_fingerprint(subject.model_path, settings, collection.value().entries());
    if (!fingerprint) return fingerprint.status();
    subject.fingerprint = fingerprint.value();
    subject.portrait = cached_portrait(subject, settings);
    subjects.push_back(std::move(subject));
  }
  std::vector<std::size_t> stale;
  for (std::size_t s = 0; s < subjects.size(); ++s)
    if (!subjects[s].portrait) stale.push_back(s);
  std::fprintf(stderr, "cortexlens portraits: %zu models, %zu up to date, making %zu on %d threads\n", subjects.size(),
               subjects.size() - stale.size(), stale.size(), settings.threads);

  std::size_t image_count = 0;
  if (!stale.empty()) {
    auto images = decode_images(collection.value(), settings.threads);
    if (!images) return images.status();
    image_count = images.value().pixels.size() - images.value().failures;
    CL_RETURN_IF_ERROR(parallel_for(stale.size(), settings.threads, [&](int, std::size_t k) -> Status {
      Subject& subject = subjects[stale[k]];
      auto portrait = make_portrait(subject, images.value(), settings, url_prefix);
      if (!portrait) return portrait.status().with_context("'" + subject.model_path + "': ");
      subject.portrait = std::move(portrait).value();
      return Status::ok();
    }));
  } else if (!subjects.empty()) {
    image_count = (*subjects[0].portrait).value("images", std::size_t{0});
  }

  json list = json::array();
  for (const auto& subject : subjects) {
    json& entry = manifest["models"][subject.entry];
    entry["portrait"] = *subject.portrait;
    const json& fidelity = entry["fidelity"];
    json item = {{"id", subject.id},
                 {"params", entry.value("params", json(nullptr))},
                 {"heldOutR", fidelity.is_object() ? fidelity.value("floatVsRecordedR", json(nullptr)) : json()}};
    item.update(*subject.portrait);
    list.push_back(item);
  }
  CL_RETURN_IF_ERROR(write_json(manifest_path, manifest));  // compact, as `pack` writes it
  CL_RETURN_IF_ERROR(write_json(settings.out_dir + "/portraits.json",
                                {{"format", "cortexlens-portraits"}, {"version", 1}, {"portraits", list}}));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  print_summary(subjects, stale.size(), seconds, settings, image_count);
  return Status::ok();
}

}  // namespace

Outcome run_portraits(const Args& args) {
  PortraitSettings settings;
  ArgParser parser("portraits", kPortraitsUsage);
  parser.positionals("IMAGES", settings.image_paths, 1)
      .text("--models", "DIR", settings.models_dir)
      .required()
      .text("-o", "OUT_DIR", settings.out_dir)
      .required()
      .integer("--steps", "N", 1, SynthLimits::max_steps, settings.steps)
      .integer("--seeds", "K", 1, 100, settings.seeds)
      .integer("--top", "K", 1, 1000, settings.top)
      .integer("--threads", "N", 1, 64, settings.threads);
  if (Outcome parsed = parser.parse(args); !parsed.is_ok()) return parsed;
  return write_portraits(settings);
}

}  // namespace cortexlens::cli
