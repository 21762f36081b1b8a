// Every instruction-set path this machine (and this build) can run, against the scalar `_ref` twins: each float
// kernel on awkward shapes, then whole forward passes. Under wasm the list is scalar and sse, so the same cases run
// on the path the page uses.
//
// Tolerance: the sse path sums in a fixed order with separate multiplies and adds (bit-identical to wasm); avx2
// and avx512 fuse multiply-adds and sum in another order, so every path is held to
//   max |fast - ref| <= 1e-5 * (max |ref| + 1)   over one layer's (or one model's) outputs.
// With float32 rounding (6e-8) and at most ~2,500 terms per sum here, the observed differences are ~1e-6 relative;
// 1e-5 leaves room without hiding a wrong tap or channel, which shows up as an O(1) relative error.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>

#include "cortexlens/forward.hpp"
#include "cortexlens/isa.hpp"
#include "cortexlens/model_file.hpp"
#include "engine/forward_plan.hpp"
#include "image_fixtures.hpp"
#include "isa_guard.hpp"
#include "kernels/kernels.hpp"
#include "random_layer.hpp"

using namespace cortexlens;

namespace {

using test::IsaGuard;
using test::random_layer;

constexpr double kRelativeTolerance = 1e-5;

void require_close(const std::vector<float>& fast, const std::vector<float>& ref) {
  REQUIRE(fast.size() == ref.size());
  double max_ref = 0.0, max_diff = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    max_ref = std::max(max_ref, std::fabs(static_cast<double>(ref[i])));
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(fast[i]) - ref[i]));
  }
  INFO("max |fast - ref| " << max_diff << ", max |ref| " << max_ref);
  REQUIRE(max_diff <= kRelativeTolerance * (max_ref + 1.0));
}

// The layer through run_layer_f32 (a one-layer ForwardPlan step) on every supported ISA, against its `_ref` twin.
void check_layer_on_every_isa(const Layer& layer, std::mt19937& rng) {
  REQUIRE(validate_model(Model{"m", layer.in, std::vector<std::string>(layer.out.size(), "o"), {}, {layer}}).is_ok());
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> in(layer.in.size());
  for (auto& v : in) v = normal(rng);
  std::vector<float> ref(layer.out.size(), 7.0f);
  run_layer_f32(layer, in.data(), ref.data(), /*use_reference=*/true);
  IsaGuard guard;
  for (Isa isa : supported_isas()) {
    INFO("isa " << isa_name(isa) << ", " << layer_kind_name(layer.kind) << " in (" << layer.in.h << "," << layer.in.w
                << "," << layer.in.c << ") out (" << layer.out.h << "," << layer.out.w << "," << layer.out.c << ") k "
                << layer.kernel_h << " stride " << layer.stride_h);
    REQUIRE(set_isa(isa));
    std::vector<float> fast(layer.out.size(), -7.0f);
    run_layer_f32(layer, in.data(), fast.data(), /*use_reference=*/false);
    if (isa == Isa::scalar)
      REQUIRE(fast == ref);  // the scalar path is the twin itself
    else
      require_close(fast, ref);
  }
}

}  // namespace

TEST_CASE("every ISA is selectable, and an unsupported one is refused naming the supported ones", "[isa]") {
  IsaGuard guard;
  const std::vector<Isa> supported = supported_isas();
  REQUIRE(supported.size() >= 2);
  CHECK(supported[0] == Isa::scalar);
  CHECK(supported[1] == Isa::sse);
  for (Isa isa : supported) {
    REQUIRE(set_isa(isa));
    CHECK(active_isa() == isa);
  }
  for (Isa isa : {Isa::avx2, Isa::avx512}) {
    if (std::find(supported.begin(), supported.end(), isa) != supported.end()) continue;
    const Status refused = set_isa(isa);
    REQUIRE_FALSE(refused);
    CHECK_THAT(refused.message(), Catch::Contains(std::string("cannot run ") + isa_name(isa)) &&
                                      Catch::Contains("it supports scalar, sse"));
  }
}

TEST_CASE("conv2d on every ISA matches the scalar reference", "[isa][kernels]") {
  std::mt19937 rng(11);
  // Channel counts around every vector width and block (4, 8, 16; blocks of 16, 24, 64), the published ones (48,
  // 57, 60, 100), widths that leave every tile remainder.
  const int in_c = GENERATE(1, 3, 5, 17, 33);
  const int out_c = GENERATE(1, 3, 5, 17, 24, 33, 48, 57, 100);
  const int k = GENERATE(1, 3, 5);
  const int stride = GENERATE(1, 2);
  const bool same = GENERATE(true, false);
  for (int size : {1, 6, 13}) {
    if (!same && k > size) continue;
    auto layer = random_layer(LayerKind::conv2d, {size, size + 3, in_c}, out_c, k, stride, same, Activation::relu, rng);
    check_layer_on_every_isa(layer, rng);
  }
}

TEST_CASE("conv2d on every ISA: the published first layer's shape, linear and ReLU", "[isa][kernels]") {
  std::mt19937 rng(12);
  const int out_c = GENERATE(48, 57, 60, 100);
  const Activation act = GENERATE(Activation::relu, Activation::linear);
  auto layer = random_layer(LayerKind::conv2d, {23, 31, 3}, out_c, 5, 1, true, act, rng);
  check_layer_on_every_isa(layer, rng);
}

TEST_CASE("depthwise conv2d on every ISA matches the scalar reference", "[isa][kernels]") {
  std::mt19937 rng(13);
  const int channels = GENERATE(1, 3, 5, 17, 33, 48, 60, 100);
  const int k = GENERATE(1, 3, 5);
  const int stride = GENERATE(1, 2, 3);
  const bool same = GENERATE(true, false);
  for (int size : {1, 6, 11}) {
    if (!same && k > size) continue;
    auto layer = random_layer(LayerKind::depthwise_conv2d, {size, size + 2, channels}, 0, k, stride, same,
                              stride == 2 ? Activation::relu : Activation::linear, rng);
    check_layer_on_every_isa(layer, rng);
  }
}

TEST_CASE("depthwise conv2d over the whole map (the shared models' readout) on every ISA", "[isa][kernels]") {
  std::mt19937 rng(14);
  const int channels = GENERATE(3, 17, 219);
  auto layer = random_layer(LayerKind::depthwise_conv2d, {28, 28, channels}, 0, 28, 1, false, Activation::linear, rng);
  check_layer_on_every_isa(layer, rng);
}

TEST_CASE("dense on every ISA matches the scalar reference", "[isa][kernels]") {
  std::mt19937 rng(15);
  const int inputs = GENERATE(1, 3, 7, 17, 33, 2352);
  const int units = GENERATE(1, 3, 5, 17, 33, 219);
  const Activation act = GENERATE(Activation::relu, Activation::linear);
  auto layer = random_layer(LayerKind::dense, {1, 1, inputs}, units, 1, 1, false, act, rng);
  check_layer_on_every_isa(layer, rng);
}

namespace {

// The published architecture with published-like channel counts, or a shared model's readout.
Model random_compact_model(int c0, int c1, int c2, bool spatial_readout, std::mt19937& rng) {
  const Shape3 input{29, 27, 3};
  std::vector<Layer> layers;
  layers.push_back(random_layer(LayerKind::conv2d, input, c0, 5, 1, true, Activation::relu, rng));
  layers.push_back(
      random_layer(LayerKind::depthwise_conv2d, layers.back().out, 0, 5, 2, true, Activation::linear, rng));
  layers.push_back(random_layer(LayerKind::conv2d, layers.back().out, c1, 1, 1, true, Activation::relu, rng));
  layers.push_back(
      random_layer(LayerKind::depthwise_conv2d, layers.back().out, 0, 5, 2, true, Activation::linear, rng));
  layers.push_back(random_layer(LayerKind::conv2d, layers.back().out, c2, 1, 1, true, Activation::relu, rng));
  if (spatial_readout) {
    const Shape3 s = layers.back().out;
    Layer pool = random_layer(LayerKind::depthwise_conv2d, s, 0, s.h, 1, false, Activation::linear, rng);
    pool.kernel_w = s.w;
    pool.out = {1, 1, s.c};
    pool.weights.resize(static_cast<std::size_t>(s.h) * s.w * s.c, 0.5f);
    layers.push_back(pool);
  } else {
    layers.push_back(random_layer(LayerKind::dense, layers.back().out, 1, 1, 1, false, Activation::linear, rng));
  }
  return Model{"random", input, std::vector<std::string>(layers.back().out.size(), "o"), {}, layers};
}

// forward() on every supported ISA against the reference kernels; the sse plan's outputs are also compared with a
// plan built under another ISA and switched to sse (the repack on the next run).
void check_forward_on_every_isa(const Model& model, std::mt19937& rng) {
  REQUIRE(validate_model(model).is_ok());
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Tensor x(model.input);
  for (auto& v : x.data) v = normal(rng);
  auto ref = forward(model, x, {/*keep_activations=*/true, /*use_reference_kernels=*/true});
  REQUIRE(ref);
  IsaGuard guard;
  const std::vector<Isa> isas = supported_isas();
  REQUIRE(set_isa(isas.back()));
  ForwardPlan switched(model);  // built for the widest path, then run on each
  for (Isa isa : isas) {
    INFO("isa " << isa_name(isa) << ", model " << model.name);
    REQUIRE(set_isa(isa));
    auto result = forward(model, x, {/*keep_activations=*/true, /*use_reference_kernels=*/false});
    REQUIRE(result);
    require_close(result.value().outputs, ref.value().outputs);
    REQUIRE(result.value().activations.size() == ref.value().activations.size());
    for (std::size_t i = 0; i < ref.value().activations.size(); ++i)
      require_close(result.value().activations[i].data, ref.value().activations[i].data);
    std::vector<float> out(switched.output_size());
    switched.run(x.data.data(), out.data());
    CHECK(switched.isa() == isa);
    REQUIRE(out == result.value().outputs);  // the same kernels on the same packing: bit for bit
  }
}

}  // namespace

TEST_CASE("forward() agrees across ISAs on random compact models", "[isa][forward]") {
  std::mt19937 rng(16);
  const int c0 = GENERATE(5, 48, 57, 100);
  const bool spatial_readout = GENERATE(false, true);
  const Model model = random_compact_model(c0, c0 + 12, spatial_readout ? 219 : 3, spatial_readout, rng);
  check_forward_on_every_isa(model, rng);
}

TEST_CASE("forward() agrees across ISAs on the committed demo model", "[isa][forward][demo]") {
  std::vector<std::uint8_t> bytes;
  REQUIRE(fixtures::read_file(std::string(CORTEXLENS_MODELS_DIR) + "/demo/demo_dot_detector.clm", bytes));
  auto loaded = read_model_file(bytes.data(), bytes.size());
  REQUIRE(loaded);
  std::mt19937 rng(17);
  check_forward_on_every_isa(loaded.value().model, rng);
}

TEST_CASE("forward() agrees across ISAs on small chains with 3x3 stride-1 depthwise convs", "[isa][forward]") {
  // test_kernels.cpp's chain (awkward sizes, a border for every consumer), on every path.
  std::mt19937 rng(18);
  const int in_c = GENERATE(1, 3, 4);
  const int c0 = GENERATE(5, 16, 17);
  const int c1 = GENERATE(3, 12);
  const Shape3 input{15, 13, in_c};
  std::vector<Layer> layers;
  layers.push_back(random_layer(LayerKind::conv2d, input, c0, 5, 1, true, Activation::relu, rng));
  layers.push_back(
      random_layer(LayerKind::depthwise_conv2d, layers.back().out, 0, 5, 2, true, Activation::linear, rng));
  layers.push_back(random_layer(LayerKind::conv2d, layers.back().out, c1, 1, 1, true, Activation::relu, rng));
  layers.push_back(
      random_layer(LayerKind::depthwise_conv2d, layers.back().out, 0, 3, 1, true, Activation::linear, rng));
  layers.push_back(random_layer(LayerKind::conv2d, layers.back().out, c1 + 1, 1, 1, true, Activation::relu, rng));
  layers.push_back(random_layer(LayerKind::dense, layers.back().out, 2, 1, 1, false, Activation::linear, rng));
  const Model model{"chain", input, std::vector<std::string>(layers.back().out.size(), "o"), {}, layers};
  check_forward_on_every_isa(model, rng);
}

TEST_CASE("a plan's activations start each pixel on a vector boundary of its path, and follow an ISA switch",
          "[isa][forward]") {
  CHECK(ForwardPlan::channel_stride(100, Isa::sse) == 100);
  CHECK(ForwardPlan::channel_stride(57, Isa::sse) == 60);
  CHECK(ForwardPlan::channel_stride(57, Isa::avx2) == 64);
  CHECK(ForwardPlan::channel_stride(100, Isa::avx512) == 112);
  CHECK(ForwardPlan::channel_stride(12, Isa::avx512) == 12);  // under one vector: the tail is masked instead
  CHECK(ForwardPlan::channel_stride(3, Isa::avx2) == 4);
  std::mt19937 rng(19);
  const Model model = random_compact_model(100, 57, 3, false, rng);
  IsaGuard guard;
  const std::vector<Isa> isas = supported_isas();
  REQUIRE(set_isa(isas.back()));
  ForwardPlan plan(model);
  std::vector<float> input(model.input.size(), 0.5f), out(plan.output_size());
  for (auto it = isas.rbegin(); it != isas.rend(); ++it) {
    INFO("isa " << isa_name(*it));
    REQUIRE(set_isa(*it));
    plan.run(input.data(), out.data());
    for (std::size_t i = 0; i < plan.layer_count(); ++i) {
      const ForwardPlan::Buffer& b = plan.output_buffer(i);
      CHECK(b.channel_stride == ForwardPlan::channel_stride(b.shape.c, *it));
      if (b.channel_stride % 16 == 0) CHECK(reinterpret_cast<std::uintptr_t>(b.at(0, 0)) % 64 == 0);
    }
  }
}

TEST_CASE(
    "a conv whose map outgrows L2 runs in bands with the depthwise conv after it: the same bits as layer by layer",
    "[isa][forward]") {
  // 61 x 59 x 100 channels (112 floats a pixel on avx512): 1.4-1.6 MB, over the plan's 1 MB threshold.
  std::mt19937 rng(20);
  const Shape3 input{61, 59, 3};
  std::vector<Layer> layers;
  layers.push_back(random_layer(LayerKind::conv2d, input, 100, 5, 1, true, Activation::relu, rng));
  layers.push_back(
      random_layer(LayerKind::depthwise_conv2d, layers.back().out, 0, 5, 2, true, Activation::linear, rng));
  layers.push_back(random_layer(LayerKind::conv2d, layers.back().out, 21, 1, 1, true, Activation::relu, rng));
  layers.push_back(random_layer(LayerKind::dense, layers.back().out, 2, 1, 1, false, Activation::linear, rng));
  const Model model{"banded", input, std::vector<std::string>(layers.back().out.size(), "o"), {}, layers};
  check_forward_on_every_isa(model, rng);

  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(input.size());
  for (auto& v : x) v = normal(rng);
  IsaGuard guard;
  for (Isa isa : supported_isas()) {
    if (isa == Isa::scalar) continue;
    INFO("isa " << isa_name(isa));
    REQUIRE(set_isa(isa));
    ForwardPlan plan(model);
    std::vector<Tensor> banded;
    std::vector<float> out(plan.output_size());
    plan.run(x.data(), out.data(), &banded);
    REQUIRE(banded.size() == layers.size());
    for (std::size_t i = 0; i < plan.layer_count(); ++i) {
      plan.run_layer(i);  // whole layers, in order, from the same input buffer
      std::vector<float> whole(layers[i].out.size());
      ForwardPlan::copy_out(const_cast<ForwardPlan::Buffer&>(plan.output_buffer(i)), whole.data());
      REQUIRE(whole == banded[i].data);
    }
  }
}
