// Native model-pack paths: the committed broken .keras files through the native readers (libzip + libhdf5) and the
// importer, and `convert` (convert_model) on the committed demo .keras, read back and compared.
#include <catch2/catch.hpp>

#include "cortexlens/forward.hpp"
#include "cortexlens/model_file.hpp"
#include "demo_model.hpp"
#include "keras_archive.hpp"
#include "model_pack.hpp"
#include "model_source.hpp"

using namespace cortexlens;

namespace {
std::string load_error(const std::string& path) {
  auto model = load_model_file(path);
  return model ? std::string("(loaded without error)") : model.message();
}
const std::string kBad = CORTEXLENS_BAD_MODELS_DIR;
const std::string kDemo = std::string(CORTEXLENS_MODELS_DIR) + "/demo/";
}  // namespace

TEST_CASE("broken .keras files are refused natively with the reason", "[packs]") {
  CHECK_THAT(load_error(kBad + "/truncated_zip.keras"), Catch::Contains("not a valid .keras (zip) file"));
  CHECK_THAT(load_error(kBad + "/not_a_zip.keras"), Catch::Contains("not a valid .keras (zip) file"));
  CHECK_THAT(load_error(kBad + "/missing_weights.keras"), Catch::Contains("the archive has no 'model.weights.h5'"));
  CHECK_THAT(load_error(kBad + "/missing_variable.keras"),
             Catch::Contains("weight 'layers/conv2d/vars/0' (kernel, expected shape (5,5,3,2)) is missing"));
  CHECK_THAT(load_error(kBad + "/wrong_shape.keras"),
             Catch::Contains("has shape (5,5,3,3) with 225 values, expected (5,5,3,2)"));
  CHECK_THAT(load_error(kBad + "/nan_weights.keras"), Catch::Contains("holds nan at index 7, expected finite numbers"));
  CHECK_THAT(load_error(kBad + "/unknown_layer.keras"),
             Catch::Contains("layer type \"LayerNormalization\" is not supported"));
  CHECK_THAT(load_error(kBad + "/bad_magic.clm"), Catch::Contains("magic is 'XLENSMDL', expected 'CLENSMDL'"));
  CHECK_THAT(load_error(kBad + "/checksum_mismatch.clm"), Catch::Contains("(the file is corrupt)"));
  CHECK_THAT(load_error(kBad + "/truncated.clm"), Catch::Contains("(file truncated?)"));
  CHECK_THAT(load_error(kBad + "/test_vector_mismatch.clm"), Catch::Contains("test vector: output 0 ('output0') is"));
}

TEST_CASE("the demo .keras holds exactly the weights demo_model.cpp constructs", "[packs]") {
  auto bytes = read_file_bytes(kDemo + "demo_dot_detector.keras");
  REQUIRE(bytes);
  auto archive = read_keras_archive(bytes.value());
  REQUIRE(archive);
  const demo::DemoKeras built = demo::build_demo_keras();
  CHECK(archive.value().config_json == built.config_json);
  REQUIRE(archive.value().tensors.size() == built.tensors.size());
  for (const auto& t : built.tensors) {
    bool found = false;
    for (const auto& a : archive.value().tensors)
      if (a.name == t.name) {
        found = true;
        CHECK(a.shape == t.shape);
        CHECK(a.data == t.data);
      }
    INFO(t.name);
    CHECK(found);
  }
}

TEST_CASE("convert: a .keras becomes a float file that computes the same and an int8 file within tolerance",
          "[packs]") {
  auto model = load_model_file(kDemo + "demo_dot_detector.keras");
  REQUIRE(model);
  ConvertOptions options;
  options.precision = Precision::float32;
  options.source = model_source_text(kDemo + "demo_dot_detector.keras");
  CHECK(options.source == "demo_dot_detector.keras");
  auto float_file = convert_model(model.value(), options, {});
  REQUIRE(float_file);
  auto loaded = read_model_file(float_file.value().bytes.data(), float_file.value().bytes.size());
  REQUIRE(loaded);
  const Tensor dot = demo::dot_image(55.5f, 55.5f, 2.0f, 120.0f);
  CHECK(forward(loaded.value().model, dot).value().outputs == forward(model.value(), dot).value().outputs);

  options.precision = Precision::int8;
  CHECK_THAT(convert_model(model.value(), options, {}).message(), Catch::Contains("needs calibration images"));
  auto int8_file = convert_model(model.value(), options, demo::demo_calibration_images());
  REQUIRE(int8_file);
  CHECK(int8_file.value().bytes.size() < float_file.value().bytes.size() / 2);
  auto int8_loaded = read_model_file(int8_file.value().bytes.data(), int8_file.value().bytes.size());
  REQUIRE(int8_loaded);
  CHECK(int8_loaded.value().precision == Precision::int8);
  const float want = forward(model.value(), dot).value().outputs[0];
  // Stated tolerance on one image: 10% (the committed file's fidelity over held-out images is held to 2% of the
  // range in test_model_file.cpp).
  CHECK(forward_int8(int8_loaded.value().model, dot).value().outputs[0] == Approx(want).epsilon(0.10));
}
