// Native benchmark of the float forward pass: median milliseconds per inference of the published models, with a
// per-layer breakdown (time, share, G multiply-adds/s) that says which kernel limits the total; with --int8-dir, the
// same for the int8 pass (Int8ForwardPlan) of DIR/<model>.clm.
//
//   build/<dir>/bench/bench_native [--runs N] [--data DIR] [--int8-dir DIR] [--isa NAME] [--compare-isas] [--json]
//                                  [MODEL_NAME_OR_PATH...]
//
// --isa forces the instruction set (as for the `cortexlens` commands; CORTEXLENS_ISA=NAME does too); --compare-isas
// first prints, per model, the plan's min and median time on every path this CPU has except scalar, beside this
// CPU's multiply-add peak on each (one core, as many independent accumulators as the registers allow: the yardstick
// for "share of peak"), with the thread's CPU time beside the wall clock (what a loaded, shared machine still
// measures reliably).
// --json: instead of the text report, one JSON object per model and line (plan reused, float and int8: every run's
// ms, per-layer medians and minimums, the outputs on the pattern) for scripts such as bench/bench_onnx.mjs, which
// check the outputs against another engine and so must not parse a report meant for people.
//
// Default models: compact_model_190923_neuron0, compact_model_190923_neuron21 (the per-neuron model with the most
// multiply-adds, 73.1 M) and shared_compact_model_100filters. Input: the golden "pattern" image, so no licensed
// image is needed and timings do not depend on a JPEG decoder. Not a test: it prints figures and asserts nothing.
#include <immintrin.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "args.hpp"
#include "cortexlens/forward.hpp"
#include "cortexlens/int8_forward_plan.hpp"
#include "cortexlens/isa.hpp"
#include "cortexlens/quantize.hpp"
#include "engine/forward_plan.hpp"
#include "kernels/int8_wide.hpp"
#include "model_source.hpp"

using namespace cortexlens;

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// This thread's CPU time: unlike the wall clock it stops while other processes hold the core, so on a shared,
// loaded machine it measures the kernels rather than the scheduler (cache pollution by the others still counts).
double thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// x[h][w][c] = 100 sin(0.1 h + 0.2 w + c): the golden pattern of golden_responses.json.
Tensor pattern(Shape3 shape) {
  Tensor t(shape);
  for (int h = 0; h < shape.h; ++h)
    for (int w = 0; w < shape.w; ++w)
      for (int c = 0; c < shape.c; ++c)
        t.at(h, w, c) = 100.0f * std::sin(static_cast<float>(0.1f * h + 0.2f * w + static_cast<float>(c)));
  return t;
}

std::string model_path(const std::string& data_dir, const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  if (name.rfind("shared_compact_model", 0) == 0)
    return data_dir + "/shared_compact_models/from_ensemble_model/" + name + ".keras";
  return data_dir + "/compact_models/" + name + ".keras";
}

// Multiply-adds per second of one core on each path's vectors: 12 (sse, avx2) or 24 (avx512) independent
// accumulators, separate mul + add on sse as the 4-lane kernels do, fused on the wider paths. Unrolled, so the
// accumulators live in registers (at -O2 GCC would keep the array in memory).
constexpr long kPeakIterations = 1'000'000;

double peak_sse() {
  __m128 acc[12];
  for (int a = 0; a < 12; ++a) acc[a] = _mm_set1_ps(0.001f * a);
  const __m128 m = _mm_set1_ps(0.999999f), x = _mm_set1_ps(0.001f);
  const double start = thread_cpu_ms();
  for (long i = 0; i < kPeakIterations; ++i)
#pragma GCC unroll 12
    for (int a = 0; a < 12; ++a) acc[a] = _mm_add_ps(_mm_mul_ps(acc[a], m), x);
  const double seconds = (thread_cpu_ms() - start) / 1e3;
  __m128 sum = acc[0];
  for (int a = 1; a < 12; ++a) sum = _mm_add_ps(sum, acc[a]);
  volatile float sink = _mm_cvtss_f32(sum);
  (void)sink;
  return kPeakIterations * 12.0 * 4 / seconds;
}

__attribute__((target("avx2,fma"))) double peak_avx2() {
  __m256 acc[12];
  for (int a = 0; a < 12; ++a) acc[a] = _mm256_set1_ps(0.001f * a);
  const __m256 m = _mm256_set1_ps(0.999999f), x = _mm256_set1_ps(0.001f);
  const double start = thread_cpu_ms();
  for (long i = 0; i < kPeakIterations; ++i)
#pragma GCC unroll 12
    for (int a = 0; a < 12; ++a) acc[a] = _mm256_fmadd_ps(acc[a], m, x);
  const double seconds = (thread_cpu_ms() - start) / 1e3;
  __m256 sum = acc[0];
  for (int a = 1; a < 12; ++a) sum = _mm256_add_ps(sum, acc[a]);
  volatile float sink = _mm256_cvtss_f32(sum);
  (void)sink;
  return kPeakIterations * 12.0 * 8 / seconds;
}

__attribute__((target("avx512f,fma"))) double peak_avx512() {
  __m512 acc[24];
  for (int a = 0; a < 24; ++a) acc[a] = _mm512_set1_ps(0.001f * a);
  const __m512 m = _mm512_set1_ps(0.999999f), x = _mm512_set1_ps(0.001f);
  const double start = thread_cpu_ms();
  for (long i = 0; i < kPeakIterations; ++i)
#pragma GCC unroll 24
    for (int a = 0; a < 24; ++a) acc[a] = _mm512_fmadd_ps(acc[a], m, x);
  const double seconds = (thread_cpu_ms() - start) / 1e3;
  __m512 sum = acc[0];
  for (int a = 1; a < 24; ++a) sum = _mm512_add_ps(sum, acc[a]);
  volatile float sink = _mm512_cvtss_f32(sum);
  (void)sink;
  return kPeakIterations * 24.0 * 16 / seconds;
}

// The best of many short tries (a few ms each): other processes only ever slow it down, and a short try is likelier
// to run undisturbed on a shared machine.
double peak_multiply_adds_per_second(Isa isa) {
  double best = 0.0;
  for (int t = 0; t < 50; ++t)
    best = std::max(best, isa == Isa::avx512 ? peak_avx512() : isa == Isa::avx2 ? peak_avx2() : peak_sse());
  return best;
}

// Wall and thread-CPU milliseconds of each run.
template <typename F>
void time_runs_both(int warmup, int runs, F&& f, std::vector<double>& wall, std::vector<double>& cpu) {
  for (int i = 0; i < warmup; ++i) f();
  for (int i = 0; i < runs; ++i) {
    const double cpu_start = thread_cpu_ms();
    const auto start = Clock::now();
    f();
    wall.push_back(ms_since(start));
    cpu.push_back(thread_cpu_ms() - cpu_start);
  }
}

template <typename F>
std::vector<double> time_runs(int warmup, int runs, F&& f) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    f();
    ms.push_back(ms_since(start));
  }
  return ms;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) continue;  // model names and messages carry no control characters
    out += ch;
  }
  return out + "\"";
}

template <typename T>
std::string json_numbers(const std::vector<T>& values) {
  std::string out = "[";
  char number[32];
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::snprintf(number, sizeof number, "%s%.9g", i ? "," : "", static_cast<double>(values[i]));
    out += number;
  }
  return out + "]";
}

// One pass kind (float ForwardPlan or Int8ForwardPlan) as a JSON object: every run's ms, the output on `input`, and
// each layer's median and minimum ms over `runs` runs of that layer alone.
template <typename Plan>
std::string json_pass(Plan& plan, const Model& model, const Tensor& input, int runs) {
  std::vector<float> out(plan.output_size());
  const auto ms = time_runs(5, runs, [&] { plan.run(input.data.data(), out.data()); });
  std::string json = "{\"ms\":" + json_numbers(ms) + ",\"output\":" + json_numbers(out) + ",\"layers\":[";
  for (std::size_t i = 0; i < plan.layer_count(); ++i) {
    const Layer& layer = model.layers[i];
    const auto layer_ms = time_runs(2, runs, [&] { plan.run_layer(i); });
    char fields[160];
    std::snprintf(fields, sizeof fields, ",\"kind\":\"%s\",\"multiply_adds\":%lld,\"median_ms\":%.6g,\"min_ms\":%.6g}",
                  layer_kind_name(layer.kind), static_cast<long long>(layer.multiply_adds()), median(layer_ms),
                  *std::min_element(layer_ms.begin(), layer_ms.end()));
    json += (i ? ",{\"name\":" : "{\"name\":") + json_string(layer.name) + fields;
  }
  return json + "]}";
}

// The --json record of one model: float pass, and the int8 pass of int8_dir/<model>.clm when int8_dir is set.
void print_json(const Model& model, const Tensor& input, int runs, const std::string& int8_dir) {
  ForwardPlan plan(model);
  std::string json =
      "{\"model\":" + json_string(model.name) + ",\"multiply_adds\":" + std::to_string(model.multiply_adds()) +
      ",\"isa\":" + json_string(isa_name(active_isa())) + ",\"float\":" + json_pass(plan, model, input, runs);
  if (!int8_dir.empty()) {
    const std::string file = int8_dir + "/" + model.name + ".clm";
    auto loaded8 = load_model_file(file);
    if (loaded8 && is_int8_model(loaded8.value())) {
      Int8ForwardPlan plan8(loaded8.value());
      json += ",\"int8\":" + json_pass(plan8, loaded8.value(), input, runs);
    } else {
      json += ",\"int8_error\":" + json_string(file + ": " + (loaded8 ? "not an int8 model" : loaded8.message()));
    }
  }
  std::printf("%s}\n", json.c_str());
  std::fflush(stdout);
}

}  // namespace

// Long by design: the benchmark's script, one measurement after another in the order they are printed.
int main(int argc, char** argv) {
  int runs = 30;
  std::string data_dir = CORTEXLENS_DATA_DIR;
  if (const char* env = std::getenv("CORTEXLENS_DATA_DIR"); env && *env) data_dir = env;
  std::string int8_dir;
  bool json = false;
  std::vector<std::string> names;
  bool compare_isas = false;
  cli::Args args(argv, argv + argc);
  if (cli::Outcome isa = cli::apply_isa_option(args, ""); !isa.is_ok()) {
    std::fprintf(stderr, "bench_native: %s\n", isa.message().c_str());
    return isa.exit_code();
  }
  argc = static_cast<int>(args.size());
  for (int i = 1; i < argc; ++i) argv[i] = const_cast<char*>(args[i].c_str());
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--compare-isas"))
      compare_isas = true;
    else if (!std::strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--data") && i + 1 < argc)
      data_dir = argv[++i];
    else if (!std::strcmp(argv[i], "--int8-dir") && i + 1 < argc)
      int8_dir = argv[++i];
    else if (!std::strcmp(argv[i], "--json"))
      json = true;
    else
      names.push_back(argv[i]);
  }
  // The instruction-set path of the kernels (isa.hpp); CORTEXLENS_ISA=sse|avx2|avx512|scalar, else the widest.
  if (const char* env = std::getenv("CORTEXLENS_ISA"); env && *env) {
    const auto isa = parse_isa(env);
    const Status chosen = isa ? set_isa(isa.value()) : isa.status();
    if (!chosen) {
      std::fprintf(stderr, "bench_native: CORTEXLENS_ISA: %s\n", chosen.message().c_str());
      return 1;
    }
  }
  if (names.empty())
    names = {"compact_model_190923_neuron0", "compact_model_190923_neuron21", "shared_compact_model_100filters"};

  std::printf(
      "# bench_native: float32 (and int8 with --int8-dir), 1 thread, median of %d runs after 5 warm-up runs, golden "
      "pattern input\n",
      runs);
  std::string supported;
  for (Isa isa : supported_isas()) supported += (supported.empty() ? "" : ", ") + std::string(isa_name(isa));
  std::printf("# instruction set: %s (this CPU and build support %s; --isa NAME to force one)\n",
              isa_name(active_isa()), supported.c_str());
  std::printf("# int8 steps: %s\n", int8_engine_description(active_isa()).c_str());
  std::vector<double> peaks;  // G multiply-adds/s per supported ISA, when comparing
  if (compare_isas) {
    std::printf("# one-core multiply-add peak (G/s):");
    for (Isa isa : supported_isas()) {
      peaks.push_back(isa == Isa::scalar ? 0.0 : peak_multiply_adds_per_second(isa) / 1e9);
      if (isa != Isa::scalar) std::printf(" %s %.1f", isa_name(isa), peaks.back());
    }
    std::printf("\n");
  }
  for (const auto& name : names) {
    auto loaded = load_model_file(model_path(data_dir, name));
    if (!loaded) {
      std::fprintf(stderr, "bench_native: %s\n", loaded.message().c_str());
      return 1;
    }
    const Model& model = loaded.value();
    const Tensor input = pattern(model.input);
    if (json) {
      print_json(model, input, runs, int8_dir);
      continue;
    }
    const double mmacs = static_cast<double>(model.multiply_adds()) / 1e6;

    std::printf("\n%s: %.1f M multiply-adds\n", model.name.c_str(), mmacs);
    if (compare_isas) {
      const Isa chosen = active_isa();
      std::printf("  %-8s %9s %9s %9s %9s %8s %7s\n", "isa", "min ms", "median ms", "cpu min", "cpu med", "G/s(cpu)",
                  "of peak");
      const std::vector<Isa> isas = supported_isas();
      for (std::size_t k = 1; k < isas.size(); ++k) {
        (void)set_isa(isas[k]);
        ForwardPlan isa_plan(model);
        std::vector<float> isa_out(isa_plan.output_size());
        std::vector<double> wall, cpu;
        const auto pass = [&] { isa_plan.run(input.data.data(), isa_out.data()); };
        time_runs_both(5, runs, pass, wall, cpu);
        const double lo = *std::min_element(wall.begin(), wall.end());
        const double cpu_lo = *std::min_element(cpu.begin(), cpu.end());
        std::printf("  %-8s %9.3f %9.3f %9.3f %9.3f %8.1f %6.0f%%\n", isa_name(isas[k]), lo, median(wall), cpu_lo,
                    median(cpu), mmacs / cpu_lo, 100.0 * mmacs / cpu_lo / peaks[k]);
      }
      (void)set_isa(chosen);
    }
    ForwardPlan plan(model);
    std::vector<float> out(plan.output_size());
    const auto plan_runs = time_runs(5, runs, [&] { plan.run(input.data.data(), out.data()); });
    const double plan_ms = median(plan_runs);
    const double plan_min = *std::min_element(plan_runs.begin(), plan_runs.end());
    const double forward_ms = median(time_runs(5, runs, [&] { (void)forward(model, input); }));
    // Batch 32 natively is 32 passes through one plan (no batch dimension in the kernels).
    const double batch_ms = median(time_runs(1, std::max(3, runs / 8), [&] {
      for (int b = 0; b < 32; ++b) plan.run(input.data.data(), out.data());
    }));
    const double ref_ms = median(time_runs(1, 3, [&] { (void)forward(model, input, {false, true}); }));

    std::printf("  plan reused (batch 1)     %8.3f ms  %7.1f images/s  %6.2f G multiply-adds/s  (min %.3f ms)\n",
                plan_ms, 1e3 / plan_ms, mmacs / plan_ms, plan_min);
    std::printf("  forward() (plan per call) %8.3f ms\n", forward_ms);
    std::printf("  batch 32 (loop)           %8.3f ms  %7.1f images/s\n", batch_ms, 32e3 / batch_ms);
    std::printf("  scalar reference kernels  %8.3f ms  (%.1fx slower)\n", ref_ms, ref_ms / plan_ms);
    std::printf("  per layer on %s:\n", isa_name(plan.isa()));
    std::printf("  %-24s %-16s %14s %9s %7s %8s %7s\n", "layer", "kind", "output", "M m-adds", "ms", "G/s", "min ms");
    for (std::size_t i = 0; i < plan.layer_count(); ++i) {
      const Layer& layer = model.layers[i];
      const auto layer_runs = time_runs(2, runs, [&] { plan.run_layer(i); });
      const double layer_ms = median(layer_runs);
      const double layer_min = *std::min_element(layer_runs.begin(), layer_runs.end());
      const double layer_m = static_cast<double>(layer.multiply_adds()) / 1e6;
      char shape[48];
      std::snprintf(shape, sizeof shape, "(%d,%d,%d)", layer.out.h, layer.out.w, layer.out.c);
      std::printf("  %-24s %-16s %14s %9.2f %7.3f %8.2f %7.3f\n", layer.name.c_str(), layer_kind_name(layer.kind),
                  shape, layer_m, layer_ms, layer_m / layer_ms, layer_min);
    }
    if (!int8_dir.empty()) {
      const std::string file = int8_dir + "/" + model.name + ".clm";
      auto loaded8 = load_model_file(file);
      if (!loaded8 || !is_int8_model(loaded8.value())) {
        std::printf("  int8: %s: %s\n", file.c_str(), loaded8 ? "not an int8 model" : loaded8.message().c_str());
        continue;
      }
      const Model& model8 = loaded8.value();
      Int8ForwardPlan plan8(model8);
      const auto runs8 = time_runs(5, runs, [&] { plan8.run(input.data.data(), out.data()); });
      const double ms8 = median(runs8), min8 = *std::min_element(runs8.begin(), runs8.end());
      const double forward8_ms = median(time_runs(5, runs, [&] { (void)forward_int8(model8, input); }));
      const double ref8_ms = median(time_runs(1, 3, [&] { (void)forward_int8(model8, input, {false, true}); }));
      std::printf("  int8 plan reused          %8.3f ms  %7.1f images/s  %6.2f G multiply-adds/s  (min %.3f ms)\n", ms8,
                  1e3 / ms8, mmacs / ms8, min8);
      std::printf("  forward_int8() (plan/call)%8.3f ms\n", forward8_ms);
      std::printf("  int8 reference kernels    %8.3f ms  (%.1fx slower)\n", ref8_ms, ref8_ms / ms8);
      for (std::size_t i = 0; i < plan8.layer_count(); ++i) {
        const Layer& layer = model8.layers[i];
        const auto layer_runs = time_runs(2, runs, [&] { plan8.run_layer(i); });
        const double layer_ms = median(layer_runs);
        const double layer_min = *std::min_element(layer_runs.begin(), layer_runs.end());
        const double layer_m = static_cast<double>(layer.multiply_adds()) / 1e6;
        std::printf("  int8 %-19s %-16s %14s %9.2f %7.3f %8.2f %7.3f\n", layer.name.c_str(),
                    layer_kind_name(layer.kind), "", layer_m, layer_ms, layer_m / layer_ms, layer_min);
      }
    }
  }
  return 0;
}
