#include "model_pack.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>

#include "cortexlens/image.hpp"
#include "cortexlens/int8_forward_plan.hpp"
#include "cortexlens/model_runner.hpp"
#include "thread_pool.hpp"
#include "v4_data.hpp"

namespace cortexlens {

std::string configured_data_dir() {
  const char* env = std::getenv("CORTEXLENS_DATA_DIR");
  return env && *env ? env : CORTEXLENS_DEFAULT_DATA_DIR;
}

Result<std::vector<Tensor>> load_session_inputs(const std::string& data_dir, const std::string& session, int first,
                                                int last) {
  auto images = SessionImages::open(data_dir, session);
  if (!images) return images.status();
  std::vector<Tensor> inputs;
  for (int number = first; number <= last; ++number) {
    auto bytes = images.value().image_bytes(number);
    if (!bytes) return bytes.status();
    auto input = image_to_input(bytes.value().data(), bytes.value().size());
    if (!input) return input.status().with_context("image " + std::to_string(number) + " of session " + session + ": ");
    inputs.push_back(std::move(input).value());
  }
  return inputs;
}

Result<ReferenceImages> load_reference_images(const std::string& data_dir, int step) {
  ReferenceImages reference;
  for (const auto& session : kImageSessions) {
    auto images = SessionImages::open(data_dir, session);
    if (!images) return images.status();
    for (int number = 1; number <= 600; number += step) {
      auto bytes = images.value().image_bytes(number);
      if (!bytes) return bytes.status();
      auto input = image_to_input(bytes.value().data(), bytes.value().size());
      if (!input)
        return input.status().with_context("image " + std::to_string(number) + " of session " + session + ": ");
      char id[32];
      std::snprintf(id, sizeof id, "%s/%04d", session.c_str(), number);
      reference.ids.push_back(id);
      reference.inputs.push_back(std::move(input).value());
    }
  }
  return reference;
}

bool parse_percentile(const std::string& text, double& percentile) {
  if (text == "mse") {
    percentile = 0.0;
    return true;
  }
  char* end = nullptr;
  percentile = std::strtod(text.c_str(), &end);
  return !text.empty() && *end == 0 && percentile > 50.0 && percentile <= 100.0;
}

bool is_published_model_name(const std::string& name) {
  return name.rfind("compact_model_", 0) == 0 || name.rfind("shared_compact_model_", 0) == 0;
}

std::string model_source_text(const std::string& path) {
  const std::string file = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  std::string name = file;
  const auto dot = name.find('.');
  if (dot != std::string::npos) name = name.substr(0, dot);
  if (!is_published_model_name(name)) return file;
  const bool shared = name.rfind("shared_", 0) == 0;
  return std::string(kPaperSource) + ": " +
         (shared ? "shared_compact_models/from_ensemble_model/" : "compact_models/") + file;
}

namespace {
// The first pass of quantize_calibrated: per-channel histograms of the float model, tail-only when the percentile
// lies in the tail (quantize_calibrated checks, and bins in full again if the tail missed it).
CalibrationHistograms channel_calibration(double percentile) {
  const double channel_percentile = percentile > 0.0 ? percentile : kDefaultCalibrationPercentile;
  return {/*per_layer=*/false, /*per_channel=*/true, /*reference_binning=*/false, tail_only_suits(channel_percentile)};
}
}  // namespace

Result<ConvertedModel> convert_model(const Model& float_model, const ConvertOptions& options,
                                     const std::vector<Tensor>& calibration) {
  ConvertedModel converted;
  converted.model = float_model;
  for (auto& layer : converted.model.layers) layer.int8.reset();
  if (options.precision == Precision::int8 && options.quantized) {
    converted.model = *options.quantized;
  } else if (options.precision == Precision::int8) {
    if (calibration.empty())
      return Status::error("int8 conversion of '" + float_model.name +
                           "' needs calibration images (the published data folder, --data DIR)");
    ActivationCalibrator calibrator(float_model, channel_calibration(options.percentile));
    for (const Tensor& input : calibration) CL_RETURN_IF_ERROR(calibrator.add(input));
    auto quantized = quantize_calibrated(float_model, calibrator, calibration, options.percentile);
    if (!quantized) return quantized.status();
    converted.model = std::move(quantized).value();
  }
  ModelFileMetadata metadata;
  metadata.source = options.source;
  metadata.citation = is_published_model_name(float_model.name) ? kPaperCitationShort : "";
  metadata.channel_means.assign(std::begin(kChannelMeans), std::end(kChannelMeans));
  if (float_model.input.c != 3) metadata.channel_means.assign(static_cast<std::size_t>(float_model.input.c), 0.0f);
  auto vector = make_test_vector(float_model, converted.model, metadata.channel_means);
  if (!vector) return vector.status();
  auto bytes = write_model_file(converted.model, metadata, vector.value());
  if (!bytes) return bytes.status();
  auto check = read_model_file(bytes.value().data(), bytes.value().size());
  if (!check) return check.status().with_context("reading back the converted file: ");
  converted.bytes = std::move(bytes).value();
  return converted;
}

Status write_file_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  // Written beside the target and renamed, so an interrupted run never leaves a half-written model behind.
  const std::string temporary = path + ".partial";
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    if (!file) return Status::error("cannot write '" + temporary + "'");
    file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!file) return Status::error("writing '" + temporary + "' failed");
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) return Status::error("cannot rename to '" + path + "'");
  return Status::ok();
}

}  // namespace cortexlens

namespace cortexlens {

Result<EvaluationData> load_evaluation_data(const std::string& data_dir, int step) {
  EvaluationData data;
  for (const auto& session : kImageSessions) {
    EvaluationSession entry;
    entry.session = session;
    auto images = SessionImages::open(data_dir, session);
    if (!images) return images.status();
    for (int number = EvaluationData::first_image; number <= EvaluationData::last_image; number += std::max(1, step)) {
      auto bytes = images.value().image_bytes(number);
      if (!bytes) return bytes.status();
      auto input = image_to_input(bytes.value().data(), bytes.value().size());
      if (!input)
        return input.status().with_context("image " + std::to_string(number) + " of session " + session + ": ");
      entry.images.push_back(number);
      entry.inputs.push_back(std::move(input).value());
    }
    auto responses = read_session_responses(data_dir, session);
    if (!responses) return responses.status();
    entry.responses = std::move(responses).value();
    if (entry.responses.images < EvaluationData::last_image)
      return Status::error("session " + session + " has responses to " + std::to_string(entry.responses.images) +
                           " images, expected " + std::to_string(EvaluationData::last_image));
    for (std::size_t i = 0; i < entry.inputs.size(); i += 3) data.mixed_inputs.push_back(entry.inputs[i]);
    data.sessions.push_back(std::move(entry));
  }
  return data;
}

namespace {

// "2nd", "3rd", "11th", "21st".
std::string ordinal(int n) {
  const int tens = n % 100, ones = n % 10;
  const char* suffix = tens >= 11 && tens <= 13 ? "th" : ones == 1 ? "st" : ones == 2 ? "nd" : ones == 3 ? "rd" : "th";
  return std::to_string(n) + suffix;
}

std::vector<double> as_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

// Linear interpolation between order statistics (NumPy's default percentile).

// outputs (images, outputs) of a model on a set of inputs.
Result<std::vector<std::vector<float>>> run_all(const Model& model, const std::vector<Tensor>& inputs,
                                                Precision precision) {
  std::vector<std::vector<float>> out;
  out.reserve(inputs.size());
  // One plan for all the inputs: forward() and forward_int8() would pack the weights and allocate the buffers
  // again for every image.
  auto runner = ModelRunner::create(model, precision);
  if (!runner) return runner.status();
  for (const Tensor& input : inputs) {
    std::vector<float> outputs(runner.value()->output_size());
    CL_RETURN_IF_ERROR(runner.value()->run(input, outputs.data()));
    out.push_back(std::move(outputs));
  }
  return out;
}

std::vector<float> column(const std::vector<std::vector<float>>& rows, std::size_t o) {
  std::vector<float> c;
  c.reserve(rows.size());
  for (const auto& row : rows) c.push_back(row[o]);
  return c;
}

// The reference distribution of each output: its float responses to the reference images (one row per image,
// as the calibration pass recorded them) as percentiles, and the images at both ends.
std::vector<OutputReport> reference_distributions(const Model& float_model,
                                                  const std::vector<std::vector<float>>& reference_out) {
  std::vector<OutputReport> reports(float_model.output_count());
  for (std::size_t o = 0; o < reports.size(); ++o) {
    OutputReport& report = reports[o];
    report.name = float_model.output_names[o];
    const std::vector<float> responses = column(reference_out, o);
    report.quantiles = percentiles_0_to_100(responses);
    std::vector<std::size_t> order(responses.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return responses[a] > responses[b]; });
    for (std::size_t k = 0; k < std::min<std::size_t>(10, order.size()); ++k) {
      report.top.push_back({order[k], responses[order[k]]});
      report.bottom.push_back({order[order.size() - 1 - k], responses[order[order.size() - 1 - k]]});
    }
  }
  return reports;
}

// Fidelity of each output: int8 vs float, and both vs the recorded responses, on the held-out images of its own
// session when they exist, else int8 vs float only on the mixed images.
Status measure_fidelity(const Model& float_model, const Model& int8_model, const EvaluationData& evaluation,
                        std::vector<OutputReport>& reports) {
  const std::size_t outputs = reports.size();
  std::vector<const EvaluationSession*> own(outputs, nullptr);
  std::vector<int> neuron(outputs, -1);
  bool needs_mixed = false;
  for (std::size_t o = 0; o < outputs; ++o) {
    std::string session;
    int n = 0;
    if (parse_neuron_name(float_model.output_names[o], session, n))
      for (const auto& s : evaluation.sessions)
        if (s.session == session && n < s.responses.neurons) {
          own[o] = &s;
          neuron[o] = n;
        }
    needs_mixed = needs_mixed || !own[o];
  }
  for (const auto& s : evaluation.sessions) {
    bool used = false;
    for (std::size_t o = 0; o < outputs; ++o) used = used || own[o] == &s;
    if (!used) continue;
    auto f = run_all(float_model, s.inputs, Precision::float32);
    if (!f) return f.status();
    auto q = run_all(int8_model, s.inputs, Precision::int8);
    if (!q) return q.status();
    for (std::size_t o = 0; o < outputs; ++o) {
      if (own[o] != &s) continue;
      std::vector<double> recorded;
      for (int image : s.images) recorded.push_back(s.responses.at(neuron[o], image - 1));
      const auto fo = as_double(column(f.value(), o)), qo = as_double(column(q.value(), o));
      OutputReport& report = reports[o];
      report.int8_vs_float_r = pearson_r(qo, fo);
      report.float_vs_recorded_r = pearson_r(fo, recorded);
      report.int8_vs_recorded_r = pearson_r(qo, recorded);
      report.images =
          s.session + " 601-1200" +
          (s.images.size() < 600 ? " (every " + ordinal(s.images[1] - s.images[0]) + " image)" : std::string());
      report.image_count = recorded.size();
    }
  }
  if (needs_mixed) {
    auto f = run_all(float_model, evaluation.mixed_inputs, Precision::float32);
    if (!f) return f.status();
    auto q = run_all(int8_model, evaluation.mixed_inputs, Precision::int8);
    if (!q) return q.status();
    for (std::size_t o = 0; o < outputs; ++o) {
      if (own[o]) continue;
      OutputReport& report = reports[o];
      report.int8_vs_float_r = pearson_r(as_double(column(q.value(), o)), as_double(column(f.value(), o)));
      report.float_vs_recorded_r = report.int8_vs_recorded_r = std::nan("");
      report.images = std::to_string(evaluation.mixed_inputs.size()) +
                      " of images 601-1200 of 190923, 201025, 210225 (no images of its own session)";
      report.image_count = evaluation.mixed_inputs.size();
    }
  }
  return Status::ok();
}

// Float against recorded responses only, on each output's own session (the float-only packs).
Status measure_float_fidelity(const Model& float_model, const EvaluationData& evaluation,
                              std::vector<OutputReport>& reports) {
  const double none = std::nan("");
  for (OutputReport& report : reports) {
    report.int8_vs_float_r = report.int8_vs_recorded_r = report.float_vs_recorded_r = none;
    report.images = "none (no images of its own session)";
    report.image_count = 0;
  }
  for (const auto& s : evaluation.sessions) {
    std::vector<std::pair<std::size_t, int>> own;  // (output, neuron)
    for (std::size_t o = 0; o < reports.size(); ++o) {
      std::string session;
      int n = 0;
      if (parse_neuron_name(float_model.output_names[o], session, n) && session == s.session && n < s.responses.neurons)
        own.push_back({o, n});
    }
    if (own.empty()) continue;
    auto f = run_all(float_model, s.inputs, Precision::float32);
    if (!f) return f.status();
    for (const auto& [o, n] : own) {
      std::vector<double> recorded;
      for (int image : s.images) recorded.push_back(s.responses.at(n, image - 1));
      OutputReport& report = reports[o];
      report.float_vs_recorded_r = pearson_r(as_double(column(f.value(), o)), recorded);
      report.images =
          s.session + " 601-1200" +
          (s.images.size() < 600 ? " (every " + ordinal(s.images[1] - s.images[0]) + " image)" : std::string());
      report.image_count = recorded.size();
    }
  }
  return Status::ok();
}

}  // namespace

Result<PackedModel> pack_model_float_only(const Model& float_model, const std::string& source,
                                          const ReferenceImages& reference, const EvaluationData& evaluation) {
  PackedModel packed;
  ConvertOptions options;
  options.source = source;
  options.precision = Precision::float32;
  auto float_file = convert_model(float_model, options, {});
  if (!float_file) return float_file.status();
  packed.float32 = std::move(float_file).value();
  auto reference_out = run_all(float_model, reference.inputs, Precision::float32);
  if (!reference_out) return reference_out.status();
  packed.outputs = reference_distributions(float_model, reference_out.value());
  CL_RETURN_IF_ERROR(measure_float_fidelity(float_model, evaluation, packed.outputs));
  return packed;
}

Result<PackedModel> pack_model(const Model& float_model, const std::string& source, const ReferenceImages& reference,
                               const EvaluationData& evaluation, double percentile) {
  PackedModel packed;
  ConvertOptions options;
  options.source = source;
  options.percentile = percentile;
  options.precision = Precision::float32;
  auto float_file = convert_model(float_model, options, {});
  if (!float_file) return float_file.status();
  packed.float32 = std::move(float_file).value();
  // One float pass over the reference images both calibrates int8 and gives the response distribution.
  ActivationCalibrator calibrator(float_model, channel_calibration(percentile));
  for (const Tensor& input : reference.inputs) CL_RETURN_IF_ERROR(calibrator.add(input));
  options.precision = Precision::int8;
  auto quantized = quantize_calibrated(float_model, calibrator, reference.inputs, percentile);
  if (!quantized) return quantized.status();
  options.quantized = &quantized.value();
  auto int8_file = convert_model(float_model, options, {});
  if (!int8_file) return int8_file.status();
  packed.int8 = std::move(int8_file).value();
  packed.outputs = reference_distributions(float_model, calibrator.outputs());
  CL_RETURN_IF_ERROR(measure_fidelity(float_model, packed.int8.model, evaluation, packed.outputs));
  return packed;
}

}  // namespace cortexlens

#include <dirent.h>

namespace cortexlens {

std::vector<PublishedModel> list_published_models(const std::string& data_dir, bool shared_100_only) {
  std::vector<PublishedModel> models;
  const std::string compact = data_dir + "/compact_models";
  if (DIR* dir = opendir(compact.c_str())) {
    while (dirent* entry = readdir(dir)) {
      char session[16] = {};
      int neuron = -1;
      char end = 0;
      const std::string name = entry->d_name;
      if (std::sscanf(name.c_str(), "compact_model_%15[0-9]_neuron%d.kera%c", session, &neuron, &end) == 3 &&
          end == 's' && name.size() > 6 && name.compare(name.size() - 6, 6, ".keras") == 0)
        models.push_back(
            {compact + "/" + name, std::string(session) + "_n" + std::to_string(neuron), "neuron", session, neuron});
    }
    closedir(dir);
  }
  std::sort(models.begin(), models.end(), [](const PublishedModel& a, const PublishedModel& b) {
    return a.session != b.session ? a.session < b.session : a.neuron < b.neuron;
  });
  const std::string shared_dir = data_dir + "/shared_compact_models/from_ensemble_model";
  std::vector<PublishedModel> shared;
  if (DIR* dir = opendir(shared_dir.c_str())) {
    while (dirent* entry = readdir(dir)) {
      int filters = 0;
      char end = 0;
      const std::string name = entry->d_name;
      if (std::sscanf(name.c_str(), "shared_compact_model_%dfilters.kera%c", &filters, &end) == 2 && end == 's' &&
          (!shared_100_only || filters == 100))
        shared.push_back({shared_dir + "/" + name, "shared_" + std::to_string(filters),
                          filters == 100 ? "shared" : "shared-size", "", filters});
    }
    closedir(dir);
  }
  std::sort(shared.begin(), shared.end(), [](const auto& a, const auto& b) { return a.neuron < b.neuron; });
  for (auto& s : shared) {
    s.neuron = -1;
    models.push_back(std::move(s));
  }
  return models;
}

Status run_parallel(std::size_t count, int threads, const std::function<Status(std::size_t)>& job) {
  return parallel_for(count, threads, [&job](int, std::size_t i) { return job(i); });
}

std::vector<float> percentiles_0_to_100(std::vector<float> values) {
  std::sort(values.begin(), values.end());
  std::vector<float> q(101);
  const double last = static_cast<double>(values.size() - 1);
  for (int p = 0; p <= 100; ++p) {
    const double position = last * p / 100.0;
    const std::size_t below = static_cast<std::size_t>(position);
    const std::size_t above = std::min(below + 1, values.size() - 1);
    const double t = position - static_cast<double>(below);
    q[static_cast<std::size_t>(p)] = static_cast<float>(values[below] * (1.0 - t) + values[above] * t);
  }
  return q;
}

double median_of(std::vector<double> values) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return std::isnan(v); }), values.end());
  if (values.empty()) return std::nan("");
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

}  // namespace cortexlens
