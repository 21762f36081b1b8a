// int8 quantization: fast kernels equal their scalar twins bit for bit on awkward shapes, the quantizers' error
// bounds, the zero-channel guard, calibration percentiles, and the int8 forward pass against float.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>

#include "cortexlens/forward.hpp"
#include "cortexlens/int8_forward_plan.hpp"
#include "cortexlens/isa.hpp"
#include "cortexlens/model_file.hpp"
#include "cortexlens/quantize.hpp"
#include "engine/int8_forward_plan_internals.hpp"
#include "image_fixtures.hpp"
#include "kernels/kernels.hpp"
#include "model/quantize_internals.hpp"

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

// Quantized inputs in the layer's code: -127..127, or 0..255 for an unsigned (post-ReLU) input.
std::vector<std::int16_t> random_quantized(std::size_t n, std::mt19937& rng, const Int8Weights& q) {
  std::uniform_int_distribution<int> value(input_q_min(q), input_q_max(q));
  std::bernoulli_distribution zero(0.3);  // post-ReLU tensors have many zeros; the fast kernels skip them
  std::vector<std::int16_t> v(n);
  for (auto& x : v) x = zero(rng) ? 0 : static_cast<std::int16_t>(value(rng));
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
  layer.int8 = quantize_layer_weights(layer, 0.05f, GENERATE(false, true));
  const auto input = random_quantized(layer.in.size(), rng, *layer.int8);
  std::vector<float> ref(layer.out.size()), fast(layer.out.size());
  conv2d_int8_ref(layer, input.data(), ref.data());
  conv2d_int8_tiled(layer, input.data(), fast.data());
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
  layer.int8 = quantize_layer_weights(layer, 0.1f, GENERATE(false, true));
  const auto input = random_quantized(layer.in.size(), rng, *layer.int8);
  std::vector<float> ref(layer.out.size()), fast(layer.out.size());
  depthwise_conv2d_int8_ref(layer, input.data(), ref.data());
  depthwise_conv2d_int8_tiled(layer, input.data(), fast.data());
  CHECK(bit_equal(ref, fast));
}

TEST_CASE("int8 dense matches its scalar twin bit-exactly", "[int8]") {
  const int units = GENERATE(1, 2, 7, 16, 219);
  const int channels = GENERATE(1, 3, 5);
  std::mt19937 rng(static_cast<unsigned>(units * 10 + channels));
  Layer layer = random_layer(LayerKind::dense, {7, 9, channels}, units, 1, 1, {}, Activation::linear, rng);
  layer.int8 = quantize_layer_weights(layer, 0.02f, GENERATE(false, true));
  const auto input = random_quantized(layer.in.size(), rng, *layer.int8);
  std::vector<float> ref(layer.out.size()), fast(layer.out.size());
  dense_int8_ref(layer, input.data(), ref.data());
  dense_int8_tiled(layer, input.data(), fast.data());
  CHECK(bit_equal(ref, fast));
}

TEST_CASE("the largest int8 sums do not overflow the int32 accumulator", "[int8]") {
  // Every product at the largest value, 255 (unsigned input) * 127, over the longest reduction the checks allow.
  Layer layer;
  layer.kind = LayerKind::dense;
  layer.in = {64, 1, static_cast<int>(kInt8MaxReduction / 64)};
  layer.out = {1, 1, 1};
  layer.weights.assign(layer.in.size(), 1.0f);
  layer.bias = {0.0f};
  layer.int8 = quantize_layer_weights(layer, 1.0f, /*unsigned_input=*/true);
  const std::vector<std::int16_t> input(layer.in.size(), kUint8Max);
  float ref = 0, fast = 0;
  dense_int8_ref(layer, input.data(), &ref);
  dense_int8_tiled(layer, input.data(), &fast);
  // Every product is 255 * 127; their sum over 66304 inputs (2,147,255,040) must come through int32 intact.
  const double exact = 255.0 * 127.0 * static_cast<double>(layer.in.size()) * layer.int8->weight_scales[0];
  CHECK(ref == Approx(exact).epsilon(1e-6));
  CHECK(fast == ref);
}

TEST_CASE("quantize_values rounds half away from zero and clamps, fast equal to reference", "[int8]") {
  std::vector<float> values = {0.0f,    0.49999997f, 0.5f,    -0.5f,    -0.49999997f, 1.5f,    -1.5f,    2.5f,  126.5f,
                               127.49f, 127.5f,      1000.0f, -1000.0f, -127.5f,      3.4e38f, -3.4e38f, 1e-30f};
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 60.0f);
  for (int i = 0; i < 10000; ++i) values.push_back(normal(rng));
  std::vector<std::int16_t> ref(values.size()), fast(values.size());
  quantize_values_ref(values.data(), values.size(), 1.0f, /*unsigned_range=*/false, ref.data());
  quantize_values(values.data(), values.size(), 1.0f, /*unsigned_range=*/false, fast.data());
  CHECK(ref == fast);
  CHECK(ref[1] == 0);
  CHECK(ref[2] == 1);
  CHECK(ref[3] == -1);
  CHECK(ref[4] == 0);
  CHECK(ref[8] == 127);
  CHECK(ref[10] == 127);
  CHECK(ref[13] == -127);  // never -128: the range is symmetric
  for (auto q : ref) CHECK((q >= -127 && q <= 127));

  // Unsigned (a ReLU output): negative values, which a ReLU never gives, clamp to 0; the top is 255.
  std::vector<std::int16_t> uref(values.size()), ufast(values.size());
  quantize_values_ref(values.data(), values.size(), 1.0f, /*unsigned_range=*/true, uref.data());
  quantize_values(values.data(), values.size(), 1.0f, /*unsigned_range=*/true, ufast.data());
  CHECK(uref == ufast);
  CHECK(uref[2] == 1);
  CHECK(uref[3] == 0);
  CHECK(uref[8] == 127);   // 126.5 rounds up
  CHECK(uref[10] == 128);  // 127.5 no longer clamps
  CHECK(uref[11] == 255);  // 1000 clamps at the top
  for (auto q : uref) CHECK((q >= 0 && q <= 255));

  // Scales whose reciprocal is inexact: both multiply by the same float reciprocal, so they agree bit for bit,
  // and a value that is exactly k + 0.5 steps after that multiplication rounds away from zero.
  for (const float scale : {0.0371f, 0.7f, 3.0f, 1.0e-3f, 123.456f}) {
    INFO("scale " << scale);
    std::vector<float> scaled(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) scaled[i] = values[i] * scale;
    for (const bool unsigned_range : {false, true}) {
      std::vector<std::int16_t> r(values.size()), f(values.size());
      quantize_values_ref(scaled.data(), scaled.size(), scale, unsigned_range, r.data());
      quantize_values(scaled.data(), scaled.size(), scale, unsigned_range, f.data());
      CHECK(r == f);
    }
    const float inverse = quantizer_inverse(scale);
    std::int16_t q = 0;
    for (const float steps : {2.5f, -2.5f, 100.5f}) {
      // a value x with x * inverse == steps exactly, if float has one; otherwise the check is skipped
      const float x = steps / inverse;
      if (x * inverse != steps) continue;
      quantize_values(&x, 1, scale, /*unsigned_range=*/false, &q);
      CHECK(q == static_cast<std::int16_t>(steps > 0 ? steps + 0.5f : steps - 0.5f));
    }
  }
}

TEST_CASE("the plan's ReLU quantizer equals quantize_values_ref after a ReLU on every value that matters", "[int8]") {
  // It rounds with one add and a truncation (kernels/int8_simd.cpp says why that is exact): check every float in
  // [1/8, 1) (below 1/8 both give 0), and 4096 floats either side of every half-integer up to the top code.
  std::vector<float> values;
  for (std::uint32_t bits = 0x3E000000u; bits < 0x3F800000u; ++bits) {
    float x;
    std::memcpy(&x, &bits, sizeof x);
    values.push_back(x);
  }
  for (int n = 0; n <= 255; ++n) {
    float up = n + 0.5f, down = n + 0.5f;
    values.push_back(up);
    for (int i = 0; i < 4096; ++i) {
      up = std::nextafter(up, 1e9f);
      down = std::nextafter(down, -1e9f);
      values.push_back(up);
      values.push_back(down);
    }
  }
  for (const float x : {0.0f, -0.0f, 1e-30f, 0.1249f, -0.5f, -3.0f, -1e30f, 255.49998f, 255.5f, 256.0f, 1e30f})
    values.push_back(x);
  for (const bool unsigned_range : {true, false}) {
    const float high = unsigned_range ? 255.0f : 127.0f;
    std::vector<float> relu(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) relu[i] = values[i] > 0.0f ? values[i] : 0.0f;
    std::vector<std::int16_t> ref(values.size()), fast(values.size());
    quantize_values_ref(relu.data(), relu.size(), 1.0f, unsigned_range, ref.data());
    plan_relu_codes(values.data(), values.size(), 1.0f, high, fast.data());
    std::size_t mismatches = 0, first = values.size();
    for (std::size_t i = 0; i < values.size(); ++i)
      if (ref[i] != fast[i] && mismatches++ == 0) first = i;
    INFO("unsigned " << unsigned_range << ", " << mismatches
                     << " mismatches, first at x = " << (first < values.size() ? values[first] : 0.0f));
    CHECK(mismatches == 0);
  }
  // An inexact scale: both multiply by the same reciprocal first.
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> uniform(-2.0f, 12.0f);
  std::vector<float> scaled(20000);
  for (float& x : scaled) x = uniform(rng);
  std::vector<float> relu(scaled.size());
  for (std::size_t i = 0; i < scaled.size(); ++i) relu[i] = scaled[i] > 0.0f ? scaled[i] : 0.0f;
  std::vector<std::int16_t> ref(scaled.size()), fast(scaled.size());
  quantize_values_ref(relu.data(), relu.size(), 0.0371f, /*unsigned_range=*/true, ref.data());
  plan_relu_codes(scaled.data(), scaled.size(), 0.0371f, 255.0f, fast.data());
  CHECK(ref == fast);
}

TEST_CASE("per-channel weight quantization: error within half a step, extremes at +-127", "[int8]") {
  std::mt19937 rng(11);
  Layer layer = random_layer(LayerKind::conv2d, {8, 8, 5}, 7, 3, 1, {1, 1, 1, 1}, Activation::linear, rng);
  // Channels of very different magnitude: a shared scale would crush the small one.
  for (std::size_t i = 0; i < layer.weights.size(); ++i)
    if (i % 7 == 3) layer.weights[i] *= 1e-3f;
  const Int8Weights q = quantize_layer_weights(layer, 1.0f, false);
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
  CHECK_THAT(quantize_model(model, {}).message(), Catch::Contains("0 input ranges, expected 1"));
  CHECK_THAT(quantize_model(model, {0.0f}).message(), Catch::Contains("expected a positive finite number"));
  CHECK_THAT(quantize_model(model, {std::nanf("")}).message(), Catch::Contains("expected a positive finite number"));
  REQUIRE(quantize_model(model, {0.5f}));
  model.layers[0].int8->weights[0] = -128;
  CHECK_THAT(check_int8_layers(model).message(), Catch::Contains("is -128, expected -127..127"));
  model.layers[0].int8->weights[0] = 0;
  model.layers[0].int8->weight_scales.pop_back();
  CHECK_THAT(check_int8_layers(model).message(), Catch::Contains("3 weight scales, expected 4"));
  model.layers[0].int8->weight_scales.push_back(1.0f);
  REQUIRE(check_int8_layers(model));
  model.layers[0].int8->unsigned_input = true;  // the model input (an image) is signed
  CHECK_THAT(check_int8_layers(model).message(),
             Catch::Contains("quantizes its input unsigned (0..255), but the input is the model input"));

  Layer wide;
  wide.kind = LayerKind::dense;
  wide.name = "wide";
  wide.in = {40, 40, 45};  // 72000 inputs: 255 * 127 * 72000 > 2^31
  wide.out = {1, 1, 1};
  wide.weights.assign(wide.in.size(), 0.01f);
  wide.bias = {0.0f};
  Model big{"big", wide.in, {"o"}, {}, {wide}};
  CHECK_THAT(quantize_model(big, {1.0f}).message(), Catch::Contains("more than the 66311 an int32 accumulator holds"));
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
  const auto maximum = calibrator.input_ranges(100.0);
  CHECK(maximum[0] == Approx(1000.0f));
  const auto p99 = calibrator.input_ranges(99.0);
  // Rank 9900 of the 10000 |x| (zeros included) falls among the 49.5s, far below the outlier; bins are 0.3% wide.
  CHECK(p99[0] == Approx(49.5f).epsilon(0.005));
  CHECK(calibrator.outputs().size() == 1);
}

// The calibrator's binning (two passes per row, zeros sent to scratch counters) against its per-value twin: every
// query answers the same, on a chain with odd sizes (rows of 13 pixels, 7 and 5 channels), ReLU zeros, signed
// zeros, subnormals and huge values in the image, and a dense layer reading a flattened map.
TEST_CASE("calibration binning equals its per-value reference twin", "[int8]") {
  std::mt19937 rng(7);
  const Shape3 shape{11, 13, 3};
  std::vector<Layer> layers;
  layers.push_back(random_layer(LayerKind::conv2d, shape, 7, 3, 1, {1, 1, 1, 1}, Activation::relu, rng));
  layers.push_back(
      random_layer(LayerKind::depthwise_conv2d, layers.back().out, 7, 5, 2, {2, 2, 2, 2}, Activation::linear, rng));
  layers.push_back(random_layer(LayerKind::conv2d, layers.back().out, 5, 1, 1, {}, Activation::relu, rng));
  layers.push_back(random_layer(LayerKind::dense, layers.back().out, 3, 1, 1, {}, Activation::linear, rng));
  for (std::size_t i = 0; i < layers.size(); ++i) layers[i].name = "l" + std::to_string(i);
  Model model{"odd", shape, {"a", "b", "c"}, {}, layers};
  REQUIRE(validate_model(model));
  std::uniform_real_distribution<float> pixel(-120.0f, 120.0f);
  std::uniform_int_distribution<int> kind(0, 9);
  for (const bool per_layer : {true, false}) {
    ActivationCalibrator fast(model, {per_layer, !per_layer, false});
    ActivationCalibrator twin(model, {per_layer, !per_layer, true});
    for (int image = 0; image < 6; ++image) {
      Tensor t(shape);
      for (auto& v : t.data) {
        switch (kind(rng)) {
          case 0:
            v = 0.0f;
            break;
          case 1:
            v = -0.0f;
            break;
          case 2:
            v = std::numeric_limits<float>::denorm_min() * 37.0f;
            break;
          case 3:
            v = 3.0e30f;
            break;
          default:
            v = pixel(rng);
        }
      }
      REQUIRE(fast.add(t));
      REQUIRE(twin.add(t));
    }
    for (const double p : {50.0, 90.0, 99.0, 99.99, 100.0}) {
      CHECK(fast.input_ranges(p) == twin.input_ranges(p));
      CHECK(fast.input_channel_ranges(p) == twin.input_channel_ranges(p));
    }
    CHECK(fast.input_ranges_min_mse() == twin.input_ranges_min_mse());
    CHECK(fast.outputs() == twin.outputs());
  }
  // A NaN is binned (into the top bin) but is no maximum; an infinity is both.
  Layer pass;
  pass.kind = LayerKind::depthwise_conv2d;
  pass.name = "pass";
  pass.in = pass.out = {4, 9, 2};
  pass.weights = {1.0f, 1.0f};
  pass.bias = {0.0f, 0.0f};
  Model identity{"pass", pass.in, std::vector<std::string>(72, "o"), {}, {pass}};
  for (const float special : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    ActivationCalibrator fast(identity, {true, true, false});
    ActivationCalibrator twin(identity, {true, true, true});
    Tensor t(pass.in, 0.5f);
    t.data[5] = special;
    t.data[6] = 0.0f;
    REQUIRE(fast.add(t));
    REQUIRE(twin.add(t));
    CHECK(fast.input_ranges(100.0) == twin.input_ranges(100.0));
    CHECK(fast.input_ranges(90.0) == twin.input_ranges(90.0));
    CHECK(fast.input_channel_ranges(99.0) == twin.input_channel_ranges(99.0));
  }
}

TEST_CASE("int8 forward pass of a random compact model stays close to float", "[int8]") {
  // A small chain of the published kinds (conv, depthwise, pointwise, dense) with random weights and inputs.
  std::mt19937 rng(21);
  std::vector<Layer> layers;
  Shape3 shape{24, 24, 3};
  layers.push_back(random_layer(LayerKind::conv2d, shape, 8, 5, 1, {2, 2, 2, 2}, Activation::relu, rng));
  layers.push_back(
      random_layer(LayerKind::depthwise_conv2d, layers.back().out, 8, 5, 2, {1, 2, 1, 2}, Activation::linear, rng));
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
  REQUIRE(quantize_model(q, calibrator.input_ranges(100.0)));
  // Inputs after a ReLU are quantized unsigned; the image and the linear depthwise output signed.
  CHECK(!q.layers[0].int8->unsigned_input);
  CHECK(q.layers[1].int8->unsigned_input);
  CHECK(!q.layers[2].int8->unsigned_input);
  CHECK(q.layers[3].int8->unsigned_input);
  CHECK(q.layers[1].int8->input_scale == Approx(calibrator.input_ranges(100.0)[1] / 255.0f));
  CHECK(q.layers[2].int8->input_scale == Approx(calibrator.input_ranges(100.0)[2] / 127.0f));
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

namespace {

// A compact-model-like chain (conv relu, depthwise linear, pointwise relu, depthwise linear, pointwise relu, dense)
// whose depthwise channels differ in gain by up to 300x, as the published models' do by 10x and more.
Model skewed_chain(std::mt19937& rng) {
  std::vector<Layer> layers;
  const Shape3 shape{20, 20, 3};
  layers.push_back(random_layer(LayerKind::conv2d, shape, 8, 5, 1, {2, 2, 2, 2}, Activation::relu, rng));
  layers.push_back(
      random_layer(LayerKind::depthwise_conv2d, layers.back().out, 8, 3, 2, {0, 1, 0, 1}, Activation::linear, rng));
  layers.push_back(random_layer(LayerKind::conv2d, layers.back().out, 6, 1, 1, {}, Activation::relu, rng));
  layers.push_back(
      random_layer(LayerKind::depthwise_conv2d, layers.back().out, 6, 3, 1, {1, 1, 1, 1}, Activation::linear, rng));
  layers.push_back(random_layer(LayerKind::conv2d, layers.back().out, 4, 1, 1, {}, Activation::relu, rng));
  layers.push_back(random_layer(LayerKind::dense, layers.back().out, 2, 1, 1, {}, Activation::linear, rng));
  for (std::size_t i = 0; i < layers.size(); ++i) layers[i].name = "l" + std::to_string(i);
  for (int d : {1, 3}) {
    Layer& dw = layers[static_cast<std::size_t>(d)];
    const std::size_t channels = static_cast<std::size_t>(dw.in.c);
    for (std::size_t i = 0; i < dw.weights.size(); ++i)
      dw.weights[i] *= std::pow(300.0f, static_cast<float>(i % channels) / (channels - 1)) / 30.0f;
  }
  return Model{"skewed", shape, {"a", "b"}, {}, layers};
}

std::vector<Tensor> random_images(std::mt19937& rng, Shape3 shape, int count) {
  std::uniform_real_distribution<float> pixel(-110.0f, 140.0f);
  std::vector<Tensor> images;
  for (int i = 0; i < count; ++i) {
    Tensor t(shape);
    for (auto& v : t.data) v = pixel(rng);
    images.push_back(t);
  }
  return images;
}

// RMS of (int8 - float) over the outputs' spread across images, both outputs pooled.
double relative_error(const Model& float_model, const Model& int8_model, const std::vector<Tensor>& images) {
  double error = 0, spread = 0;
  for (std::size_t o = 0; o < float_model.output_count(); ++o) {
    std::vector<double> f;
    for (const auto& x : images) {
      const double a = forward(float_model, x).value().outputs[o], b = forward_int8(int8_model, x).value().outputs[o];
      f.push_back(a);
      error += (a - b) * (a - b);
    }
    double mean = 0;
    for (double v : f) mean += v / static_cast<double>(f.size());
    for (double v : f) spread += (v - mean) * (v - mean);
  }
  return std::sqrt(error / spread);
}

}  // namespace

TEST_CASE("channel equalization keeps the model's function and gives every channel one range", "[int8]") {
  std::mt19937 rng(31);
  const Model model = skewed_chain(rng);
  REQUIRE(validate_model(model));
  const auto images = random_images(rng, model.input, 12);
  ActivationCalibrator before(model);
  for (const auto& x : images) REQUIRE(before.add(x));
  const auto ranges = before.input_channel_ranges(100.0);
  Model equalized = model;
  REQUIRE(equalize_channel_ranges(equalized, ranges));
  for (const auto& x : images) {
    const auto a = forward(model, x).value().outputs, b = forward(equalized, x).value().outputs;
    for (std::size_t o = 0; o < a.size(); ++o) CHECK(b[o] == Approx(a[o]).epsilon(1e-4).margin(1e-4));
  }
  // The depthwise outputs (inputs of layers 2 and 4) spanned ~300x across channels; now every live channel's range
  // is the largest one (to the 2% of the per-channel histogram bins).
  ActivationCalibrator after(equalized);
  for (const auto& x : images) REQUIRE(after.add(x));
  const auto equal = after.input_channel_ranges(100.0);
  for (std::size_t l : {2u, 4u}) {
    const float low = *std::min_element(ranges[l].begin(), ranges[l].end());
    const float high = *std::max_element(ranges[l].begin(), ranges[l].end());
    CHECK(high > 50.0f * low);
    for (float r : equal[l]) CHECK(r == Approx(high).epsilon(0.05));
  }
  // The image (layer 0's input) is never touched.
  CHECK(equal[0] == ranges[0]);

  CHECK_THAT(equalize_channel_ranges(equalized, {}).message(),
             Catch::Contains("0 layers of channel ranges, expected 6"));
  auto wrong = ranges;
  wrong[2].pop_back();
  CHECK_THAT(equalize_channel_ranges(equalized, wrong).message(),
             Catch::Contains("layer 'l2': 7 channel ranges, expected 8"));
}

TEST_CASE("quantize_calibrated: equalized channels make int8 closer to float than one scale per tensor", "[int8]") {
  std::mt19937 rng(32);
  const Model model = skewed_chain(rng);
  const auto calibration = random_images(rng, model.input, 16);
  const auto held_out = random_images(rng, model.input, 16);
  ActivationCalibrator calibrator(model);
  for (const auto& x : calibration) REQUIRE(calibrator.add(x));
  Model plain = model;
  REQUIRE(quantize_model(plain, calibrator.input_ranges(100.0)));
  auto equalized = quantize_calibrated(model, calibrator, calibration, 100.0);
  REQUIRE(equalized);
  REQUIRE(is_int8_model(equalized.value()));
  const double plain_error = relative_error(model, plain, held_out);
  const double equalized_error = relative_error(model, equalized.value(), held_out);
  INFO("relative RMS error: one scale per tensor " << plain_error << ", equalized " << equalized_error);
  // Measured 0.037 -> 0.020 natively, 0.106 -> 0.052 in wasm (libc++ draws other random weights); the rest is
  // weight rounding and the image's own quantization.
  CHECK(equalized_error < 0.7 * plain_error);
  CHECK(equalized_error < 0.1);
}

// --- tail-only calibration (the pack's two passes): the same answers for a fraction of the binning ---

namespace {

// Restores the ISA the kernels used before a test forced others.
struct IsaRestorer {
  Isa saved = active_isa();
  ~IsaRestorer() { (void)set_isa(saved); }
};

// Images of the chain's input with exact zeros, negative zeros, subnormals and rare huge values among the pixels.
std::vector<Tensor> awkward_images(std::mt19937& rng, Shape3 shape, int count) {
  std::vector<Tensor> images = random_images(rng, shape, count);
  std::uniform_int_distribution<int> kind(0, 40);
  for (auto& image : images)
    for (auto& v : image.data) {
      const int k = kind(rng);
      if (k == 0) v = 0.0f;
      if (k == 1) v = -0.0f;
      if (k == 2) v = std::numeric_limits<float>::denorm_min() * 5.0f;
      if (k == 3 && kind(rng) == 0) v = 4.0e4f;
    }
  return images;
}

}  // namespace

TEST_CASE("select_tail kernels equal their portable twin on every path", "[int8][calibration]") {
  IsaRestorer restore;
  std::mt19937 rng(91);
  std::uniform_real_distribution<float> value(-3.0f, 3.0f);
  std::uniform_int_distribution<int> kind(0, 11);
  std::uniform_int_distribution<std::uint32_t> threshold(1u, 0x7f800001u);
  for (Isa isa : supported_isas()) {
    REQUIRE(set_isa(isa));
    for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 15u, 16u, 17u, 31u, 33u, 64u, 100u, 257u}) {
      std::vector<float> values(n);
      std::vector<std::uint32_t> thresholds(n);
      for (std::size_t i = 0; i < n; ++i) {
        const int k = kind(rng);
        values[i] = k == 0   ? 0.0f
                    : k == 1 ? -0.0f
                    : k == 2 ? std::numeric_limits<float>::quiet_NaN()
                    : k == 3 ? -std::numeric_limits<float>::infinity()
                    : k == 4 ? std::numeric_limits<float>::denorm_min() * 3.0f
                             : value(rng);
        std::uint32_t bits;
        std::memcpy(&bits, &values[i], 4);
        // Some thresholds equal the magnitude itself: "at least" must select those.
        thresholds[i] = kind(rng) < 3 ? std::max(bits & 0x7fffffffu, 1u) : threshold(rng);
      }
      std::vector<std::uint32_t> fast(n + 1, 0xdeadu), twin(n + 1, 0xdeadu);
      std::uint32_t fast_max = 5, twin_max = 5;
      const std::size_t fast_count = select_tail(values.data(), thresholds.data(), n, fast.data(), fast_max);
      const std::size_t twin_count = select_tail_portable(values.data(), thresholds.data(), n, twin.data(), twin_max);
      INFO(isa_name(isa) << ", n = " << n);
      REQUIRE(fast_count == twin_count);
      CHECK(std::vector<std::uint32_t>(fast.begin(), fast.begin() + static_cast<std::ptrdiff_t>(fast_count)) ==
            std::vector<std::uint32_t>(twin.begin(), twin.begin() + static_cast<std::ptrdiff_t>(twin_count)));
      CHECK(fast_max == twin_max);
    }
  }
}

TEST_CASE("tail-only calibration answers high percentiles exactly as the full histograms do", "[int8][calibration]") {
  IsaRestorer restore;
  std::mt19937 rng(92);
  const Model model = skewed_chain(rng);
  const auto images = awkward_images(rng, model.input, 24);
  for (Isa isa : supported_isas()) {
    REQUIRE(set_isa(isa));
    for (const bool per_layer : {true, false}) {
      INFO(isa_name(isa) << (per_layer ? ", per layer" : ", per channel"));
      ActivationCalibrator twin(model, {per_layer, !per_layer, /*reference_binning=*/true});
      ActivationCalibrator tail(model, {per_layer, !per_layer, false, /*tail_only=*/true});
      for (const auto& x : images) {
        REQUIRE(twin.add(x));
        REQUIRE(tail.add(x));
      }
      for (const double p : {99.9, 99.95, 99.99, 100.0}) {
        INFO("percentile " << p);
        REQUIRE(tail.exact_at(p));
        REQUIRE(tail.channels_exact_at(p));
        CHECK(tail.input_ranges(p) == twin.input_ranges(p));
        CHECK(tail.input_channel_ranges(p) == twin.input_channel_ranges(p));
      }
      // Down to where the tails end: the lowest exact percentiles fall in the threshold bins themselves.
      int exact = 0;
      for (double p = 95.0; p < 100.0; p += 0.02) {
        INFO("percentile " << p);
        if (tail.exact_at(p) && tail.channels_exact_at(p)) {
          ++exact;
          CHECK(tail.input_ranges(p) == twin.input_ranges(p));
          CHECK(tail.input_channel_ranges(p) == twin.input_channel_ranges(p));
        }
      }
      CHECK(exact > 5);
      CHECK(exact < 250);
      CHECK(tail.outputs() == twin.outputs());
      // The median lies far below every tail, and min-MSE needs every bin: both are known not to be exact.
      if (per_layer) {
        CHECK(!tail.exact_at(50.0));
        CHECK(!tail.exact_at(0.0));
      } else {
        CHECK(!tail.channels_exact_at(50.0));
      }
    }
  }
}

TEST_CASE("a tail that missed the percentile is caught, and quantize_calibrated bins in full again",
          "[int8][calibration]") {
  std::mt19937 rng(93);
  const Model model = skewed_chain(rng);
  // Three bright images set every threshold; 300 dim ones never reach them, so at the end the counted tails hold
  // ~0.02% of the values and the 99.9th percentile lies below them.
  auto images = random_images(rng, model.input, 303);
  for (int bright = 0; bright < 3; ++bright)
    for (auto& v : images[static_cast<std::size_t>(bright)].data) v *= 40.0f;
  for (std::size_t i = 3; i < images.size(); ++i)
    for (auto& v : images[i].data) v *= 0.05f;
  ActivationCalibrator tail(model, {false, true, false, /*tail_only=*/true});
  ActivationCalibrator full(model, {false, true, false, false});
  for (const auto& x : images) {
    REQUIRE(tail.add(x));
    REQUIRE(full.add(x));
  }
  CHECK(!tail.channels_exact_at(99.9));
  CHECK(tail.input_channel_ranges(99.9) != full.input_channel_ranges(99.9));
  // The recipe with full histograms throughout, written out.
  Model expected = model;
  REQUIRE(equalize_channel_ranges(expected, full.input_channel_ranges(99.9)));
  ActivationCalibrator layer_full(expected, {true, false, false, false});
  for (const auto& x : images) REQUIRE(layer_full.add(x));
  REQUIRE(quantize_model(expected, layer_full.input_ranges(99.9)));
  // Both passes inside quantize_calibrated miss the tail here: the one it is given and the one it runs.
  for (const ActivationCalibrator* first_pass : {&tail, &full}) {
    auto quantized = quantize_calibrated(model, *first_pass, images, 99.9);
    REQUIRE(quantized);
    for (std::size_t l = 0; l < model.layers.size(); ++l) {
      INFO((first_pass == &tail ? "tail-only" : "full") << " first pass, layer " << l);
      const Int8Weights& a = *quantized.value().layers[l].int8;
      const Int8Weights& b = *expected.layers[l].int8;
      CHECK(a.input_scale == b.input_scale);
      CHECK(a.weights == b.weights);
      CHECK(a.weight_scales == b.weight_scales);
    }
  }
}

// --- Int8ForwardPlan: the fused pass equals forward_int8 with the reference kernels bit for bit ---

namespace {

struct ChainLayer {
  LayerKind kind;
  int out_c, k, stride;
  Padding pad;
  Activation act;
};

// A chain of the given layers on a random input shape, quantized with ranges calibrated at the 99th percentile so
// that some values of every layer's input are clamped.
Model random_int8_chain(Shape3 input, const std::vector<ChainLayer>& spec, std::mt19937& rng) {
  std::vector<Layer> layers;
  Shape3 shape = input;
  for (const ChainLayer& l : spec) {
    layers.push_back(random_layer(l.kind, shape, l.out_c, l.k, l.stride, l.pad, l.act, rng));
    layers.back().name = "l" + std::to_string(layers.size() - 1);
    shape = layers.back().out;
  }
  Model model{"chain", input, std::vector<std::string>(shape.size(), "o"), {}, layers};
  REQUIRE(validate_model(model));
  ActivationCalibrator calibrator(model);
  for (const Tensor& x : random_images(rng, input, 4)) REQUIRE(calibrator.add(x));
  REQUIRE(quantize_model(model, calibrator.input_ranges(99.0)));
  return model;
}

void check_plan_equals_reference(const Model& model, std::mt19937& rng) {
  std::vector<Tensor> inputs = random_images(rng, model.input, 3);
  Tensor extreme(model.input);  // far beyond the calibrated range: every quantizer clamps
  for (std::size_t i = 0; i < extreme.data.size(); ++i) extreme.data[i] = (i % 3 == 0 ? -1.0f : 1.0f) * 1.0e4f;
  inputs.push_back(extreme);
  inputs.push_back(Tensor(model.input));  // all zeros
  Int8ForwardPlan plan(model);            // one plan for every input: nothing may leak from one run into the next
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    // Every other run starts from released buffers, as in the page where models take turns.
    if (k % 2 == 1) {
      plan.release_buffers();
      CHECK(!plan.holds_buffers());
    }
    auto ref = forward_int8(model, x, {/*keep_activations=*/true, /*use_reference_kernels=*/true});
    auto fast = forward_int8(model, x, {/*keep_activations=*/true});
    auto planned = forward_int8_planned(model, plan, x, /*keep_activations=*/true);
    auto planned_outputs_only = forward_int8_planned(model, plan, x);
    REQUIRE(ref);
    REQUIRE(fast);
    REQUIRE(planned);
    REQUIRE(planned_outputs_only);
    CHECK(bit_equal(ref.value().outputs, fast.value().outputs));
    CHECK(bit_equal(ref.value().outputs, planned.value().outputs));
    CHECK(bit_equal(ref.value().outputs, planned_outputs_only.value().outputs));
    REQUIRE(planned.value().activations.size() == model.layers.size());
    for (std::size_t l = 0; l < model.layers.size(); ++l) {
      INFO("layer " << l);
      CHECK(planned.value().activations[l].shape == ref.value().activations[l].shape);
      CHECK(bit_equal(ref.value().activations[l].data, planned.value().activations[l].data));
      CHECK(bit_equal(ref.value().activations[l].data, fast.value().activations[l].data));
    }
    CHECK(plan.holds_buffers());
  }
}

}  // namespace

TEST_CASE("Int8ForwardPlan equals forward_int8 with the reference kernels on awkward chains", "[int8][plan]") {
  using K = LayerKind;
  const Activation relu = Activation::relu, linear = Activation::linear;
  const Padding none{}, one{1, 1, 1, 1}, two{2, 2, 2, 2}, after{0, 1, 0, 1};
  // Channels around the vector widths (4 lanes, 8 per int16 vector, 16 per conv block), strides 1 and 2, "same",
  // "valid" and one-sided pads, inputs signed (after linear layers, the image) and unsigned (after ReLU), dense
  // readouts of one and of many units, chains that end on a conv or a depthwise layer, and layers that take the
  // model input directly (conv with 3 or 1 channels, depthwise, dense).
  const std::vector<std::pair<Shape3, std::vector<ChainLayer>>> chains = {
      {{15, 13, 3},
       {{K::conv2d, 5, 5, 1, two, relu},
        {K::depthwise_conv2d, 5, 3, 2, one, linear},
        {K::conv2d, 7, 1, 1, none, relu},
        {K::depthwise_conv2d, 7, 5, 1, none, relu},
        {K::conv2d, 9, 3, 2, after, linear},
        {K::dense, 1, 1, 1, none, linear}}},
      {{17, 18, 1},
       {{K::conv2d, 17, 3, 2, one, relu},
        {K::depthwise_conv2d, 17, 5, 2, two, linear},
        {K::conv2d, 33, 1, 1, none, relu},
        {K::dense, 219, 1, 1, none, linear}}},
      {{12, 11, 3},
       {{K::depthwise_conv2d, 3, 3, 1, one, relu},
        {K::conv2d, 12, 1, 1, none, relu},
        {K::depthwise_conv2d, 12, 3, 2, after, linear},
        {K::conv2d, 6, 1, 1, none, relu}}},
      {{5, 4, 3}, {{K::dense, 7, 1, 1, none, relu}, {K::dense, 3, 1, 1, none, linear}}},
      {{13, 11, 3},
       {{K::conv2d, 9, 2, 2, after, relu},
        {K::depthwise_conv2d, 9, 3, 1, one, linear},
        {K::conv2d, 1, 1, 1, none, relu},
        {K::dense, 2, 1, 1, none, linear}}},
      {{10, 9, 3}, {{K::conv2d, 10, 3, 1, one, relu}, {K::depthwise_conv2d, 10, 3, 2, one, relu}}},
      {{9, 9, 2},
       {{K::conv2d, 16, 5, 1, two, linear},
        {K::conv2d, 20, 3, 1, one, relu},
        {K::conv2d, 15, 1, 2, none, linear},
        {K::depthwise_conv2d, 15, 3, 1, one, relu},
        {K::dense, 16, 1, 1, none, relu}}},
  };
  const std::size_t index = GENERATE(range(0, 7));
  std::mt19937 rng(static_cast<unsigned>(100 + index));
  const Model model = random_int8_chain(chains[index].first, chains[index].second, rng);
  // The chain exercises both quantized ranges.
  bool any_unsigned = false, any_signed = false;
  for (const Layer& l : model.layers) (l.int8->unsigned_input ? any_unsigned : any_signed) = true;
  CHECK(any_signed);
  CHECK(any_unsigned);
  check_plan_equals_reference(model, rng);
}

TEST_CASE("Int8ForwardPlans sharing an arena take turns and each gives the reference outputs", "[int8][plan][arena]") {
  using K = LayerKind;
  const Activation relu = Activation::relu, linear = Activation::linear;
  const Padding none{}, one{1, 1, 1, 1}, two{2, 2, 2, 2};
  std::mt19937 rng(404);
  // Different shapes and channel strides (3, 4, 8-padded depthwise inputs, a border of 2), so each plan lays the
  // arena out differently and finds the previous plan's values where its own borders and padding channels go.
  std::vector<Model> models;
  models.push_back(random_int8_chain({14, 13, 3},
                                     {{K::conv2d, 6, 5, 1, two, relu},
                                      {K::depthwise_conv2d, 6, 3, 2, one, linear},
                                      {K::conv2d, 5, 1, 1, none, relu},
                                      {K::dense, 3, 1, 1, none, linear}},
                                     rng));
  models.push_back(random_int8_chain({9, 11, 3},
                                     {{K::conv2d, 11, 3, 1, one, relu},
                                      {K::depthwise_conv2d, 11, 5, 1, two, relu},
                                      {K::conv2d, 2, 1, 1, none, linear}},
                                     rng));
  models.push_back(random_int8_chain(
      {16, 16, 3},
      {{K::conv2d, 17, 5, 2, two, relu}, {K::depthwise_conv2d, 17, 3, 1, one, relu}, {K::dense, 1, 1, 1, none, linear}},
      rng));
  Int8Arena arena;
  std::vector<std::unique_ptr<Int8ForwardPlan>> plans;
  for (const Model& m : models) plans.push_back(std::make_unique<Int8ForwardPlan>(m, &arena));
  const std::vector<std::size_t> turns = {0, 1, 2, 2, 0, 1, 0, 0, 2, 1};
  for (std::size_t t = 0; t < turns.size(); ++t) {
    INFO("turn " << t << ", model " << turns[t]);
    const Model& model = models[turns[t]];
    // Twice the arena is filled with a value no layer writes: what a plan does not clear itself would show.
    if (t == 0 || t == 5) scribble_int8_arena(arena, 0x5a5a);
    const Tensor x = random_images(rng, model.input, 1).front();
    auto ref = forward_int8(model, x, {/*keep_activations=*/true, /*use_reference_kernels=*/true});
    auto planned = forward_int8_planned(model, *plans[turns[t]], x, /*keep_activations=*/true);
    REQUIRE(ref);
    REQUIRE(planned);
    CHECK(bit_equal(ref.value().outputs, planned.value().outputs));
    for (std::size_t l = 0; l < model.layers.size(); ++l)
      CHECK(bit_equal(ref.value().activations[l].data, planned.value().activations[l].data));
    CHECK(!plans[turns[t]]->holds_buffers());  // the storage is the arena's
  }
  // A plan moved to another arena (the threaded module's models run on whichever thread is free) lays its buffers
  // out there, and back again.
  Int8Arena other;
  for (int round = 0; round < 2; ++round) {
    Int8Arena& target = round == 0 ? other : arena;
    scribble_int8_arena(target, 0x3c3c);
    plans[1]->use_arena(&target);
    const Tensor x = random_images(rng, models[1].input, 1).front();
    auto ref = forward_int8(models[1], x, {/*keep_activations=*/false, /*use_reference_kernels=*/true});
    auto planned = forward_int8_planned(models[1], *plans[1], x);
    REQUIRE(ref);
    REQUIRE(planned);
    CHECK(bit_equal(ref.value().outputs, planned.value().outputs));
  }
  CHECK(other.capacity() > 0);

  // One block, as large as the largest plan needs, not one per plan: each model alone in a fresh arena.
  std::size_t largest = 0;
  for (const Model& m : models) {
    Int8Arena own;
    Int8ForwardPlan plan(m, &own);
    REQUIRE(forward_int8_planned(m, plan, Tensor(m.input)));
    largest = std::max(largest, own.capacity());
  }
  CHECK(largest > 0);
  CHECK(arena.capacity() == largest);
}

TEST_CASE("Int8ForwardPlan runs the committed demo model exactly like the reference", "[int8][plan][demo]") {
  std::vector<std::uint8_t> bytes;
  REQUIRE(fixtures::read_file(std::string(CORTEXLENS_MODELS_DIR) + "/demo/demo_dot_detector.clm", bytes));
  auto loaded = read_model_file(bytes.data(), bytes.size());
  REQUIRE(loaded);
  REQUIRE(is_int8_model(loaded.value().model));
  std::mt19937 rng(7);
  check_plan_equals_reference(loaded.value().model, rng);
}
