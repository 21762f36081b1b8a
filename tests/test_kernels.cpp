// Fast kernels against their scalar twins on awkward shapes: odd sizes, channel counts around SIMD widths,
// strides, asymmetric "same" pads, kernels larger than the input.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>

#include "cortexlens/forward.hpp"
#include "cortexlens/quantize.hpp"
#include "engine/forward_plan.hpp"
#include "kernels/kernels.hpp"
#include "model/quantize_internals.hpp"
#include "random_layer.hpp"

using namespace cortexlens;

namespace {

using test::random_layer;

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
  const int in_c = GENERATE(1, 3, 4, 5, 8, 17);
  // Around the conv tile's channel block (16) and its narrower remainders (4, 8, 12).
  const int out_c = GENERATE(1, 3, 4, 8, 9, 12, 15, 16, 17, 33);
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
  const int channels = GENERATE(1, 3, 4, 7, 8, 9, 12, 16, 19);
  const int k = GENERATE(1, 5, 28);
  const int stride = GENERATE(1, 2, 3);
  const bool same = GENERATE(true, false);
  if (!same && k > size) return;
  auto layer =
      random_layer(LayerKind::depthwise_conv2d, {size, size, channels}, 0, k, stride, same, Activation::linear, rng);
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

TEST_CASE("a ForwardPlan chain matches the reference forward pass, buffers reused across runs", "[kernels]") {
  // The published architecture in miniature, with awkward sizes: every activation buffer of the plan has a border
  // for the next layer's padding and padded channels, which the single-layer tests above do not chain.
  std::mt19937 rng(4);
  const int in_c = GENERATE(1, 3, 4);
  const int c0 = GENERATE(5, 16, 17);
  const int c1 = GENERATE(3, 12);
  const bool spatial_readout = GENERATE(true, false);
  const Shape3 input{15, 13, in_c};
  std::vector<Layer> layers;
  layers.push_back(random_layer(LayerKind::conv2d, input, c0, 5, 1, true, Activation::relu, rng));
  layers.push_back(
      random_layer(LayerKind::depthwise_conv2d, layers.back().out, 0, 5, 2, true, Activation::linear, rng));
  layers.push_back(random_layer(LayerKind::conv2d, layers.back().out, c1, 1, 1, true, Activation::relu, rng));
  layers.push_back(
      random_layer(LayerKind::depthwise_conv2d, layers.back().out, 0, 3, 1, true, Activation::linear, rng));
  layers.push_back(random_layer(LayerKind::conv2d, layers.back().out, c1 + 1, 1, 1, true, Activation::relu, rng));
  if (spatial_readout) {
    // As in the shared models: a depthwise conv over the whole map, "valid", to one value per channel.
    const Shape3 s = layers.back().out;
    Layer pool = random_layer(LayerKind::depthwise_conv2d, s, 0, s.h, 1, false, Activation::linear, rng);
    pool.kernel_w = s.w;
    pool.out = {1, 1, s.c};
    pool.weights.resize(static_cast<std::size_t>(s.h) * s.w * s.c, 0.5f);
    layers.push_back(pool);
  } else {
    layers.push_back(random_layer(LayerKind::dense, layers.back().out, 2, 1, 1, false, Activation::linear, rng));
  }
  Model model{"chain", input, std::vector<std::string>(layers.back().out.size(), "o"), {}, layers};
  REQUIRE(validate_model(model).is_ok());

  std::normal_distribution<float> normal(0.0f, 1.0f);
  ForwardPlan plan(model);
  REQUIRE(plan.output_size() == model.output_count());
  for (int run = 0; run < 2; ++run) {
    Tensor x(input);
    for (auto& v : x.data) v = normal(rng);
    auto ref = forward(model, x, {/*keep_activations=*/true, /*use_reference_kernels=*/true});
    REQUIRE(ref.is_ok());
    std::vector<float> out(plan.output_size());
    std::vector<Tensor> activations;
    plan.run(x.data.data(), out.data(), &activations);
    REQUIRE(activations.size() == layers.size());
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const auto& want = ref.value().activations[l];
      INFO("run " << run << ", layer " << l << " (" << layer_kind_name(layers[l].kind) << ")");
      REQUIRE(activations[l].shape == want.shape);
      // The default path (avx2/avx512 natively) fuses multiply-adds: each layer's rounding differences reach the
      // next as input noise, and a value that cancels to near zero keeps an absolute error of the size of the
      // layer's largest values times the rounding. Hence a margin relative to the layer's largest value (the
      // tolerance of tests/test_isa.cpp), not to each value.
      double largest = 0.0;
      for (float v : want.data) largest = std::max(largest, std::fabs(static_cast<double>(v)));
      for (std::size_t i = 0; i < want.data.size(); ++i)
        REQUIRE(activations[l].data[i] == Approx(want.data[i]).margin(1e-5 * (largest + 1.0)).epsilon(1e-4));
    }
    for (std::size_t i = 0; i < out.size(); ++i)
      REQUIRE(out[i] == Approx(ref.value().outputs[i]).margin(1e-4).epsilon(1e-4));
  }
}

TEST_CASE("tiled int8 conv2d equals the scalar int8 reference bit for bit", "[kernels][int8]") {
  // Odd window rows (kw * in_c) exercise the zero-weighted last pair; out_c around the 16-channel block.
  std::mt19937 rng(5);
  const int size = GENERATE(1, 2, 5, 7, 13);
  const int in_c = GENERATE(1, 3, 4, 5, 8, 17);
  const int out_c = GENERATE(1, 3, 4, 9, 12, 16, 17, 33);
  const int k = GENERATE(1, 3, 5);
  const int stride = GENERATE(1, 2);
  const bool same = GENERATE(true, false);
  if (!same && k > size) return;
  auto layer = random_layer(LayerKind::conv2d, {size, size + 1, in_c}, out_c, k, stride, same, Activation::relu, rng);
  // Both input codes: signed (the image) and unsigned 0..255 (after a ReLU), whose products reach 255 * 127.
  const bool unsigned_input = GENERATE(false, true);
  layer.int8 = quantize_layer_weights(layer, 0.05f, unsigned_input);
  std::uniform_int_distribution<int> value(input_q_min(*layer.int8), input_q_max(*layer.int8));
  std::vector<std::int16_t> in(layer.in.size());
  for (auto& v : in) v = static_cast<std::int16_t>(value(rng));
  std::vector<float> fast(layer.out.size(), -7.0f), ref(layer.out.size(), 7.0f);
  conv2d_int8_ref(layer, in.data(), ref.data());
  conv2d_int8_tiled(layer, in.data(), fast.data());
  REQUIRE(std::memcmp(fast.data(), ref.data(), sizeof(float) * fast.size()) == 0);
}

TEST_CASE("tiled int8 depthwise conv2d equals the scalar int8 reference bit for bit", "[kernels][int8]") {
  // Channel counts around the 8-channel step; the 28x28 "valid" case is the shared models' spatial pooling.
  std::mt19937 rng(6);
  const int size = GENERATE(1, 3, 6, 11, 28);
  const int channels = GENERATE(1, 3, 7, 8, 9, 16, 19);
  const int k = GENERATE(1, 5, 28);
  const int stride = GENERATE(1, 2, 3);
  const bool same = GENERATE(true, false);
  if (!same && k > size) return;
  auto layer =
      random_layer(LayerKind::depthwise_conv2d, {size, size, channels}, 0, k, stride, same, Activation::relu, rng);
  // Both input codes: signed (the image) and unsigned 0..255 (after a ReLU), whose products reach 255 * 127.
  const bool unsigned_input = GENERATE(false, true);
  layer.int8 = quantize_layer_weights(layer, 0.05f, unsigned_input);
  std::uniform_int_distribution<int> value(input_q_min(*layer.int8), input_q_max(*layer.int8));
  std::vector<std::int16_t> in(layer.in.size());
  for (auto& v : in) v = static_cast<std::int16_t>(value(rng));
  std::vector<float> fast(layer.out.size(), -7.0f), ref(layer.out.size(), 7.0f);
  depthwise_conv2d_int8_ref(layer, in.data(), ref.data());
  depthwise_conv2d_int8_tiled(layer, in.data(), fast.data());
  REQUIRE(std::memcmp(fast.data(), ref.data(), sizeof(float) * fast.size()) == 0);
}
