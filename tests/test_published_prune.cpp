// The shared model restricted to one neuron computes that neuron's output of the shared model (published data;
// the binary skips without it, see test_published.cpp).
#include <catch2/catch.hpp>
#include <cmath>

#include "cortexlens/forward.hpp"
#include "cortexlens/prune.hpp"
#include "model_source.hpp"

using namespace cortexlens;

TEST_CASE("a published shared model restricted to one neuron gives that neuron's output", "[published][prune]") {
  const std::string path = std::string(CORTEXLENS_DATA_DIR) +
                           "/shared_compact_models/from_ensemble_model/shared_compact_model_100filters.keras";
  auto shared = load_model_file(path);
  REQUIRE(shared);
  Tensor pattern({112, 112, 3});
  for (int h = 0; h < 112; ++h)
    for (int w = 0; w < 112; ++w)
      for (int c = 0; c < 3; ++c) pattern.at(h, w, c) = 100.0f * std::sin(0.1f * h + 0.2f * w + 1.0f * c);
  auto all = forward(shared.value(), pattern);
  REQUIRE(all);
  for (int output : {0, 36, 218}) {
    auto restricted = restrict_to_output(shared.value(), output);
    REQUIRE(restricted);
    CHECK(restricted->output_names.front() == shared->output_names[static_cast<std::size_t>(output)]);
    auto layout = prunable_layout(restricted.value());
    REQUIRE(layout);
    CHECK(filters_per_stage(restricted.value(), layout.value()) == std::vector<int>{100, 100, 100, 100, 100});
    auto one = forward(restricted.value(), pattern);
    REQUIRE(one);
    CHECK(one->outputs[0] == Approx(all->outputs[static_cast<std::size_t>(output)]).epsilon(1e-5).margin(1e-5));
  }
}
