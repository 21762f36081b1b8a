// Fast kernels against their scalar twins on awkward shapes: odd sizes, channel counts around SIMD widths,
// strides, asymmetric "same" pads, kernels larger than the input.
#include <catch2/catch.hpp>
#include <random>

#include "cortexlens/kernels.hpp"

using namespace cortexlens;

namespace {

Layer random_layer(LayerKind kind, Shape3 in, int out_c, int k, int stride, bool same, Activation act,
                   std::mt19937& rng) {
  Layer layer;
  layer.kind = kind;
  layer.name = "test";
  layer.in = in;
  layer.kernel_h = layer.kernel_w = k;
  layer.stride_h = layer.stride_w = stride;
  if (same) {
    auto [t, b] = same_padding(in.h, k, stride);
    auto [l, r] = same_padding(in.w, k, stride);
    layer.pad = {t, b, l, r};
  }
  layer.activation = act;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::size_t weights = 0;
  if (kind == LayerKind::dense) {
    layer.out = {1, 1, out_c};
    weights = in.size() * out_c;
  } else {
    const int oh = conv_output_size(in.h, k, stride, layer.pad.top, layer.pad.bottom);
    const int ow = conv_output_size(in.w, k, stride, layer.pad.left, layer.pad.right);
    layer.out = {oh, ow, kind == LayerKind::conv2d ? out_c : in.c};
    weights = static_cast<std::size_t>(k) * k * in.c * (kind == LayerKind::conv2d ? out_c : 1);
  }
  for (std::size_t i = 0; i < weights; ++i) layer.weights.push_back(normal(rng));
  for (int i = 0; i < layer.out.c; ++i) layer.bias.push_back(normal(rng));
  return layer;
}

void expect_same_as_reference(const Layer& layer, std::mt19937& rng) {
  REQUIRE(validate_model(Model{"m", layer.in, std::vector<std::string>(layer.out.size(), "o"), {}, {layer}}).is_ok());
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> in(layer.in.size());
  for (auto& v : in) v = normal(rng);
  std::vector<float> fast(layer.out.size(), -7.0f), ref(layer.out.size(), 7.0f);
  run_layer_f32(layer, in.data(), fast.data(), false);
  run_layer_f32(layer, in.data(), ref.data(), true);
  // Only the summation order differs: the tolerance scales with the number of terms in each sum.
  const double terms = static_cast<double>(layer.multiply_adds()) / layer.out.size() + 1;
  for (std::size_t i = 0; i < fast.size(); ++i) REQUIRE(fast[i] == Approx(ref[i]).margin(1e-6 * terms));
}

}  // namespace

TEST_CASE("conv2d fast kernel matches the scalar reference", "[kernels]") {
  std::mt19937 rng(1);
  const int size = GENERATE(1, 2, 5, 7, 13);
  const int in_c = GENERATE(1, 3, 4, 5, 17);
  const int out_c = GENERATE(1, 3, 8, 9, 33);
  const int k = GENERATE(1, 3, 5);
  const int stride = GENERATE(1, 2);
  const bool same = GENERATE(true, false);
  if (!same && k > size) return;
  auto layer = random_layer(LayerKind::conv2d, {size, size + 1, in_c}, out_c, k, stride, same, Activation::relu, rng);
  expect_same_as_reference(layer, rng);
}

TEST_CASE("depthwise fast kernel matches the scalar reference", "[kernels]") {
  std::mt19937 rng(2);
  const int size = GENERATE(1, 3, 6, 11, 28);
  const int channels = GENERATE(1, 3, 4, 7, 16, 19);
  const int k = GENERATE(1, 5, 28);
  const int stride = GENERATE(1, 2, 3);
  const bool same = GENERATE(true, false);
  if (!same && k > size) return;
  auto layer = random_layer(LayerKind::depthwise_conv2d, {size, size, channels}, 0, k, stride, same,
                            Activation::linear, rng);
  expect_same_as_reference(layer, rng);
}

TEST_CASE("dense fast kernel matches the scalar reference", "[kernels]") {
  std::mt19937 rng(3);
  const int inputs = GENERATE(1, 7, 8, 9, 2352);
  const int units = GENERATE(1, 2, 5, 219);
  auto layer = random_layer(LayerKind::dense, {1, 1, inputs}, units, 1, 1, false, Activation::relu, rng);
  expect_same_as_reference(layer, rng);
}

TEST_CASE("Keras 'same' padding puts the smaller half first", "[kernels]") {
  CHECK(same_padding(112, 5, 1) == std::make_pair(2, 2));
  CHECK(same_padding(112, 5, 2) == std::make_pair(1, 2));  // 112 -> 56, as in the data README
  CHECK(same_padding(56, 5, 2) == std::make_pair(1, 2));
  CHECK(same_padding(7, 4, 1) == std::make_pair(1, 2));
  CHECK(same_padding(5, 1, 3) == std::make_pair(0, 0));
  CHECK(conv_output_size(112, 5, 2, 1, 2) == 56);
}

TEST_CASE("a 3x3 conv computes a hand-checked value", "[kernels]") {
  // 3x3 input 1..9, one 3x3 all-ones filter with 'same' padding: the centre sums everything, a corner 4 values.
  Layer layer;
  layer.kind = LayerKind::conv2d;
  layer.in = {3, 3, 1};
  layer.out = {3, 3, 1};
  layer.kernel_h = layer.kernel_w = 3;
  layer.pad = {1, 1, 1, 1};
  layer.weights.assign(9, 1.0f);
  layer.bias = {0.5f};
  std::vector<float> in = {1, 2, 3, 4, 5, 6, 7, 8, 9}, out(9);
  for (bool reference : {true, false}) {
    run_layer_f32(layer, in.data(), out.data(), reference);
    CHECK(out[4] == 45.5f);
    CHECK(out[0] == 1 + 2 + 4 + 5 + 0.5f);
    CHECK(out[8] == 5 + 6 + 8 + 9 + 0.5f);
  }
}
