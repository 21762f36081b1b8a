// `cortexlens pack --out DIR [--data DIR] [--threads N] [--percentile P]`: the page's model pack.
// Writes <id>.int8.clm and <id>.f32.clm for every published model found (per-neuron models and the 100-filter
// shared model), <id>.f32.clm only for the shared models of other sizes (the compression explorer runs them in
// float; packing them float-only keeps the site build ~40 s shorter), the demo model, and manifest.json
// (models/MANIFEST.md). Models whose outputs are newer than their
// source are not converted again (their manifest entries are kept in DIR/.cache/). Nothing is written into the
// repository: DIR is a build output folder.
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "demo_model.hpp"
#include "manifest_references.hpp"
#include "model_pack.hpp"
#include "model_source.hpp"

namespace cortexlens::cli {

namespace {

using json = nlohmann::json;

constexpr int kPackFormatVersion = 2;  // bump when the cached entries' meaning or the file format changes
constexpr const char* kPackUsage =
    "usage: cortexlens pack --out DIR [--data DIR] [--threads N] [--percentile P|mse] [--eval-step K]\n"
    "  --threads: default, every core.\n"
    "  Without the published data only the demo model is packed. --eval-step K measures fidelity on every K-th\n"
    "  held-out image only (quicker; the manifest says how many images each figure used).\n";

double rounded(double value, int digits = 7) {
  if (std::isnan(value)) return value;
  char text[40];
  std::snprintf(text, sizeof text, "%.*g", digits, value);
  return std::strtod(text, nullptr);
}
json number_or_null(double value) { return std::isnan(value) ? json(nullptr) : json(rounded(value, 6)); }

bool newer_or_same(const std::string& output, const std::string& source) {
  struct stat out_stat {
  }, src_stat{};
  if (stat(output.c_str(), &out_stat) != 0 || stat(source.c_str(), &src_stat) != 0) return false;
  return out_stat.st_mtime >= src_stat.st_mtime;
}

Result<std::size_t> gzip_size(const std::vector<std::uint8_t>& bytes) {
  z_stream stream{};
  // windowBits 15 + 16: the gzip container, as a web server would send it.
  if (deflateInit2(&stream, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
    return Status::error("zlib deflateInit2 failed");
  std::vector<std::uint8_t> out(deflateBound(&stream, bytes.size()) + 32);
  stream.next_in = const_cast<Bytef*>(bytes.data());
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&stream, Z_FINISH);
  const std::size_t size = stream.total_out;
  deflateEnd(&stream);
  if (result != Z_STREAM_END) return Status::error("zlib deflate did not finish");
  return size;
}

std::vector<int> filters_of(const Model& model) {
  std::vector<int> filters;
  for (const auto& row : model.source_layers)
    if ((row.class_name == "Conv2D" || row.class_name == "SeparableConv2D") && row.name.rfind("layer", 0) == 0)
      filters.push_back(row.output.c);
  return filters;
}

json reference_json(const OutputReport& r, const std::vector<std::string>& ids) {
  json quantiles = json::array();
  for (float q : r.quantiles) quantiles.push_back(rounded(q));
  auto extremes = [&](const std::vector<ReferenceExtreme>& list) {
    json out = json::array();
    for (const auto& e : list) out.push_back({{"image", ids[e.image]}, {"response", rounded(e.response)}});
    return out;
  };
  return {{"quantiles", quantiles}, {"top", extremes(r.top)}, {"bottom", extremes(r.bottom)}};
}

json fidelity_json(const OutputReport& r) {
  return {{"int8VsFloatR", number_or_null(r.int8_vs_float_r)},
          {"floatVsRecordedR", number_or_null(r.float_vs_recorded_r)},
          {"int8VsRecordedR", number_or_null(r.int8_vs_recorded_r)},
          {"images", r.images},
          {"imageCount", r.image_count}};
}

Status read_json_file(const std::string& path, json& out) {
  auto bytes = read_file_bytes(path, 64u << 20);
  if (!bytes) return bytes.status();
  out = json::parse(bytes.value().begin(), bytes.value().end(), nullptr, /*allow_exceptions=*/false);
  if (out.is_discarded()) return Status::error("'" + path + "' is not valid JSON");
  return Status::ok();
}

Status write_text(const std::string& path, const std::string& text) {
  return write_file_bytes(path, std::vector<std::uint8_t>(text.begin(), text.end()));
}

// What `pack` was asked for.
struct PackSettings {
  std::string data_dir = configured_data_dir(), out_dir;
  int threads = default_thread_count(), eval_step = 1;
  double percentile = kDefaultCalibrationPercentile;
  std::string cache_dir() const { return out_dir + "/.cache"; }
};

// One packed model as the manifest and the closing summary see it.
struct Entry {
  json manifest;
  std::size_t int8_bytes = 0, float_bytes = 0, int8_gzip = 0;
  bool up_to_date = false;  // taken from DIR/.cache, not converted again
};

struct PackedFiles {
  std::string int8_name, float_name;
  std::size_t int8_bytes = 0, float_bytes = 0;
};

// The manifest entry of one model (models/MANIFEST.md), published or the demo. `reports` has one entry per output,
// and none for the demo, which has no reference images or recorded responses.
json manifest_entry(const PublishedModel& source, const Model& model, const PackedFiles& files,
                    const std::vector<OutputReport>& reports, const std::vector<std::string>& reference_ids) {
  json entry = {{"id", source.id},
                {"name", model.name},
                {"kind", source.kind},
                {"filters", filters_of(model)},
                {"params", model.source_params()},
                {"multiplyAdds", model.multiply_adds()},
                {"outputs", model.output_names}};
  // A float-only pack (the shared models of other sizes) has no int8 file.
  if (files.int8_name.empty()) {
    entry["files"] = {{"float", files.float_name}};
    entry["bytes"] = {{"float", files.float_bytes}};
  } else {
    entry["files"] = {{"int8", files.int8_name}, {"float", files.float_name}};
    entry["bytes"] = {{"int8", files.int8_bytes}, {"float", files.float_bytes}};
  }
  if (reports.empty()) {
    entry["reference"] = nullptr;
    entry["fidelity"] = nullptr;
  } else if (source.kind == "neuron") {
    entry["session"] = source.session;
    entry["neuron"] = source.neuron;
    entry["reference"] = reference_json(reports[0], reference_ids);
    entry["fidelity"] = fidelity_json(reports[0]);
  } else {
    json refs = json::array(), fids = json::array();
    for (const auto& r : reports) {
      refs.push_back(reference_json(r, reference_ids));
      fids.push_back(fidelity_json(r));
    }
    entry["reference"] = refs;
    entry["fidelity"] = fids;
  }
  return entry;
}

// Skipping up-to-date models: `entry` is filled from DIR/.cache when the model's files are newer than its source
// and were made with the same settings, and left to be converted otherwise.
Status reuse_if_up_to_date(const PublishedModel& source, const PackSettings& settings, Entry& entry) {
  const std::string base = settings.out_dir + "/" + source.id;
  const std::string cache_path = settings.cache_dir() + "/" + source.id + ".json";
  const bool float_only = source.kind == "shared-size";
  json cached;
  if ((!float_only && !newer_or_same(base + ".int8.clm", source.path)) ||
      !newer_or_same(base + ".f32.clm", source.path) || !newer_or_same(cache_path, source.path) ||
      !read_json_file(cache_path, cached).is_ok() || cached.value("packFormat", 0) != kPackFormatVersion ||
      cached.value("percentile", 0.0) != settings.percentile || cached.value("evalStep", 0) != settings.eval_step)
    return Status::ok();
  entry.manifest = cached["entry"];
  entry.float_bytes = cached["entry"]["bytes"].value("float", std::size_t{0});
  entry.up_to_date = true;
  if (float_only) return Status::ok();
  auto int8_bytes = read_file_bytes(base + ".int8.clm");
  if (!int8_bytes) return int8_bytes.status();
  auto gzip = gzip_size(int8_bytes.value());
  if (!gzip) return gzip.status();
  entry.int8_bytes = int8_bytes.value().size();
  entry.int8_gzip = gzip.value();
  return Status::ok();
}

// Calibration and reference-distribution images, and the held-out images fidelity is measured on.
struct MeasurementImages {
  ReferenceImages reference;
  EvaluationData evaluation;
};

Result<MeasurementImages> load_measurement_images(const PackSettings& settings) {
  MeasurementImages images;
  auto reference = load_reference_images(settings.data_dir);
  if (!reference) return reference.status();
  images.reference = std::move(reference).value();
  auto evaluation = load_evaluation_data(settings.data_dir, settings.eval_step);
  if (!evaluation) return evaluation.status();
  images.evaluation = std::move(evaluation).value();
  return images;
}

// Converting one model: both precisions, quantized, with its reference distributions and fidelity (pack_model);
// then its two files and its cache record.
Result<Entry> pack_published_model(const PublishedModel& source, const PackSettings& settings,
                                   const MeasurementImages& images, std::mutex& hdf5_mutex) {
  Result<Model> model = Status::error("not loaded");
  {
    std::lock_guard<std::mutex> lock(hdf5_mutex);
    model = load_model_file(source.path);
  }
  if (!model) return model.status();
  const bool float_only = source.kind == "shared-size";
  auto packed = float_only ? pack_model_float_only(model.value(), model_source_text(source.path), images.reference,
                                                   images.evaluation)
                           : pack_model(model.value(), model_source_text(source.path), images.reference,
                                        images.evaluation, settings.percentile);
  if (!packed) return packed.status().with_context("'" + source.path + "': ");
  const PackedModel& p = packed.value();
  const PackedFiles files{float_only ? "" : source.id + ".int8.clm", source.id + ".f32.clm", p.int8.bytes.size(),
                          p.float32.bytes.size()};
  if (!float_only) CL_RETURN_IF_ERROR(write_file_bytes(settings.out_dir + "/" + files.int8_name, p.int8.bytes));
  CL_RETURN_IF_ERROR(write_file_bytes(settings.out_dir + "/" + files.float_name, p.float32.bytes));
  Entry entry;
  entry.manifest = manifest_entry(source, model.value(), files, p.outputs, images.reference.ids);
  json cache = {{"packFormat", kPackFormatVersion},
                {"percentile", settings.percentile},
                {"evalStep", settings.eval_step},
                {"entry", entry.manifest}};
  CL_RETURN_IF_ERROR(write_text(settings.cache_dir() + "/" + source.id + ".json", cache.dump()));
  entry.float_bytes = files.float_bytes;
  if (float_only) {
    std::fprintf(stderr, "  %s: float %zu bytes (float only)\n", source.id.c_str(), files.float_bytes);
    return entry;
  }
  auto gz = gzip_size(p.int8.bytes);
  if (!gz) return gz.status();
  entry.int8_bytes = files.int8_bytes;
  entry.int8_gzip = gz.value();
  std::fprintf(stderr, "  %s: int8 %zu bytes, float %zu bytes, r(int8, float) %.5f\n", source.id.c_str(),
               files.int8_bytes, files.float_bytes, p.outputs[0].int8_vs_float_r);
  return entry;
}

Status pack_stale_models(const std::vector<PublishedModel>& models, const PackSettings& settings,
                         const MeasurementImages& images, std::vector<Entry>& entries) {
  std::mutex hdf5_mutex;  // Debian's libhdf5 is not built thread-safe
  // Largest first: a shared model costs as much as dozens of per-neuron ones, and started last it would leave the
  // other threads idle at the end.
  std::vector<std::size_t> order(models.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_partition(order.begin(), order.end(), [&](std::size_t i) { return models[i].kind != "neuron"; });
  return run_parallel(models.size(), settings.threads, [&](std::size_t k) -> Status {
    const std::size_t i = order[k];
    if (entries[i].up_to_date) return Status::ok();
    auto entry = pack_published_model(models[i], settings, images, hdf5_mutex);
    if (!entry) return entry.status();
    entries[i] = std::move(entry).value();
    return Status::ok();
  });
}

// The demo model ships with the repository and needs no data: its int8 file is copied, its float file is
// converted from the committed .keras (the weights the int8 file was quantized from), and its fidelity is measured
// on the held-out images of models/demo_model.cpp.
Result<Entry> pack_demo_model(const std::string& out_dir) {
  auto int8_bytes = read_file_bytes(CORTEXLENS_DEMO_MODEL);
  if (!int8_bytes) return int8_bytes.status().with_context("demo model: ");
  auto int8_model = read_model_file(int8_bytes.value().data(), int8_bytes.value().size());
  if (!int8_model) return int8_model.status().with_context("demo model: ");
  PackedFiles files{"demo_dot_detector.int8.clm", "demo_dot_detector.f32.clm", int8_bytes.value().size(), 0};
  CL_RETURN_IF_ERROR(write_file_bytes(out_dir + "/" + files.int8_name, int8_bytes.value()));
  auto keras = load_model_file(CORTEXLENS_DEMO_KERAS);
  if (!keras) return keras.status().with_context("demo model: ");
  ConvertOptions float_options;
  float_options.precision = Precision::float32;
  float_options.source = "Cortex Lens demo: weights constructed by models/demo_model.cpp (no training, no data)";
  auto float_file = convert_model(keras.value(), float_options, {});
  if (!float_file) return float_file.status().with_context("demo model: ");
  CL_RETURN_IF_ERROR(write_file_bytes(out_dir + "/" + files.float_name, float_file.value().bytes));
  files.float_bytes = float_file.value().bytes.size();
  const PublishedModel demo{CORTEXLENS_DEMO_MODEL, "demo", "demo", "", -1};
  Entry entry;
  entry.manifest = manifest_entry(demo, int8_model.value().model, files, {}, {});
  // Its fidelity, in the published models' shape, on synthetic images its calibration never saw (no recorded
  // responses exist for it): what the model card shows beside the two numbers the page prints.
  auto fidelity = demo::measure_demo_fidelity(keras.value(), int8_model.value().model);
  if (!fidelity) return fidelity.status().with_context("demo model: ");
  const demo::DemoFidelity& f = fidelity.value();
  entry.manifest["fidelity"] = {{"int8VsFloatR", number_or_null(f.int8_vs_float_r)},
                                {"floatVsRecordedR", nullptr},
                                {"int8VsRecordedR", nullptr},
                                {"maxDifferenceOfSpread", number_or_null(f.max_difference_of_spread())},
                                {"images", demo::demo_held_out_description()},
                                {"imageCount", f.image_count}};
  std::printf(
      "demo model: r(int8, float) %.6f, largest |int8 - float| %.4f = %.2f%% of the float spread %.3f, on %zu "
      "held-out images\n",
      f.int8_vs_float_r, f.max_abs_difference, 100 * f.max_difference_of_spread(), f.float_spread, f.image_count);
  entry.int8_bytes = files.int8_bytes;
  entry.float_bytes = files.float_bytes;
  return entry;
}

// manifest.json: the demo first, then the published models in list order.
Status write_manifest(const PackSettings& settings, const Entry& demo, const std::vector<Entry>& entries) {
  json models_json = json::array();
  models_json.push_back(demo.manifest);
  for (const auto& e : entries) models_json.push_back(e.manifest);
  json manifest = {
      {"format", "cortexlens-manifest"},
      {"version", 1},
      {"citation", kPaperCitation},
      {"source", kPaperSource},
      {"referenceImages",
       {{"description", "images 1-600, every 6th, of test sessions " + std::string("190923, 201025 and 210225") +
                            " (the half the authors fitted on; 601-1200 are kept for evaluation)"},
        {"count", entries.empty() ? 0 : 300}}},
      {"calibration", {{"percentile", settings.percentile}, {"images", "the reference images"}}},
      {"models", models_json}};
  CL_RETURN_IF_ERROR(write_reference_files(manifest, settings.out_dir));
  // Compact: the page fetches and parses it at every visit, and indentation made 7.3 MB of a 4.4 MB document.
  return write_text(settings.out_dir + "/manifest.json", manifest.dump());
}

void print_fidelity(const char* label, const std::vector<json>& fidelity) {
  std::vector<double> q_vs_f, f_rec, q_rec;
  double min_r = 1.0;
  for (const auto& f : fidelity) {
    q_vs_f.push_back(f.value("int8VsFloatR", std::nan("")));
    min_r = std::min(min_r, q_vs_f.back());
    if (f["floatVsRecordedR"].is_number()) {
      f_rec.push_back(f["floatVsRecordedR"].get<double>());
      q_rec.push_back(f["int8VsRecordedR"].get<double>());
    }
  }
  const double mf = median_of(f_rec), mq = median_of(q_rec);
  std::printf(
      "%s: %zu outputs; r(int8, float) median %.5f, min %.5f; %zu with recorded images: median "
      "r(float, recorded) %.4f, r(int8, recorded) %.4f, difference %+.4f\n",
      label, q_vs_f.size(), median_of(q_vs_f), min_r, f_rec.size(), mf, mq, mq - mf);
}

// Fidelity over every packed model, from the manifest entries (fresh and cached alike), then the files' sizes.
void print_pack_summary(const std::string& out_dir, const std::vector<PublishedModel>& models,
                        const std::vector<Entry>& entries) {
  std::vector<json> neuron_fidelity;
  for (std::size_t i = 0; i < models.size(); ++i) {
    const json& fidelity = entries[i].manifest["fidelity"];
    if (models[i].kind == "neuron") {
      neuron_fidelity.push_back(fidelity);
    } else if (models[i].kind == "shared-size") {
      std::vector<double> r;
      for (const auto& f : fidelity)
        if (f["floatVsRecordedR"].is_number()) r.push_back(f["floatVsRecordedR"].get<double>());
      std::printf(
          "shared model %s (float only): %zu outputs, %zu with recorded images: median r(float, recorded) %.4f\n",
          models[i].id.c_str(), fidelity.size(), r.size(), median_of(r));
    } else {
      print_fidelity(("shared model " + models[i].id).c_str(), std::vector<json>(fidelity.begin(), fidelity.end()));
    }
  }
  if (!neuron_fidelity.empty()) print_fidelity("per-neuron models", neuron_fidelity);

  std::size_t int8_total = 0, float_total = 0, gzip_total = 0, neurons = 0;
  std::vector<double> per_file;
  for (std::size_t i = 0; i < models.size(); ++i) {
    if (models[i].kind != "neuron") continue;
    ++neurons;
    int8_total += entries[i].int8_bytes;
    float_total += entries[i].float_bytes;
    gzip_total += entries[i].int8_gzip;
    per_file.push_back(static_cast<double>(entries[i].int8_bytes));
  }
  std::printf("%s/manifest.json: %zu models (demo + %zu published)\n", out_dir.c_str(), models.size() + 1,
              models.size());
  if (neurons > 0)
    std::printf(
        "per-neuron int8 files: %zu, total %zu bytes (%.3f MB), median %.0f bytes per file, gzip total %zu "
        "bytes (%.3f MB); float files total %zu bytes (%.3f MB)\n",
        neurons, int8_total, int8_total / 1e6, median_of(per_file), gzip_total, gzip_total / 1e6, float_total,
        float_total / 1e6);
}

// The phases in order: find the published models, reuse the up-to-date ones, convert and measure the rest, add
// the demo, write the manifest, print the summary.
Status write_pack(const PackSettings& settings) {
  std::error_code error;
  std::filesystem::create_directories(settings.cache_dir(), error);
  if (error) return Status::error("cannot create '" + settings.cache_dir() + "': " + error.message());

  const std::vector<PublishedModel> models = list_published_models(settings.data_dir, /*shared_100_only=*/false);
  if (models.empty())
    std::fprintf(stderr, "cortexlens pack: no published models under '%s': packing the demo model only\n",
                 settings.data_dir.c_str());
  std::vector<Entry> entries(models.size());
  std::size_t stale = 0;
  for (std::size_t i = 0; i < models.size(); ++i) {
    CL_RETURN_IF_ERROR(reuse_if_up_to_date(models[i], settings, entries[i]));
    stale += entries[i].up_to_date ? 0 : 1;
  }
  // Only models that are not up to date need the images.
  MeasurementImages images;
  if (stale > 0) {
    auto loaded = load_measurement_images(settings);
    if (!loaded) return loaded.status();
    images = std::move(loaded).value();
  }
  std::fprintf(stderr, "cortexlens pack: %zu models, %zu up to date, converting %zu on %d threads\n", models.size(),
               models.size() - stale, stale, settings.threads);

  CL_RETURN_IF_ERROR(pack_stale_models(models, settings, images, entries));
  auto demo = pack_demo_model(settings.out_dir);
  if (!demo) return demo.status();
  CL_RETURN_IF_ERROR(write_manifest(settings, demo.value(), entries));
  print_pack_summary(settings.out_dir, models, entries);
  return Status::ok();
}

}  // namespace

Outcome run_pack(const Args& args) {
  PackSettings settings;
  ArgParser parser("pack", kPackUsage);
  parser.text("--out", "DIR", settings.out_dir)
      .required()
      .text("--data", "DIR", settings.data_dir)
      .integer("--threads", "N", 1, 64, settings.threads)
      .custom("--percentile", "P|mse", "a number in (50, 100] or mse",
              [&settings](const std::string& text) { return parse_percentile(text, settings.percentile); })
      .integer("--eval-step", "K", 1, 100, settings.eval_step);
  if (Outcome parsed = parser.parse(args); !parsed.is_ok()) return parsed;
  return write_pack(settings);
}

}  // namespace cortexlens::cli
