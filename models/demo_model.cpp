#include "demo_model.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "cortexlens/image.hpp"
#include "cortexlens/quantize.hpp"

namespace cortexlens::demo {

namespace {

using json = nlohmann::json;

constexpr int kSide = 112;
constexpr float kPi = 3.14159265358979f;

// Builds config.json the way Keras 3.1 writes a Functional model (the fields import_keras reads plus the ones
// Keras adds, so the file also looks right to other readers).
class ConfigBuilder {
 public:
  ConfigBuilder() {
    layers_.push_back({{"module", "keras.layers"},
                       {"class_name", "InputLayer"},
                       {"config",
                        {{"batch_shape", {nullptr, kSide, kSide, 3}},
                         {"dtype", "float32"},
                         {"sparse", false},
                         {"name", "image_input"}}},
                       {"registered_name", nullptr},
                       {"name", "image_input"},
                       {"inbound_nodes", json::array()}});
    shape_ = {nullptr, kSide, kSide, 3};
    previous_ = "image_input";
    groups.push_back(group_name("InputLayer"));
  }

  void add(const std::string& class_name, const std::string& name, json config, json out_shape) {
    config["name"] = name;
    config["trainable"] = true;
    config["dtype"] = "float32";
    json node = {{"args",
                  {{{"class_name", "__keras_tensor__"},
                    {"config", {{"shape", shape_}, {"dtype", "float32"}, {"keras_history", {previous_, 0, 0}}}}}}},
                 {"kwargs", json::object()}};
    layers_.push_back({{"module", "keras.layers"},
                       {"class_name", class_name},
                       {"config", config},
                       {"registered_name", nullptr},
                       {"build_config", {{"input_shape", shape_}}},
                       {"name", name},
                       {"inbound_nodes", {node}}});
    previous_ = name;
    shape_ = std::move(out_shape);
    groups.push_back(group_name(class_name));
  }

  std::string text() const {
    json root = {{"module", "keras.src.models.functional"},
                 {"class_name", "Functional"},
                 {"config",
                  {{"name", "demo_dot_detector"},
                   {"trainable", true},
                   {"layers", layers_},
                   {"input_layers", {{"image_input", 0, 0}}},
                   {"output_layers", {{previous_, 0, 0}}}}},
                 {"registered_name", "Functional"},
                 {"build_config", {{"input_shape", nullptr}}}};
    return root.dump();
  }

  std::vector<std::string> groups;  // h5 group per layer, in order

 private:
  std::string group_name(const std::string& class_name) {
    const std::string g = keras_snake_case(class_name);
    const int k = counts_[g]++;
    return k ? g + "_" + std::to_string(k) : g;
  }
  json layers_ = json::array();
  json shape_;
  std::string previous_;
  std::map<std::string, int> counts_;
};

float gaussian(float d2, float sigma) { return std::exp(-d2 / (2.0f * sigma * sigma)); }

// (5, 5) difference of Gaussians: centre sigma 0.8 minus surround sigma 2.0, each normalized to sum 1, so a
// uniform field gives 0 and a bright spot about 2 pixels across gives the largest response.
std::vector<float> difference_of_gaussians() {
  std::vector<float> centre(25), surround(25), out(25);
  float sc = 0, ss = 0;
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 5; ++x) {
      const float d2 = static_cast<float>((y - 2) * (y - 2) + (x - 2) * (x - 2));
      centre[y * 5 + x] = gaussian(d2, 0.8f);
      surround[y * 5 + x] = gaussian(d2, 2.0f);
      sc += centre[y * 5 + x];
      ss += surround[y * 5 + x];
    }
  for (int i = 0; i < 25; ++i) out[i] = centre[i] / sc - surround[i] / ss;
  return out;
}

// (5, 5) Gaussian blur, sigma 1, sum 1: the pooling of the strided stages.
std::vector<float> blur() {
  std::vector<float> k(25);
  float sum = 0;
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 5; ++x)
      sum += k[y * 5 + x] = gaussian(static_cast<float>((y - 2) * (y - 2) + (x - 2) * (x - 2)), 1.0f);
  for (auto& v : k) v /= sum;
  return k;
}

void batch_norm_identity(ConfigBuilder& config, DemoKeras& keras, const std::string& name, int channels,
                         json out_shape) {
  config.add("BatchNormalization", name,
             {{"axis", -1}, {"momentum", 0.99}, {"epsilon", 0.001}, {"center", true}, {"scale", true}}, out_shape);
  const std::string g = "layers/" + config.groups.back() + "/vars/";
  const std::size_t c = static_cast<std::size_t>(channels);
  // gamma 1, beta 0, mean 0, variance 1 - epsilon: (x - 0) / sqrt(0.999 + 0.001) = x exactly.
  keras.tensors.push_back({g + "0", {channels}, std::vector<float>(c, 1.0f)});
  keras.tensors.push_back({g + "1", {channels}, std::vector<float>(c, 0.0f)});
  keras.tensors.push_back({g + "2", {channels}, std::vector<float>(c, 0.0f)});
  keras.tensors.push_back({g + "3", {channels}, std::vector<float>(c, 0.999f)});
}

}  // namespace

// Long by design: the demo model's hand-set weights, layer by layer in the model's order.
DemoKeras build_demo_keras() {
  DemoKeras keras;
  ConfigBuilder config;
  const int f = kDemoFilters[0];  // 2 channels throughout: 0 = ON-centre, 1 = OFF-centre

  // layer0: luminance centre-surround, ON and OFF. A small negative bias is a threshold so that texture and
  // noise of low contrast stay silent.
  config.add("Conv2D", "layer0_conv",
             {{"filters", f},
              {"kernel_size", {5, 5}},
              {"strides", {1, 1}},
              {"padding", "same"},
              {"data_format", "channels_last"},
              {"dilation_rate", {1, 1}},
              {"groups", 1},
              {"activation", "linear"},
              {"use_bias", true}},
             {nullptr, kSide, kSide, f});
  {
    const std::vector<float> dog = difference_of_gaussians();
    std::vector<float> kernel(25 * 3 * f);  // (5, 5, 3, 2) HWIO
    for (int t = 0; t < 25; ++t)
      for (int c = 0; c < 3; ++c) {
        kernel[(t * 3 + c) * f + 0] = dog[t] / 3.0f;
        kernel[(t * 3 + c) * f + 1] = -dog[t] / 3.0f;
      }
    const std::string g = "layers/" + config.groups.back() + "/vars/";
    keras.tensors.push_back({g + "0", {5, 5, 3, f}, kernel});
    keras.tensors.push_back({g + "1", {f}, std::vector<float>(f, -2.0f)});
  }
  batch_norm_identity(config, keras, "layer0_bn", f, {nullptr, kSide, kSide, f});
  config.add("Activation", "layer0_act", {{"activation", "relu"}}, {nullptr, kSide, kSide, f});

  // layers 1-4: separable stages. Strided ones blur (pool) each channel; the stride-1 ones pass it through.
  // Pointwise: identity, so ON and OFF stay separate all the way to the readout.
  const int strides[4] = {2, 2, 1, 1};
  int side = kSide;
  for (int i = 1; i <= 4; ++i) {
    const std::string n = "layer" + std::to_string(i);
    side = strides[i - 1] == 2 ? side / 2 : side;
    config.add("SeparableConv2D", n + "_conv",
               {{"filters", f},
                {"kernel_size", {5, 5}},
                {"strides", {strides[i - 1], strides[i - 1]}},
                {"padding", "same"},
                {"data_format", "channels_last"},
                {"dilation_rate", {1, 1}},
                {"depth_multiplier", 1},
                {"activation", "linear"},
                {"use_bias", true}},
               {nullptr, side, side, f});
    std::vector<float> depthwise(25 * f);  // (5, 5, 2, 1)
    const std::vector<float> pool = blur();
    for (int t = 0; t < 25; ++t)
      for (int c = 0; c < f; ++c) depthwise[t * f + c] = strides[i - 1] == 2 ? pool[t] : (t == 12 ? 1.0f : 0.0f);
    std::vector<float> pointwise(f * f, 0.0f);  // (1, 1, 2, 2)
    for (int c = 0; c < f; ++c) pointwise[c * f + c] = 1.0f;
    const std::string g = "layers/" + config.groups.back() + "/vars/";
    keras.tensors.push_back({g + "0", {5, 5, f, 1}, depthwise});
    keras.tensors.push_back({g + "1", {1, 1, f, f}, pointwise});
    keras.tensors.push_back({g + "2", {f}, std::vector<float>(f, 0.0f)});
    batch_norm_identity(config, keras, n + "_bn", f, {nullptr, side, side, f});
    config.add("Activation", n + "_act", {{"activation", "relu"}}, {nullptr, side, side, f});
  }

  // Readout: a centre-surround receptive field on the 28x28 map (1 unit = 4 image pixels): an excitatory centre
  // (sigma 1 unit) minus an inhibitory surround (sigma 4 units) of the same integral, so a bright dot in the middle
  // drives it most while rings, large discs and uniform fields largely cancel. OFF responses inhibit.
  config.add("Flatten", "embeddings", {{"data_format", "channels_last"}}, {nullptr, side * side * f});
  config.add("Dense", "Beta", {{"units", 1}, {"activation", "linear"}, {"use_bias", true}}, {nullptr, 1});
  {
    std::vector<float> readout(static_cast<std::size_t>(side * side * f));  // (28*28*2, 1), (H, W, C) order
    const float c = (side - 1) / 2.0f;
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) {
        const float d2 = (y - c) * (y - c) + (x - c) * (x - c);
        const float w = gaussian(d2, 1.0f) - gaussian(d2, 4.0f) / 16.0f;
        readout[static_cast<std::size_t>((y * side + x) * f + 0)] = 0.5f * w;
        readout[static_cast<std::size_t>((y * side + x) * f + 1)] = -0.25f * std::fabs(w);
      }
    const std::string g = "layers/" + config.groups.back() + "/vars/";
    keras.tensors.push_back({g + "0", {side * side * f, 1}, readout});
    keras.tensors.push_back({g + "1", {1}, {0.0f}});
  }
  keras.config_json = config.text();
  keras.metadata_json = R"({"keras_version": "3.1.1", "date_saved": "constructed by models/make_demo_model"})";
  keras.groups = config.groups;
  return keras;
}

Tensor grey_image() { return Tensor(Shape3{kSide, kSide, 3}, 0.0f); }

Tensor dot_image(float centre_x, float centre_y, float radius, float contrast) {
  Tensor image = grey_image();
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      const float d = std::hypot(x - centre_x, y - centre_y);
      // Anti-aliased edge, one pixel wide.
      const float inside = std::clamp(radius + 0.5f - d, 0.0f, 1.0f);
      for (int c = 0; c < 3; ++c) image.at(y, x, c) = inside * contrast;
    }
  return image;
}

Tensor ring_image(float centre_x, float centre_y, float radius, float width, float contrast) {
  Tensor image = grey_image();
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      const float d = std::fabs(std::hypot(x - centre_x, y - centre_y) - radius);
      const float inside = std::clamp(width / 2.0f + 0.5f - d, 0.0f, 1.0f);
      for (int c = 0; c < 3; ++c) image.at(y, x, c) = inside * contrast;
    }
  return image;
}

std::vector<Tensor> demo_calibration_images() {
  // Dots and rings of both polarities at several places and sizes, plus a grating: the kinds of input the page
  // offers for the demo. Deterministic (no random numbers), so the committed file can be regenerated exactly.
  std::vector<Tensor> images;
  for (int k = 0; k < 12; ++k) {
    const float angle = 2.0f * kPi * k / 12.0f;
    const float x = 55.5f + 30.0f * std::cos(angle) * (k % 3) / 2.0f,
                y = 55.5f + 30.0f * std::sin(angle) * (k % 3) / 2.0f;
    const float contrast = (k % 2 ? -1.0f : 1.0f) * (60.0f + 8.0f * k);
    images.push_back(dot_image(x, y, 2.0f + k % 4 * 2.0f, contrast));
    images.push_back(ring_image(x, y, 6.0f + k % 3 * 4.0f, 2.0f, contrast));
  }
  Tensor grating = grey_image();
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x)
      for (int c = 0; c < 3; ++c) grating.at(y, x, c) = 100.0f * std::sin(2.0f * kPi * (x + 0.5f * y) / 16.0f);
  images.push_back(grating);
  return images;
}

Result<std::vector<std::uint8_t>> build_demo_model_file() {
  const DemoKeras keras = build_demo_keras();
  auto float_model = import_keras(keras.config_json, keras.tensors, kDemoModelName);
  if (!float_model) return float_model.status();
  const std::vector<Tensor> images = demo_calibration_images();
  ActivationCalibrator calibrator(float_model.value());
  for (const Tensor& image : images) CL_RETURN_IF_ERROR(calibrator.add(image));
  // The maximum, not a percentile: these few synthetic stimuli are what the demo is shown, and a dot lights only a
  // few dozen of the 12,544 positions, so a high percentile over the mostly silent maps would clip the very peaks
  // the demo is about.
  auto quantized = quantize_calibrated(float_model.value(), calibrator, images, 100.0);
  if (!quantized) return quantized.status();
  const Model& int8_model = quantized.value();
  ModelFileMetadata metadata;
  metadata.source = "Cortex Lens demo: weights constructed by models/demo_model.cpp (no training, no data)";
  metadata.citation = "";
  metadata.channel_means.assign(std::begin(kChannelMeans), std::end(kChannelMeans));
  auto vector = make_test_vector(float_model.value(), int8_model, metadata.channel_means);
  if (!vector) return vector.status();
  return write_model_file(int8_model, metadata, vector.value());
}

}  // namespace cortexlens::demo
