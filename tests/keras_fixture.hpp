// Builds Keras 3 model descriptions (config.json text + named weight tensors) in the layout Keras writes,
// so tests and the fixture generators can make models without TensorFlow. Test-only: uses exceptions freely.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "cortexlens/keras_import.hpp"

namespace cortexlens::fixture {

using json = nlohmann::json;

struct KerasModelBuilder {
  json layers = json::array();
  std::vector<NamedTensor> tensors;
  std::map<std::string, int> counts;
  std::string previous;
  std::mt19937 rng{7};

  explicit KerasModelBuilder(int h = 112, int w = 112, int c = 3) {
    layers.push_back({{"module", "keras.layers"},
                      {"class_name", "InputLayer"},
                      {"config", {{"batch_shape", {nullptr, h, w, c}}, {"dtype", "float32"}, {"name", "image_input"}}},
                      {"name", "image_input"},
                      {"inbound_nodes", json::array()}});
    group("InputLayer");
    previous = "image_input";
  }

  std::string group(const std::string& class_name) {
    std::string g = keras_snake_case(class_name);
    const int k = counts[g]++;
    return k ? g + "_" + std::to_string(k) : g;
  }

  json& add(const std::string& class_name, const std::string& name, json config) {
    config["name"] = name;
    json node = {{"args", {{{"class_name", "__keras_tensor__"}, {"config", {{"keras_history", {previous, 0, 0}}}}}}},
                 {"kwargs", json::object()}};
    layers.push_back({{"module", "keras.layers"},
                      {"class_name", class_name},
                      {"config", config},
                      {"name", name},
                      {"inbound_nodes", {node}}});
    previous = name;
    return layers.back();
  }

  void tensor(const std::string& g, int j, std::vector<std::int64_t> shape, std::vector<float> data) {
    tensors.push_back({"layers/" + g + "/vars/" + std::to_string(j), std::move(shape), std::move(data)});
  }

  std::vector<float> random(std::size_t n, float scale = 0.3f, float offset = 0.0f) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = offset + scale * normal(rng);
    return v;
  }

  void conv2d(const std::string& name, int in_c, int filters, int k, int stride, const std::string& padding,
              const std::string& activation = "linear") {
    add("Conv2D", name,
        {{"filters", filters},
         {"kernel_size", {k, k}},
         {"strides", {stride, stride}},
         {"padding", padding},
         {"data_format", "channels_last"},
         {"dilation_rate", {1, 1}},
         {"groups", 1},
         {"activation", activation},
         {"use_bias", true}});
    const std::string g = group("Conv2D");
    tensor(g, 0, {k, k, in_c, filters}, random(static_cast<std::size_t>(k) * k * in_c * filters));
    tensor(g, 1, {filters}, random(filters));
  }

  void separable(const std::string& name, int in_c, int filters, int k, int stride, const std::string& padding) {
    add("SeparableConv2D", name,
        {{"filters", filters},
         {"kernel_size", {k, k}},
         {"strides", {stride, stride}},
         {"padding", padding},
         {"data_format", "channels_last"},
         {"dilation_rate", {1, 1}},
         {"depth_multiplier", 1},
         {"activation", "linear"},
         {"use_bias", true}});
    const std::string g = group("SeparableConv2D");
    tensor(g, 0, {k, k, in_c, 1}, random(static_cast<std::size_t>(k) * k * in_c));
    tensor(g, 1, {1, 1, in_c, filters}, random(static_cast<std::size_t>(in_c) * filters));
    tensor(g, 2, {filters}, random(filters));
  }

  void depthwise(const std::string& name, int channels, int k, const std::string& padding) {
    add("DepthwiseConv2D", name,
        {{"kernel_size", {k, k}},
         {"strides", {1, 1}},
         {"padding", padding},
         {"data_format", "channels_last"},
         {"dilation_rate", {1, 1}},
         {"depth_multiplier", 1},
         {"activation", "linear"},
         {"use_bias", true}});
    const std::string g = group("DepthwiseConv2D");
    tensor(g, 0, {k, k, channels, 1}, random(static_cast<std::size_t>(k) * k * channels));
    tensor(g, 1, {channels}, random(channels));
  }

  void batch_norm(const std::string& name, int channels, double epsilon = 0.001) {
    add("BatchNormalization", name, {{"axis", -1}, {"epsilon", epsilon}, {"center", true}, {"scale", true}});
    const std::string g = group("BatchNormalization");
    tensor(g, 0, {channels}, random(channels, 0.2f, 1.0f));  // gamma
    tensor(g, 1, {channels}, random(channels));              // beta
    tensor(g, 2, {channels}, random(channels));              // moving_mean
    auto variance = random(channels, 0.3f, 1.0f);
    for (auto& v : variance) v = v * v + 0.05f;
    tensor(g, 3, {channels}, variance);
  }

  void activation(const std::string& name, const std::string& fn = "relu") {
    add("Activation", name, {{"activation", fn}});
    group("Activation");
  }

  void flatten(const std::string& name) {
    add("Flatten", name, {{"data_format", "channels_last"}});
    group("Flatten");
  }

  void dense(const std::string& name, std::int64_t inputs, int units) {
    add("Dense", name, {{"units", units}, {"activation", "linear"}, {"use_bias", true}});
    const std::string g = group("Dense");
    tensor(g, 0, {inputs, units}, random(static_cast<std::size_t>(inputs) * units, 0.05f));
    tensor(g, 1, {units}, random(units));
  }

  std::string config_text() const {
    json root = {{"module", "keras.src.models.functional"},
                 {"class_name", "Functional"},
                 {"config",
                  {{"name", "functional"},
                   {"layers", layers},
                   {"input_layers", {{"image_input", 0, 0}}},
                   {"output_layers", {{previous, 0, 0}}}}}};
    return root.dump();
  }
};

// The published per-neuron architecture (conv 5x5, 4 separable 5x5 stages, BN + ReLU each, flatten, dense(1))
// with random weights and the given filter counts.
inline KerasModelBuilder compact_architecture(const std::vector<int>& filters, unsigned seed = 7) {
  KerasModelBuilder b;
  b.rng.seed(seed);
  b.conv2d("layer0_conv", 3, filters[0], 5, 1, "same");
  b.batch_norm("layer0_bn", filters[0]);
  b.activation("layer0_act");
  const int strides[] = {2, 2, 1, 1};
  for (int i = 1; i <= 4; ++i) {
    const std::string n = "layer" + std::to_string(i);
    b.separable(n + "_conv", filters[i - 1], filters[i], 5, strides[i - 1], "same");
    b.batch_norm(n + "_bn", filters[i]);
    b.activation(n + "_act");
  }
  b.flatten("embeddings");
  b.dense("Beta", 28 * 28 * filters[4], 1);
  return b;
}

}  // namespace cortexlens::fixture
