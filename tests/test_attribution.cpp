// Saliency, occlusion, readout maps, ablation and block images on small models built in code.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "cortexlens/attribution.hpp"
#include "cortexlens/forward.hpp"
#include "cortexlens/image.hpp"
#include "cortexlens/synthesis.hpp"
#include "viz_models.hpp"

using namespace cortexlens;

namespace {

Tensor random_image(Shape3 shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 255.0f);
  Tensor t(shape);
  for (std::size_t i = 0; i < t.data.size(); ++i) t.data[i] = u(rng) - kChannelMeans[i % 3];
  return t;
}

float output_of(const Model& m, const Tensor& x) {
  auto out = forward(m, x);
  REQUIRE(out.is_ok());
  return out.value().outputs[0];
}

}  // namespace

TEST_CASE("gradient x input adds up to the response of a bias-free ReLU network", "[attribution]") {
  // Without biases the network is positively homogeneous, so sum_i x_i df/dx_i = f(x) (Euler).
  const Model model = testmodels::small_rgb_model(21, /*zero_bias=*/true);
  const Tensor x = random_image(model.input, 1);
  float value = 0;
  auto map = saliency_gradient_x_input(model, x, OutputSelector::output(0), &value);
  REQUIRE(map.is_ok());
  REQUIRE(map.value().shape == Shape3{24, 24, 1});
  double total = 0;
  for (float v : map.value().data) total += v;
  REQUIRE(value == Approx(output_of(model, x)).epsilon(1e-5));
  REQUIRE(total == Approx(value).epsilon(1e-4).margin(1e-5));
  REQUIRE(std::fabs(value) > 1e-3);
}

TEST_CASE("occlusion drops are the response changes of the occluded images", "[attribution]") {
  const Model model = testmodels::small_rgb_model(22);
  const Tensor x = random_image(model.input, 2);
  OcclusionOptions options;
  options.patch = 10;
  options.stride = 7;
  int rows_reported = 0;
  auto map = occlusion_map(model, x, OutputSelector::output(0), options, [&](int done, int total) {
    rows_reported = done;
    REQUIRE(total == 3);
    return true;
  });
  REQUIRE(map.is_ok());
  const OcclusionMap& m = map.value();
  REQUIRE(m.rows == 3);  // positions 0, 7, 14 (the last overhanging 24 is clipped)
  REQUIRE(m.cols == 3);
  REQUIRE(rows_reported == 3);
  REQUIRE(m.baseline == Approx(output_of(model, x)));
  for (int r = 0; r < m.rows; ++r)
    for (int c = 0; c < m.cols; ++c) {
      Tensor occluded = x;
      for (int y = r * 7; y < std::min(r * 7 + 10, 24); ++y)
        for (int xx = c * 7; xx < std::min(c * 7 + 10, 24); ++xx)
          for (int ch = 0; ch < 3; ++ch) occluded.at(y, xx, ch) = 0.0f;
      REQUIRE(m.drops.at(r, c, 0) == Approx(m.baseline - output_of(model, occluded)).margin(1e-5));
    }
  // Pixel (0, 0) is covered by the first patch only; (8, 8) by four.
  REQUIRE(m.per_pixel.at(0, 0, 0) == Approx(m.drops.at(0, 0, 0)));
  const float four = (m.drops.at(0, 0, 0) + m.drops.at(0, 1, 0) + m.drops.at(1, 0, 0) + m.drops.at(1, 1, 0)) / 4;
  REQUIRE(m.per_pixel.at(8, 8, 0) == Approx(four));
  // Cancel and bad options.
  auto cancelled = occlusion_map(model, x, OutputSelector::output(0), options, [](int, int) { return false; });
  CHECK_THAT(cancelled.message(), Catch::Contains("cancelled"));
  options.patch = 0;
  CHECK_THAT(occlusion_map(model, x, OutputSelector::output(0), options).message(),
             Catch::Contains("must both be 1..24"));
}

TEST_CASE("the readout map adds up to the output", "[attribution]") {
  const Model model = testmodels::small_rgb_model(23);
  const Tensor x = random_image(model.input, 3);
  float bias = 0;
  auto map = readout_map(model, x, 0, &bias);
  REQUIRE(map.is_ok());
  REQUIRE(map.value().shape == Shape3{12, 12, 1});
  double total = bias;
  for (float v : map.value().data) total += v;
  REQUIRE(total == Approx(output_of(model, x)).epsilon(1e-5));

  // The shared models' form: a depthwise layer over the whole map, one output per channel.
  Model pooled = model;
  Layer& last = pooled.layers.back();
  last.kind = LayerKind::depthwise_conv2d;
  last.kernel_h = last.kernel_w = 12;
  last.out = {1, 1, 4};
  last.weights.resize(12 * 12 * 4);
  for (std::size_t i = 0; i < last.weights.size(); ++i) last.weights[i] = std::sin(0.37f * i);
  last.bias = {0.1f, 0.2f, 0.3f, 0.4f};
  pooled.output_names = {"a", "b", "c", "d"};
  REQUIRE(validate_model(pooled).is_ok());
  auto out = forward(pooled, x);
  REQUIRE(out.is_ok());
  for (int o = 0; o < 4; ++o) {
    auto m = readout_map(pooled, x, o, &bias);
    REQUIRE(m.is_ok());
    double sum = bias;
    for (float v : m.value().data) sum += v;
    REQUIRE(sum == Approx(out.value().outputs[o]).epsilon(1e-5));
  }
  CHECK_THAT(readout_map(pooled, x, 4).message(), Catch::Contains("output 4 out of range: expected 0..3"));
  Model no_readout = model;
  no_readout.layers.pop_back();
  no_readout.output_names.assign(no_readout.layers.back().out.size(), "o");
  CHECK_THAT(readout_map(no_readout, x, 0).message(), Catch::Contains("needs a last layer that is Dense"));
}

TEST_CASE("ablation scales a channel's output and leaves the original alone", "[attribution]") {
  const Model model = testmodels::small_rgb_model(24);
  const Tensor x = random_image(model.input, 4);
  auto before = forward(model, x, {true});
  REQUIRE(before.is_ok());
  for (float scale : {0.0f, 0.5f, 2.0f}) {
    auto ablated = ablate(model, 0, 2, scale);
    REQUIRE(ablated.is_ok());
    auto after = forward(ablated.value(), x, {true});
    REQUIRE(after.is_ok());
    const Tensor& a = before.value().activations[0];
    const Tensor& b = after.value().activations[0];
    for (int y = 0; y < a.shape.h; ++y)
      for (int xx = 0; xx < a.shape.w; ++xx)
        for (int c = 0; c < a.shape.c; ++c)
          REQUIRE(b.at(y, xx, c) == Approx(c == 2 ? scale * a.at(y, xx, c) : a.at(y, xx, c)).margin(1e-5));
  }
  // Switching off every channel of the last ReLU layer leaves only the readout bias.
  Model dark = model;
  for (int c = 0; c < 4; ++c) REQUIRE(ablate_in_place(dark, 2, c, 0.0f).is_ok());
  REQUIRE(output_of(dark, x) == Approx(model.layers.back().bias[0]).margin(1e-6));
  REQUIRE(output_of(model, x) == Approx(before.value().outputs[0]));  // the original is untouched
  CHECK_THAT(ablate(model, 4, 0, 0).message(), Catch::Contains("ablation layer 4 out of range: expected 0..3"));
  CHECK_THAT(ablate(model, 0, 6, 0).message(), Catch::Contains("channel 6 of layer 'conv' out of range"));
  CHECK_THAT(ablate(model, 0, 0, -1).message(), Catch::Contains("expected a finite value >= 0"));
  REQUIRE(ablate(model, 1, 0, -1).is_ok());  // a linear layer may flip sign
}

TEST_CASE("block images raise (lower) the response one palette block at a time", "[attribution]") {
  const Model model = testmodels::small_rgb_model(25);
  for (bool minimize : {false, true}) {
    BlockOptions options;
    options.blocks = 6;
    options.sizes = {8, 4};
    options.candidates = 12;
    options.minimize = minimize;
    auto search = BlockSearch::create(model, OutputSelector::output(0), options);
    REQUIRE(search.is_ok());
    BlockSearch& s = *search.value();
    REQUIRE(s.response() == Approx(output_of(model, Tensor(model.input))));
    while (!s.done()) s.advance(2);
    REQUIRE(!s.blocks().empty());
    float previous = s.start_response();
    for (const auto& b : s.blocks()) {
      REQUIRE((minimize ? b.response < previous : b.response > previous));
      previous = b.response;
    }
    REQUIRE(s.response() == Approx(output_of(model, s.image())).epsilon(1e-6));
    // Every pixel is mean grey or a palette colour.
    const RgbImage rgb = unrecentre(s.image());
    for (std::size_t p = 0; p < rgb.pixels.size(); p += 3) {
      bool known = rgb.pixels[p] == 116 && rgb.pixels[p + 1] == 109 && rgb.pixels[p + 2] == 100;
      for (const auto& colour : kBlockPalette)
        known |= rgb.pixels[p] == colour[0] && rgb.pixels[p + 1] == colour[1] && rgb.pixels[p + 2] == colour[2];
      REQUIRE(known);
    }
  }
  BlockOptions many;
  many.sizes = {1};
  Model big = model;
  big.input = {2048, 2048, 3};  // refused from the candidate count, before anything runs
  CHECK_THAT(BlockSearch::create(big, OutputSelector::output(0), many).message(), Catch::Contains("use larger blocks"));
  BlockOptions bad;
  bad.sizes = {30};
  CHECK_THAT(BlockSearch::create(model, OutputSelector::output(0), bad).message(),
             Catch::Contains("block size 30 out of range: expected 1..24"));
}
