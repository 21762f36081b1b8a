// Per-kernel throughput on the layer shapes of the published models, for both targets (natively, and compiled to
// wasm and run under node): G multiply-adds/s of the float kernels through a ForwardPlan, of the int8 kernels
// as an Int8ForwardPlan step (packed once, output quantized into a bordered buffer as for a next layer). Synthetic
// weights and inputs, so no data is needed. Prints the minimum and the median of 40 runs: on a shared machine the
// minimum is the kernel's speed, the median includes other processes' preemptions.
//
//   native: build/<dir>/bench/bench_kernels
//   wasm:   node --no-experimental-fetch build/<wasm dir>/bench/bench_kernels.js
// Tile shapes are compile-time constants (CORTEXLENS_F32_TILE, CORTEXLENS_F32_BLOCK_VECTORS, CORTEXLENS_DW_TILE,
// CORTEXLENS_DW_VECTORS, CORTEXLENS_I8_TILE, CORTEXLENS_I8_VECTORS in core/src/kernels/*.cpp): pass them with
// -DCMAKE_CXX_FLAGS=... in a separate build folder to compare alternatives.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "cortexlens/int8_forward_plan.hpp"
#include "cortexlens/quantize.hpp"
#include "engine/forward_plan.hpp"
#include "engine/int8_forward_plan_internals.hpp"
#include "model/quantize_internals.hpp"

using namespace cortexlens;

namespace {

Layer make_layer(LayerKind kind, Shape3 in, int out_c, int k, int stride, std::mt19937& rng) {
  Layer l;
  l.kind = kind;
  l.name = "bench";
  l.in = in;
  l.kernel_h = l.kernel_w = k;
  l.stride_h = l.stride_w = stride;
  auto [t, b] = same_padding(in.h, k, stride);
  auto [left, right] = same_padding(in.w, k, stride);
  l.pad = {t, b, left, right};
  l.activation = Activation::relu;
  l.out = {conv_output_size(in.h, k, stride, t, b), conv_output_size(in.w, k, stride, left, right),
           kind == LayerKind::conv2d ? out_c : in.c};
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const std::size_t weights = static_cast<std::size_t>(k) * k * in.c * (kind == LayerKind::conv2d ? out_c : 1);
  for (std::size_t i = 0; i < weights; ++i) l.weights.push_back(0.1f * normal(rng));
  for (int i = 0; i < l.out.c; ++i) l.bias.push_back(normal(rng));
  return l;
}

struct Timing {
  double min_ms, median_ms;
};

template <typename F>
Timing time_runs(F&& f) {
  for (int i = 0; i < 3; ++i) f();
  std::vector<double> ms;
  for (int i = 0; i < 40; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms.front(), ms[ms.size() / 2]};
}

}  // namespace

int main() {
  std::mt19937 rng(1);
  struct Case {
    const char* name;
    LayerKind kind;
    Shape3 in;
    int out_c, k, stride;
  };
  const Case cases[] = {
      {"first conv 5x5 3->48 @112", LayerKind::conv2d, {112, 112, 3}, 48, 5, 1},
      {"first conv 5x5 3->57 @112", LayerKind::conv2d, {112, 112, 3}, 57, 5, 1},
      {"first conv 5x5 3->49 @112", LayerKind::conv2d, {112, 112, 3}, 49, 5, 1},
      {"first conv 5x5 3->38 @112", LayerKind::conv2d, {112, 112, 3}, 38, 5, 1},
      {"first conv 5x5 3->100 @112", LayerKind::conv2d, {112, 112, 3}, 100, 5, 1},
      {"depthwise 5x5 s2 48 @112", LayerKind::depthwise_conv2d, {112, 112, 48}, 0, 5, 2},
      {"depthwise 5x5 s1 100 @28", LayerKind::depthwise_conv2d, {28, 28, 100}, 0, 5, 1},
      {"pointwise 48->60 @56", LayerKind::conv2d, {56, 56, 48}, 60, 1, 1},
      {"pointwise 100->100 @56", LayerKind::conv2d, {56, 56, 100}, 100, 1, 1},
      {"pointwise 100->219 @28", LayerKind::conv2d, {28, 28, 100}, 219, 1, 1},
  };
  std::printf("# G multiply-adds/s, min (median) of 40 runs\n");
  std::printf("%-28s %8s %16s %16s\n", "layer", "M m-adds", "float plan", "int8 step");
  for (const Case& c : cases) {
    Layer layer = make_layer(c.kind, c.in, c.out_c, c.k, c.stride, rng);
    const double mmacs = static_cast<double>(layer.multiply_adds()) / 1e6;
    Model model{"bench", layer.in, std::vector<std::string>(layer.out.size(), "o"), {}, {layer}};
    ForwardPlan plan(model);
    std::vector<float> input(layer.in.size(), 0.5f), out(plan.output_size());
    plan.run(input.data(), out.data());
    const Timing f = time_runs([&] { plan.run_layer(0); });
    std::printf("%-28s %8.2f %7.1f (%6.1f)", c.name, mmacs, mmacs / f.min_ms, mmacs / f.median_ms);
    layer.int8 = quantize_layer_weights(layer, 0.05f, /*unsigned_input=*/false);
    // As inside a plan: the input in its bordered buffer, the output quantized into the next layer's buffer.
    const int in_cs = c.kind == LayerKind::depthwise_conv2d ? (c.in.c + 7) / 8 * 8 : c.in.c;
    const Int8ForwardPlan::Step step = Int8ForwardPlan::prepare_step(layer, in_cs);
    Int8ForwardPlan::Buffer in8 = Int8ForwardPlan::make_buffer(layer.in, layer.pad, in_cs);
    std::uniform_int_distribution<int> code8(-127, 127);
    for (auto& v : in8.owned) v = static_cast<std::int16_t>(code8(rng));  // border too: speed only
    Int8ForwardPlan::Buffer out8 =
        Int8ForwardPlan::make_buffer(layer.out, Padding{2, 2, 2, 2}, (layer.out.c + 7) / 8 * 8);
    Int8ForwardPlan::Sink sink;
    sink.q = out8.at(0, 0);
    sink.q_pixel = out8.channel_stride;
    sink.q_row = out8.row_stride();
    sink.q_scale = 0.05f;
    sink.q_low = 0.0f;
    sink.q_high = 255.0f;
    const Timing t = time_runs([&] { Int8ForwardPlan::run_step(step, in8, sink); });
    std::printf(" %7.1f (%6.1f)", mmacs / t.min_ms, mmacs / t.median_ms);
    std::printf("\n");
  }
  return 0;
}
