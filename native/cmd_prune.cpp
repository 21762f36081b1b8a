// `cortexlens prune` (a shared model restricted to one neuron, pruned to a compact model by the authors' steps 1
// and 3) and `cortexlens fit` (a ridge readout of a neuron's responses on a shared model's features, optionally
// pruned the same way).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "commands.hpp"
#include "cortexlens/image.hpp"
#include "cortexlens/prune.hpp"
#include "cortexlens/regression.hpp"
#include "model_pack.hpp"
#include "model_source.hpp"
#include "response_csv.hpp"
#include "thread_pool.hpp"
#include "v4_data.hpp"

namespace cortexlens::cli {

namespace {

constexpr const char* kPruneUsage =
    "usage: cortexlens prune SHARED_MODEL --neuron SESSION_nI -o PRUNED.clm [--fve F] [--delta D] [--step1-only]\n"
    "                        [--fit-step K] [--eval-step M] [--time-limit S] [--events FILE.jsonl] [--threads N]\n"
    "                        [--data DIR]\n"
    "  Restricts a shared model (shared_compact_model_<F>filters.keras) to one neuron's output and prunes it:\n"
    "  step 1 removes, stage by stage from the last, the least varying filters while a least-squares refit of the\n"
    "  next stage keeps at least F of its variance (default 0.9); step 3 removes single filters while the fraction\n"
    "  of variance explained of the prediction drops by no more than -D (D default -0.01). After each removal the\n"
    "  readout is refitted by ridge regression. Fitted on the starting model's own predictions on images 1-600 of the\n"
    "  sessions 190923, 201025 and 210225 (--fit-step K: every K-th of them, for speed); r is measured on images\n"
    "  601-1200 against the recorded responses (--eval-step M: every M-th of them). --time-limit S stops removing "
    "filters after S seconds and keeps\n"
    "  the model reached (said in the output). --events writes every removal as a JSON line (all its filters).\n"
    "  Method: Cowley, Stan, Pillow & Smith, Nature (2026); code: github.com/cowleygroup/V4_compact_models.\n";

constexpr const char* kFitUsage =
    "usage: cortexlens fit SHARED_MODEL --responses FILE.csv -o MODEL.clm [--images DIR] [--name NAME] [--prune]\n"
    "                      [--fve F] [--delta D] [--step1-only] [--threads N] [--data DIR]\n"
    "  Fits a neuron's responses with a ridge-regression readout on a shared model's last-stage features (as the\n"
    "  authors' linear mapping; penalty chosen by 5-fold cross-validation), reports r on held-out images (every 5th\n"
    "  row of the file) with a 95% confidence interval (Fisher z), and writes the model. --prune then prunes it as\n"
    "  `cortexlens prune` does, with the fitted model's predictions as targets (--step1-only: its step 1 only).\n"
    "  FILE.csv: rows 'image,response' (an optional header line); image is a shipped session image (190923/0001 ..\n"
    "  210225/1200) or, with --images DIR, a file name in DIR.\n";

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string counts_text(const std::vector<int>& counts) {
  std::string text;
  for (int c : counts) text += (text.empty() ? "" : "-") + std::to_string(c);
  return text;
}

PruneOptions prune_options(int threads, double fve, double delta) {
  PruneOptions options;
  options.fve_threshold = fve;
  options.delta_threshold = delta;
  options.workers = threads;
  options.parallel = [threads](std::size_t count, const std::function<Status(int, std::size_t)>& job) {
    return parallel_for(count, threads, job);
  };
  options.on_event = [](const PruneEvent& e) {
    std::string what = e.step == 0 ? "start" : "step " + std::to_string(e.step) + " stage " + std::to_string(e.stage);
    std::string filters;
    for (std::size_t i = 0; i < e.filters.size(); ++i) {
      if (i == 8) {
        filters += " .. (" + std::to_string(e.filters.size()) + ")";
        break;
      }
      filters += (filters.empty() ? "" : ",") + std::to_string(e.filters[i]);
    }
    std::printf("%-16s removed %-28s filters %-16s params %9lld  fve %.4f  r(held-out) %.4f\n", what.c_str(),
                filters.empty() ? "-" : filters.c_str(), counts_text(e.filters_per_stage).c_str(),
                static_cast<long long>(e.params), e.fve, e.heldout_r);
    std::fflush(stdout);
  };
  return options;
}

std::string int_list(const std::vector<int>& values) {
  std::string text = "[";
  for (std::size_t i = 0; i < values.size(); ++i) text += (i ? "," : "") + std::to_string(values[i]);
  return text + "]";
}

std::string number_json(double v) {
  if (!std::isfinite(v)) return "null";
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.17g", v);
  return buffer;
}

// One removal as the page's worker reports it (web/PROTOCOL.md, pruneAdvance), so the two can be compared.
std::string event_json(const PruneEvent& e) {
  return "{\"step\":" + std::to_string(e.step) + ",\"stage\":" + std::to_string(e.stage) +
         ",\"filters\":" + int_list(e.filters) + ",\"filtersPerStage\":" + int_list(e.filters_per_stage) +
         ",\"params\":" + std::to_string(e.params) + ",\"fve\":" + number_json(e.fve) +
         ",\"heldoutR\":" + number_json(e.heldout_r) + "}";
}

Status write_model(const Model& model, const std::string& path, const std::string& source) {
  ConvertOptions convert;
  convert.precision = Precision::float32;
  convert.source = source;
  auto converted = convert_model(model, convert, {});
  if (!converted) return converted.status();
  return write_file_bytes(path, converted.value().bytes);
}

// Images 1-600 of every image session (every step-th): the fitting set.
Result<std::vector<Tensor>> fitting_images(const std::string& data_dir, int step) {
  std::vector<Tensor> all;
  for (const auto& session : kImageSessions) {
    auto inputs = load_session_inputs(data_dir, session, 1, 600);
    if (!inputs) return inputs.status();
    for (std::size_t i = 0; i < inputs->size(); i += static_cast<std::size_t>(step))
      all.push_back(std::move(inputs.value()[i]));
  }
  return all;
}

// Stops the pruning once `seconds` (0: never) have passed since `start`, and remembers that it did.
struct TimeLimit {
  std::chrono::steady_clock::time_point start;
  double seconds = 0;
  std::shared_ptr<bool> reached = std::make_shared<bool>(false);
  std::function<bool()> check() const {
    return [*this]() { return seconds > 0 && (*reached = *reached || seconds_since(start) > seconds); };
  }
};

Status print_result(const PruneResult& result, const std::string& session, int neuron, const std::string& data_dir,
                    const std::vector<Tensor>& eval_inputs, const std::vector<double>& eval_responses,
                    const PruneOptions& options, double seconds) {
  auto layout = prunable_layout(result.model);
  if (!layout) return layout.status();
  const PruneEvent& last = result.events.back();
  std::printf("\n%-28s %-22s %10s %8s\n", "model", "filters per layer", "params", "r");
  std::printf("%-28s %-22s %10lld %8.4f\n", "pruned (ours)",
              counts_text(filters_per_stage(result.model, layout.value())).c_str(),
              static_cast<long long>(parameter_count(result.model)), last.heldout_r);
  if (!session.empty()) {
    const std::string path =
        data_dir + "/compact_models/compact_model_" + session + "_neuron" + std::to_string(neuron) + ".keras";
    auto published = load_model_file(path);
    if (published) {
      auto published_layout = prunable_layout(published.value());
      auto predicted = predict_all(published.value(), eval_inputs, options);
      if (!published_layout) return published_layout.status();
      if (!predicted) return predicted.status();
      std::printf("%-28s %-22s %10lld %8.4f\n", "published compact model",
                  counts_text(filters_per_stage(published.value(), published_layout.value())).c_str(),
                  static_cast<long long>(parameter_count(published.value())),
                  correlation(predicted.value(), eval_responses));
    } else {
      std::printf("published compact model: not available (%s)\n", published.message().c_str());
    }
  }
  std::printf("params: weights and biases with BatchNormalization folded, counted the same way for both.\n");
  std::printf(
      "Lower bound: the published models were also retrained on 12 million images after pruning (the "
      "authors' step 2); here only the readout is refitted.\n");
  std::printf("time: %.1f s\n", seconds);
  return Status::ok();
}

}  // namespace

Outcome run_prune(const Args& args) {
  std::string model_path, neuron_name, output, events_path, data_dir = configured_data_dir();
  double fve = 0.9, delta = -0.01;
  bool step1_only = false;
  int threads = default_thread_count(), fit_step = 1, eval_step = 1, time_limit = 0;
  ArgParser parser("prune", kPruneUsage);
  parser.positional("SHARED_MODEL", model_path)
      .text("--neuron", "SESSION_nI", neuron_name)
      .required()
      .text("-o|--output", "PRUNED.clm", output)
      .required()
      .custom("--fve", "F", "a number in (0, 1]",
              [&fve](const std::string& t) { return parse_finite_number(t, fve) && fve > 0 && fve <= 1; })
      .custom("--delta", "D", "a number <= 0",
              [&delta](const std::string& t) { return parse_finite_number(t, delta) && delta <= 0; })
      .flag("--step1-only", step1_only)
      .integer("--fit-step", "K", 1, 600, fit_step)
      .integer("--eval-step", "M", 1, 600, eval_step)
      .integer("--time-limit", "S", 1, 1000000, time_limit)
      .text("--events", "FILE.jsonl", events_path)
      .integer("--threads", "N", 1, 1024, threads)
      .text("--data", "DIR", data_dir);
  if (Outcome parsed = parser.parse(args); !parsed.is_ok()) return parsed;
  std::string session;
  int neuron = 0;
  if (!parse_neuron_name(neuron_name, session, neuron))
    return parser.usage_error("--neuron: expected SESSION_nI such as 190923_n0, found '" + neuron_name + "'");
  const auto start = std::chrono::steady_clock::now();
  auto shared = load_model_file(model_path);
  if (!shared) return shared.status();
  int output_index = -1;
  for (std::size_t o = 0; o < shared->output_names.size(); ++o)
    if (shared->output_names[o] == neuron_name) output_index = static_cast<int>(o);
  if (output_index < 0)
    return Status::error("'" + model_path + "' has no output named " + neuron_name +
                         " (its outputs: " + shared->output_names.front() + " .. " + shared->output_names.back() + ")");
  auto restricted = restrict_to_output(shared.value(), output_index);
  if (!restricted) return restricted.status();

  PruneData data;
  auto fit_inputs = fitting_images(data_dir, fit_step);
  if (!fit_inputs) return fit_inputs.status().with_context("prune needs the session images: ");
  data.fit_inputs = std::move(fit_inputs).value();
  auto eval_inputs = load_session_inputs(data_dir, session, 601, 1200);
  if (!eval_inputs) return eval_inputs.status();
  for (std::size_t i = 0; i < eval_inputs->size(); i += static_cast<std::size_t>(eval_step))
    data.eval_inputs.push_back(std::move(eval_inputs.value()[i]));
  auto responses = read_session_responses(data_dir, session);
  if (!responses) return responses.status();
  if (neuron >= responses->neurons || responses->images < 1200)
    return Status::error("session " + session + " has " + std::to_string(responses->neurons) + " neurons and " +
                         std::to_string(responses->images) + " images, expected neuron " + std::to_string(neuron) +
                         " and 1200 images");
  for (int i = 600; i < 1200; i += eval_step) data.eval_responses.push_back(responses->at(neuron, i));

  PruneOptions options = prune_options(threads, fve, delta);
  options.run_step3 = !step1_only;
  std::unique_ptr<std::ofstream> events;
  if (!events_path.empty()) {
    events = std::make_unique<std::ofstream>(events_path);
    if (!*events) return Status::error("--events: cannot write '" + events_path + "'");
    options.on_event = [print = options.on_event, out = events.get()](const PruneEvent& e) {
      print(e);
      *out << event_json(e) << '\n';
      out->flush();
    };
  }
  const TimeLimit limit{start, static_cast<double>(time_limit)};
  options.cancelled = limit.check();
  std::printf(
      "pruning %s restricted to %s: %zu fitting images (every %d of images 1-600 of %zu sessions, targets: its "
      "own predictions), %zu held-out images (every %d of 601-1200 of %s), fve %.3g, delta %.3g, %d threads\n",
      shared->name.c_str(), neuron_name.c_str(), data.fit_inputs.size(), fit_step, kImageSessions.size(),
      data.eval_inputs.size(), eval_step, session.c_str(), fve, delta, threads);
  std::fflush(stdout);
  auto result = prune_model(restricted.value(), data, options);
  if (!result) return result.status();
  if (*limit.reached) std::printf("stopped by --time-limit %d s: more filters might still go\n", time_limit);
  result->model.name = "pruned_" + neuron_name;
  CL_RETURN_IF_ERROR(write_model(result->model, output,
                                 "cortexlens prune of " + model_source_text(model_path) + " for " + neuron_name));
  CL_RETURN_IF_ERROR(print_result(result.value(), session, neuron, data_dir, data.eval_inputs, data.eval_responses,
                                  options, seconds_since(start)));
  std::printf("%s written\n", output.c_str());
  return Status::ok();
}

Outcome run_fit(const Args& args) {
  std::string model_path, responses_path, images_dir, output, name = "my_neuron", data_dir = configured_data_dir();
  double fve = 0.9, delta = -0.01;
  bool prune = false, step1_only = false;
  int threads = default_thread_count();
  ArgParser parser("fit", kFitUsage);
  parser.positional("SHARED_MODEL", model_path)
      .text("--responses", "FILE.csv", responses_path)
      .required()
      .text("-o|--output", "MODEL.clm", output)
      .required()
      .text("--images", "DIR", images_dir)
      .text("--name", "NAME", name)
      .flag("--prune", prune)
      .flag("--step1-only", step1_only)
      .custom("--fve", "F", "a number in (0, 1]",
              [&fve](const std::string& t) { return parse_finite_number(t, fve) && fve > 0 && fve <= 1; })
      .custom("--delta", "D", "a number <= 0",
              [&delta](const std::string& t) { return parse_finite_number(t, delta) && delta <= 0; })
      .integer("--threads", "N", 1, 1024, threads)
      .text("--data", "DIR", data_dir);
  if (Outcome parsed = parser.parse(args); !parsed.is_ok()) return parsed;
  const auto start = std::chrono::steady_clock::now();
  // The responses first: a bad file is reported before anything heavy is loaded.
  auto table = read_response_csv(responses_path, images_dir);
  if (!table) return table.status();
  auto inputs = load_response_images(table.value(), images_dir, data_dir);
  if (!inputs) return inputs.status();
  auto shared = load_model_file(model_path);
  if (!shared) return shared.status();

  PruneOptions options = prune_options(threads, fve, delta);
  options.run_step3 = !step1_only;
  std::vector<double> responses;
  for (const auto& row : table->rows) responses.push_back(row.response);
  auto fitted = fit_neuron(shared.value(), inputs.value(), responses, name, options);
  if (!fitted) return fitted.status();
  std::printf(
      "fit %s on %s: %d images fit the readout (%d features, ridge penalty %.3g chosen by 5-fold "
      "cross-validation), %d held out (every 5th row)\n",
      name.c_str(), shared->name.c_str(), fitted->fit_images, fitted->features, fitted->lambda, fitted->heldout_images);
  std::printf("r on held-out images: %.4f (95%% CI %.4f .. %.4f, Fisher z)\n", fitted->heldout_r,
              fitted->heldout_ci.low, fitted->heldout_ci.high);
  std::fflush(stdout);
  Model final_model = fitted->model;
  if (prune) {
    // The fit's split: the held-out rows measure r, the others are the pruning's fitting images.
    PruneData data;
    for (std::size_t i = 0; i < table->rows.size(); ++i) {
      if (held_out_row(i)) {
        data.eval_inputs.push_back(inputs.value()[i]);
        data.eval_responses.push_back(responses[i]);
      } else {
        data.fit_inputs.push_back(inputs.value()[i]);
      }
    }
    // Targets: the fitted model's own predictions on the fitting images (fit_targets left empty).
    auto result = prune_model(fitted->model, data, options);
    if (!result) return result.status();
    final_model = result->model;
    CL_RETURN_IF_ERROR(print_result(result.value(), "", 0, data_dir, data.eval_inputs, data.eval_responses, options,
                                    seconds_since(start)));
    const Interval pruned_ci = correlation_interval_fisher(result->events.back().heldout_r, data.eval_inputs.size());
    std::printf("pruned r on held-out images: %.4f (95%% CI %.4f .. %.4f, Fisher z)\n", result->events.back().heldout_r,
                pruned_ci.low, pruned_ci.high);
  } else {
    std::printf("time: %.1f s\n", seconds_since(start));
  }
  final_model.name = name;
  CL_RETURN_IF_ERROR(
      write_model(final_model, output, "cortexlens fit of " + responses_path + " on " + model_source_text(model_path)));
  std::printf("%s written\n", output.c_str());
  return Status::ok();
}

}  // namespace cortexlens::cli
