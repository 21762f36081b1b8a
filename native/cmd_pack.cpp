// `cortexlens pack --out DIR [--data DIR] [--threads N] [--percentile P]`: the page's model pack.
// Writes <id>.int8.clm and <id>.f32.clm for every published model found (per-neuron models and the 100-filter
// shared model), the demo model, and manifest.json (models/MANIFEST.md). Models whose outputs are newer than their
// source are not converted again (their manifest entries are kept in DIR/.cache/). Nothing is written into the
// repository: DIR is a build output folder.
#include <sys/stat.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "model_pack.hpp"
#include "model_source.hpp"

namespace cortexlens::cli {

namespace {

using json = nlohmann::json;

constexpr int kPackFormatVersion = 2;  // bump when the cached entries' meaning or the file format changes
constexpr const char* kPackUsage =
    "usage: cortexlens pack --out DIR [--data DIR] [--threads N] [--percentile P|mse] [--eval-step K]\n"
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
  struct stat out_stat {}, src_stat {};
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

struct Entry {
  json manifest;
  std::size_t int8_bytes = 0, float_bytes = 0, int8_gzip = 0;
  std::vector<OutputReport> reports;  // empty when the entry came from the cache
};

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

}  // namespace

int run_pack(const Args& args) {
  std::string data_dir = configured_data_dir(), out_dir;
  int threads = 2, eval_step = 1;
  double percentile = kDefaultCalibrationPercentile;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size() ||
        (a != "--data" && a != "--out" && a != "--threads" && a != "--percentile" && a != "--eval-step"))
      return std::fprintf(stderr, "cortexlens pack: bad argument '%s'\n%s", a.c_str(), kPackUsage), 2;
    const std::string value = args[++i];
    char* end = nullptr;
    if (a == "--data") {
      data_dir = value;
    } else if (a == "--out") {
      out_dir = value;
    } else if (a == "--threads") {
      threads = static_cast<int>(std::strtol(value.c_str(), &end, 10));
      if (*end || threads < 1 || threads > 64) return std::fprintf(stderr, "--threads '%s', expected 1..64\n", value.c_str()), 2;
    } else if (a == "--eval-step") {
      eval_step = static_cast<int>(std::strtol(value.c_str(), &end, 10));
      if (*end || eval_step < 1 || eval_step > 100) return std::fprintf(stderr, "--eval-step '%s', expected 1..100\n", value.c_str()), 2;
    } else {
      if (!parse_percentile(value, percentile))
        return std::fprintf(stderr, "--percentile '%s', expected a number in (50, 100] or mse\n", value.c_str()), 2;
    }
  }
  if (out_dir.empty()) return std::fprintf(stderr, "cortexlens pack: --out DIR is required\n%s", kPackUsage), 2;
  const std::string cache_dir = out_dir + "/.cache";
  std::error_code error;
  std::filesystem::create_directories(cache_dir, error);
  if (error) return std::fprintf(stderr, "cortexlens: cannot create '%s': %s\n", cache_dir.c_str(), error.message().c_str()), 1;

  const std::vector<PublishedModel> models = list_published_models(data_dir);
  if (models.empty())
    std::fprintf(stderr, "cortexlens pack: no published models under '%s': packing the demo model only\n",
                 data_dir.c_str());

  // Only models that are not up to date need the images.
  std::vector<bool> fresh(models.size(), false);
  std::vector<Entry> entries(models.size());
  std::size_t stale = 0;
  for (std::size_t i = 0; i < models.size(); ++i) {
    const std::string base = out_dir + "/" + models[i].id;
    json cached;
    if (newer_or_same(base + ".int8.clm", models[i].path) && newer_or_same(base + ".f32.clm", models[i].path) &&
        newer_or_same(cache_dir + "/" + models[i].id + ".json", models[i].path) &&
        read_json_file(cache_dir + "/" + models[i].id + ".json", cached).is_ok() &&
        cached.value("packFormat", 0) == kPackFormatVersion &&
        cached.value("percentile", 0.0) == percentile && cached.value("evalStep", 0) == eval_step) {
      fresh[i] = true;
      entries[i].manifest = cached["entry"];
      auto int8_bytes = read_file_bytes(base + ".int8.clm");
      if (!int8_bytes) return std::fprintf(stderr, "cortexlens: %s\n", int8_bytes.message().c_str()), 1;
      entries[i].int8_bytes = int8_bytes.value().size();
      entries[i].int8_gzip = gzip_size(int8_bytes.value()).value();
      entries[i].float_bytes = cached["entry"]["bytes"].value("float", std::size_t{0});
    } else {
      ++stale;
    }
  }
  ReferenceImages reference;
  EvaluationData evaluation;
  if (stale > 0) {
    auto loaded_reference = load_reference_images(data_dir);
    if (!loaded_reference) return std::fprintf(stderr, "cortexlens: %s\n", loaded_reference.message().c_str()), 1;
    reference = std::move(loaded_reference).value();
    auto loaded_evaluation = load_evaluation_data(data_dir, eval_step);
    if (!loaded_evaluation) return std::fprintf(stderr, "cortexlens: %s\n", loaded_evaluation.message().c_str()), 1;
    evaluation = std::move(loaded_evaluation).value();
  }
  std::fprintf(stderr, "cortexlens pack: %zu models, %zu up to date, converting %zu on %d threads\n", models.size(),
               models.size() - stale, stale, threads);

  std::mutex hdf5_mutex;  // Debian's libhdf5 is not built thread-safe
  auto status = run_parallel(models.size(), threads, [&](std::size_t i) -> Status {
    if (fresh[i]) return Status::ok();
    const PublishedModel& source = models[i];
    Result<Model> model = Status::error("not loaded");
    {
      std::lock_guard<std::mutex> lock(hdf5_mutex);
      model = load_model_file(source.path);
    }
    if (!model) return model.status();
    auto packed = pack_model(model.value(), model_source_text(source.path), reference, evaluation, percentile);
    if (!packed) return packed.status().with_context("'" + source.path + "': ");
    const PackedModel& p = packed.value();
    const std::string int8_name = source.id + ".int8.clm", float_name = source.id + ".f32.clm";
    CL_RETURN_IF_ERROR(write_file_bytes(out_dir + "/" + int8_name, p.int8.bytes));
    CL_RETURN_IF_ERROR(write_file_bytes(out_dir + "/" + float_name, p.float32.bytes));
    const Model& m = model.value();
    json entry = {{"id", source.id},
                  {"name", m.name},
                  {"kind", source.kind},
                  {"filters", filters_of(m)},
                  {"params", m.source_params()},
                  {"multiplyAdds", m.multiply_adds()},
                  {"files", {{"int8", int8_name}, {"float", float_name}}},
                  {"bytes", {{"int8", p.int8.bytes.size()}, {"float", p.float32.bytes.size()}}},
                  {"outputs", m.output_names}};
    if (source.kind == "neuron") {
      entry["session"] = source.session;
      entry["neuron"] = source.neuron;
      entry["reference"] = reference_json(p.outputs[0], reference.ids);
      entry["fidelity"] = fidelity_json(p.outputs[0]);
    } else {
      json refs = json::array(), fids = json::array();
      for (const auto& r : p.outputs) {
        refs.push_back(reference_json(r, reference.ids));
        fids.push_back(fidelity_json(r));
      }
      entry["reference"] = refs;
      entry["fidelity"] = fids;
    }
    json cache = {{"packFormat", kPackFormatVersion}, {"percentile", percentile}, {"evalStep", eval_step}, {"entry", entry}};
    CL_RETURN_IF_ERROR(write_text(cache_dir + "/" + source.id + ".json", cache.dump()));
    auto gz = gzip_size(p.int8.bytes);
    if (!gz) return gz.status();
    entries[i] = {entry, p.int8.bytes.size(), p.float32.bytes.size(), gz.value(), p.outputs};
    std::fprintf(stderr, "  %s: int8 %zu bytes, float %zu bytes, r(int8, float) %.5f\n", source.id.c_str(),
                 p.int8.bytes.size(), p.float32.bytes.size(), p.outputs[0].int8_vs_float_r);
    return Status::ok();
  });
  if (!status) return std::fprintf(stderr, "cortexlens: %s\n", status.message().c_str()), 1;

  // The demo model ships with the repository and needs no data.
  json models_json = json::array();
  {
    auto demo_bytes = read_file_bytes(CORTEXLENS_DEMO_MODEL);
    if (!demo_bytes) return std::fprintf(stderr, "cortexlens: demo model: %s\n", demo_bytes.message().c_str()), 1;
    auto demo = read_model_file(demo_bytes.value().data(), demo_bytes.value().size());
    if (!demo) return std::fprintf(stderr, "cortexlens: demo model: %s\n", demo.message().c_str()), 1;
    const std::string demo_name = "demo_dot_detector.int8.clm", demo_float_name = "demo_dot_detector.f32.clm";
    auto written = write_file_bytes(out_dir + "/" + demo_name, demo_bytes.value());
    if (!written) return std::fprintf(stderr, "cortexlens: %s\n", written.message().c_str()), 1;
    // The float file is converted from the committed .keras (the weights the int8 file was quantized from).
    auto demo_keras = load_model_file(CORTEXLENS_DEMO_KERAS);
    if (!demo_keras) return std::fprintf(stderr, "cortexlens: demo model: %s\n", demo_keras.message().c_str()), 1;
    ConvertOptions float_options;
    float_options.precision = Precision::float32;
    float_options.source = "Cortex Lens demo: weights constructed by models/demo_model.cpp (no training, no data)";
    auto demo_float = convert_model(demo_keras.value(), float_options, {});
    if (!demo_float) return std::fprintf(stderr, "cortexlens: demo model: %s\n", demo_float.message().c_str()), 1;
    written = write_file_bytes(out_dir + "/" + demo_float_name, demo_float.value().bytes);
    if (!written) return std::fprintf(stderr, "cortexlens: %s\n", written.message().c_str()), 1;
    const Model& m = demo.value().model;
    models_json.push_back({{"id", "demo"},
                           {"name", m.name},
                           {"kind", "demo"},
                           {"filters", filters_of(m)},
                           {"params", m.source_params()},
                           {"multiplyAdds", m.multiply_adds()},
                           {"files", {{"int8", demo_name}, {"float", demo_float_name}}},
                           {"bytes", {{"int8", demo_bytes.value().size()}, {"float", demo_float.value().bytes.size()}}},
                           {"outputs", m.output_names},
                           {"reference", nullptr},
                           {"fidelity", nullptr}});
  }
  for (const auto& e : entries) models_json.push_back(e.manifest);
  json manifest = {
      {"format", "cortexlens-manifest"},
      {"version", 1},
      {"citation", kPaperCitation},
      {"source", kPaperSource},
      {"referenceImages",
       {{"description", "images 1-600, every 6th, of test sessions " + std::string("190923, 201025 and 210225") +
                            " (the half the authors fitted on; 601-1200 are kept for evaluation)"},
        {"count", models.empty() ? 0 : 300}}},
      {"calibration", {{"percentile", percentile}, {"images", "the reference images"}}},
      {"models", models_json}};
  auto written = write_text(out_dir + "/manifest.json", manifest.dump(1));
  if (!written) return std::fprintf(stderr, "cortexlens: %s\n", written.message().c_str()), 1;

  // Fidelity over every packed model, from the manifest entries (fresh and cached alike).
  auto print_fidelity = [](const char* label, const std::vector<json>& fidelity) {
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
    std::printf("%s: %zu outputs; r(int8, float) median %.5f, min %.5f; %zu with recorded images: median "
                "r(float, recorded) %.4f, r(int8, recorded) %.4f, difference %+.4f\n",
                label, q_vs_f.size(), median_of(q_vs_f), min_r, f_rec.size(), mf, mq, mq - mf);
  };
  std::vector<json> neuron_fidelity;
  for (std::size_t i = 0; i < models.size(); ++i) {
    const json& fidelity = entries[i].manifest["fidelity"];
    if (models[i].kind == "neuron") {
      neuron_fidelity.push_back(fidelity);
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
    std::printf("per-neuron int8 files: %zu, total %zu bytes (%.3f MB), median %.0f bytes per file, gzip total %zu "
                "bytes (%.3f MB); float files total %zu bytes (%.3f MB)\n",
                neurons, int8_total, int8_total / 1e6, median_of(per_file), gzip_total, gzip_total / 1e6, float_total,
                float_total / 1e6);
  return 0;
}

}  // namespace cortexlens::cli
