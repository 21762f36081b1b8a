// `cortexlens fidelity [--data DIR] [--threads N] [--percentile P] [--limit N] [--only ID,...]`: how faithful the int8
// models are. For every published per-neuron model (and the 100-filter shared model): Pearson r between int8 and float
// predictions, and each one's r with the recorded responses, on the held-out images 601-1200.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "commands.hpp"
#include "model_pack.hpp"
#include "model_source.hpp"
#include "thread_pool.hpp"

namespace cortexlens::cli {

namespace {

constexpr const char* kFidelityUsage =
    "usage: cortexlens fidelity [--data DIR] [--threads N] [--percentile P] [--limit N] [--only ID,...]\n"
    "  Converts every published model to int8 (calibrated on images 1-600, every 6th, of the test sessions) and\n"
    "  prints per output: r(int8, float), r(float, recorded), r(int8, recorded) on images 601-1200 of its own\n"
    "  session, then medians. --limit N takes only the first N per-neuron models and no shared model\n"
    "  (quick checks); --only takes the listed models (e.g. 211022_n40,shared_100). --threads N: models run in\n"
    "  parallel (default: the number of cores); the output is the same for any N.\n";

struct Summary {
  std::vector<double> int8_vs_float, float_rec, int8_rec;
  void add(const OutputReport& r) {
    int8_vs_float.push_back(r.int8_vs_float_r);
    float_rec.push_back(r.float_vs_recorded_r);
    int8_rec.push_back(r.int8_vs_recorded_r);
  }
  void print(const char* label) const {
    double min_r = 1.0;
    for (double r : int8_vs_float) min_r = std::min(min_r, r);
    std::size_t recorded = 0;
    for (double r : float_rec) recorded += std::isnan(r) ? 0 : 1;
    const double f = median_of(float_rec), q = median_of(int8_rec);
    std::printf(
        "# %s: %zu outputs; r(int8, float) median %.5f, min %.5f; %zu with recorded images: median "
        "r(float, recorded) %.4f, r(int8, recorded) %.4f, difference %+.4f\n",
        label, int8_vs_float.size(), median_of(int8_vs_float), min_r, recorded, f, q, q - f);
  }
};

}  // namespace

// Long by design: the fidelity report in the order it prints; its parts share the loaded images and responses.
Outcome run_fidelity(const Args& args) {
  std::string data_dir = configured_data_dir();
  int threads = default_thread_count();
  double percentile = kDefaultCalibrationPercentile;
  std::size_t limit = SIZE_MAX;
  std::vector<std::string> only;
  ArgParser parser("fidelity", kFidelityUsage);
  parser.text("--data", "DIR", data_dir)
      .integer("--threads", "N", 1, 1024, threads)
      .custom("--percentile", "P", "a number in (50, 100] or mse",
              [&percentile](const std::string& text) { return parse_percentile(text, percentile); })
      .integer("--limit", "N", 1, LLONG_MAX, limit)
      .list("--only", "ID,...", only);
  if (Outcome parsed = parser.parse(args); !parsed.is_ok()) return parsed;
  std::vector<PublishedModel> models = list_published_models(data_dir);
  if (models.empty())
    return Status::error("no published models under '" + data_dir + "' (set --data or CORTEXLENS_DATA_DIR)");
  if (limit != SIZE_MAX) {
    std::vector<PublishedModel> kept;
    std::size_t neurons = 0;
    for (auto& m : models)
      if (m.kind == "neuron" && neurons++ < limit) kept.push_back(std::move(m));
    models = std::move(kept);
  }
  if (!only.empty()) {
    std::vector<PublishedModel> kept;
    for (const auto& id : only) {
      const auto found =
          std::find_if(models.begin(), models.end(), [&](const PublishedModel& m) { return m.id == id; });
      if (found == models.end())
        return parser.usage_error("no published model '" + id + "' under '" + data_dir +
                                  "' (ids look like 190923_n0 or shared_100)");
      kept.push_back(*found);
    }
    models = std::move(kept);
  }
  auto reference = load_reference_images(data_dir);
  if (!reference) return reference.status();
  auto evaluation = load_evaluation_data(data_dir);
  if (!evaluation) return evaluation.status();

  std::vector<std::vector<OutputReport>> reports(models.size());
  std::mutex hdf5_mutex;  // Debian's libhdf5 is not built thread-safe
  std::mutex print_mutex;
  std::vector<bool> done(models.size(), false);  // guarded by print_mutex, as is next_to_print
  std::size_t next_to_print = 0;
  std::printf("model,output,r_int8_float,r_float_recorded,r_int8_recorded,images\n");
  auto status = run_parallel(models.size(), threads, [&](std::size_t i) -> Status {
    Result<Model> model = Status::error("not loaded");
    {
      std::lock_guard<std::mutex> lock(hdf5_mutex);
      model = load_model_file(models[i].path);
    }
    if (!model) return model.status();
    auto packed =
        pack_model(model.value(), model_source_text(models[i].path), reference.value(), evaluation.value(), percentile);
    if (!packed) return packed.status().with_context("'" + models[i].path + "': ");
    // Rows are printed in model order as soon as every earlier model is done, so the table is the same for
    // any number of threads.
    std::lock_guard<std::mutex> lock(print_mutex);
    reports[i] = std::move(packed.value().outputs);
    done[i] = true;
    for (; next_to_print < models.size() && done[next_to_print]; ++next_to_print)
      for (const auto& r : reports[next_to_print])
        std::printf("%s,%s,%.6f,%.6f,%.6f,%s\n", models[next_to_print].id.c_str(), r.name.c_str(), r.int8_vs_float_r,
                    r.float_vs_recorded_r, r.int8_vs_recorded_r, r.images.c_str());
    std::fflush(stdout);
    return Status::ok();
  });
  if (!status) return status;
  Summary neurons;
  std::vector<std::pair<std::string, Summary>> shared;
  for (std::size_t i = 0; i < models.size(); ++i) {
    if (models[i].kind == "neuron") {
      for (const auto& r : reports[i]) neurons.add(r);
    } else {
      shared.emplace_back(models[i].id, Summary());
      for (const auto& r : reports[i]) shared.back().second.add(r);
    }
  }
  const std::string method =
      percentile > 0 ? "percentile " + std::to_string(percentile) + " of |x|" : std::string("min-MSE clipping");
  std::printf("# int8 activation scales: %s over %zu reference images (1-600, every 6th)\n", method.c_str(),
              reference.value().inputs.size());
  neurons.print("per-neuron models");
  for (const auto& [id, summary] : shared) summary.print(("shared model " + id).c_str());
  return Status::ok();
}

}  // namespace cortexlens::cli
