// Preferred-image synthesis: the authors' recipe step for step (against a loop written from its description with
// the building blocks), determinism, direction, valid pixels, grayscale, cancel, the Fourier recipe; and the
// deterministic math both targets rely on.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>

#include "analysis/synthesis_steps.hpp"
#include "cortexlens/forward.hpp"
#include "cortexlens/image.hpp"
#include "cortexlens/synthesis.hpp"
#include "viz_models.hpp"

using namespace cortexlens;

namespace {

float respond(const Model& m, const Tensor& image) {
  auto out = forward(m, image);
  REQUIRE(out.is_ok());
  return out.value().outputs[0];
}

bool valid_pixels(const Tensor& image) {
  for (std::size_t i = 0; i < image.data.size(); ++i) {
    const float raw = image.data[i] + kChannelMeans[i % 3];
    if (raw < -1e-3f || raw > 255.001f) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("PCG32 is deterministic, seeds differ, uniforms lie in [0, 1)", "[synthesis]") {
  Pcg32 a(42), b(42), c(43);
  bool differs = false;
  double sum = 0, sum2 = 0;
  for (int i = 0; i < 20000; ++i) {
    const float u = a.uniform();
    REQUIRE(u == b.uniform());
    differs |= u != c.uniform();
    REQUIRE(u >= 0.0f);
    REQUIRE(u < 1.0f);
    const float n = a.normal();
    b.normal();
    c.normal();
    sum += n;
    sum2 += static_cast<double>(n) * n;
    const int k = a.below(7);
    b.below(7);
    c.below(7);
    REQUIRE((k >= 0 && k < 7));
  }
  REQUIRE(differs);
  // Irwin-Hall of 12 uniforms: mean 0, variance 1.
  CHECK(std::fabs(sum / 20000) < 0.03);
  CHECK(std::fabs(sum2 / 20000 - 1.0) < 0.05);
}

TEST_CASE("deterministic exp, sin and cos agree with libm", "[synthesis]") {
  for (double x = -40.0; x <= 40.0; x += 0.37) REQUIRE(exp_deterministic(x) == Approx(std::exp(x)).epsilon(1e-14));
  for (double x = -20.0; x <= 20.0; x += 0.113) {
    double s, c;
    sincos_deterministic(x, s, c);
    REQUIRE(s == Approx(std::sin(x)).margin(1e-14));
    REQUIRE(c == Approx(std::cos(x)).margin(1e-14));
  }
}

TEST_CASE("gaussian_blur_hw is scipy's gaussian_filter with sigma 1 and reflect borders", "[synthesis]") {
  // Normalized weights of scipy.ndimage.gaussian_filter1d(sigma=1): radius 4, exp(-k^2/2) / sum.
  double w[9], total = 0;
  for (int k = -4; k <= 4; ++k) total += w[k + 4] = std::exp(-0.5 * k * k);
  for (double& v : w) v /= total;
  // An impulse far from the borders spreads as the outer product of the weights.
  Tensor impulse({20, 21, 2});
  impulse.at(10, 9, 1) = 1.0f;
  gaussian_blur_hw(impulse, 1.0f);
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 21; ++x) {
      const double expected = std::abs(y - 10) <= 4 && std::abs(x - 9) <= 4 ? w[y - 10 + 4] * w[x - 9 + 4] : 0.0;
      REQUIRE(impulse.at(y, x, 1) == Approx(expected).margin(1e-7));
      REQUIRE(impulse.at(y, x, 0) == 0.0f);
    }
  // At a corner, "reflect" folds the taps back onto the edge sample: (d c b a | a b c d).
  Tensor corner({12, 12, 1});
  corner.at(0, 0, 0) = 1.0f;
  gaussian_blur_hw(corner, 1.0f);
  auto folded = [&](int i) { return w[i + 4] + (i + 1 <= 4 ? w[i + 1 + 4] : 0.0); };  // taps i and -1-i
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 5; ++x) REQUIRE(corner.at(y, x, 0) == Approx(folded(y) * folded(x)).margin(1e-7));
  // A constant map stays constant.
  Tensor flat({7, 5, 3}, 3.5f);
  gaussian_blur_hw(flat, 1.0f);
  for (float v : flat.data) REQUIRE(v == Approx(3.5f).epsilon(1e-6));
}

TEST_CASE("gaussian_blur_hw gives the same bits as its line-by-line twin", "[synthesis]") {
  // Widths below, at and above the kernel (radius 4 at sigma 1), channel counts around the vector width.
  const int h = GENERATE(1, 3, 9, 17);
  const int w = GENERATE(1, 2, 5, 8, 9, 13);
  const int c = GENERATE(1, 3, 4, 5);
  const float sigma = GENERATE(1.0f, 0.6f, 2.0f);
  Pcg32 rng(static_cast<std::uint64_t>(h * 1000 + w * 10 + c));
  Tensor map({h, w, c});
  for (auto& v : map.data) v = rng.normal() * 40.0f;
  Tensor ref = map;
  std::vector<float> scratch(3, 1.0f);
  gaussian_blur_hw(map, sigma, scratch);
  gaussian_blur_hw_ref(ref, sigma);
  INFO(h << "x" << w << "x" << c << " sigma " << sigma);
  REQUIRE(map.data == ref.data);
}

TEST_CASE("the authors' recipe, step for step", "[synthesis]") {
  const Model model = testmodels::small_rgb_model(3);
  SynthOptions options;
  options.steps = 53;  // crosses the image blur after step 50 (index 50, the 51st step)
  options.seed = 9;
  auto synth = Synthesizer::create(model, OutputSelector::output(0), options);
  REQUIRE(synth.is_ok());
  synth.value()->advance(options.steps);

  // The same recipe written out from its description with the building blocks.
  Pcg32 rng(9);
  Tensor image(model.input);
  for (std::size_t i = 0; i < image.data.size(); ++i)
    image.data[i] = rng.uniform() * 50.0f + 128.0f - kChannelMeans[i % 3];
  float best = -std::numeric_limits<float>::infinity();
  Tensor best_image;
  std::vector<float> trace;
  for (int step = 0; step < options.steps; ++step) {
    auto g = input_gradient(model, image, OutputSelector::output(0));
    REQUIRE(g.is_ok());
    Tensor grad = g.value().gradient;
    double squares = 0;
    for (float v : grad.data) squares += static_cast<double>(v) * v;
    const float rms = static_cast<float>(std::sqrt(squares / grad.data.size()));
    for (auto& v : grad.data) v /= (rms + 1e-5f);
    gaussian_blur_hw(grad, 1.0f);
    for (std::size_t i = 0; i < image.data.size(); ++i) image.data[i] += 10.0f * grad.data[i];
    clip_to_valid_pixels(image);
    const float response = respond(model, image);
    trace.push_back(response);
    if (response > best) {
      best = response;
      best_image = image;
    }
    if (step % 50 == 0 && step > 0) gaussian_blur_hw(image, 1.0f);
  }
  const Synthesizer& s = *synth.value();
  REQUIRE(s.done());
  REQUIRE(s.trace().size() == trace.size());
  for (std::size_t i = 0; i < trace.size(); ++i) REQUIRE(s.trace()[i] == Approx(trace[i]).epsilon(1e-5));
  REQUIRE(s.best_response() == Approx(best).epsilon(1e-5));
  REQUIRE(s.current_image().data.size() == image.data.size());
  for (std::size_t i = 0; i < image.data.size(); ++i) {
    REQUIRE(s.current_image().data[i] == Approx(image.data[i]).margin(1e-3));
    REQUIRE(s.best_image().data[i] == Approx(best_image.data[i]).margin(1e-3));
  }
}

TEST_CASE("synthesis raises (lowers) the response, keeps pixels valid, and is deterministic", "[synthesis]") {
  const Model model = testmodels::small_rgb_model(5);
  const auto recipe = GENERATE(SynthRecipe::authors, SynthRecipe::fourier);
  SynthOptions options;
  options.recipe = recipe;
  options.steps = 120;
  options.seed = 4;
  auto up = synthesize(model, OutputSelector::output(0), options);
  auto again = synthesize(model, OutputSelector::output(0), options);
  options.minimize = true;
  auto down = synthesize(model, OutputSelector::output(0), options);
  options.minimize = false;
  options.seed = 5;
  auto other = synthesize(model, OutputSelector::output(0), options);
  REQUIRE((up.is_ok() && again.is_ok() && down.is_ok() && other.is_ok()));
  INFO("recipe " << (recipe == SynthRecipe::authors ? "authors" : "fourier") << ": max " << up.value().response
                 << ", min " << down.value().response);
  // Responses to natural-ish inputs: mean grey and noise; synthesized images must beat both clearly.
  Pcg32 rng(1);
  Tensor noise(model.input);
  for (std::size_t i = 0; i < noise.data.size(); ++i) noise.data[i] = rng.uniform() * 255.0f - kChannelMeans[i % 3];
  const float grey = respond(model, Tensor(model.input)), noisy = respond(model, noise);
  REQUIRE(up.value().response > std::max(grey, noisy));
  REQUIRE(down.value().response < std::min(grey, noisy));
  // The reported response is the best image's.
  REQUIRE(respond(model, up.value().image) == Approx(up.value().response).epsilon(1e-5));
  REQUIRE(respond(model, down.value().image) == Approx(down.value().response).epsilon(1e-5));
  REQUIRE(valid_pixels(up.value().image));
  REQUIRE(valid_pixels(down.value().image));
  REQUIRE(up.value().image.data == again.value().image.data);
  REQUIRE(up.value().image.data != other.value().image.data);
  REQUIRE(up.value().trace.size() == 120);
}

TEST_CASE("grayscale synthesis gives grey pixels", "[synthesis]") {
  const Model model = testmodels::small_rgb_model(6);
  for (auto recipe : {SynthRecipe::authors, SynthRecipe::fourier}) {
    SynthOptions options;
    options.recipe = recipe;
    options.grayscale = true;
    options.steps = 30;
    auto result = synthesize(model, OutputSelector::output(0), options);
    REQUIRE(result.is_ok());
    const RgbImage rgb = unrecentre(result.value().image);
    for (std::size_t p = 0; p < rgb.pixels.size(); p += 3) {
      REQUIRE(std::abs(rgb.pixels[p] - rgb.pixels[p + 1]) <= 1);
      REQUIRE(std::abs(rgb.pixels[p] - rgb.pixels[p + 2]) <= 1);
    }
  }
}

TEST_CASE("internal channels can be synthesized, progress is reported and cancel stops early", "[synthesis]") {
  const Model model = testmodels::small_rgb_model(7);
  SynthOptions options;
  options.steps = 100;
  int calls = 0;
  auto result = synthesize(
      model, OutputSelector::channel_mean(2, 1), options,
      [&](const SynthProgress& p) {
        ++calls;
        REQUIRE(p.steps == 100);
        REQUIRE(p.step == 10 * calls);
        return p.step < 30;
      },
      10);
  REQUIRE(result.is_ok());
  REQUIRE(result.value().cancelled);
  REQUIRE(result.value().steps_done == 30);
  REQUIRE(calls == 3);
  REQUIRE(std::isfinite(result.value().response));
}

TEST_CASE("synthesis refuses bad options with a message", "[synthesis]") {
  const Model model = testmodels::small_rgb_model(8);
  SynthOptions options;
  options.steps = 0;
  CHECK_THAT(Synthesizer::create(model, OutputSelector::output(0), options).message(),
             Catch::Contains("steps 0 out of range"));
  options.steps = 10;
  CHECK_THAT(Synthesizer::create(model, OutputSelector::output(3), options).message(),
             Catch::Contains("output 3 out of range"));
  Model grey = model;
  grey.input.c = 1;
  CHECK_THAT(Synthesizer::create(grey, OutputSelector::output(0), options).message(), Catch::Contains("RGB input"));
  Model huge = model;
  huge.input = {600, 600, 3};  // only the size is read before refusing
  options.recipe = SynthRecipe::fourier;
  CHECK_THAT(Synthesizer::create(huge, OutputSelector::output(0), options).message(),
             Catch::Contains("up to 496 pixels a side"));
}
