// `cortexlens screen IMAGES... --models DIR|MODEL,... [--top K] [--threads N] [--precision float|int8]
// [--out FILE.csv|FILE.json] [--resume] [--chunk N] [--stop-after N]`: every model over every image, on every core,
// reporting per model output its strongest and weakest images and the quantiles of its responses.
//
// Images are the outer loop, in chunks: a chunk is read (one thread: archives are streams), decoded once (every
// core), then every model runs over it (every core: one ModelRunner per worker, reused over a slice of images),
// then the checkpoint is written. Where a response lands depends only on its image and output, never on which
// thread computed it, so the result is the same for any --threads and --chunk, and a resumed run continues
// exactly where the checkpoint left off.
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>

#include "commands.hpp"
#include "cortexlens/image.hpp"
#include "cortexlens/model_runner.hpp"
#include "image_sources.hpp"
#include "model_pack.hpp"
#include "model_source.hpp"
#include "screen_report.hpp"
#include "screen_state.hpp"
#include "thread_pool.hpp"

namespace cortexlens::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kScreenUsage =
    "usage: cortexlens screen IMAGES... --models DIR|MODEL[,...] [--top K] [--threads N] [--precision float|int8]\n"
    "                         [--out FILE.csv|FILE.json] [--resume] [--chunk N] [--stop-after N]\n"
    "  Runs every model over every image (on every core, each image decoded once) and reports per model output\n"
    "  the K strongest and K weakest images, the 0,1,5,25,50,75,95,99,100th percentiles of the responses\n"
    "  (NumPy's linear interpolation) and the counts of images and failures.\n"
    "  IMAGES: image files, folders (recursively: .jpg .jpeg .png .bmp .gif), zip or tar archives (.tar, .tar.gz,\n"
    "          .tgz, .tar.bz2, .tar.xz, .tar.zst). An image that fails to decode is reported once and skipped.\n"
    "  --models: model files (.keras, .clm) or folders of them, separated by commas.\n"
    "  --top K         images per list (default 10)\n"
    "  --threads N     worker threads (default: the number of cores)\n"
    "  --precision P   float or int8 (int8 needs int8 .clm files); default: each model file's own\n"
    "  --out FILE      CSV (model,output,kind,rank_or_percentile,image,response), or JSON for FILE.json;\n"
    "                  default CSV on stdout. With --out, FILE.resume is a checkpoint written after every chunk.\n"
    "  --resume        continue the run FILE.resume holds (same IMAGES, models and precision); the output is\n"
    "                  the same, byte for byte, as a run never stopped\n"
    "  --chunk N       images decoded and checkpointed together (default 256)\n"
    "  --stop-after N  stop after N chunks as an interruption would (for testing --resume)\n";

struct ScreenModel {
  std::string path;
  Model model;
  Precision precision = Precision::float32;
  std::size_t first_column = 0;  // of its outputs in the response table
};

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

std::string duration_text(double seconds) {
  const long long s = static_cast<long long>(std::llround(seconds));
  char text[48];
  if (s >= 3600)
    std::snprintf(text, sizeof text, "%lld h %02lld min", s / 3600, s % 3600 / 60);
  else if (s >= 60)
    std::snprintf(text, sizeof text, "%lld min %02lld s", s / 60, s % 60);
  else
    std::snprintf(text, sizeof text, "%lld s", s);
  return text;
}

// The progress line on stderr: images done of the total, images per second in this process, time left. Redrawn
// in place about once a second on a terminal; elsewhere (a log file) a line every 10 seconds.
class ProgressLine {
 public:
  using Clock = std::chrono::steady_clock;
  ProgressLine(std::size_t total, std::size_t done_before, std::function<double()> done_now)
      : total_(total), done_before_(done_before), done_now_(std::move(done_now)), tty_(isatty(STDERR_FILENO) != 0) {
    thread_ = std::thread([this] { loop(); });
  }
  ~ProgressLine() { stop(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // A message of its own line (a skipped image), printed without tearing the progress line.
  void note(const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::fprintf(stderr, "%s%s\n", tty_ ? "\r\033[K" : "", message.c_str());
    drawn_ = false;
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
    if (tty_ && drawn_) std::fputs("\r\033[K", stderr);
  }

  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    const auto period = std::chrono::seconds(tty_ ? 1 : 10);
    while (!wake_.wait_for(lock, period, [this] { return stopping_; })) draw();
  }
  void draw() {
    const double done = done_now_();
    const double rate = (done - static_cast<double>(done_before_)) / std::max(1e-9, seconds());
    char text[160];
    if (rate > 0)
      std::snprintf(text, sizeof text, "screen: %.0f/%zu images, %.1f images/s, %s left", std::floor(done), total_,
                    rate, duration_text((static_cast<double>(total_) - done) / rate).c_str());
    else
      std::snprintf(text, sizeof text, "screen: %.0f/%zu images, starting", std::floor(done), total_);
    std::fprintf(stderr, tty_ ? "\r\033[K%s" : "%s\n", text);
    std::fflush(stderr);
    drawn_ = true;
  }

  const std::size_t total_, done_before_;
  std::function<double()> done_now_;
  const bool tty_;
  const Clock::time_point start_ = Clock::now();
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false, drawn_ = false;
  std::thread thread_;
};

bool ends_with_json(const std::string& path) {
  std::string lower = path;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.size() >= 5 && lower.compare(lower.size() - 5, 5, ".json") == 0;
}

struct WorkerSlot {
  std::size_t model = std::numeric_limits<std::size_t>::max();
  std::unique_ptr<ModelRunner> runner;
};

}  // namespace

// Long by design: arguments, images, models, the checkpoint, the chunk loop (read, decode, run, checkpoint), the
// report, in the order they happen; the loop's parts share the response table and the progress line.
Outcome run_screen(const Args& args) {
  std::vector<std::string> image_arguments, model_arguments;
  std::size_t top_k = 10, chunk = 256, stop_after = 0;
  int threads = default_thread_count();
  std::optional<Precision> precision;
  std::string out;
  bool resume = false;
  ArgParser parser("screen", kScreenUsage);
  parser.positionals("IMAGES", image_arguments, 1)
      .list("--models", "DIR|MODEL,...", model_arguments)
      .required()
      .integer("--top", "K", 1, 1'000'000, top_k)
      .integer("--threads", "N", 1, 1024, threads)
      .choice<std::optional<Precision>>(
          "--precision", "float|int8",
          {{"float", Precision::float32}, {"float32", Precision::float32}, {"int8", Precision::int8}}, precision)
      .text("--out", "FILE", out)
      .flag("--resume", resume)
      .integer("--chunk", "N", 1, 1'000'000, chunk)
      .integer("--stop-after", "N", 1, 1'000'000'000, stop_after);
  if (Outcome parsed = parser.parse(args); !parsed.is_ok()) return parsed;
  if (out.empty() && (resume || stop_after))
    return parser.usage_error(std::string(resume ? "--resume" : "--stop-after") +
                              " needs --out FILE (the checkpoint FILE.resume lives beside it), found no --out");
  if (model_arguments.empty()) return parser.usage_error("--models: expected at least one model file or folder");

  auto images = ImageCollection::open(image_arguments);
  if (!images) return images.status();
  const std::vector<ImageEntry>& entries = images.value().entries();
  auto model_paths = list_model_paths(model_arguments);
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
  const std::size_t total = entries.size();

  // The checkpoint: resumed from with --resume, never silently overwritten without it.
  ScreenState state;
  const std::string state_path = out.empty() ? std::string() : out + ".resume";
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
    if (!resume)
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
  } else if (resume) {
    std::fprintf(stderr, "cortexlens screen: no checkpoint '%s', starting from the first image\n", state_path.c_str());
  }

  // (images, columns) responses; NaN where an image has none.
  std::vector<float> responses(total * columns, std::numeric_limits<float>::quiet_NaN());
  std::copy(state.responses.begin(), state.responses.end(), responses.begin());
  std::vector<ImageFailure> failures = state.failures;
  const std::size_t resumed_from = static_cast<std::size_t>(state.done);

  std::atomic<std::size_t> chunk_start{resumed_from}, chunk_size{0}, items_total{1}, items_finished{0};
  ProgressLine progress(total, resumed_from, [&] {
    return static_cast<double>(chunk_start.load()) +
           static_cast<double>(chunk_size.load()) * static_cast<double>(items_finished.load()) /
               static_cast<double>(std::max<std::size_t>(1, items_total.load()));
  });
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
        bytes = images.value().read(start + i, ImageLimits::max_file_bytes);
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
        progress.note("cortexlens screen: skipped '" + entries[start + i].name + "': " + problems[i]);
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
    if (stop_after && ++chunks_run == stop_after && start + n < total) {
      progress.stop();
      return Status::error("stopped after " + std::to_string(stop_after) + " chunks as --stop-after asked (" +
                           std::to_string(start + n) + " of " + std::to_string(total) +
                           " images done); continue with --resume");
    }
  }
  progress.stop();
  const double seconds = progress.seconds();

  ScreenReport report;
  report.top_k = top_k;
  for (const auto& entry : entries) report.image_names.push_back(entry.name);
  report.failures = failures;
  std::vector<float> column(total);
  for (const auto& model : models) {
    ScreenReport::ModelReport model_report;
    // The file's name, not the model's: a folder may hold the same model as .keras and as .clm.
    model_report.name = fs::path(model.path).filename().string();
    model_report.precision = precision_name(model.precision);
    for (std::size_t o = 0; o < model.model.output_count(); ++o) {
      for (std::size_t i = 0; i < total; ++i) column[i] = responses[i * columns + model.first_column + o];
      model_report.outputs.push_back({model.model.output_names[o], summarize_output(column, top_k)});
    }
    report.models.push_back(std::move(model_report));
  }
  const std::string text = !out.empty() && ends_with_json(out) ? screen_json(report) : screen_csv(report);
  if (out.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
  } else {
    CL_RETURN_IF_ERROR(write_file_bytes(out, std::vector<std::uint8_t>(text.begin(), text.end())));
    std::remove(state_path.c_str());
  }
  const std::size_t ran = total - resumed_from;
  std::fprintf(
      stderr,
      "cortexlens screen: %zu images (%zu failed in all) x %zu models (%zu outputs) in %.1f s: %.1f images/s on %d "
      "threads%s\n",
      ran, failures.size(), models.size(), columns, seconds, static_cast<double>(ran) / std::max(1e-9, seconds),
      threads, resumed_from ? (", resumed after " + std::to_string(resumed_from) + " images").c_str() : "");
  return Status::ok();
}

}  // namespace cortexlens::cli
