// The smallest change on the published models (part of test_published, skipped without the data folder): raising
// raises and lowering lowers within epsilon, measured on the 8-bit result; keeping the other neurons of the
// 100-filter shared model in place leaves them closer to where they were.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>

#include "cortexlens/forward.hpp"
#include "cortexlens/image.hpp"
#include "cortexlens/perturbation.hpp"
#include "model_source.hpp"
#include "v4_data.hpp"

using namespace cortexlens;

namespace {

const std::string kData = CORTEXLENS_DATA_DIR;

RgbImage session_image(int number) {
  auto images = SessionImages::open(kData, "190923");
  REQUIRE(images.is_ok());
  auto bytes = images.value().image_bytes(number);
  REQUIRE(bytes.is_ok());
  auto input = image_to_input(bytes.value().data(), bytes.value().size());
  REQUIRE(input.is_ok());
  return unrecentre(input.value());
}

int largest_change(const RgbImage& a, const RgbImage& b) {
  int largest = 0;
  for (std::size_t i = 0; i < a.pixels.size(); ++i)
    largest = std::max(largest, std::abs(static_cast<int>(a.pixels[i]) - static_cast<int>(b.pixels[i])));
  return largest;
}

}  // namespace

TEST_CASE("published models: perturbations within epsilon raise and lower the response", "[published][perturb]") {
  const RgbImage image = session_image(17);
  for (const char* name : {"compact_model_190923_neuron0", "compact_model_201025_neuron12"}) {
    auto model = load_model_file(kData + "/compact_models/" + name + ".keras");
    REQUIRE(model.is_ok());
    const float start = forward(model.value(), recentre(image)).value().outputs[0];
    for (bool minimize : {false, true}) {
      PerturbOptions o;
      o.epsilon = 2;
      o.steps = 20;
      o.minimize = minimize;
      auto r = perturb(model.value(), image, o);
      REQUIRE(r.is_ok());
      const float after = forward(model.value(), recentre(r.value().image)).value().outputs[0];
      INFO(name << (minimize ? " lower: " : " raise: ") << start << " -> " << after);
      CHECK(largest_change(r.value().image, image) <= 2);
      CHECK(after == r.value().response);
      CHECK((minimize ? after < start : after > start));
    }
  }
}

TEST_CASE("published models: keeping the shared model's other neurons in place", "[published][perturb]") {
  const RgbImage image = session_image(23);
  auto target = load_model_file(kData + "/compact_models/compact_model_190923_neuron0.keras");
  auto shared =
      load_model_file(kData + "/shared_compact_models/from_ensemble_model/shared_compact_model_100filters.keras");
  REQUIRE(target.is_ok());
  REQUIRE(shared.is_ok());
  const auto& names = shared.value().output_names;
  const int own = static_cast<int>(std::find(names.begin(), names.end(), "190923_n0") - names.begin());
  REQUIRE(own < static_cast<int>(names.size()));
  PerturbOptions o;
  o.epsilon = 4;
  o.steps = 15;
  o.keep_others.model = &shared.value();
  o.keep_others.exclude = own;
  o.keep_others.penalty = 0.0f;
  auto free_run = perturb(target.value(), image, o);
  o.keep_others.penalty = 30.0f;
  auto kept = perturb(target.value(), image, o);
  REQUIRE(free_run.is_ok());
  REQUIRE(kept.is_ok());
  INFO("others' RMS change: free " << free_run.value().others_change << ", kept " << kept.value().others_change
                                   << "; response " << kept.value().start_response << " -> free "
                                   << free_run.value().response << ", kept " << kept.value().response);
  CHECK(kept.value().others_change < free_run.value().others_change);
  CHECK(kept.value().response > kept.value().start_response);
}
