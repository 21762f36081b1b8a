#include "screen.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "cortexlens/image.hpp"
#include "cortexlens/model_runner.hpp"
#include "model_pack.hpp"
#include "model_source.hpp"
#include "screen_state.hpp"
#include "thread_pool.hpp"

namespace cortexlens {

namespace {

namespace fs = std::filesystem;

// "neuron2" before "neuron10": digit runs compare as numbers, the rest as text.
bool natural_less(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const bool digit_a = std::isdigit(static_cast<unsigned char>(a[i])),
               digit_b = std::isdigit(static_cast<unsigned char>(b[j]));
    if (digit_a && digit_b) {
      std::size_t end_a = i, end_b = j;
      while (end_a < a.size() && std::isdigit(static_cast<unsigned char>(a[end_a]))) ++end_a;
      while (end_b < b.size() && std::isdigit(static_cast<unsigned char>(b[end_b]))) ++end_b;
      std::string run_a = a.substr(i, end_a - i), run_b = b.substr(j, end_b - j);
      run_a.erase(0, std::min(run_a.find_first_not_of('0'), run_a.size()));
      run_b.erase(0, std::min(run_b.find_first_not_of('0'), run_b.size()));
      if (run_a.size() != run_b.size()) return run_a.size() < run_b.size();
      if (run_a != run_b) return run_a < run_b;
      i = end_a;
      j = end_b;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j || (a.size() - i == b.size() - j && a < b);
}

bool is_model_file_name(const std::string& name) {
  auto ends = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends(".keras") || ends(".clm");
}

// What decides the responses, so a checkpoint of another run is never resumed from.
Result<std::uint64_t> run_fingerprint(const std::vector<ImageEntry>& images, const std::vector<ScreenModel>& models) {
  Fingerprint fingerprint;
  fingerprint.add(std::string("cortexlens screen 1"));
  fingerprint.add(static_cast<std::uint64_t>(images.size()));
  for (const auto& image : images) {
    fingerprint.add(image.name);
    fingerprint.add(image.size);
  }
  fingerprint.add(static_cast<std::uint64_t>(models.size()));
  for (const auto& model : models) {
    fingerprint.add(std::string(precision_name(model.precision)));
    auto bytes = read_file_bytes(model.path);  // the file's content: a model replaced under the same name differs
    if (!bytes) return bytes.status();
    fingerprint.add(static_cast<std::uint64_t>(bytes.value().size()));
    fingerprint.add(bytes.value().data(), bytes.value().size());
  }
  return fingerprint.value();
}

struct WorkerSlot {
  std::size_t model = std::numeric_limits<std::size_t>::max();
  std::unique_ptr<ModelRunner> runner;
};

// Calls observer.finished() on every way out of screen_images.
struct FinishGuard {
  ScreenObserver& observer;
  bool armed = false;
  ~FinishGuard() {
    if (armed) observer.finished();
  }
};

}  // namespace

Result<std::vector<std::string>> list_model_paths(const std::vector<std::string>& arguments) {
  std::vector<std::string> paths;
  for (const std::string& argument : arguments) {
    std::error_code error;
    if (fs::is_directory(argument, error)) {
      std::vector<std::string> found;
      for (fs::directory_iterator it(argument, error), end; !error && it != end; it.increment(error))
        if (it->is_regular_file(error) && is_model_file_name(it->path().filename().string()))
          found.push_back(it->path().generic_string());
      if (error) return Status::error("cannot list model folder '" + argument + "': " + error.message());
      if (found.empty()) return Status::error("model folder '" + argument + "' holds no .keras or .clm files");
      std::sort(found.begin(), found.end(), natural_less);
      paths.insert(paths.end(), found.begin(), found.end());
    } else if (fs::exists(argument, error)) {
      paths.push_back(argument);
    } else {
      return Status::error("'" + argument + "': no such model file or folder");
    }
  }
  return paths;
}

Result<std::vector<ScreenModel>> load_screen_models(const std::vector<std::string>& arguments,
                                                    std::optional<Precision> precision) {
  auto model_paths = list_model_paths(arguments);
  if (!model_paths) return model_paths.status();
  std::vector<ScreenModel> models;
  std::size_t columns = 0;
  for (const std::string& path : model_paths.value()) {
    auto loaded = load_model_file(path);
    if (!loaded) return loaded.status();
    ScreenModel entry;
    entry.path = path;
    entry.model = std::move(loaded).value();
    const Shape3 fed{kModelInputSide, kModelInputSide, 3};
    if (entry.model.input != fed)
      return Status::error("'" + path + "' takes (" + std::to_string(entry.model.input.h) + ", " +
                           std::to_string(entry.model.input.w) + ", " + std::to_string(entry.model.input.c) +
                           ") inputs, expected (112, 112, 3): screen feeds 112x112 RGB images");
    entry.precision = precision.value_or(is_int8_model(entry.model) ? Precision::int8 : Precision::float32);
    if (entry.precision == Precision::int8 && !is_int8_model(entry.model))
      return Status::error("'" + path + "' has float weights, expected an int8 .clm file for --precision int8 " +
                           "(convert it with `cortexlens convert`, or screen with --precision float)");
    entry.first_column = columns;
    columns += entry.model.output_count();
    models.push_back(std::move(entry));
  }
  return models;
}

std::size_t screen_columns(const std::vector<ScreenModel>& models) {
  return models.empty() ? 0 : models.back().first_column + models.back().model.output_count();
}

// Long by design: the checkpoint, the chunk loop (read, decode, run, checkpoint), in the order they happen; the
// loop's parts share the response table and the progress counters.
Result<ScreenRun> screen_images(ImageCollection& collection, const std::vector<ScreenModel>& models,
                                const ScreenOptions& options, ScreenObserver& observer) {
  const std::vector<ImageEntry>& all = collection.entries();
  if (options.first > all.size())
    return Status::error("first image " + std::to_string(options.first) + " is beyond the " +
                         std::to_string(all.size()) + " images");
  if (options.chunk == 0 || options.threads < 1)
    return Status::error("chunk and threads must be at least 1, found chunk " + std::to_string(options.chunk) +
                         " and threads " + std::to_string(options.threads));
  const std::size_t offset = options.first;
  const std::size_t total = std::min(options.count, all.size() - offset);
  const std::size_t chunk = options.chunk;
  const int threads = options.threads;
  ScreenRun run;
  run.images.assign(all.begin() + static_cast<std::ptrdiff_t>(offset),
                    all.begin() + static_cast<std::ptrdiff_t>(offset + total));
  const std::vector<ImageEntry>& entries = run.images;
  const std::size_t columns = screen_columns(models);
  run.columns = columns;

  // The checkpoint: resumed from with `resume`, never silently overwritten without it.
  ScreenState state;
  const std::string& state_path = options.checkpoint;
  auto fingerprint = run_fingerprint(entries, models);
  if (!fingerprint) return fingerprint.status();
  state.fingerprint = fingerprint.value();
  state.images = total;
  state.columns = columns;
  std::error_code exists_error;
  if (!state_path.empty() && fs::exists(state_path, exists_error)) {
    auto bytes = read_file_bytes(state_path, std::numeric_limits<std::uint64_t>::max());
    if (!bytes) return bytes.status();
    auto stored = decode_screen_state(bytes.value());
    if (!stored) return stored.status().with_context("checkpoint '" + state_path + "': ");
    if (!options.resume)
      return Status::error("'" + state_path + "' holds an unfinished run (" + std::to_string(stored.value().done) +
                           " of " + std::to_string(stored.value().images) +
                           " images done): pass --resume to continue it, or delete it to start over");
    if (stored.value().fingerprint != state.fingerprint || stored.value().images != total ||
        stored.value().columns != columns)
      return Status::error("checkpoint '" + state_path + "' is of another run (other images, models or precision), " +
                           "expected one of these " + std::to_string(total) + " images and " +
                           std::to_string(models.size()) + " models: resume with the arguments that started it, or " +
                           "delete it to start over");
    state = std::move(stored).value();
  } else if (options.resume) {
    observer.note("cortexlens screen: no checkpoint '" + state_path + "', starting from the first image");
  }

  // (images, columns) responses; NaN where an image has none.
  std::vector<float>& responses = run.responses;
  responses.assign(total * columns, std::numeric_limits<float>::quiet_NaN());
  std::copy(state.responses.begin(), state.responses.end(), responses.begin());
  std::vector<ImageFailure>& failures = run.failures;
  failures = state.failures;
  const std::size_t resumed_from = static_cast<std::size_t>(state.done);
  run.resumed_from = resumed_from;

  std::atomic<std::size_t> chunk_start{resumed_from}, chunk_size{0}, items_total{1}, items_finished{0};
  FinishGuard finish{observer};
  observer.started(total, resumed_from, [&] {
    return static_cast<double>(chunk_start.load()) +
           static_cast<double>(chunk_size.load()) * static_cast<double>(items_finished.load()) /
               static_cast<double>(std::max<std::size_t>(1, items_total.load()));
  });
  finish.armed = true;
  std::vector<WorkerSlot> slots(static_cast<std::size_t>(threads));
  std::size_t chunks_run = 0;
  for (std::size_t start = resumed_from; start < total; start += chunk) {
    const std::size_t n = std::min(chunk, total - start);
    items_finished = 0;
    chunk_size = n;
    chunk_start = start;

    // Read in image order (one reader at a time: a tar is a stream), decode on every core.
    std::vector<std::optional<Tensor>> inputs(n);
    std::vector<std::string> problems(n);
    std::mutex read_mutex;
    std::condition_variable read_turn;
    std::size_t next_read = 0;
    CL_RETURN_IF_ERROR(parallel_for(n, threads, [&](int, std::size_t i) -> Status {
      Result<std::vector<std::uint8_t>> bytes = Status::error("not read");
      {
        std::unique_lock<std::mutex> lock(read_mutex);
        read_turn.wait(lock, [&] { return next_read == i; });
        bytes = collection.read(offset + start + i, ImageLimits::max_file_bytes);
        ++next_read;
      }
      read_turn.notify_all();
      if (!bytes) {
        problems[i] = bytes.message();
        return Status::ok();
      }
      auto input = image_to_input(bytes.value().data(), bytes.value().size());
      if (input)
        inputs[i] = std::move(input).value();
      else
        problems[i] = input.message();
      return Status::ok();
    }));
    for (std::size_t i = 0; i < n; ++i)
      if (!inputs[i]) {
        failures.push_back({start + i, problems[i]});
        observer.note("cortexlens screen: skipped '" + entries[start + i].name + "': " + problems[i]);
      }

    // Every model over the chunk. A model's images are split into slices when there are too few models to keep
    // every thread busy; each worker keeps the runner of the model it ran last.
    const std::size_t slices = std::min(
        n, std::max<std::size_t>(1, (4 * static_cast<std::size_t>(threads) + models.size() - 1) / models.size()));
    const std::size_t slice_length = (n + slices - 1) / slices;
    items_total = models.size() * slices;
    CL_RETURN_IF_ERROR(parallel_for(models.size() * slices, threads, [&](int worker, std::size_t item) -> Status {
      const std::size_t m = item / slices;
      const std::size_t first = item % slices * slice_length, last = std::min(n, first + slice_length);
      WorkerSlot& slot = slots[static_cast<std::size_t>(worker)];
      if (slot.model != m) {
        slot.runner.reset();
        auto runner = ModelRunner::create(models[m].model, models[m].precision);
        if (!runner) return runner.status().with_context("'" + models[m].path + "': ");
        slot.runner = std::move(runner).value();
        slot.model = m;
      }
      for (std::size_t i = first; i < last; ++i) {
        if (!inputs[i]) continue;
        float* row = responses.data() + (start + i) * columns + models[m].first_column;
        CL_RETURN_IF_ERROR(slot.runner->run(*inputs[i], row)
                               .with_context("'" + models[m].path + "' on '" + entries[start + i].name + "': "));
      }
      ++items_finished;
      return Status::ok();
    }));
    chunk_start = start + n;
    chunk_size = 0;

    if (!state_path.empty()) {
      state.done = start + n;
      state.failures = failures;
      state.responses.assign(responses.begin(), responses.begin() + static_cast<std::ptrdiff_t>((start + n) * columns));
      CL_RETURN_IF_ERROR(write_file_bytes(state_path, encode_screen_state(state)));
    }
    if (options.stop_after && ++chunks_run == options.stop_after && start + n < total)
      return Status::error("stopped after " + std::to_string(options.stop_after) + " chunks as --stop-after asked (" +
                           std::to_string(start + n) + " of " + std::to_string(total) +
                           " images done); continue with --resume");
    if (!observer.chunk_done(start + n, total) && start + n < total)
      return Status::error("stopped after " + std::to_string(start + n) + " of " + std::to_string(total) + " images" +
                           (state_path.empty() ? std::string() : "; continue with resume"));
  }
  return run;
}

ScreenReport screen_report(const ScreenRun& run, const std::vector<ScreenModel>& models, std::size_t top_k) {
  ScreenReport report;
  report.top_k = top_k;
  for (const auto& entry : run.images) report.image_names.push_back(entry.name);
  report.failures = run.failures;
  const std::size_t total = run.images.size();
  std::vector<float> column(total);
  for (const auto& model : models) {
    ScreenReport::ModelReport model_report;
    // The file's name, not the model's: a folder may hold the same model as .keras and as .clm.
    model_report.name = fs::path(model.path).filename().string();
    model_report.precision = precision_name(model.precision);
    for (std::size_t o = 0; o < model.model.output_count(); ++o) {
      for (std::size_t i = 0; i < total; ++i) column[i] = run.responses[i * run.columns + model.first_column + o];
      model_report.outputs.push_back({model.model.output_names[o], summarize_output(column, top_k)});
    }
    report.models.push_back(std::move(model_report));
  }
  return report;
}

}  // namespace cortexlens
