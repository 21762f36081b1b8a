// ModelRunner: one prepared model reused over many images gives forward_with_precision's numbers bit for bit, at
// both precisions, whatever it ran before; and it refuses what forward would refuse.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>

#include "cortexlens/forward.hpp"
#include "cortexlens/model_file.hpp"
#include "cortexlens/model_runner.hpp"
#include "cortexlens/quantize.hpp"
#include "demo_model.hpp"
#include "image_fixtures.hpp"

using namespace cortexlens;

namespace {

Model committed_demo_model() {
  std::vector<std::uint8_t> bytes;
  REQUIRE(fixtures::read_file(std::string(CORTEXLENS_MODELS_DIR) + "/demo/demo_dot_detector.clm", bytes));
  auto loaded = read_model_file(bytes.data(), bytes.size());
  REQUIRE(loaded);
  return loaded.value().model;
}

std::vector<Tensor> varied_inputs(const Model& model) {
  std::vector<Tensor> inputs = {demo::dot_image(56, 56, 3, 120), demo::grey_image(), demo::dot_image(40, 70, 6, -90),
                                demo::ring_image(56, 56, 10, 2, 100)};
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> pixel(-110.0f, 140.0f);
  Tensor noise(model.input);
  for (float& v : noise.data) v = pixel(rng);
  inputs.push_back(noise);
  inputs.push_back(inputs.front());  // again after others: nothing may carry over from one run to the next
  return inputs;
}

}  // namespace

TEST_CASE("a ModelRunner reused over many inputs gives forward's outputs bit for bit", "[forward][runner]") {
  const Model model = committed_demo_model();
  REQUIRE(is_int8_model(model));
  for (Precision precision : {Precision::float32, Precision::int8}) {
    INFO(precision_name(precision));
    auto runner = ModelRunner::create(model, precision);
    REQUIRE(runner);
    REQUIRE(runner.value()->output_size() == model.output_count());
    for (const Tensor& input : varied_inputs(model)) {
      auto expected = forward_with_precision(model, input, precision);
      REQUIRE(expected);
      std::vector<float> outputs(runner.value()->output_size());
      REQUIRE(runner.value()->run(input, outputs.data()));
      CHECK(std::memcmp(outputs.data(), expected.value().outputs.data(), outputs.size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("a ModelRunner refuses what forward refuses, with the same messages", "[forward][runner]") {
  const demo::DemoKeras keras = demo::build_demo_keras();
  auto float_model = import_keras(keras.config_json, keras.tensors, demo::kDemoModelName);
  REQUIRE(float_model);
  auto int8_runner = ModelRunner::create(float_model.value(), Precision::int8);
  REQUIRE_FALSE(int8_runner);
  CHECK(int8_runner.message().find("has no int8 weights for layer") != std::string::npos);

  auto runner = ModelRunner::create(float_model.value(), Precision::float32);
  REQUIRE(runner);
  const Tensor wrong(Shape3{10, 10, 3});
  std::vector<float> outputs(runner.value()->output_size());
  const Status refused = runner.value()->run(wrong, outputs.data());
  REQUIRE_FALSE(refused);
  CHECK(refused.message() == forward(float_model.value(), wrong).message());

  const Model model = committed_demo_model();
  auto int8 = ModelRunner::create(model, Precision::int8);
  REQUIRE(int8);
  Tensor not_finite(model.input);
  not_finite.data[5] = std::nanf("");
  const Status refused8 = int8.value()->run(not_finite, outputs.data());
  REQUIRE_FALSE(refused8);
  CHECK(refused8.message() == forward_int8(model, not_finite).message());
}
