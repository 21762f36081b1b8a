// int8 quantization: fast kernels equal their scalar twins bit for bit on awkward shapes, the quantizers' error
// bounds, the zero-channel guard, calibration percentiles, and the int8 forward pass against float.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "cortexlens/forward.hpp"
#include "cortexlens/quantize.hpp"

using namespace cortexlens;

namespace {

Layer random_layer(LayerKind kind, Shape3 in, int out_c, int k, int stride, Padding pad, Activation act,
                   std::mt19937& rng) {
  Layer layer;
  layer.kind = kind;
  layer.name = "test";
  layer.in = in;
  layer.activation = act;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  if (kind == LayerKind::dense) {
    layer.out = {1, 1, out_c};
    layer.weights.resize(in.size() * static_cast<std::size_t>(out_c));
  } else {
    layer.kernel_h = layer.kernel_w = k;
    layer.stride_h = layer.stride_w = stride;
    layer.pad = pad;
    const int c = kind == LayerKind::depthwise_conv2d ? in.c : out_c;
    layer.out = {conv_output_size(in.h, k, stride, pad.top, pad.bottom),
                 conv_output_size(in.w, k, stride, pad.left, pad.right), c};
    layer.weights.resize(static_cast<std::size_t>(k) * k * in.c * (kind == LayerKind::conv2d ? out_c : 1));
  }
  for (auto& w : layer.weights) w = 0.2f * normal(rng);
  layer.bias.resize(static_cast<std::size_t>(layer.out.c));
  for (auto& b : layer.bias) b = 0.1f * normal(rng);
  return layer;
}

std::vector<std::int8_t> random_int8(std::size_t n, std::mt19937& rng, bool non_negative) {
  std::uniform_int_distribution<int> value(non_negative ? 0 : -127, 127);
  std::bernoulli_distribution zero(0.3);  // post-ReLU tensors have many zeros; the fast kernels skip them
  std::vector<std::int8_t> v(n);
  for (auto& x : v) x = zero(rng) ? 0 : static_cast<std::int8_t>(value(rng));
  return v;
}

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("int8 conv2d matches its scalar twin bit-exactly on awkward shapes", "[int8]") {
  const int in_c = GENERATE(1, 2, 3, 7, 8, 9, 16, 17);
  const int out_c = GENERATE(1, 3, 8, 15, 16, 33);
  const int k = GENERATE(1, 3, 5);
  const int stride = GENERATE(1, 2);
  std::mt19937 rng(static_cast<unsigned>(in_c * 1000 + out_c * 10 + k + stride));
  const auto [before, after] = same_padding(11, k, stride);
  Layer layer = random_layer(LayerKind::conv2d, {11, 9, in_c}, out_c, k, stride, {before, after, before, after},
                             Activation::relu, rng);
  REQUIRE(validate_model(Model{"m", layer.in, std::vector<std::string>(layer.out.size(), "o"), {}, {layer}}));
  layer.int8 = quantize_layer_weights(layer, 0.05f);
  const auto input = random_int8(layer.in.size(), rng, false);
  std::vector<float> ref(layer.out.size()), fast(layer.out.size());
  conv2d_int8_ref(layer, input.data(), ref.data());
  conv2d_int8(layer, input.data(), fast.data());
  CHECK(bit_equal(ref, fast));
}

TEST_CASE("int8 depthwise conv2d matches its scalar twin bit-exactly", "[int8]") {
  const int channels = GENERATE(1, 2, 3, 7, 8, 9, 16, 17, 48);
  const int k = GENERATE(1, 3, 5);
  const int stride = GENERATE(1, 2);
  const Activation act = GENERATE(Activation::linear, Activation::relu);
  std::mt19937 rng(static_cast<unsigned>(channels * 100 + k * 10 + stride));
  const auto [before, after] = same_padding(13, k, stride);
  Layer layer = random_layer(LayerKind::depthwise_conv2d, {13, 10, channels}, channels, k, stride,
                             {before, after, 0, k > 1 ? 1 : 0}, act, rng);
  layer.int8 = quantize_layer_weights(layer, 0.1f);
  const auto input = random_int8(layer.in.size(), rng, true);
  std::vector<float> ref(layer.out.size()), fast(layer.out.size());
  depthwise_conv2d_int8_ref(layer, input.data(), ref.data());
  depthwise_conv2d_int8(layer, input.data(), fast.data());
  CHECK(bit_equal(ref, fast));
}

TEST_CASE("int8 dense matches its scalar twin bit-exactly", "[int8]") {
  const int units = GENERATE(1, 2, 7, 16, 219);
  const int channels = GENERATE(1, 3, 5);
  std::mt19937 rng(static_cast<unsigned>(units * 10 + channels));
  Layer layer = random_layer(LayerKind::dense, {7, 9, channels}, units, 1, 1, {}, Activation::linear, rng);
  layer.int8 = quantize_layer_weights(layer, 0.02f);
  const auto input = random_int8(layer.in.size(), rng, false);
  std::vector<float> ref(layer.out.size()), fast(layer.out.size());
  dense_int8_ref(layer, input.data(), ref.data());
  dense_int8(layer, input.data(), fast.data());
  CHECK(bit_equal(ref, fast));
}

TEST_CASE("the largest int8 sums do not overflow the int32 accumulator", "[int8]") {
  // Every product at +127 * +127 over the longest reduction the checks allow.
  Layer layer;
  layer.kind = LayerKind::dense;
  layer.in = {64, 1, static_cast<int>(kInt8MaxReduction / 64)};
  layer.out = {1, 1, 1};
  layer.weights.assign(layer.in.size(), 1.0f);
  layer.bias = {0.0f};
  layer.int8 = quantize_layer_weights(layer, 1.0f);
  const std::vector<std::int8_t> input(layer.in.size(), 127);
  float ref = 0, fast = 0;
  dense_int8_ref(layer, input.data(), &ref);
  dense_int8(layer, input.data(), &fast);
  // Every product is 127 * 127; their sum over 133120 inputs (2,147,092,480) must come through int32 intact.
  const double exact = 127.0 * 127.0 * static_cast<double>(layer.in.size()) * layer.int8->weight_scales[0];
  CHECK(ref == Approx(exact).epsilon(1e-6));
  CHECK(fast == ref);
}

TEST_CASE("quantize_values rounds half away from zero and clamps, fast equal to reference", "[int8]") {
  std::vector<float> values = {0.0f, 0.49999997f, 0.5f, -0.5f, -0.49999997f, 1.5f, -1.5f, 2.5f, 126.5f,
                               127.49f, 127.5f, 1000.0f, -1000.0f, -127.5f, 3.4e38f, -3.4e38f, 1e-30f};
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 60.0f);
  for (int i = 0; i < 10000; ++i) values.push_back(normal(rng));
  std::vector<std::int8_t> ref(values.size()), fast(values.size());
  quantize_values_ref(values.data(), values.size(), 1.0f, ref.data());
  quantize_values(values.data(), values.size(), 1.0f, fast.data());
  CHECK(ref == fast);
  CHECK(ref[1] == 0);
  CHECK(ref[2] == 1);
  CHECK(ref[3] == -1);
  CHECK(ref[4] == 0);
  CHECK(ref[8] == 127);
  CHECK(ref[10] == 127);
  CHECK(ref[13] == -127);  // never -128: the range is symmetric
  for (auto q : ref) CHECK(q >= -127);
}

TEST_CASE("per-channel weight quantization: error within half a step, extremes at +-127", "[int8]") {
  std::mt19937 rng(11);
  Layer layer = random_layer(LayerKind::conv2d, {8, 8, 5}, 7, 3, 1, {1, 1, 1, 1}, Activation::linear, rng);
  // Channels of very different magnitude: a shared scale would crush the small one.
  for (std::size_t i = 0; i < layer.weights.size(); ++i)
    if (i % 7 == 3) layer.weights[i] *= 1e-3f;
  const Int8Weights q = quantize_layer_weights(layer, 1.0f);
  REQUIRE(q.weight_scales.size() == 7);
  std::vector<int> max_q(7, 0);
  for (std::size_t i = 0; i < layer.weights.size(); ++i) {
    const float scale = q.weight_scales[i % 7];
    CHECK(std::fabs(layer.weights[i] - q.weights[i] * scale) <= 0.5f * scale * (1 + 1e-6f));
    max_q[i % 7] = std::max(max_q[i % 7], std::abs(int{q.weights[i]}));
  }
  // The scale is rounded up to a float16 value (at most 1 part in 1024 in the normal range), so the largest weight
  // of each channel lands on 127 or 126.
  for (int c = 0; c < 7; ++c) CHECK(max_q[static_cast<std::size_t>(c)] >= 126);
  CHECK(q.weight_scales[3] < q.weight_scales[2] * 0.01f);
}

TEST_CASE("float16 scales: exact decoding, and the smallest float16 not below a value", "[int8]") {
  CHECK(half_to_float(0x3c00) == 1.0f);
  CHECK(half_to_float(0xbc00) == -1.0f);
  CHECK(half_to_float(0x7bff) == 65504.0f);
  CHECK(half_to_float(0x0001) == std::ldexp(1.0f, -24));
  CHECK(half_to_float(0x0400) == std::ldexp(1.0f, -14));
  CHECK(std::isinf(half_to_float(0x7c00)));
  CHECK(std::isnan(half_to_float(0x7e00)));
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> exponent(-30.0f, 15.9f);
  for (int i = 0; i < 20000; ++i) {
    const float value = std::exp2(exponent(rng));
    const std::uint16_t h = half_at_least(value);
    INFO(value);
    REQUIRE(half_to_float(h) >= value);
    REQUIRE(half_to_float(static_cast<std::uint16_t>(h - 1)) < value);  // and no smaller float16 would do
  }
  CHECK(half_at_least(1.0f) == 0x3c00);
  CHECK(half_at_least(65504.0f) == 0x7bff);
}

TEST_CASE("an all-zero output channel gets scale 1 and zero weights, never NaN", "[int8]") {
  std::mt19937 rng(5);
  Layer layer = random_layer(LayerKind::conv2d, {6, 6, 3}, 4, 3, 1, {1, 1, 1, 1}, Activation::relu, rng);
  for (std::size_t i = 0; i < layer.weights.size(); ++i)
    if (i % 4 == 2) layer.weights[i] = 0.0f;
  Model model{"zero", layer.in, std::vector<std::string>(layer.out.size(), "o"), {}, {layer}};
  REQUIRE(quantize_model(model, {0.5f}));
  const Int8Weights& q = *model.layers[0].int8;
  CHECK(q.weight_scales[2] == 1.0f);
  for (std::size_t i = 2; i < q.weights.size(); i += 4) CHECK(q.weights[i] == 0);
  Tensor input(layer.in, 1.0f);
  auto out = forward_int8(model, input);
  REQUIRE(out);
  for (float v : out.value().outputs) CHECK(std::isfinite(v));
  // Channel 2 has only its bias left (then ReLU).
  CHECK(out.value().outputs[2] == std::max(model.layers[0].bias[2], 0.0f));
}

TEST_CASE("quantize_model and check_int8_layers refuse what the kernels cannot run", "[int8]") {
  std::mt19937 rng(9);
  Layer layer = random_layer(LayerKind::conv2d, {6, 6, 3}, 4, 3, 1, {1, 1, 1, 1}, Activation::relu, rng);
  Model model{"m", layer.in, std::vector<std::string>(layer.out.size(), "o"), {}, {layer}};
  CHECK_THAT(quantize_model(model, {}).message(), Catch::Contains("0 input scales, expected 1"));
  CHECK_THAT(quantize_model(model, {0.0f}).message(), Catch::Contains("expected a positive finite number"));
  CHECK_THAT(quantize_model(model, {std::nanf("")}).message(), Catch::Contains("expected a positive finite number"));
  REQUIRE(quantize_model(model, {0.5f}));
  model.layers[0].int8->weights[0] = -128;
  CHECK_THAT(check_int8_layers(model).message(), Catch::Contains("is -128, expected -127..127"));
  model.layers[0].int8->weights[0] = 0;
  model.layers[0].int8->weight_scales.pop_back();
  CHECK_THAT(check_int8_layers(model).message(), Catch::Contains("3 weight scales, expected 4"));

  Layer wide;
  wide.kind = LayerKind::dense;
  wide.name = "wide";
  wide.in = {40, 40, 90};  // 144000 inputs: 127 * 127 * 144000 > 2^31
  wide.out = {1, 1, 1};
  wide.weights.assign(wide.in.size(), 0.01f);
  wide.bias = {0.0f};
  Model big{"big", wide.in, {"o"}, {}, {wide}};
  CHECK_THAT(quantize_model(big, {1.0f}).message(), Catch::Contains("more than the 133144 an int32 accumulator holds"));
}

TEST_CASE("forward_int8 refuses a float model and non-finite input, naming the problem", "[int8]") {
  std::mt19937 rng(2);
  Layer layer = random_layer(LayerKind::conv2d, {6, 6, 3}, 4, 3, 1, {1, 1, 1, 1}, Activation::relu, rng);
  layer.name = "layer0_conv";
  Model model{"float_only", layer.in, std::vector<std::string>(layer.out.size(), "o"), {}, {layer}};
  Tensor input(layer.in, 1.0f);
  CHECK_THAT(forward_int8(model, input).message(), Catch::Contains("no int8 weights for layer 'layer0_conv'"));
  REQUIRE(quantize_model(model, {0.5f}));
  input.data[5] = std::numeric_limits<float>::infinity();
  CHECK_THAT(forward_int8(model, input).message(), Catch::Contains("input value 5 is inf"));
  CHECK(forward_with_precision(model, Tensor(layer.in, 1.0f), Precision::int8));
}

TEST_CASE("calibration percentiles: the maximum, and a high percentile that ignores rare outliers", "[int8]") {
  // One identity-like layer so the calibrated tensor is exactly the input.
  Layer layer;
  layer.kind = LayerKind::depthwise_conv2d;
  layer.name = "pass";
  layer.in = layer.out = {100, 100, 1};
  layer.weights = {1.0f};
  layer.bias = {0.0f};
  Model model{"pass", layer.in, std::vector<std::string>(10000, "o"), {}, {layer}};
  ActivationCalibrator calibrator(model);
  Tensor input(layer.in);
  for (std::size_t i = 0; i < input.data.size(); ++i) input.data[i] = static_cast<float>(i % 100) * 0.5f;  // 0..49.5
  input.data[17] = -1000.0f;  // one outlier in 10000 values
  REQUIRE(calibrator.add(input));
  const auto maximum = calibrator.input_scales(100.0);
  CHECK(maximum[0] == Approx(1000.0f / 127.0f));
  const auto p99 = calibrator.input_scales(99.0);
  // Rank 9900 of the 10000 |x| (zeros included) falls among the 49.5s, far below the outlier; bins are 0.3% wide.
  CHECK(p99[0] * 127.0f == Approx(49.5f).epsilon(0.005));
  CHECK(calibrator.outputs().size() == 1);
}

TEST_CASE("int8 forward pass of a random compact model stays close to float", "[int8]") {
  // A small chain of the published kinds (conv, depthwise, pointwise, dense) with random weights and inputs.
  std::mt19937 rng(21);
  std::vector<Layer> layers;
  Shape3 shape{24, 24, 3};
  layers.push_back(random_layer(LayerKind::conv2d, shape, 8, 5, 1, {2, 2, 2, 2}, Activation::relu, rng));
  layers.push_back(random_layer(LayerKind::depthwise_conv2d, layers.back().out, 8, 5, 2, {1, 2, 1, 2}, Activation::linear, rng));
  layers.push_back(random_layer(LayerKind::conv2d, layers.back().out, 6, 1, 1, {}, Activation::relu, rng));
  layers.push_back(random_layer(LayerKind::dense, layers.back().out, 1, 1, 1, {}, Activation::linear, rng));
  for (std::size_t i = 0; i < layers.size(); ++i) layers[i].name = "l" + std::to_string(i);
  Model model{"chain", shape, {"o"}, {}, layers};
  REQUIRE(validate_model(model));
  std::uniform_real_distribution<float> pixel(-110.0f, 140.0f);
  std::vector<Tensor> images;
  for (int i = 0; i < 40; ++i) {
    Tensor t(shape);
    for (auto& v : t.data) v = pixel(rng);
    images.push_back(t);
  }
  ActivationCalibrator calibrator(model);
  for (int i = 0; i < 20; ++i) REQUIRE(calibrator.add(images[static_cast<std::size_t>(i)]));
  Model q = model;
  REQUIRE(quantize_model(q, calibrator.input_scales(100.0)));
  double sum_sq_error = 0, sum_sq_signal = 0, mean = 0;
  std::vector<double> f, g;
  for (int i = 20; i < 40; ++i) {  // images not used for calibration
    const Tensor& x = images[static_cast<std::size_t>(i)];
    f.push_back(forward(model, x).value().outputs[0]);
    g.push_back(forward_int8(q, x).value().outputs[0]);
    auto ref = forward_int8(q, x, {false, /*use_reference_kernels=*/true});
    CHECK(ref.value().outputs[0] == g.back());  // the whole pass, fast vs reference, bit for bit
    mean += f.back() / 20.0;
  }
  for (std::size_t i = 0; i < f.size(); ++i) {
    sum_sq_error += (f[i] - g[i]) * (f[i] - g[i]);
    sum_sq_signal += (f[i] - mean) * (f[i] - mean);
  }
  // Stated tolerance: the int8 error's RMS is under 5% of the float outputs' spread across images.
  CHECK(std::sqrt(sum_sq_error / sum_sq_signal) < 0.05);
}
