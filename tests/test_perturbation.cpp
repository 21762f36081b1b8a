// The smallest change (perturbation.hpp) and the vector-Jacobian product it needs for the keep-others penalty.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>

#include "cortexlens/backward.hpp"
#include "cortexlens/forward.hpp"
#include "cortexlens/image.hpp"
#include "cortexlens/perturbation.hpp"
#include "demo_model.hpp"
#include "gradient_check.hpp"
#include "viz_models.hpp"

using namespace cortexlens;

namespace {

// small_rgb_model with a multi-output head: a dense readout of `outputs` values, or (pooled) a depthwise layer over
// the whole 12x12 map, one output per channel, as the paper's shared models read out their neurons.
Model multi_output_model(unsigned seed, int outputs, bool pooled) {
  Model m = testmodels::small_rgb_model(seed);
  Pcg32 rng(seed + 99);
  Layer& head = m.layers.back();
  const Shape3 in = head.in;
  if (pooled) {
    head.kind = LayerKind::depthwise_conv2d;
    head.kernel_h = in.h;
    head.kernel_w = in.w;
    head.out = {1, 1, in.c};
    head.weights.resize(in.size());
    head.bias.resize(in.c);
  } else {
    head.out = {1, 1, outputs};
    head.weights.resize(in.size() * outputs);
    head.bias.resize(outputs);
  }
  for (auto& w : head.weights) w = 0.1f * rng.normal();
  for (auto& b : head.bias) b = 0.1f * rng.normal();
  m.output_names.clear();
  for (int j = 0; j < head.out.c; ++j) m.output_names.push_back("out" + std::to_string(j));
  REQUIRE(validate_model(m).is_ok());
  return m;
}

// A 24x24 test image with texture, and some values at 0 and 255 so the clamp to valid levels is exercised.
RgbImage test_image(unsigned seed, int side = 24) {
  Pcg32 rng(seed);
  RgbImage image{side, side, std::vector<std::uint8_t>(static_cast<std::size_t>(side) * side * 3)};
  for (std::size_t i = 0; i < image.pixels.size(); ++i) {
    const int v = 128 + static_cast<int>(60.0f * rng.normal());
    image.pixels[i] = static_cast<std::uint8_t>(std::min(255, std::max(0, v)));
  }
  for (std::size_t i = 0; i < image.pixels.size(); i += 37) image.pixels[i] = i % 2 ? 255 : 0;
  return image;
}

int largest_change(const RgbImage& a, const RgbImage& b) {
  int largest = 0;
  for (std::size_t i = 0; i < a.pixels.size(); ++i)
    largest = std::max(largest, std::abs(static_cast<int>(a.pixels[i]) - static_cast<int>(b.pixels[i])));
  return largest;
}

float response(const Model& m, const RgbImage& image, int output = 0) {
  auto out = forward(m, recentre(image));
  REQUIRE(out.is_ok());
  return out.value().outputs[output];
}

}  // namespace

TEST_CASE("vector-Jacobian products match finite differences and the sum of single-output gradients",
          "[perturb][backward]") {
  for (bool pooled : {false, true}) {
    const Model m = multi_output_model(7, 5, pooled);
    const int outputs = static_cast<int>(m.layers.back().out.size());
    Pcg32 rng(3);
    Tensor input(m.input);
    for (auto& v : input.data) v = 40.0f * rng.normal();
    std::vector<float> weights(outputs);
    for (auto& w : weights) w = rng.normal();
    for (bool reference : {false, true}) {
      GradientOptions options;
      options.use_reference_kernels = reference;
      auto vjp = input_vjp(m, input, weights, options);
      REQUIRE(vjp.is_ok());
      const std::vector<float>& grad = vjp.value().gradient.data;
      // The outputs it reports are the forward pass's.
      auto out = forward(m, input);
      REQUIRE(out.is_ok());
      for (int j = 0; j < outputs; ++j) CHECK(vjp.value().outputs[j] == Approx(out.value().outputs[j]).margin(1e-5));
      // Linear in the weights: sum_j w_j * (gradient of output j).
      std::vector<double> sum(grad.size(), 0.0);
      for (int j = 0; j < outputs; ++j) {
        auto g = input_gradient(m, input, OutputSelector::output(j), options);
        REQUIRE(g.is_ok());
        for (std::size_t i = 0; i < sum.size(); ++i)
          sum[i] += static_cast<double>(weights[j]) * g.value().gradient.data[i];
      }
      double scale = 0.0, error = 0.0;
      for (std::size_t i = 0; i < sum.size(); ++i) {
        scale = std::max(scale, std::fabs(sum[i]));
        error = std::max(error, std::fabs(sum[i] - grad[i]));
      }
      INFO("pooled " << pooled << ", reference " << reference << ": max error " << error << " of " << scale);
      CHECK(scale > 0.0);
      CHECK(error <= 1e-5 * scale);
      // Central differences of sum_j w_j y_j in double, along random directions (skipping ReLU kinks).
      const std::vector<double> x(input.data.begin(), input.data.end());
      int checked = 0;
      for (int d = 0; d < 6; ++d) {
        std::vector<double> v(x.size()), plus = x, minus = x;
        for (auto& e : v) e = rng.normal();
        const double h = 1e-3;
        for (std::size_t i = 0; i < x.size(); ++i) {
          plus[i] += h * v[i];
          minus[i] -= h * v[i];
        }
        double numeric = 0.0, analytic = 0.0, magnitude = 0.0;
        bool kink = false;
        for (int j = 0; j < outputs; ++j) {
          std::vector<std::uint8_t> sp, sm;
          const double fp = gradcheck::forward_double(m, plus, OutputSelector::output(j), &sp);
          const double fm = gradcheck::forward_double(m, minus, OutputSelector::output(j), &sm);
          kink |= sp != sm;
          numeric += weights[j] * (fp - fm) / (2 * h);
        }
        if (kink) continue;
        for (std::size_t i = 0; i < x.size(); ++i) {
          analytic += static_cast<double>(grad[i]) * v[i];
          magnitude += std::fabs(static_cast<double>(grad[i]) * v[i]);
        }
        ++checked;
        CHECK(std::fabs(analytic - numeric) <= 1e-4 * magnitude);
      }
      CHECK(checked >= 3);
    }
  }
}

TEST_CASE("input_vjp refuses a wrong weight count and a wrong input shape", "[perturb][backward]") {
  const Model m = multi_output_model(7, 5, false);
  Tensor input(m.input);
  auto few = input_vjp(m, input, std::vector<float>(4, 1.0f));
  REQUIRE_FALSE(few.is_ok());
  CHECK_THAT(few.message(), Catch::Contains("4 weights given") && Catch::Contains("has 5 outputs"));
  auto wrong = input_vjp(m, Tensor({8, 8, 3}), std::vector<float>(5, 1.0f));
  REQUIRE_FALSE(wrong.is_ok());
}

TEST_CASE("a perturbation stays an exact 8-bit image within epsilon, and raises or lowers the response", "[perturb]") {
  const Model m = testmodels::small_rgb_model(11);
  const RgbImage image = test_image(5);
  const float start = response(m, image);
  for (int epsilon : {1, 2, 4, 8, 16})
    for (bool minimize : {false, true}) {
      PerturbOptions o;
      o.epsilon = epsilon;
      o.minimize = minimize;
      o.steps = 60;
      auto r = perturb(m, image, o);
      REQUIRE(r.is_ok());
      const RgbImage& out = r.value().image;
      REQUIRE(out.width == image.width);
      REQUIRE(out.pixels.size() == image.pixels.size());
      CHECK(largest_change(out, image) <= epsilon);
      CHECK(largest_change(out, image) >= 1);
      // What it reports is what the 8-bit image gives through the ordinary forward pass.
      CHECK(r.value().start_response == start);
      CHECK(r.value().response == response(m, out));
      INFO("epsilon " << epsilon << (minimize ? " lower" : " raise") << ": " << start << " -> " << r.value().response);
      if (minimize) {
        CHECK(r.value().response < start);
      } else {
        CHECK(r.value().response > start);
      }
      CHECK(r.value().trace.front() == start);
    }
}

TEST_CASE("larger budgets move the response further, and a run is deterministic", "[perturb]") {
  const Model m = testmodels::small_rgb_model(12);
  const RgbImage image = test_image(6);
  float previous = response(m, image);
  for (int epsilon : {1, 4, 16}) {
    PerturbOptions o;
    o.epsilon = epsilon;
    o.steps = 80;
    auto a = perturb(m, image, o);
    auto b = perturb(m, image, o);
    REQUIRE(a.is_ok());
    REQUIRE(b.is_ok());
    CHECK(a.value().image.pixels == b.value().image.pixels);
    CHECK(a.value().trace == b.value().trace);
    CHECK(a.value().response > previous);
    previous = a.value().response;
  }
  // A random start (seed) stays inside the ball too, and is reproducible.
  PerturbOptions o;
  o.epsilon = 3;
  o.seed = 42;
  o.steps = 30;
  auto a = perturb(m, image, o);
  auto b = perturb(m, image, o);
  REQUIRE(a.is_ok());
  CHECK(a.value().image.pixels == b.value().image.pixels);
  CHECK(largest_change(a.value().image, image) <= 3);
  CHECK(a.value().response >= a.value().start_response);
}

TEST_CASE("a linear model reaches the corner of the ball in epsilon steps, and stops there", "[perturb]") {
  // One dense layer without activation: the gradient is its weights everywhere, so each step moves every value one
  // level towards the corner sign(w) * epsilon, and the step after reaching it changes nothing (a fixed point).
  Model m;
  m.name = "linear";
  m.input = {24, 24, 3};
  Layer dense;
  dense.kind = LayerKind::dense;
  dense.name = "readout";
  dense.in = m.input;
  dense.out = {1, 1, 1};
  Pcg32 rng(5);
  dense.weights.resize(m.input.size());
  for (auto& w : dense.weights) w = rng.normal();
  dense.bias = {0.5f};
  m.layers = {dense};
  m.output_names = {"out"};
  REQUIRE(validate_model(m).is_ok());
  const RgbImage image = test_image(3);
  PerturbOptions o;
  o.epsilon = 5;
  o.steps = 100;
  auto r = perturb(m, image, o);
  REQUIRE(r.is_ok());
  CHECK(r.value().steps_done == 5);
  for (std::size_t i = 0; i < image.pixels.size(); ++i) {
    const int corner = image.pixels[i] + (dense.weights[i] > 0 ? 5 : -5);
    CHECK(static_cast<int>(r.value().image.pixels[i]) == std::min(255, std::max(0, corner)));
  }
}

TEST_CASE("chunked runs equal whole runs", "[perturb]") {
  const Model m = testmodels::small_rgb_model(13);
  const RgbImage image = test_image(8);
  PerturbOptions o;
  o.epsilon = 2;
  o.steps = 200;
  auto whole = perturb(m, image, o);
  REQUIRE(whole.is_ok());
  auto run = Perturbation::create(m, image, o);
  REQUIRE(run.is_ok());
  while (!run.value()->done()) run.value()->advance(7);
  CHECK(run.value()->best().pixels == whole.value().image.pixels);
  CHECK(run.value()->step() == whole.value().steps_done);
  CHECK(run.value()->trace().size() == static_cast<std::size_t>(run.value()->step()) + 1);
}

TEST_CASE("the demo model's response moves both ways within a few levels", "[perturb][demo]") {
  auto built = demo::build_demo_float_model();
  REQUIRE(built.is_ok());
  const Model& m = built.value();
  const RgbImage image = unrecentre(demo::dot_image(50.0f, 58.0f, 4.0f, 60.0f));
  const float start = response(m, image);
  for (bool minimize : {false, true}) {
    PerturbOptions o;
    o.epsilon = 4;
    o.minimize = minimize;
    o.steps = 40;
    auto r = perturb(m, image, o);
    REQUIRE(r.is_ok());
    CHECK(largest_change(r.value().image, image) <= 4);
    INFO((minimize ? "lower " : "raise ") << start << " -> " << r.value().response);
    CHECK(r.value().response == response(m, r.value().image));
    CHECK((minimize ? r.value().response < start : r.value().response > start));
  }
}

TEST_CASE("the keep-others penalty keeps the other outputs closer to where they were", "[perturb]") {
  const Model target = testmodels::small_rgb_model(21);
  const Model others = multi_output_model(22, 6, false);
  const RgbImage image = test_image(9);
  auto others_change = [&](const RgbImage& out) {
    auto a = forward(others, recentre(image)).value().outputs;
    auto b = forward(others, recentre(out)).value().outputs;
    double sum = 0.0;
    for (std::size_t j = 1; j < a.size(); ++j) sum += (b[j] - a[j]) * (b[j] - a[j]);
    return std::sqrt(sum / (a.size() - 1));
  };
  PerturbOptions o;
  o.epsilon = 6;
  o.steps = 80;
  o.keep_others.model = &others;
  o.keep_others.exclude = 0;
  o.keep_others.penalty = 0.0f;
  auto free_run = perturb(target, image, o);
  o.keep_others.penalty = 50.0f;
  auto kept = perturb(target, image, o);
  REQUIRE(free_run.is_ok());
  REQUIRE(kept.is_ok());
  const double change_free = others_change(free_run.value().image), change_kept = others_change(kept.value().image);
  INFO("others' RMS change: free " << change_free << ", kept " << change_kept << "; response free "
                                   << free_run.value().response << ", kept " << kept.value().response);
  CHECK(change_kept < 0.5 * change_free);
  CHECK(kept.value().others_change == Approx(change_kept).epsilon(1e-3));
  CHECK(kept.value().response > kept.value().start_response);
  CHECK(largest_change(kept.value().image, image) <= 6);
  CHECK(std::isnan(perturb(target, image, PerturbOptions{}).value().others_change));
}

TEST_CASE("perturbation arguments out of range are refused with what was expected", "[perturb]") {
  const Model m = testmodels::small_rgb_model(11);
  const RgbImage image = test_image(5);
  auto message = [&](PerturbOptions o, const RgbImage& img) {
    auto r = Perturbation::create(m, img, o);
    REQUIRE_FALSE(r.is_ok());
    return r.message();
  };
  PerturbOptions o;
  o.epsilon = 0;
  CHECK_THAT(message(o, image), Catch::Contains("epsilon 0 out of range: expected 1..16"));
  o.epsilon = 17;
  CHECK_THAT(message(o, image), Catch::Contains("epsilon 17"));
  o = {};
  o.steps = 0;
  CHECK_THAT(message(o, image), Catch::Contains("steps 0 out of range"));
  o = {};
  o.step_size = 5;
  CHECK_THAT(message(o, image), Catch::Contains("step size 5 out of range: expected 1..4"));
  o = {};
  o.output = 3;
  CHECK_THAT(message(o, image), Catch::Contains("output 3 out of range"));
  o = {};
  o.response_spread = 0.0f;
  CHECK_THAT(message(o, image), Catch::Contains("response spread"));
  CHECK_THAT(message({}, test_image(5, 20)), Catch::Contains("expects 24x24"));
  const Model others = multi_output_model(22, 6, false);
  o = {};
  o.keep_others.model = &others;
  o.keep_others.penalty = -1.0f;
  CHECK_THAT(message(o, image), Catch::Contains("penalty"));
  o.keep_others.penalty = 1.0f;
  o.keep_others.spread = {1.0f, 2.0f};
  CHECK_THAT(message(o, image), Catch::Contains("2 spreads given") && Catch::Contains("has 6 outputs"));
  o.keep_others.spread.assign(6, 1.0f);
  o.keep_others.spread[3] = NAN;
  CHECK_THAT(message(o, image), Catch::Contains("spread of output 3"));
  o.keep_others.spread.clear();
  o.keep_others.exclude = 6;
  CHECK_THAT(message(o, image), Catch::Contains("excluded output 6 out of range"));
  auto demo = demo::build_demo_float_model();
  REQUIRE(demo.is_ok());
  o = {};
  o.keep_others.model = &demo.value();
  CHECK_THAT(message(o, image), Catch::Contains("keep-others model") && Catch::Contains("(112,112,3)"));
}
