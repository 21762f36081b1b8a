// import_keras against an unfused, double-precision statement of Keras semantics written here from the Keras
// documentation (BatchNormalization applied as its own step, "same" padding computed per layer), plus the
// refusals: every unsupported or broken input must produce a message naming the layer and what was expected.
#include <catch2/catch.hpp>
#include <cmath>

#include "cortexlens/forward.hpp"
#include "keras_fixture.hpp"

using namespace cortexlens;
using fixture::json;
using fixture::KerasModelBuilder;

namespace {

struct MapD {
  int h, w, c;
  std::vector<double> v;
  double& at(int y, int x, int ch) { return v[(static_cast<std::size_t>(y) * w + x) * c + ch]; }
};

const NamedTensor& find(const KerasModelBuilder& b, const std::string& name) {
  for (const auto& t : b.tensors)
    if (t.name == name) return t;
  FAIL("no tensor " << name);
  return b.tensors.front();
}

// Convolution in Keras layout; depthwise when `depthwise` (kernel (k,k,C,1)), else HWIO.
MapD conv(MapD& in, const NamedTensor& kernel, const NamedTensor* bias, int stride, bool same, bool depthwise) {
  const int k = static_cast<int>(kernel.shape[0]);
  const int oc = depthwise ? in.c : static_cast<int>(kernel.shape[3]);
  int oh, ow, top = 0, left = 0;
  if (same) {
    oh = (in.h + stride - 1) / stride;
    ow = (in.w + stride - 1) / stride;
    top = std::max((oh - 1) * stride + k - in.h, 0) / 2;
    left = std::max((ow - 1) * stride + k - in.w, 0) / 2;
  } else {
    oh = (in.h - k) / stride + 1;
    ow = (in.w - k) / stride + 1;
  }
  MapD out{oh, ow, oc, std::vector<double>(static_cast<std::size_t>(oh) * ow * oc)};
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x)
      for (int o = 0; o < oc; ++o) {
        double acc = bias ? bias->data[o] : 0.0;
        for (int ky = 0; ky < k; ++ky)
          for (int kx = 0; kx < k; ++kx) {
            const int iy = y * stride - top + ky, ix = x * stride - left + kx;
            if (iy < 0 || ix < 0 || iy >= in.h || ix >= in.w) continue;
            if (depthwise) {
              acc += in.at(iy, ix, o) * kernel.data[(static_cast<std::size_t>(ky) * k + kx) * in.c + o];
            } else {
              for (int i = 0; i < in.c; ++i)
                acc += in.at(iy, ix, i) * kernel.data[((static_cast<std::size_t>(ky) * k + kx) * in.c + i) * oc + o];
            }
          }
        out.at(y, x, o) = acc;
      }
  return out;
}

void batch_norm(MapD& m, const KerasModelBuilder& b, const std::string& g, double eps) {
  const auto &gamma = find(b, "layers/" + g + "/vars/0"), &beta = find(b, "layers/" + g + "/vars/1"),
             &mean = find(b, "layers/" + g + "/vars/2"), &var = find(b, "layers/" + g + "/vars/3");
  for (std::size_t i = 0; i < m.v.size(); ++i) {
    const int c = static_cast<int>(i % m.c);
    m.v[i] = gamma.data[c] * (m.v[i] - mean.data[c]) / std::sqrt(var.data[c] + eps) + beta.data[c];
  }
}

void relu(MapD& m) {
  for (auto& x : m.v) x = std::max(x, 0.0);
}

Tensor random_input(Shape3 shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-110.0f, 140.0f);
  Tensor t(shape);
  for (auto& x : t.data) x = uniform(rng);
  return t;
}

Result<Model> import(const KerasModelBuilder& b, const std::string& name = "fixture") {
  return import_keras(b.config_text(), b.tensors, name);
}

}  // namespace

TEST_CASE("keras_snake_case follows Keras' group naming", "[keras]") {
  CHECK(keras_snake_case("Conv2D") == "conv2d");
  CHECK(keras_snake_case("SeparableConv2D") == "separable_conv2d");
  CHECK(keras_snake_case("DepthwiseConv2D") == "depthwise_conv2d");
  CHECK(keras_snake_case("BatchNormalization") == "batch_normalization");
  CHECK(keras_snake_case("InputLayer") == "input_layer");
  CHECK(keras_snake_case("ReLU") == "re_lu");
  CHECK(keras_snake_case("Dense") == "dense");
}

TEST_CASE("an imported model computes what the unfused Keras layers compute", "[keras]") {
  // Odd sizes and a stride-2 'same' conv exercise the asymmetric padding; BN after every conv checks folding.
  KerasModelBuilder b(13, 11, 3);
  b.conv2d("c0", 3, 5, 5, 2, "same");
  b.batch_norm("bn0", 5);
  b.activation("a0");
  b.separable("s1", 5, 4, 3, 1, "same");
  b.batch_norm("bn1", 4, 0.01);
  b.activation("a1");
  b.depthwise("d2", 4, 3, "valid");
  b.flatten("f");
  b.dense("out", 5 * 4 * 4, 3);
  auto model = import(b);
  REQUIRE(model.is_ok());
  CHECK(model->layers.size() == 5);  // conv, depthwise + pointwise, depthwise, dense
  CHECK(model->output_names == std::vector<std::string>{"output0", "output1", "output2"});

  const Tensor input = random_input({13, 11, 3}, 5);
  MapD m{13, 11, 3, std::vector<double>(input.data.begin(), input.data.end())};
  m = conv(m, find(b, "layers/conv2d/vars/0"), &find(b, "layers/conv2d/vars/1"), 2, true, false);
  batch_norm(m, b, "batch_normalization", 0.001);
  relu(m);
  m = conv(m, find(b, "layers/separable_conv2d/vars/0"), nullptr, 1, true, true);
  m = conv(m, find(b, "layers/separable_conv2d/vars/1"), &find(b, "layers/separable_conv2d/vars/2"), 1, true, false);
  batch_norm(m, b, "batch_normalization_1", 0.01);
  relu(m);
  m = conv(m, find(b, "layers/depthwise_conv2d/vars/0"), &find(b, "layers/depthwise_conv2d/vars/1"), 1, false, true);
  const auto& kernel = find(b, "layers/dense/vars/0");
  const auto& bias = find(b, "layers/dense/vars/1");
  REQUIRE(m.v.size() == 80);

  for (bool reference : {false, true}) {
    auto result = forward(model.value(), input, {false, reference});
    REQUIRE(result.is_ok());
    for (int o = 0; o < 3; ++o) {
      double expected = bias.data[o];
      for (std::size_t i = 0; i < m.v.size(); ++i) expected += m.v[i] * kernel.data[i * 3 + o];
      CHECK(result->outputs[o] == Approx(expected).epsilon(1e-4).margin(1e-4));
    }
  }
}

TEST_CASE("the published architecture imports with Keras' parameter count", "[keras]") {
  // Filter counts of compact_model_190923_neuron0; the authors' Keras summary gives 12,466 parameters.
  auto b = fixture::compact_architecture({48, 60, 3, 3, 3});
  auto model = import(b, "compact_model_190923_neuron0");
  REQUIRE(model.is_ok());
  CHECK(model->source_params() == 12466);
  CHECK(model->output_names == std::vector<std::string>{"190923_n0"});
  CHECK(model->layers.back().in == Shape3{28, 28, 3});
  REQUIRE(model->source_layers.size() == 18);
  CHECK(model->source_layers[1].params == 3648);
  CHECK(model->source_layers[2].params == 192);  // BN: gamma, beta, moving mean, moving variance
}

TEST_CASE("import refuses what it cannot run, saying what and where", "[keras][errors]") {
  auto expect_error = [](const KerasModelBuilder& b, std::vector<std::string> parts) {
    auto model = import(b);
    REQUIRE_FALSE(model.is_ok());
    for (const auto& part : parts) CHECK_THAT(model.message(), Catch::Contains(part));
  };

  SECTION("unknown layer type") {
    KerasModelBuilder b(8, 8, 3);
    b.add("MaxPooling2D", "pool", {{"pool_size", {2, 2}}});
    expect_error(b, {"layer 'pool' (MaxPooling2D)", "not supported"});
  }
  SECTION("missing weights") {
    KerasModelBuilder b(8, 8, 3);
    b.conv2d("c0", 3, 4, 3, 1, "same");
    b.tensors.pop_back();
    expect_error(b, {"layer 'c0' (Conv2D)", "layers/conv2d/vars/1", "missing"});
  }
  SECTION("mis-shaped weights") {
    KerasModelBuilder b(8, 8, 3);
    b.conv2d("c0", 3, 4, 3, 1, "same");
    b.tensors[0].shape = {3, 3, 4, 3};
    expect_error(b, {"layer 'c0'", "(3,3,4,3)", "expected (3,3,3,4)"});
  }
  SECTION("NaN weights") {
    KerasModelBuilder b(8, 8, 3);
    b.conv2d("c0", 3, 4, 3, 1, "same");
    b.tensors[0].data[17] = std::nanf("");
    expect_error(b, {"layer 'c0'", "index 17", "expected finite"});
  }
  SECTION("dilation") {
    KerasModelBuilder b(8, 8, 3);
    b.conv2d("c0", 3, 4, 3, 1, "same");
    b.layers.back()["config"]["dilation_rate"] = {2, 2};
    expect_error(b, {"layer 'c0'", "dilation_rate", "expected [1, 1]"});
  }
  SECTION("groups") {
    KerasModelBuilder b(8, 8, 3);
    b.conv2d("c0", 3, 3, 3, 1, "same");
    b.layers.back()["config"]["groups"] = 3;
    expect_error(b, {"layer 'c0'", "groups 3", "expected 1"});
  }
  SECTION("other activation") {
    KerasModelBuilder b(8, 8, 3);
    b.conv2d("c0", 3, 4, 3, 1, "same", "sigmoid");
    expect_error(b, {"layer 'c0'", "\"sigmoid\"", "expected \"linear\" or \"relu\""});
  }
  SECTION("a branch") {
    KerasModelBuilder b(8, 8, 3);
    b.conv2d("c0", 3, 4, 3, 1, "same");
    b.conv2d("c1", 4, 4, 3, 1, "same");
    b.layers.back()["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0] = "image_input";
    expect_error(b, {"layer 'c1'", "'image_input'", "expected the output of 'c0'"});
  }
  SECTION("extra weights") {
    KerasModelBuilder b(8, 8, 3);
    b.conv2d("c0", 3, 4, 3, 1, "same");
    b.tensor("conv2d_7", 0, {1}, {1.0f});
    expect_error(b, {"layers/conv2d_7/vars/0", "does not belong"});
  }
  SECTION("not JSON") {
    auto model = import_keras("{\"class_name\": ", {}, "broken");
    REQUIRE_FALSE(model.is_ok());
    CHECK_THAT(model.message(), Catch::Contains("not valid JSON"));
  }
  SECTION("wrong JSON types never throw") {
    KerasModelBuilder b(8, 8, 3);
    b.conv2d("c0", 3, 4, 3, 1, "same");
    b.layers.back()["config"]["filters"] = "four";
    expect_error(b, {"layer 'c0'", "'filters'", "expected an integer"});
  }
  SECTION("dense without flatten") {
    KerasModelBuilder b(8, 8, 3);
    b.dense("d", 3, 2);
    expect_error(b, {"layer 'd' (Dense)", "without a Flatten"});
  }
}

TEST_CASE("forward refuses an input of the wrong shape", "[keras][errors]") {
  KerasModelBuilder b(8, 8, 3);
  b.conv2d("c0", 3, 4, 3, 1, "same");
  auto model = import(b);
  REQUIRE(model.is_ok());
  auto result = forward(model.value(), Tensor({8, 9, 3}));
  REQUIRE_FALSE(result.is_ok());
  CHECK_THAT(result.message(), Catch::Contains("(8,9,3)") && Catch::Contains("expects (8,8,3)"));
}
