// The backward pass to the input against central finite differences in double precision (tests/gradient_check.hpp),
// per layer kind on small random layers, and on a whole model of the published architecture; fast backward kernels
// against their scalar twins on awkward shapes.
#include <catch2/catch.hpp>
#include <random>

#include "cortexlens/backward.hpp"
#include "cortexlens/forward.hpp"
#include "cortexlens/isa.hpp"
#include "gradient_check.hpp"
#include "isa_guard.hpp"
#include "keras_fixture.hpp"
#include "kernels/kernels.hpp"
#include "random_layer.hpp"

using namespace cortexlens;

namespace {

using test::IsaGuard;
using test::random_layer;

Model single_layer_model(const Layer& layer) {
  Model m{"m", layer.in, std::vector<std::string>(layer.out.size(), "o"), {}, {layer}};
  REQUIRE(validate_model(m).is_ok());
  return m;
}

Tensor random_input(Shape3 shape, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> normal(0.0f, scale);
  Tensor t(shape);
  for (auto& v : t.data) v = normal(rng);
  return t;
}

std::vector<std::vector<double>> random_directions(std::size_t n, int count, std::mt19937& rng) {
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<std::vector<double>> out(count, std::vector<double>(n));
  for (auto& v : out)
    for (auto& x : v) x = normal(rng);
  return out;
}

// Every coordinate of a small input, or a spread-out sample of a larger one.
std::vector<std::size_t> coordinates(std::size_t n, std::size_t max_count) {
  std::vector<std::size_t> out;
  const std::size_t step = std::max<std::size_t>(1, n / max_count);
  for (std::size_t i = 0; i < n; i += step) out.push_back(i);
  return out;
}

// Float gradients of piecewise-linear maps: rounding only, so errors stay near float epsilon times the scale.
void check_gradient(const Model& model, const Tensor& input, const OutputSelector& s, std::mt19937& rng) {
  for (bool reference : {false, true}) {
    auto g = input_gradient(model, input, s, {reference});
    REQUIRE(g.is_ok());
    auto report = gradcheck::check(model, input, s, g.value().gradient.data, coordinates(input.data.size(), 60),
                                   random_directions(input.data.size(), 3, rng), 1e-3);
    INFO("layer " << s.layer << " channel " << s.channel << " at " << s.y << "," << s.x << " reference " << reference
                  << ": checked " << report.checked << ", skipped " << report.skipped << ", max error "
                  << report.max_error << " (scale " << report.scale << "), direction error "
                  << report.max_direction_error);
    REQUIRE(report.checked >= 20);
    REQUIRE(report.max_error <= 1e-4 * std::max(1.0, report.scale));
    REQUIRE(report.max_direction_error <= 1e-4);
    // The value returned is the forward pass's.
    const std::vector<double> x(input.data.begin(), input.data.end());
    REQUIRE(g.value().value == Approx(gradcheck::forward_double(model, x, s)).margin(1e-4));
  }
}

}  // namespace

TEST_CASE("conv2d input gradient matches finite differences", "[backward]") {
  std::mt19937 rng(11);
  const int k = GENERATE(1, 3, 5);
  const int stride = GENERATE(1, 2, 3);
  const bool same = GENERATE(true, false);
  const auto act = GENERATE(Activation::linear, Activation::relu);
  const Layer layer = random_layer(LayerKind::conv2d, {7, 8, 3}, 4, k, stride, same, act, rng);
  const Model model = single_layer_model(layer);
  const Tensor input = random_input(layer.in, rng);
  check_gradient(model, input, OutputSelector::channel_mean(0, 1), rng);
  check_gradient(model, input, OutputSelector::unit(0, 3, layer.out.h / 2, layer.out.w - 1), rng);
}

TEST_CASE("depthwise input gradient matches finite differences", "[backward]") {
  std::mt19937 rng(12);
  const int k = GENERATE(1, 3, 5, 7);
  const int stride = GENERATE(1, 2);
  const bool same = GENERATE(true, false);
  const auto act = GENERATE(Activation::linear, Activation::relu);
  const Layer layer = random_layer(LayerKind::depthwise_conv2d, {9, 7, 5}, 0, k, stride, same, act, rng);
  const Model model = single_layer_model(layer);
  const Tensor input = random_input(layer.in, rng);
  check_gradient(model, input, OutputSelector::channel_mean(0, 4), rng);
  check_gradient(model, input, OutputSelector::unit(0, 0, 0, 0), rng);
}

TEST_CASE("dense input gradient matches finite differences", "[backward]") {
  std::mt19937 rng(13);
  const int units = GENERATE(1, 3, 17);
  const auto act = GENERATE(Activation::linear, Activation::relu);
  const Layer layer = random_layer(LayerKind::dense, {4, 5, 3}, units, 1, 1, false, act, rng);
  const Model model = single_layer_model(layer);
  const Tensor input = random_input(layer.in, rng);
  check_gradient(model, input, OutputSelector::output(units - 1), rng);
}

TEST_CASE("gradients through a chain of every layer kind match finite differences", "[backward]") {
  std::mt19937 rng(14);
  // conv (relu) -> depthwise stride 2 -> pointwise (relu) -> dense: a miniature compact model.
  std::vector<Layer> layers;
  layers.push_back(random_layer(LayerKind::conv2d, {12, 11, 3}, 6, 5, 1, true, Activation::relu, rng));
  layers.push_back(
      random_layer(LayerKind::depthwise_conv2d, layers.back().out, 0, 5, 2, true, Activation::linear, rng));
  layers.push_back(random_layer(LayerKind::conv2d, layers.back().out, 5, 1, 1, false, Activation::relu, rng));
  layers.push_back(random_layer(LayerKind::dense, layers.back().out, 2, 1, 1, false, Activation::linear, rng));
  Model model{"chain", layers.front().in, {"a", "b"}, {}, layers};
  REQUIRE(validate_model(model).is_ok());
  const Tensor input = random_input(model.input, rng, 2.0f);
  check_gradient(model, input, OutputSelector::output(0), rng);
  check_gradient(model, input, OutputSelector::output(1), rng);
  check_gradient(model, input, OutputSelector::channel_mean(2, 3), rng);
  check_gradient(model, input, OutputSelector::unit(1, 2, 3, 2), rng);
}

TEST_CASE("the published architecture (imported from Keras) has correct input gradients", "[backward]") {
  // Random weights at the real input size and depth, small filter counts to keep the double-precision check fast.
  auto builder = fixture::compact_architecture({4, 5, 4, 3, 3}, 3);
  auto model = import_keras(builder.config_text(), builder.tensors, "fixture");
  REQUIRE(model.is_ok());
  std::mt19937 rng(15);
  const Tensor input = random_input(model.value().input, rng, 60.0f);
  auto g = input_gradient(model.value(), input, OutputSelector::output(0));
  REQUIRE(g.is_ok());
  // Coordinates where the gradient is largest, where the test is most telling, plus random directions.
  std::vector<std::size_t> order(g.value().gradient.data.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::partial_sort(order.begin(), order.begin() + 12, order.end(), [&](std::size_t a, std::size_t b) {
    return std::fabs(g.value().gradient.data[a]) > std::fabs(g.value().gradient.data[b]);
  });
  order.resize(12);
  auto report = gradcheck::check(model.value(), input, OutputSelector::output(0), g.value().gradient.data, order,
                                 random_directions(g.value().gradient.data.size(), 3, rng), 1e-3);
  INFO("checked " << report.checked << " skipped " << report.skipped << " max error " << report.max_error << " scale "
                  << report.scale << " direction error " << report.max_direction_error);
  REQUIRE(report.checked >= 8);
  REQUIRE(report.scale > 0);
  REQUIRE(report.max_error <= 1e-4 * report.scale);
  REQUIRE(report.max_direction_error <= 1e-4);
}

TEST_CASE("fast backward kernels match their scalar twins on awkward shapes", "[backward]") {
  std::mt19937 rng(16);
  const int size = GENERATE(1, 2, 5, 13);
  const int channels = GENERATE(1, 3, 8, 9, 17);
  const int k = GENERATE(1, 3, 5);
  const int stride = GENERATE(1, 2, 3);
  const bool same = GENERATE(true, false);
  if (!same && k > size) return;
  for (LayerKind kind : {LayerKind::conv2d, LayerKind::depthwise_conv2d, LayerKind::dense}) {
    const Layer layer =
        random_layer(kind, {size, size + 2, channels}, channels + 4, k, stride, same, Activation::linear, rng);
    const Tensor dy = random_input(layer.out, rng);
    std::vector<float> fast(layer.in.size(), -9.0f), ref(layer.in.size(), 9.0f);
    run_layer_backward_input_f32(layer, dy.data.data(), fast.data(), false);
    run_layer_backward_input_f32(layer, dy.data.data(), ref.data(), true);
    const double terms = static_cast<double>(layer.multiply_adds()) / layer.in.size() + 1;
    for (std::size_t i = 0; i < fast.size(); ++i) REQUIRE(fast[i] == Approx(ref[i]).margin(1e-6 * terms));
  }
}

TEST_CASE("input_gradient refuses bad selectors and inputs with a message", "[backward]") {
  std::mt19937 rng(17);
  const Layer layer = random_layer(LayerKind::conv2d, {6, 6, 3}, 4, 3, 1, true, Activation::relu, rng);
  const Model model = single_layer_model(layer);
  const Tensor input = random_input(layer.in, rng);
  auto message = [&](OutputSelector s) { return input_gradient(model, input, s).message(); };
  CHECK_THAT(message({1, 0, -1, -1}), Catch::Contains("selector layer 1 out of range"));
  CHECK_THAT(message({-2, 0, -1, -1}), Catch::Contains("out of range"));
  CHECK_THAT(message({0, 4, -1, -1}), Catch::Contains("channel 4 out of range: expected 0..3"));
  CHECK_THAT(message({0, 0, 6, 0}), Catch::Contains("position (6,0) outside layer 0's 6x6 map"));
  CHECK_THAT(message({0, 0, 2, -1}), Catch::Contains("outside"));
  CHECK_THAT(message({-1, 144, -1, -1}), Catch::Contains("output 144 out of range: expected 0..143"));
  auto wrong = input_gradient(model, Tensor({5, 6, 3}), OutputSelector::output(0));
  CHECK_THAT(wrong.message(), Catch::Contains("input has shape (5,6,3)") && Catch::Contains("expects (6,6,3)"));
}

TEST_CASE("a workspace reused across models and selectors gives the same gradients", "[backward]") {
  std::mt19937 rng(18);
  const Layer a = random_layer(LayerKind::conv2d, {9, 9, 3}, 5, 3, 2, true, Activation::relu, rng);
  const Layer b = random_layer(LayerKind::depthwise_conv2d, {9, 9, 3}, 0, 5, 1, true, Activation::relu, rng);
  const Model ma = single_layer_model(a), mb = single_layer_model(b);
  const Tensor input = random_input(a.in, rng);
  GradientWorkspace ws;
  for (int round = 0; round < 2; ++round)
    for (const Model* m : {&ma, &mb}) {
      auto fresh = input_gradient(*m, input, OutputSelector::channel_mean(0, 2));
      auto reused = input_gradient(*m, input, OutputSelector::channel_mean(0, 2), {}, &ws);
      REQUIRE(fresh.is_ok());
      REQUIRE(reused.is_ok());
      REQUIRE(fresh.value().gradient.data == reused.value().gradient.data);
      REQUIRE(fresh.value().value == reused.value().value);
    }
}

namespace {

// random_layer with explicit (possibly lopsided) pads instead of "same" or "valid".
Layer padded_layer(LayerKind kind, Shape3 in, int out_c, int kh, int kw, int sh, int sw, Padding pad,
                   std::mt19937& rng) {
  Layer layer = random_layer(kind, in, out_c, 1, 1, false, Activation::linear, rng);
  layer.kernel_h = kh;
  layer.kernel_w = kw;
  layer.stride_h = sh;
  layer.stride_w = sw;
  layer.pad = pad;
  layer.out.h = conv_output_size(in.h, kh, sh, pad.top, pad.bottom);
  layer.out.w = conv_output_size(in.w, kw, sw, pad.left, pad.right);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  layer.weights.resize(static_cast<std::size_t>(kh) * kw * in.c * (kind == LayerKind::conv2d ? out_c : 1));
  for (auto& w : layer.weights) w = normal(rng);
  return layer;
}

void require_backward_matches_ref(const Layer& layer, std::mt19937& rng) {
  Tensor dy = random_input(layer.out, rng);
  // Gradients behind a ReLU are about half zeros, which the conv2d kernel skips per tile of pixels: make some
  // values zero, and whole pixels in the first output row.
  std::bernoulli_distribution zero(0.5);
  for (auto& g : dy.data) g = zero(rng) ? 0.0f : g;
  for (int x = 0; x < layer.out.w; x += 2)
    for (int c = 0; c < layer.out.c; ++c) dy.at(0, x, c) = 0.0f;
  std::vector<float> fast(layer.in.size(), -9.0f), ref(layer.in.size(), 9.0f);
  run_layer_backward_input_f32(layer, dy.data.data(), fast.data(), false);
  run_layer_backward_input_f32(layer, dy.data.data(), ref.data(), true);
  const double terms = static_cast<double>(layer.multiply_adds()) / layer.in.size() + 1;
  for (std::size_t i = 0; i < fast.size(); ++i) REQUIRE(fast[i] == Approx(ref[i]).margin(1e-6 * terms));
}

}  // namespace

TEST_CASE("fast conv2d backward matches its scalar twin around the tile widths and with lopsided pads", "[backward]") {
  // The transposed weights come in blocks of 16 columns per kernel row (kw * in.c values rounded up to 4) and the
  // tile takes 2 output pixels: cover rows narrower, equal and wider than a block and odd output widths. On every
  // path the CPU has: AVX-512 takes all kernel rows x blocks of a tile at once up to kConvBackwardMaxVectors (8)
  // of them (1 to 8 here: k 5 on 1 and 3 channels, k 7 on 1, k 1 on 48 and 113, k 2 on 17), the rest as sse does.
  std::mt19937 rng(19);
  const int in_c = GENERATE(1, 3, 4, 5, 17, 48, 113);
  const int out_c = GENERATE(1, 4, 15, 16, 17, 48);
  const int k = GENERATE(1, 2, 5, 7);
  const int stride = GENERATE(1, 2);
  const Padding pad = k == 1 ? Padding{} : Padding{k - 1, 0, 1, k - 2};
  const Layer layer = padded_layer(LayerKind::conv2d, {7, 9, in_c}, out_c, k, k, stride, stride, pad, rng);
  const IsaGuard guard;
  for (Isa isa : supported_isas()) {
    REQUIRE(set_isa(isa));
    INFO("isa " << isa_name(isa) << " in_c " << in_c << " out_c " << out_c << " k " << k << " stride " << stride);
    require_backward_matches_ref(layer, rng);
  }
}

TEST_CASE("fast depthwise backward matches its scalar twin with lopsided pads and strides above the kernel",
          "[backward]") {
  // Each input pixel gathers the taps of its phase; with a stride above the kernel some pixels get none (zero).
  // On every path the CPU has: AVX-512 takes channels in groups of up to 4 vectors of 16, the last one masked
  // (17 to 100 channels: groups of 2, 3, 4 and 4 + 3 vectors).
  std::mt19937 rng(20);
  const int channels = GENERATE(1, 3, 4, 8, 9, 13, 17, 48, 60, 100);
  const int kh = GENERATE(1, 2, 3, 5);
  const int sh = GENERATE(1, 2, 3);
  const int sw = GENERATE(1, 3);
  const Padding pad{kh - 1, 0, 0, 1};
  const Layer layer = padded_layer(LayerKind::depthwise_conv2d, {11, 10, channels}, 0, kh, 2, sh, sw, pad, rng);
  const IsaGuard guard;
  for (Isa isa : supported_isas()) {
    REQUIRE(set_isa(isa));
    INFO("isa " << isa_name(isa) << " channels " << channels << " kh " << kh << " strides " << sh << "," << sw);
    require_backward_matches_ref(layer, rng);
  }
}

TEST_CASE("the fast gradient path equals the reference path layer by layer, with one workspace for all selectors",
          "[backward]") {
  std::mt19937 rng(21);
  // Every layer with a ReLU, and a stride-2 conv. With 8 channels the depthwise writes straight into the first
  // conv's gradient through its mask; with 7 it goes through its own dx.
  const int first_channels = GENERATE(7, 8);
  std::vector<Layer> layers;
  layers.push_back(random_layer(LayerKind::conv2d, {13, 10, 3}, first_channels, 5, 1, true, Activation::relu, rng));
  layers.push_back(random_layer(LayerKind::depthwise_conv2d, layers.back().out, 0, 3, 2, true, Activation::relu, rng));
  layers.push_back(random_layer(LayerKind::conv2d, layers.back().out, 9, 1, 1, false, Activation::relu, rng));
  layers.push_back(random_layer(LayerKind::conv2d, layers.back().out, 5, 3, 2, true, Activation::relu, rng));
  layers.push_back(random_layer(LayerKind::dense, layers.back().out, 3, 1, 1, false, Activation::linear, rng));
  Model model{"chain", layers.front().in, {"a", "b", "c"}, {}, layers};
  REQUIRE(validate_model(model).is_ok());
  const Tensor input = random_input(model.input, rng, 2.0f);
  GradientWorkspace ws;
  const std::vector<OutputSelector> selectors = {OutputSelector::output(2),         OutputSelector::channel_mean(2, 8),
                                                 OutputSelector::unit(0, 6, 12, 0), OutputSelector::channel_mean(3, 4),
                                                 OutputSelector::output(0),         OutputSelector::unit(1, 2, 3, 4)};
  for (int round = 0; round < 2; ++round)
    for (const OutputSelector& s : selectors) {
      auto ref = input_gradient(model, input, s, {true});
      auto fast = input_gradient(model, input, s, {}, &ws);
      REQUIRE(ref.is_ok());
      REQUIRE(fast.is_ok());
      INFO("selector layer " << s.layer << " channel " << s.channel);
      REQUIRE(fast.value().value == Approx(ref.value().value).epsilon(1e-5).margin(1e-5));
      double scale = 0.0;
      for (float g : ref.value().gradient.data) scale = std::max(scale, static_cast<double>(std::fabs(g)));
      for (std::size_t i = 0; i < ref.value().gradient.data.size(); ++i)
        REQUIRE(fast.value().gradient.data[i] ==
                Approx(ref.value().gradient.data[i]).margin(1e-5 * std::max(1.0, scale)));
    }
}
