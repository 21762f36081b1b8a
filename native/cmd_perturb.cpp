// `cortexlens perturb`: the smallest change (within epsilon pixel levels) that raises or lowers a neuron's response,
// the same engine and numbers as the page's "Smallest change" view. `cortexlens perturb-sweep`: that experiment
// from each per-neuron model's median reference image, for all of them (the figures of the experiments note).
#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.hpp"
#include "cortexlens/forward.hpp"
#include "cortexlens/image.hpp"
#include "cortexlens/perturbation.hpp"
#include "manifest_references.hpp"
#include "model_pack.hpp"
#include "model_source.hpp"
#include "thread_pool.hpp"

namespace cortexlens::cli {

namespace {

using json = nlohmann::json;

constexpr const char* kPerturbUsage =
    "usage: cortexlens perturb MODEL IMAGE -o OUT.png [--epsilon E] [--minimize] [--steps N] [--step-size K]\n"
    "                          [--seed S] [--output I] [--keep-others SHARED_MODEL --penalty W]\n"
    "                          [--manifest MANIFEST.json] [--csv OUT.csv]\n"
    "  Projected gradient steps on the 8-bit image (centred square crop, 112x112) within E pixel levels of it in\n"
    "  every channel (1..16, default 4) that raise (--minimize: lower) output I of MODEL (the gradient is taken on\n"
    "  the model's float weights); writes the best 8-bit image found as a PNG and prints the response before and\n"
    "  after, both recomputed from 8-bit images (the original crop, and OUT.png read back). --keep-others adds a\n"
    "  penalty (weight W, default 1) on changing the other outputs of SHARED_MODEL (the 100-filter shared model).\n"
    "  Percentiles and spreads come from the pack's manifest.json (beside MODEL, or --manifest) when it lists the\n"
    "  model; otherwise responses are raw. Defaults: --steps 100 --step-size 1 --seed 0 (start at the image).\n";

constexpr const char* kSweepUsage =
    "usage: cortexlens perturb-sweep [--data DIR] [--epsilons 2,4,8] [--steps N] [--threads N] [--count N]\n"
    "                                [--models FIRST-LAST]\n"
    "  For each per-neuron model (all 219, or every k-th of N): its reference distribution (the float responses to\n"
    "  the pack's 300 reference images), the reference image with the median response, and the perturbation of\n"
    "  that image raising and lowering the response at each epsilon. Prints one CSV row per model, then the median\n"
    "  percentile reached per epsilon and direction and the fraction of neurons driven past their 99th (below their\n"
    "  1st) percentile at the largest epsilon. --models takes models FIRST..LAST (1-based, in session and neuron\n"
    "  order) of the list, so a long sweep can be split into parts.\n";

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Where `value` falls in a distribution given by its 0..100th percentiles, interpolated between neighbours and
// clamped to 0..100: web/src/reference.js's percentileOf, so the CLI and the page print the same percentile.
double percentile_of(double value, const std::vector<float>& q) {
  if (q.size() < 2 || !std::isfinite(value)) return NAN;
  const std::size_t n = q.size() - 1;
  if (value <= q[0]) return 0.0;
  if (value >= q[n]) return 100.0;
  std::size_t lo = 0, hi = n;
  while (hi - lo > 1) {
    const std::size_t mid = (lo + hi) / 2;
    if (q[mid] <= value) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  const double span = static_cast<double>(q[hi]) - q[lo];
  const double fraction = span > 0 ? (value - q[lo]) / span : 0.0;
  return (static_cast<double>(lo) + fraction) / static_cast<double>(n) * 100.0;
}

// The 10th-90th percentile range: the unit the perturbation measures changes in. 1 when the range is empty.
float spread_of(const std::vector<float>& q) {
  if (q.size() != 101) return 1.0f;
  const float s = q[90] - q[10];
  return std::isfinite(s) && s > 0.0f ? s : 1.0f;
}

std::string response_text(double value, const std::vector<float>& q) {
  char buffer[160];
  const double p = percentile_of(value, q);
  if (std::isnan(p)) {
    std::snprintf(buffer, sizeof buffer, "%.6f (raw: no reference distribution)", value);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.6f (percentile %.1f of reference natural images)", value, p);
  }
  return buffer;
}

std::string file_name_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// A pack's manifest, when there is one: read without exceptions, absent on any problem (responses are then raw).
json read_manifest(const std::string& path) {
  auto bytes = read_file_bytes(path, 64u << 20);
  if (!bytes) return nullptr;
  json manifest = json::parse(bytes.value().begin(), bytes.value().end(), nullptr, /*allow_exceptions=*/false);
  if (manifest.is_discarded() || !manifest.is_object() || !manifest["models"].is_array()) return nullptr;
  if (!inline_reference_files(manifest, directory_of(path))) return nullptr;
  return manifest;
}

// The manifest entry of a model file: by its file name among the entries' files, else by the model's name.
const json* find_entry(const json& manifest, const std::string& file, const std::string& name) {
  if (!manifest.is_object()) return nullptr;
  for (const json& entry : manifest["models"]) {
    if (!entry.is_object()) continue;
    const json files = entry.value("files", json::object());
    if (files.is_object() && (files.value("float", "") == file || files.value("int8", "") == file)) return &entry;
  }
  for (const json& entry : manifest["models"])
    if (entry.is_object() && entry.value("name", "") == name) return &entry;
  return nullptr;
}

// The quantiles of output `output` of an entry ({quantiles} for a per-neuron model, one per output for a shared
// model); empty when the entry has none.
std::vector<float> quantiles_of(const json* entry, int output) {
  if (!entry) return {};
  const json& ref = (*entry)["reference"];
  const json* one = nullptr;
  if (ref.is_object() && output == 0) one = &ref;
  if (ref.is_array() && output >= 0 && output < static_cast<int>(ref.size())) one = &ref[output];
  if (!one || !one->is_object() || !(*one)["quantiles"].is_array()) return {};
  std::vector<float> q;
  for (const json& v : (*one)["quantiles"])
    if (v.is_number()) q.push_back(v.get<float>());
  return q.size() == 101 ? q : std::vector<float>{};
}

Result<RgbImage> load_model_image(const std::string& path, Shape3 input) {
  auto bytes = read_file_bytes(path, ImageLimits::max_file_bytes);
  if (!bytes) return bytes.status();
  auto decoded = decode_image(bytes.value().data(), bytes.value().size());
  if (!decoded) return decoded.status().with_context("'" + path + "': ");
  if (input.h != input.w)
    return Status::error("the model takes a " + std::to_string(input.w) + "x" + std::to_string(input.h) +
                         " input; perturb handles square inputs only");
  return crop_resize(decoded.value(), centred_crop(decoded.value().width, decoded.value().height), input.h);
}

Result<float> response_of(const Model& model, const RgbImage& image, int output) {
  auto out = forward(model, recentre(image));
  if (!out) return out.status();
  return out.value().outputs[output];
}

// Largest |a - b| over the channel values, and how many differ.
std::pair<int, std::size_t> difference(const RgbImage& a, const RgbImage& b) {
  int largest = 0;
  std::size_t changed = 0;
  for (std::size_t i = 0; i < a.pixels.size(); ++i) {
    const int d = std::abs(static_cast<int>(a.pixels[i]) - static_cast<int>(b.pixels[i]));
    largest = std::max(largest, d);
    changed += d != 0;
  }
  return {largest, changed};
}

bool parse_float(const std::string& text, float& out) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != 0 || !std::isfinite(v)) return false;
  out = static_cast<float>(v);
  return true;
}

}  // namespace

Outcome run_perturb(const Args& args) {
  std::string model_path, image_path, out_path, others_path, manifest_path, csv_path;
  PerturbOptions options;
  float penalty = 1.0f;
  ArgParser parser("perturb", kPerturbUsage);
  parser.positional("MODEL", model_path)
      .positional("IMAGE", image_path)
      .text("-o", "OUT.png", out_path)
      .required()
      .integer("--epsilon", "E", 1, PerturbLimits::max_epsilon, options.epsilon)
      .flag("--minimize", options.minimize)
      .integer("--steps", "N", 1, PerturbLimits::max_steps, options.steps)
      .integer("--step-size", "K", 1, PerturbLimits::max_epsilon, options.step_size)
      .integer("--seed", "S", 0, LLONG_MAX, options.seed)
      .integer("--output", "I", 0, INT_MAX, options.output)
      .text("--keep-others", "SHARED_MODEL", others_path)
      .custom("--penalty", "W", "a number in 0..1000000",
              [&penalty](const std::string& text) {
                return parse_float(text, penalty) && penalty >= 0.0f && penalty <= PerturbLimits::max_penalty;
              })
      .text("--manifest", "MANIFEST.json", manifest_path)
      .text("--csv", "OUT.csv", csv_path);
  if (Outcome parsed = parser.parse(args); !parsed.is_ok()) return parsed;
  if (parser.given("--penalty") && others_path.empty()) return parser.usage_error("--penalty needs --keep-others");

  auto model = load_model_file(model_path);
  if (!model) return model.status();
  const Model& m = model.value();
  if (options.output >= static_cast<int>(m.output_count()))
    return Status::error("--output " + std::to_string(options.output) + " out of range: model '" + m.name +
                         "' has outputs 0.." + std::to_string(m.output_count() - 1));
  auto image = load_model_image(image_path, m.input);
  if (!image) return image.status();

  const json manifest =
      read_manifest(manifest_path.empty() ? directory_of(model_path) + "/manifest.json" : manifest_path);
  if (!manifest_path.empty() && manifest.is_null())
    return Status::error("'" + manifest_path + "' is not a readable manifest.json");
  const std::vector<float> quantiles =
      quantiles_of(find_entry(manifest, file_name_of(model_path), m.name), options.output);
  options.response_spread = spread_of(quantiles);

  Result<Model> others = Status::error("unused");
  std::string others_note;
  if (!others_path.empty()) {
    others = load_model_file(others_path);
    if (!others) return others.status();
    KeepOthers& k = options.keep_others;
    k.model = &others.value();
    k.penalty = penalty;
    const json manifest_others =
        manifest_path.empty() ? read_manifest(directory_of(others_path) + "/manifest.json") : manifest;
    const json* entry = find_entry(manifest_others, file_name_of(others_path), others.value().name);
    for (int j = 0; j < static_cast<int>(others.value().output_count()); ++j) {
      const std::vector<float> q = quantiles_of(entry, j);
      if (q.empty()) {
        k.spread.clear();
        break;
      }
      k.spread.push_back(spread_of(q));
    }
    const std::string own = m.output_names.empty() ? "" : m.output_names[options.output];
    for (int j = 0; j < static_cast<int>(others.value().output_names.size()); ++j)
      if (others.value().output_names[j] == own) k.exclude = j;
    others_note = std::string(k.spread.empty() ? "raw units (no reference distribution)"
                                               : "in reference spreads (10th-90th percentile range)") +
                  (k.exclude >= 0 ? "; excluding its own output " + own : "; the neuron is not among its outputs");
  }

  const auto start = std::chrono::steady_clock::now();
  auto result = perturb(m, image.value(), options);
  const double elapsed = seconds_since(start);
  if (!result) return result.status();
  CL_RETURN_IF_ERROR(write_png(out_path, result.value().image));

  // Both numbers from 8-bit images through the ordinary forward pass: the original crop, and the PNG as written.
  auto written = load_model_image(out_path, m.input);
  if (!written) return written.status().with_context("reading back '" + out_path + "': ");
  if (written.value().pixels != result.value().image.pixels)
    return Status::error("'" + out_path + "' read back differs from the image written");
  auto before = response_of(m, image.value(), options.output);
  auto after = response_of(m, written.value(), options.output);
  if (!before) return before.status();
  if (!after) return after.status();
  const auto [largest, changed] = difference(image.value(), written.value());

  std::printf("model: %s, output %d (%s), %s, epsilon %d, %d steps of %d level%s\n", m.name.c_str(), options.output,
              m.output_names.empty() ? "" : m.output_names[options.output].c_str(),
              options.minimize ? "lower" : "raise", options.epsilon, options.steps, options.step_size,
              options.step_size == 1 ? "" : "s");
  std::printf("response before: %s\n", response_text(before.value(), quantiles).c_str());
  std::printf("response after:  %s\n", response_text(after.value(), quantiles).c_str());
  std::printf("change: largest %d levels, %zu of %zu channel values changed\n", largest, changed,
              written.value().pixels.size());
  if (options.keep_others.model)
    std::printf("others (%s, penalty %g): RMS change %.4f %s\n", others.value().name.c_str(), penalty,
                result.value().others_change, others_note.c_str());
  std::printf("steps: %d%s, %.3f s (%.2f ms per step)\n", result.value().steps_done,
              result.value().steps_done < options.steps ? " (stopped at a fixed point)" : "", elapsed,
              1000.0 * elapsed / std::max(1, result.value().steps_done + 1));
  if (!csv_path.empty()) {
    FILE* file = std::fopen(csv_path.c_str(), "w");
    if (!file) return Status::error("cannot write '" + csv_path + "'");
    const double pb = percentile_of(before.value(), quantiles), pa = percentile_of(after.value(), quantiles);
    std::fprintf(file,
                 "model,output,direction,epsilon,steps,step_size,penalty,response_before,percentile_before,"
                 "response_after,percentile_after,largest_change,changed_values,others_rms_change\n");
    std::fprintf(file, "%s,%d,%s,%d,%d,%d,%g,%.9g,%s,%.9g,%s,%d,%zu,%s\n", m.name.c_str(), options.output,
                 options.minimize ? "lower" : "raise", options.epsilon, result.value().steps_done, options.step_size,
                 options.keep_others.model ? penalty : 0.0f, before.value(),
                 std::isnan(pb) ? "" : std::to_string(pb).c_str(), after.value(),
                 std::isnan(pa) ? "" : std::to_string(pa).c_str(), largest, changed,
                 options.keep_others.model ? std::to_string(result.value().others_change).c_str() : "");
    std::fclose(file);
  }
  return Status::ok();
}

Outcome run_perturb_sweep(const Args& args) {
  std::string data_dir = configured_data_dir();
  std::vector<int> epsilons = {2, 4, 8};
  int steps = 100, threads = 1, count = 0, first = 1, last = 219;
  ArgParser parser("perturb-sweep", kSweepUsage);
  parser.text("--data", "DIR", data_dir)
      .custom("--epsilons", "E,E,...", "integers in 1..16 separated by commas",
              [&epsilons](const std::string& text) {
                epsilons.clear();
                for (std::size_t begin = 0; begin <= text.size();) {
                  const std::size_t comma = std::min(text.find(',', begin), text.size());
                  const std::string word = text.substr(begin, comma - begin);
                  char* end = nullptr;
                  const long v = std::strtol(word.c_str(), &end, 10);
                  if (word.empty() || *end != 0 || v < 1 || v > PerturbLimits::max_epsilon) return false;
                  epsilons.push_back(static_cast<int>(v));
                  begin = comma + 1;
                }
                return !epsilons.empty();
              })
      .integer("--steps", "N", 1, PerturbLimits::max_steps, steps)
      .integer("--threads", "N", 1, 64, threads)
      .integer("--count", "N", 1, 219, count)
      .range("--models", 1, 219, first, last);
  if (Outcome parsed = parser.parse(args); !parsed.is_ok()) return parsed;
  std::sort(epsilons.begin(), epsilons.end());

  std::vector<PublishedModel> models;
  for (auto& p : list_published_models(data_dir))
    if (p.kind == "neuron") models.push_back(p);
  if (models.empty()) return Status::error("no per-neuron models in '" + data_dir + "/compact_models'");
  if (parser.given("--models")) {
    if (last > static_cast<int>(models.size()))
      return Status::error("--models " + std::to_string(first) + "-" + std::to_string(last) + ": there are " +
                           std::to_string(models.size()) + " per-neuron models");
    models = std::vector<PublishedModel>(models.begin() + (first - 1), models.begin() + last);
  }
  if (count > 0 && count < static_cast<int>(models.size())) {
    std::vector<PublishedModel> picked;
    for (int k = 0; k < count; ++k) picked.push_back(models[k * models.size() / count]);
    models = picked;
  }
  const auto start = std::chrono::steady_clock::now();
  auto reference = load_reference_images(data_dir);
  if (!reference) return reference.status();
  std::vector<RgbImage> images;
  for (const Tensor& t : reference.value().inputs) images.push_back(unrecentre(t));
  std::fprintf(stderr, "%zu reference images, %zu models, %d thread%s\n", images.size(), models.size(), threads,
               threads == 1 ? "" : "s");

  // Per model: start percentile, then (raise, lower) percentile per epsilon.
  struct Row {
    std::string id, image;
    double start_response = 0, start_percentile = 0;
    std::vector<double> raise, lower, raise_response, lower_response;
    double seconds = 0;
  };
  std::vector<Row> rows(models.size());
  std::mutex print;
  std::printf("model,start_image,start_response,start_percentile");
  for (int e : epsilons) std::printf(",raise_%d_response,raise_%d_pct,lower_%d_response,lower_%d_pct", e, e, e, e);
  std::printf(",seconds\n");
  std::fflush(stdout);
  Status status = run_parallel(models.size(), threads, [&](std::size_t i) -> Status {
    const auto t0 = std::chrono::steady_clock::now();
    auto model = load_model_file(models[i].path);
    if (!model) return model.status();
    const Model& m = model.value();
    std::vector<float> responses;
    ForwardRunner runner(m);
    for (const Tensor& input : reference.value().inputs) {
      auto r = runner.run(input);
      if (!r) return r.status();
      responses.push_back(r.value()[0]);
    }
    const std::vector<float> q = percentiles_0_to_100(responses);
    // The reference image whose response is the median one (the lower of the middle two of an even count).
    std::vector<std::size_t> order(responses.size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return responses[a] < responses[b]; });
    const std::size_t median = order[(order.size() - 1) / 2];
    Row row;
    row.id = models[i].id;
    row.image = reference.value().ids[median];
    row.start_response = responses[median];
    row.start_percentile = percentile_of(responses[median], q);
    for (int e : epsilons)
      for (bool minimize : {false, true}) {
        PerturbOptions o;
        o.epsilon = e;
        o.steps = steps;
        o.minimize = minimize;
        o.response_spread = spread_of(q);
        auto result = perturb(m, images[median], o);
        if (!result) return result.status();
        // Measured again through the ordinary forward pass on the 8-bit result, as the CLI and the page do.
        auto after = runner.run(recentre(result.value().image));
        if (!after) return after.status();
        (minimize ? row.lower_response : row.raise_response).push_back(after.value()[0]);
        (minimize ? row.lower : row.raise).push_back(percentile_of(after.value()[0], q));
      }
    row.seconds = seconds_since(t0);
    std::lock_guard<std::mutex> lock(print);
    std::printf("%s,%s,%.6g,%.2f", row.id.c_str(), row.image.c_str(), row.start_response, row.start_percentile);
    for (std::size_t k = 0; k < epsilons.size(); ++k)
      std::printf(",%.6g,%.2f,%.6g,%.2f", row.raise_response[k], row.raise[k], row.lower_response[k], row.lower[k]);
    std::printf(",%.1f\n", row.seconds);
    std::fflush(stdout);
    rows[i] = std::move(row);
    return Status::ok();
  });
  if (!status) return status;
  std::printf(
      "# %zu per-neuron models, %d steps of 1 level, start: each neuron's median reference image (median "
      "start percentile %.1f)\n",
      rows.size(), steps, [&] {
        std::vector<double> v;
        for (const Row& r : rows) v.push_back(r.start_percentile);
        return median_of(v);
      }());
  for (std::size_t k = 0; k < epsilons.size(); ++k) {
    std::vector<double> up, down;
    int past99 = 0, below1 = 0;
    for (const Row& r : rows) {
      up.push_back(r.raise[k]);
      down.push_back(r.lower[k]);
      past99 += r.raise[k] > 99.0;
      below1 += r.lower[k] < 1.0;
    }
    std::printf(
        "# epsilon %d: median percentile raised %.1f, lowered %.1f; past the 99th percentile %d of %zu "
        "(%.1f%%); below the 1st %d (%.1f%%)\n",
        epsilons[k], median_of(up), median_of(down), past99, rows.size(), 100.0 * past99 / rows.size(), below1,
        100.0 * below1 / rows.size());
  }
  std::printf("# wall time %.0f s\n", seconds_since(start));
  return Status::ok();
}

}  // namespace cortexlens::cli
