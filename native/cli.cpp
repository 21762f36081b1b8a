// `cortexlens`: the engine from a terminal, for researchers and for checking the page against.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "commands.hpp"
#include "cortexlens/forward.hpp"
#include "cortexlens/image.hpp"
#include "cortexlens/model_runner.hpp"
#include "cortexlens/quantize.hpp"
#include "model_source.hpp"
#include "thread_pool.hpp"
#include "v4_data.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>

using namespace cortexlens;

namespace {

constexpr const char* kUsage =
    "usage:\n"
    "  cortexlens info MODEL [--config CONFIG.json]\n"
    "      the layer table (type, output shape, parameters) and the parameter count\n"
    "  cortexlens predict MODEL IMAGE... [--crop X,Y,SIDE] [--config CONFIG.json] [--precision float|int8]\n"
    "                     [--threads N]\n"
    "      CSV: a header 'image,<output names>' and one row of responses per image\n"
    "      (precision: int8 needs an int8 .clm file, whose default it is; float runs any model)\n"
    "  cortexlens evaluate MODEL... [--data DIR] [--images FIRST-LAST] [--threads N]\n"
    "      Pearson r between each output and the recorded responses of its neuron on the session images\n"
    "      (default 601-1200, the held-out half), with the median per session\n"
    "--threads N: worker threads (default: the number of cores); the output is the same for any N.\n"
    "MODEL: a Keras 3 .keras file, a .weights.h5 file with its config.json, or a Cortex Lens .clm file.\n"
    "IMAGE: JPEG, PNG, BMP or GIF; the centred square (or --crop, in upright pixels) is resized to 112x112.\n"
    "--isa scalar|sse|avx2|avx512, accepted by every command: the instruction set the kernels run on (default: the\n"
    "widest this CPU has; sse gives the page's float results bit for bit, scalar runs the reference kernels).\n";

std::string shape_text(const Shape3& s) {
  if (s.h == 1 && s.w == 1) return "(" + std::to_string(s.c) + ")";
  return "(" + std::to_string(s.h) + ", " + std::to_string(s.w) + ", " + std::to_string(s.c) + ")";
}

std::string with_commas(long long value) {
  std::string digits = std::to_string(value);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<std::size_t>(i), ",");
  return digits;
}

cli::Outcome run_info(const cli::Args& args) {
  std::string model_path, config;
  cli::ArgParser parser("info", kUsage);
  parser.positional("MODEL", model_path).text("--config", "CONFIG.json", config);
  if (cli::Outcome parsed = parser.parse(args); !parsed.is_ok()) return parsed;
  auto model = load_model_file(model_path, config);
  if (!model) return model.status();
  const Model& m = model.value();
  std::printf("model: %s\n", m.name.c_str());
  std::printf("input: (%d, %d, %d) recentred RGB\n", m.input.h, m.input.w, m.input.c);
  std::printf("%-28s %-20s %-18s %10s\n", "layer", "type", "output shape", "params");
  for (const auto& layer : m.source_layers)
    std::printf("%-28s %-20s %-18s %10s\n", layer.name.c_str(), layer.class_name.c_str(),
                shape_text(layer.output).c_str(), with_commas(layer.params).c_str());
  std::printf("total params: %s\n", with_commas(m.source_params()).c_str());
  std::printf("multiply-adds per image: %s\n", with_commas(m.multiply_adds()).c_str());
  std::printf("outputs: %zu (%s%s)\n", m.output_count(), m.output_names.front().c_str(),
              m.output_count() > 1 ? (" .. " + m.output_names.back()).c_str() : "");
  std::printf("weights: %s\n", is_int8_model(m) ? "int8, per-output-channel scales" : "float32");
  return Status::ok();
}

// Each worker keeps one runner for the model and reuses it over its images: forward() would pack the weights
// and zero the activation buffers again for every image.
class RunnerSlots {
 public:
  RunnerSlots(int threads) : slots_(static_cast<std::size_t>(threads)) {}
  // The worker's runner for `model` (built on its first use, or when the worker last ran another model).
  Result<ModelRunner*> get(int worker, const Model& model, Precision precision) {
    Slot& slot = slots_[static_cast<std::size_t>(worker)];
    if (!slot.runner || &slot.runner->model() != &model || slot.runner->precision() != precision) {
      slot.runner.reset();
      auto runner = ModelRunner::create(model, precision);
      if (!runner) return runner.status();
      slot.runner = std::move(runner).value();
    }
    return slot.runner.get();
  }

 private:
  struct Slot {
    std::unique_ptr<ModelRunner> runner;
  };
  std::vector<Slot> slots_;
};

cli::Outcome run_predict(const cli::Args& args) {
  std::string model_path, config;
  std::vector<std::string> images;
  SquareCrop crop;
  std::optional<Precision> precision;  // none: the model file's own precision
  int threads = default_thread_count();
  cli::ArgParser parser("predict", kUsage);
  parser.positional("MODEL", model_path)
      .positionals("IMAGE", images, 1)
      .integers("--crop", "X,Y,SIDE", ',', {&crop.x, &crop.y, &crop.side}, INT_MIN, INT_MAX)
      .text("--config", "CONFIG.json", config)
      .choice<std::optional<Precision>>(
          "--precision", "float|int8",
          {{"float", Precision::float32}, {"float32", Precision::float32}, {"int8", Precision::int8}}, precision)
      .integer("--threads", "N", 1, 1024, threads);
  if (cli::Outcome parsed = parser.parse(args); !parsed.is_ok()) return parsed;
  auto model = load_model_file(model_path, config);
  if (!model) return model.status();
  const Model& m = model.value();
  if (!precision) precision = is_int8_model(m) ? Precision::int8 : Precision::float32;
  const bool has_crop = parser.given("--crop");
  std::string header = "image";
  for (const auto& name : m.output_names) header += "," + name;
  std::vector<std::string> rows(images.size());
  RunnerSlots runners(threads);
  // Rows land by image index, so the table is the same for any number of threads; the first failing image (in
  // command-line order) is the one reported.
  auto status = parallel_for(images.size(), threads, [&](int worker, std::size_t i) -> Status {
    const std::string& path = images[i];
    auto bytes = read_file_bytes(path, ImageLimits::max_file_bytes);
    if (!bytes) return bytes.status();
    auto input = image_to_input(bytes.value().data(), bytes.value().size(), has_crop ? &crop : nullptr);
    if (!input) return input.status().with_context("'" + path + "': ");
    auto runner = runners.get(worker, m, *precision);
    if (!runner) return runner.status().with_context("'" + path + "': ");
    std::vector<float> outputs(runner.value()->output_size());
    CL_RETURN_IF_ERROR(runner.value()->run(input.value(), outputs.data()).with_context("'" + path + "': "));
    std::string row = path;
    char number[32];
    for (float value : outputs) {
      std::snprintf(number, sizeof number, ",%.9g", value);  // 9 digits: every float32 reads back exactly
      row += number;
    }
    rows[i] = std::move(row);
    return Status::ok();
  });
  if (!status) return status;
  // Rows are printed only when every image worked, so a failed run never leaves a partial table behind.
  std::printf("%s\n", header.c_str());
  for (const auto& row : rows) std::printf("%s\n", row.c_str());
  return Status::ok();
}

std::string default_data_dir() {
  const char* env = std::getenv("CORTEXLENS_DATA_DIR");
  return env && *env ? env : CORTEXLENS_DEFAULT_DATA_DIR;
}

double median(std::vector<double> values) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Decoded inputs of one session's images, kept so that many models reuse one decode.
struct SessionInputs {
  std::vector<Tensor> inputs;
  ResponseTable responses;
};

// Images first..last of a session decoded on every core (the zip is read by one thread: libzip handles are not
// shared between threads).
Result<std::vector<Tensor>> decode_session_images(const SessionImages& images, int first, int last, int threads) {
  std::vector<std::vector<std::uint8_t>> bytes;
  for (int number = first; number <= last; ++number) {
    auto read = images.image_bytes(number);
    if (!read) return read.status();
    bytes.push_back(std::move(read).value());
  }
  std::vector<Tensor> inputs(bytes.size());
  CL_RETURN_IF_ERROR(parallel_for(bytes.size(), threads, [&](int, std::size_t i) -> Status {
    auto input = image_to_input(bytes[i].data(), bytes[i].size());
    if (!input)
      return input.status().with_context("image " + std::to_string(first + static_cast<int>(i)) + " of session " +
                                         images.session() + ": ");
    inputs[i] = std::move(input).value();
    return Status::ok();
  }));
  return inputs;
}

// One model's outputs that belong to one session, and their predictions on the session's images.
struct EvaluationTask {
  std::size_t model = 0;
  std::string session;
  std::vector<std::pair<std::size_t, int>> outputs;  // (output index, neuron)
  std::vector<std::vector<double>> predicted;        // (outputs, images)
};

// Long by design: arguments, models, the sessions' images and responses loaded once, every model run over them on
// every core, the table printed in model order, in that order.
cli::Outcome run_evaluate(const cli::Args& args) {
  std::vector<std::string> model_paths;
  std::string config, data_dir = default_data_dir();
  int first_image = 601, last_image = 1200;
  int threads = default_thread_count();
  cli::ArgParser parser("evaluate", kUsage);
  parser.positionals("MODEL", model_paths, 1)
      .text("--data", "DIR", data_dir)
      .range("--images", 1, INT_MAX, first_image, last_image)
      .text("--config", "CONFIG.json", config)
      .integer("--threads", "N", 1, 1024, threads);
  if (cli::Outcome parsed = parser.parse(args); !parsed.is_ok()) return parsed;
  std::vector<Model> models;
  std::vector<EvaluationTask> tasks;
  for (const auto& path : model_paths) {
    auto model = load_model_file(path, config);
    if (!model) return model.status();
    const Model& m = model.value();
    // Which outputs belong to which session.
    std::map<std::string, std::vector<std::pair<std::size_t, int>>> outputs_by_session;
    for (std::size_t o = 0; o < m.output_count(); ++o) {
      std::string session;
      int neuron = 0;
      if (parse_neuron_name(m.output_names[o], session, neuron)) outputs_by_session[session].push_back({o, neuron});
    }
    if (outputs_by_session.empty())
      return Status::error("'" + path + "': its outputs are not named after recorded neurons (<session>_n<i>)");
    for (auto& [session, outputs] : outputs_by_session) tasks.push_back({models.size(), session, outputs, {}});
    models.push_back(std::move(model).value());
  }
  std::map<std::string, SessionInputs> sessions;
  for (const auto& task : tasks) {
    if (sessions.count(task.session)) continue;
    auto images = SessionImages::open(data_dir, task.session);
    if (!images) {
      std::fprintf(stderr, "cortexlens: session %s skipped: %s\n", task.session.c_str(), images.message().c_str());
      sessions[task.session];  // no inputs: skipped
      continue;
    }
    auto responses = read_session_responses(data_dir, task.session);
    if (!responses) return responses.status();
    SessionInputs entry;
    entry.responses = std::move(responses).value();
    if (last_image > entry.responses.images)
      return Status::error("--images goes to " + std::to_string(last_image) + " but session " + task.session + " has " +
                           std::to_string(entry.responses.images) + " images");
    auto inputs = decode_session_images(images.value(), first_image, last_image, threads);
    if (!inputs) return inputs.status();
    entry.inputs = std::move(inputs).value();
    sessions.emplace(task.session, std::move(entry));
  }
  for (auto& task : tasks)
    for (const auto& [output, neuron] : task.outputs) {
      const SessionInputs& data = sessions[task.session];
      if (!data.inputs.empty() && neuron >= data.responses.neurons)
        return Status::error(models[task.model].output_names[output] + ": session " + task.session + " has only " +
                             std::to_string(data.responses.neurons) + " neurons");
      task.predicted.emplace_back(data.inputs.size());
    }

  // Work items: a slice of one task's images, so that one model alone still uses every core.
  constexpr std::size_t kSliceImages = 64;
  std::vector<std::pair<std::size_t, std::size_t>> items;  // (task, first image)
  for (std::size_t t = 0; t < tasks.size(); ++t)
    for (std::size_t first = 0; first < sessions[tasks[t].session].inputs.size(); first += kSliceImages)
      items.push_back({t, first});
  RunnerSlots runners(threads);
  CL_RETURN_IF_ERROR(parallel_for(items.size(), threads, [&](int worker, std::size_t item) -> Status {
    EvaluationTask& task = tasks[items[item].first];
    const std::vector<Tensor>& inputs = sessions.at(task.session).inputs;
    const Model& m = models[task.model];
    auto runner = runners.get(worker, m, Precision::float32);
    if (!runner) return runner.status();
    std::vector<float> outputs(runner.value()->output_size());
    const std::size_t first = items[item].second, last = std::min(inputs.size(), first + kSliceImages);
    for (std::size_t i = first; i < last; ++i) {
      CL_RETURN_IF_ERROR(runner.value()->run(inputs[i], outputs.data()));
      for (std::size_t k = 0; k < task.outputs.size(); ++k) task.predicted[k][i] = outputs[task.outputs[k].first];
    }
    return Status::ok();
  }));

  std::map<std::string, std::vector<double>> r_by_session;
  std::printf("neuron,model,r,r2,images\n");
  for (const auto& task : tasks) {
    const SessionInputs& data = sessions[task.session];
    if (data.inputs.empty()) continue;
    const Model& m = models[task.model];
    for (std::size_t k = 0; k < task.outputs.size(); ++k) {
      const int neuron = task.outputs[k].second;
      std::vector<double> recorded;
      for (int number = first_image; number <= last_image; ++number)
        recorded.push_back(data.responses.at(neuron, number - 1));
      const double r = pearson_r(task.predicted[k], recorded);
      r_by_session[task.session].push_back(r);
      std::printf("%s,%s,%.6f,%.6f,%zu\n", m.output_names[task.outputs[k].first].c_str(), m.name.c_str(), r, r * r,
                  recorded.size());
    }
  }
  for (const auto& [session, rs] : r_by_session) {
    std::vector<double> r2;
    for (double r : rs) r2.push_back(r * r);
    std::printf("# session %s: median r %.4f, median r^2 %.4f over %zu neurons (images %d-%d)\n", session.c_str(),
                median(rs), median(r2), rs.size(), first_image, last_image);
  }
  return Status::ok();
}

// Prints how a command ended and gives the exit status; `command` is empty when there was no known command.
int finish(const std::string& command, const cli::Outcome& outcome) {
  const std::string prefix = command.empty() ? "cortexlens" : "cortexlens " + command;
  switch (outcome.kind()) {
    case cli::Outcome::Kind::ok:
      break;
    case cli::Outcome::Kind::help:
      std::fputs(outcome.usage(), stdout);
      break;
    case cli::Outcome::Kind::usage_error:
      std::fprintf(stderr, "%s: %s\n%s", prefix.c_str(), outcome.message().c_str(), outcome.usage());
      break;
    case cli::Outcome::Kind::failure:
      std::fprintf(stderr, "cortexlens: %s\n", outcome.message().c_str());
      break;
  }
  return outcome.exit_code();
}

}  // namespace

// Commands implemented in their own files (see commands.hpp).
const cli::Command kCommands[] = {
    {"info", nullptr, run_info},
    {"predict", nullptr, run_predict},
    {"evaluate", nullptr, run_evaluate},
    {"convert", "MODEL -o OUT.clm [--precision int8|float] [--data DIR]: write a Cortex Lens model file",
     cli::run_convert},
    {"fidelity",
     "[--data DIR] [--threads N]: int8 vs float agreement and prediction of recorded responses (images 601-1200)",
     cli::run_fidelity},
    {"pack", "--out DIR [--data DIR]: int8 + float model files and manifest.json for the page", cli::run_pack},
    {"screen",
     "IMAGES... --models DIR|MODEL[,...] [--top K] [--threads N] [--precision float|int8] [--out FILE.csv|FILE.json]\n"
     "      [--resume]: every model over every image (files, folders, zip, tar): top/bottom K and quantiles per output",
     cli::run_screen},
    {"synth", "MODEL -o OUT.png [--minimize] [--steps N] [--seed S] [--recipe authors|fourier]: preferred image",
     cli::run_synth},
    {"probe",
     "MODEL --family grating|dots|bar|uniform --vary NAME=FIRST:LAST:STEP [--vary ...] [--set NAME=VALUE ...]\n"
     "      [--precision int8|float] [--save-stimuli DIR]: tuning curve or heatmap over parametric stimuli (CSV)",
     cli::run_probe},
    {"synth-check", "[MODEL...] [--count N] [--steps N]: synthesized vs natural images' responses",
     cli::run_synth_check},
    {"path",
     "MODEL IMAGE [IMAGE2] [--transform shift=2|scale=1.05|rotate=3|contrast=0.8|blur=1|noise=4] --steps N\n"
     "      [--population SHARED_MODEL --manifest MANIFEST.json] [--save-images DIR]: responses along a path of\n"
     "      nearly identical images (CSV)",
     cli::run_path},
    {"perturb",
     "MODEL IMAGE -o OUT.png [--epsilon E] [--minimize] [--steps N] [--keep-others SHARED --penalty W]: the smallest\n"
     "      change (within E pixel levels) that raises or lowers a neuron's response",
     cli::run_perturb},
    {"perturb-sweep",
     "[--data DIR] [--epsilons 2,4,8] [--steps N] [--threads N]: perturbation from each neuron's "
     "median reference image, all per-neuron models",
     cli::run_perturb_sweep},
    {"prune",
     "SHARED_MODEL --neuron SESSION_nI -o PRUNED.clm [--fve F] [--delta D] [--threads N]: the authors' pruning\n"
     "      (steps 1 and 3, readout refitted by ridge regression) of a shared model restricted to one neuron",
     cli::run_prune},
    {"fit",
     "SHARED_MODEL --responses FILE.csv -o MODEL.clm [--images DIR] [--prune]: a ridge readout of your neuron's\n"
     "      responses on a shared model's features, r on held-out images with its 95% CI, optionally pruned",
     cli::run_fit},
    {"portraits",
     "IMAGES... --models DIR -o OUT_DIR [--steps N] [--seeds K] [--top K]: every neuron's preferred and\n"
     "      anti-preferred images (8-bit PNG) and strongest and weakest natural images, into DIR/manifest.json",
     cli::run_portraits},
    {nullptr, nullptr, nullptr},  // keeps the array non-empty; entries are added above this line
};

int main(int argc, char** argv) {
  cli::Args args(argv + 1, argv + argc);
  if (cli::Outcome isa = cli::apply_isa_option(args, kUsage); !isa.is_ok()) return finish("", isa);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::FILE* to = args.empty() ? stderr : stdout;
    std::fputs(kUsage, to);
    for (const auto& command : kCommands)
      if (command.summary) std::fprintf(to, "  cortexlens %s\n      %s\n", command.name, command.summary);
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  for (const auto& entry : kCommands)
    if (entry.name && command == entry.name) return finish(command, entry.run(cli::Args(args.begin() + 1, args.end())));
  std::string names;
  for (const auto& entry : kCommands)
    if (entry.name) names += (names.empty() ? "" : ", ") + std::string(entry.name);
  return finish("", cli::Outcome::usage_error("unknown command '" + command + "'; expected one of " + names, kUsage));
}
