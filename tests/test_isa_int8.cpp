// The int8 kernels on every instruction-set path this CPU and build can run (isa.hpp): each path's kernels equal
// their `_ref` twins bit for bit on awkward shapes, and whole int8 passes are bit-identical across paths, with and
// without the VNNI dot products. In wasm the paths are scalar and sse (wasm SIMD128), and the same cases run.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cortexlens/int8_forward_plan.hpp"
#include "cortexlens/isa.hpp"
#include "cortexlens/model_file.hpp"
#include "cortexlens/quantize.hpp"
#include "image_fixtures.hpp"
#include "isa_guard.hpp"
#include "kernels/int8_wide.hpp"
#include "kernels/kernels.hpp"
#include "model/quantize_internals.hpp"
#include "random_layer.hpp"

using namespace cortexlens;

namespace {

// Restores the path (test::IsaGuard) and allows VNNI and AMX again, whatever the test does.
struct Int8PathGuard {
  test::IsaGuard isa;
  ~Int8PathGuard() {
    set_int8_vnni_allowed(true);
    set_int8_amx_allowed(true);
  }
};

// Every (path, VNNI, AMX) choice worth running: VNNI on and off where the path has it, and AMX tiles for the
// convolutions where the avx512 path has them.
struct Variant {
  Isa isa;
  bool vnni;
  bool amx;
};
std::vector<Variant> variants() {
  std::vector<Variant> v;
  for (Isa isa : supported_isas()) {
    v.push_back({isa, false, false});
    if (has_vnni(isa)) v.push_back({isa, true, false});
    if (isa == Isa::avx512 && has_amx_int8() && int8_amx_kernel_built()) v.push_back({isa, true, true});
  }
  return v;
}
void select(const Variant& v) {
  REQUIRE(set_isa(v.isa));
  set_int8_vnni_allowed(v.vnni);
  set_int8_amx_allowed(v.amx);
}
std::string describe(const Variant& v) {
  return std::string(isa_name(v.isa)) + (v.vnni ? " vnni" : "") + (v.amx ? " amx" : "");
}

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::vector<std::int16_t> random_codes(std::size_t n, std::mt19937& rng, const Int8Weights& q) {
  std::uniform_int_distribution<int> value(input_q_min(q), input_q_max(q));
  std::bernoulli_distribution zero(0.3);
  std::vector<std::int16_t> v(n);
  for (auto& x : v) x = zero(rng) ? 0 : static_cast<std::int16_t>(value(rng));
  return v;
}

// Runs `fast` on every variant and compares it with the reference output.
template <class Kernel>
void check_every_path(const Layer& layer, const std::vector<std::int16_t>& input, const std::vector<float>& ref,
                      Kernel fast) {
  Int8PathGuard guard;
  for (const Variant& v : variants()) {
    select(v);
    std::vector<float> out(layer.out.size(), -1.0f);
    fast(layer, input.data(), out.data());
    INFO("path " << describe(v));
    CHECK(bit_equal(ref, out));
  }
}

}  // namespace

TEST_CASE("int8 conv2d equals its scalar twin on every instruction-set path", "[int8][isa]") {
  // Channel counts around every width (4, 8, 16 lanes, blocks of 16, tiles of up to 64 channels), 1x1 and 5x5,
  // strides 1 and 2, "same" and "valid", widths below and above every tile's pixel count.
  const int in_c = GENERATE(1, 3, 5, 17, 33, 65);
  const int out_c = GENERATE(1, 3, 5, 17, 33, 65);
  const int k = GENERATE(1, 5);
  const int stride = GENERATE(1, 2);
  const bool same = GENERATE(false, true);
  const int width = GENERATE(5, 29);
  std::mt19937 rng(static_cast<unsigned>(in_c * 10000 + out_c * 100 + k * 10 + stride + width));
  Layer layer = test::random_layer(LayerKind::conv2d, {width == 5 ? 7 : 6, width, in_c}, out_c, k, stride, same,
                                   Activation::relu, rng);
  layer.int8 = quantize_layer_weights(layer, 0.05f, GENERATE(false, true));
  const auto input = random_codes(layer.in.size(), rng, *layer.int8);
  std::vector<float> ref(layer.out.size());
  conv2d_int8_ref(layer, input.data(), ref.data());
  check_every_path(layer, input, ref, conv2d_int8_tiled);
}

TEST_CASE("int8 depthwise conv2d equals its scalar twin on every instruction-set path", "[int8][isa]") {
  const int channels = GENERATE(1, 3, 5, 17, 33, 65);
  const int k = GENERATE(1, 3, 5);
  const int stride = GENERATE(1, 2);
  const bool same = GENERATE(false, true);
  const Activation act = GENERATE(Activation::linear, Activation::relu);
  // Widths whose outputs fall below, on and across the tiles' pixel counts, odd and even (the 5-wide stride-2
  // kernels read the rows as pixel pairs, the last one half past the border).
  const int width = GENERATE(13, 40, 42);
  std::mt19937 rng(static_cast<unsigned>(channels * 100 + k * 10 + stride + width * 1000));
  Layer layer =
      test::random_layer(LayerKind::depthwise_conv2d, {9, width, channels}, channels, k, stride, same, act, rng);
  layer.int8 = quantize_layer_weights(layer, 0.1f, GENERATE(false, true));
  const auto input = random_codes(layer.in.size(), rng, *layer.int8);
  std::vector<float> ref(layer.out.size());
  depthwise_conv2d_int8_ref(layer, input.data(), ref.data());
  check_every_path(layer, input, ref, depthwise_conv2d_int8_tiled);
}

TEST_CASE("int8 dense equals its scalar twin on every instruction-set path", "[int8][isa]") {
  const int units = GENERATE(1, 3, 17, 65, 219);
  const int channels = GENERATE(1, 5, 33);
  std::mt19937 rng(static_cast<unsigned>(units * 10 + channels));
  Layer layer = test::random_layer(LayerKind::dense, {5, 7, channels}, units, 1, 1, false, Activation::linear, rng);
  layer.int8 = quantize_layer_weights(layer, 0.02f, GENERATE(false, true));
  const auto input = random_codes(layer.in.size(), rng, *layer.int8);
  std::vector<float> ref(layer.out.size());
  dense_int8_ref(layer, input.data(), ref.data());
  check_every_path(layer, input, ref, dense_int8_tiled);
}

TEST_CASE("the plan's ReLU quantizer equals quantize_values_ref on every instruction-set path", "[int8][isa]") {
  // Around every half-integer up to the top code (where the rounding decides), signs, zeros, and counts that end
  // inside a vector of every width.
  std::vector<float> values;
  for (int n = 0; n <= 256; ++n) {
    float up = n + 0.5f, down = n + 0.5f;
    values.push_back(up);
    for (int i = 0; i < 64; ++i) {
      up = std::nextafter(up, 1e9f);
      down = std::nextafter(down, -1e9f);
      values.push_back(up);
      values.push_back(down);
    }
  }
  for (const float x : {0.0f, -0.0f, 1e-30f, 0.49999997f, -0.5f, -3.0f, -1e30f, 1e30f}) values.push_back(x);
  Int8PathGuard guard;
  for (const Isa isa : supported_isas()) {
    REQUIRE(set_isa(isa));
    for (const float scale : {1.0f, 0.0371f})
      for (const bool unsigned_range : {true, false})
        for (const std::size_t count :
             {values.size(), std::size_t{1}, std::size_t{7}, std::size_t{13}, std::size_t{31}}) {
          const float high = unsigned_range ? 255.0f : 127.0f;
          std::vector<float> relu(count);
          for (std::size_t i = 0; i < count; ++i) relu[i] = values[i] > 0.0f ? values[i] : 0.0f;
          std::vector<std::int16_t> ref(count), fast(count + 1, 12345);
          quantize_values_ref(relu.data(), count, scale, unsigned_range, ref.data());
          plan_relu_codes(values.data(), count, scale, high, fast.data());
          INFO("path " << isa_name(isa) << ", scale " << scale << ", count " << count);
          CHECK(std::equal(ref.begin(), ref.end(), fast.begin()));
          CHECK(fast[count] == 12345);  // nothing written past the end
        }
  }
}

TEST_CASE("quantize_values equals quantize_values_ref on every instruction-set path", "[int8][isa]") {
  // Either side of every half-integer of both signs (the rounding goes away from zero), the clamps, zeros.
  std::vector<float> values;
  for (int n = -256; n <= 256; ++n) {
    float up = n + 0.5f, down = n + 0.5f;
    values.push_back(up);
    for (int i = 0; i < 16; ++i) {
      up = std::nextafter(up, 1e9f);
      down = std::nextafter(down, -1e9f);
      values.push_back(up);
      values.push_back(down);
    }
  }
  for (const float x : {0.0f, -0.0f, 1e-30f, -1e-30f, 0.49999997f, -0.49999997f, -1e30f, 1e30f}) values.push_back(x);
  Int8PathGuard guard;
  for (const Isa isa : supported_isas()) {
    REQUIRE(set_isa(isa));
    for (const float scale : {1.0f, 0.0371f, 3.0f})
      for (const bool unsigned_range : {true, false})
        for (const std::size_t count : {values.size(), std::size_t{1}, std::size_t{15}, std::size_t{16},
                                        std::size_t{17}, std::size_t{336}, std::size_t{47}}) {
          std::vector<std::int16_t> ref(count), fast(count + 1, 12345);
          quantize_values_ref(values.data(), count, scale, unsigned_range, ref.data());
          quantize_values(values.data(), count, scale, unsigned_range, fast.data());
          INFO("path " << isa_name(isa) << ", scale " << scale << ", unsigned " << unsigned_range << ", count "
                       << count);
          CHECK(std::equal(ref.begin(), ref.end(), fast.begin()));
          CHECK(fast[count] == 12345);
        }
  }
}

namespace {

struct ChainLayer {
  LayerKind kind;
  int out_c, k, stride;
  bool same;
  Activation act;
};

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

Model random_int8_chain(Shape3 input, const std::vector<ChainLayer>& spec, std::mt19937& rng) {
  std::vector<Layer> layers;
  Shape3 shape = input;
  for (const ChainLayer& l : spec) {
    layers.push_back(test::random_layer(l.kind, shape, l.out_c, l.k, l.stride, l.same, l.act, rng));
    for (float& w : layers.back().weights) w *= 0.2f;
    layers.back().name = "l" + std::to_string(layers.size() - 1);
    shape = layers.back().out;
  }
  Model model{"chain", input, std::vector<std::string>(shape.size(), "o"), {}, layers};
  REQUIRE(validate_model(model));
  ActivationCalibrator calibrator(model);
  for (const Tensor& x : random_images(rng, input, 3)) REQUIRE(calibrator.add(x));
  REQUIRE(quantize_model(model, calibrator.input_ranges(99.0)));
  return model;
}

// The whole pass on every variant, with and without the per-layer activations (which change how each step
// finishes: floats and codes, codes through a ReLU, signed codes), equals the reference kernels bit for bit.
void check_model_on_every_path(const Model& model, std::mt19937& rng) {
  std::vector<Tensor> inputs = random_images(rng, model.input, 2);
  Tensor extreme(model.input);  // every quantizer clamps
  for (std::size_t i = 0; i < extreme.data.size(); ++i) extreme.data[i] = (i % 3 == 0 ? -1.0f : 1.0f) * 1.0e4f;
  inputs.push_back(extreme);
  Int8PathGuard guard;
  for (const Tensor& x : inputs) {
    auto ref = forward_int8(model, x, {/*keep_activations=*/true, /*use_reference_kernels=*/true});
    REQUIRE(ref);
    for (const Variant& v : variants()) {
      select(v);
      INFO("path " << describe(v));
      Int8ForwardPlan plan(model);
      auto outputs_only = forward_int8_planned(model, plan, x);
      auto with_activations = forward_int8_planned(model, plan, x, /*keep_activations=*/true);
      REQUIRE(outputs_only);
      REQUIRE(with_activations);
      CHECK(bit_equal(ref.value().outputs, outputs_only.value().outputs));
      CHECK(bit_equal(ref.value().outputs, with_activations.value().outputs));
      for (std::size_t l = 0; l < model.layers.size(); ++l) {
        INFO("layer " << l);
        CHECK(bit_equal(ref.value().activations[l].data, with_activations.value().activations[l].data));
      }
    }
  }
}

}  // namespace

TEST_CASE("whole int8 passes are bit-identical on every instruction-set path: random models", "[int8][isa][plan]") {
  using K = LayerKind;
  const Activation relu = Activation::relu, linear = Activation::linear;
  // Compact-model-like chains (5x5 conv on RGB with 48, 57 and 100 channels as the published models have, strided
  // depthwise, pointwise, dense readouts of one and of many units) and chains of awkward widths.
  const std::vector<std::pair<Shape3, std::vector<ChainLayer>>> chains = {
      {{24, 23, 3},
       {{K::conv2d, 48, 5, 1, true, relu},
        {K::depthwise_conv2d, 48, 5, 2, true, linear},
        {K::conv2d, 60, 1, 1, true, relu},
        {K::depthwise_conv2d, 60, 5, 2, true, linear},
        {K::conv2d, 60, 1, 1, true, relu},
        {K::dense, 1, 1, 1, false, linear}}},
      {{19, 26, 3},
       {{K::conv2d, 57, 5, 1, true, relu},
        {K::depthwise_conv2d, 57, 3, 2, false, relu},
        {K::conv2d, 33, 1, 1, true, linear},
        {K::conv2d, 17, 3, 1, true, relu},
        {K::dense, 219, 1, 1, false, linear}}},
      {{17, 31, 3},
       {{K::conv2d, 100, 5, 2, true, relu},
        {K::depthwise_conv2d, 100, 3, 1, true, linear},
        {K::conv2d, 65, 1, 1, true, relu},
        {K::dense, 7, 1, 1, false, relu}}},
      {{13, 11, 1},
       {{K::conv2d, 5, 3, 1, false, linear},
        {K::conv2d, 3, 1, 2, true, relu},
        {K::depthwise_conv2d, 3, 5, 1, true, relu},
        {K::conv2d, 1, 1, 1, true, linear}}},
  };
  const std::size_t index = GENERATE(range(0, 4));
  std::mt19937 rng(static_cast<unsigned>(500 + index));
  check_model_on_every_path(random_int8_chain(chains[index].first, chains[index].second, rng), rng);
}

TEST_CASE("whole int8 passes are bit-identical on every instruction-set path: the demo model", "[int8][isa][demo]") {
  std::vector<std::uint8_t> bytes;
  REQUIRE(fixtures::read_file(std::string(CORTEXLENS_MODELS_DIR) + "/demo/demo_dot_detector.clm", bytes));
  auto loaded = read_model_file(bytes.data(), bytes.size());
  REQUIRE(loaded);
  REQUIRE(is_int8_model(loaded.value().model));
  std::mt19937 rng(8);
  check_model_on_every_path(loaded.value().model, rng);
}
