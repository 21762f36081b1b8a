// `cortexlens screen IMAGES... --models DIR|MODEL,... [--top K] [--threads N] [--precision float|int8]
// [--out FILE.csv|FILE.json] [--resume] [--chunk N] [--stop-after N]`: every model over every image, on every core,
// reporting per model output its strongest and weakest images and the quantiles of its responses.
//
// The arguments, the progress line and the output files; the screening itself is screen_images (screen.hpp), which
// the Python package runs too.
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
#include "screen.hpp"
#include "screen_report.hpp"
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
  auto models = load_screen_models(model_arguments, precision);
  if (!models) return models.status();

  // The progress line lives from the first chunk to the last; notes before it (a missing checkpoint) go straight
  // to stderr.
  class Observer : public ScreenObserver {
   public:
    void started(std::size_t total, std::size_t resumed_from, const std::function<double()>& done_now) override {
      progress.emplace(total, resumed_from, done_now);
    }
    void note(const std::string& message) override {
      if (progress)
        progress->note(message);
      else
        std::fprintf(stderr, "%s\n", message.c_str());
    }
    void finished() override {
      if (!progress) return;
      progress->stop();
      seconds = progress->seconds();
    }
    std::optional<ProgressLine> progress;
    double seconds = 0;
  } observer;
  ScreenOptions options;
  options.chunk = chunk;
  options.threads = threads;
  options.checkpoint = out.empty() ? std::string() : out + ".resume";
  options.resume = resume;
  options.stop_after = stop_after;
  auto run = screen_images(images.value(), models.value(), options, observer);
  if (!run) return run.status();

  const ScreenReport report = screen_report(run.value(), models.value(), top_k);
  const std::string text = !out.empty() && ends_with_json(out) ? screen_json(report) : screen_csv(report);
  if (out.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
  } else {
    CL_RETURN_IF_ERROR(write_file_bytes(out, std::vector<std::uint8_t>(text.begin(), text.end())));
    std::remove(options.checkpoint.c_str());
  }
  const std::size_t total = run.value().images.size(), resumed_from = run.value().resumed_from;
  const std::size_t ran = total - resumed_from;
  const double seconds = observer.seconds;
  std::fprintf(
      stderr,
      "cortexlens screen: %zu images (%zu failed in all) x %zu models (%zu outputs) in %.1f s: %.1f images/s on %d "
      "threads%s\n",
      ran, run.value().failures.size(), models.value().size(), run.value().columns, seconds,
      static_cast<double>(ran) / std::max(1e-9, seconds), threads,
      resumed_from ? (", resumed after " + std::to_string(resumed_from) + " images").c_str() : "");
  return Status::ok();
}

}  // namespace cortexlens::cli
