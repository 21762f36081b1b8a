// Input gradients of the published models against central finite differences of a double-precision forward pass
// (tests/gradient_check.hpp), skipping differences that straddle a ReLU kink. Part of test_published, which exits
// with 77 (skipped) when the data folder is absent (see test_published.cpp).
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <random>

#include "cortexlens/backward.hpp"
#include "cortexlens/image.hpp"
#include "gradient_check.hpp"
#include "model_source.hpp"

using namespace cortexlens;

namespace {

// Every 18th published per-neuron model in name order (13 models across the four sessions), plus the 100-filter
// shared model for one of its outputs.
// Every 18th per-neuron model (12 of 219, from every session) and the shared model. Under the sanitizers, where one
// double-precision finite-difference check takes ~10 s, every 72nd (4 per-neuron models: the same layers and code).
#ifdef CORTEXLENS_SANITIZED
constexpr std::size_t kModelStride = 72;
constexpr std::size_t kMinModels = 4;
#else
constexpr std::size_t kModelStride = 18;
constexpr std::size_t kMinModels = 11;
#endif

std::vector<std::string> chosen_models() {
  const std::string dir = std::string(CORTEXLENS_DATA_DIR) + "/compact_models";
  std::vector<std::string> all;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".keras") all.push_back(entry.path().string());
  std::sort(all.begin(), all.end());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < all.size(); i += kModelStride) out.push_back(all[i]);
  out.push_back(std::string(CORTEXLENS_DATA_DIR) +
                "/shared_compact_models/from_ensemble_model/shared_compact_model_100filters.keras");
  return out;
}

}  // namespace

TEST_CASE("input gradients of published models match double-precision finite differences", "[published][backward]") {
  const auto paths = chosen_models();
  REQUIRE(paths.size() >= kMinModels);
  int models_checked = 0;
  for (std::size_t m = 0; m < paths.size(); ++m) {
    auto model = load_model_file(paths[m]);
    REQUIRE(model.is_ok());
    std::mt19937 rng(static_cast<unsigned>(100 + m));
    // A random natural-range image: raw pixels uniform in 0..255, recentred.
    std::uniform_real_distribution<float> pixel(0.0f, 255.0f);
    Tensor input(model.value().input);
    for (std::size_t i = 0; i < input.data.size(); ++i) input.data[i] = pixel(rng) - kChannelMeans[i % 3];
    const int output = model.value().output_count() > 1 ? 37 : 0;
    const OutputSelector selector = OutputSelector::output(output);
    auto g = input_gradient(model.value(), input, selector);
    REQUIRE(g.is_ok());
    const std::vector<float>& grad = g.value().gradient.data;
    // The coordinates with the largest gradient (where a wrong weight or pad shows most) and random directions.
    std::vector<std::size_t> order(grad.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::partial_sort(order.begin(), order.begin() + 6, order.end(),
                      [&](std::size_t a, std::size_t b) { return std::fabs(grad[a]) > std::fabs(grad[b]); });
    order.resize(6);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::vector<std::vector<double>> directions(3, std::vector<double>(grad.size()));
    for (auto& v : directions)
      for (auto& x : v) x = normal(rng);
    auto report = gradcheck::check(model.value(), input, selector, grad, order, directions, 1e-4);
    INFO(paths[m] << ": checked " << report.checked << ", skipped " << report.skipped << " (ReLU kinks), max error "
                  << report.max_error << " (gradient scale " << report.scale << "), direction error "
                  << report.max_direction_error);
    REQUIRE(report.scale > 0);
    REQUIRE(report.checked >= 5);
    // Measured: coordinate errors up to ~2e-7 of the gradient scale, direction errors up to ~7e-9 (float rounding).
    CHECK(report.max_error <= 1e-5 * report.scale);
    CHECK(report.max_direction_error <= 1e-6);
    std::printf(
        "gradient check %s: %d points checked, %d skipped at kinks, max error %.2e of scale %.2e, "
        "direction error %.2e\n",
        model.value().name.c_str(), report.checked, report.skipped, report.max_error, report.scale,
        report.max_direction_error);
    ++models_checked;
  }
  REQUIRE(models_checked >= static_cast<int>(kMinModels) - 1);
}
