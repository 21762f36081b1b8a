#include "cortexlens/keras_import.hpp"

#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

// JSON_NOEXCEPTION is defined for this target: every access below checks types first, so nothing can throw.
#include <nlohmann/json.hpp>

namespace cortexlens {

using json = nlohmann::json;

std::string keras_snake_case(std::string_view class_name) {
  // keras.src.utils.naming.to_snake_case: re.sub("(.)([A-Z][a-z]+)", r"\1_\2"), then re.sub("([a-z])([A-Z])",
  // r"\1_\2"), then lower(). Written out because std::regex is large in WebAssembly.
  const std::string name(class_name);
  std::string first;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const bool starts_word = i > 0 && std::isupper(static_cast<unsigned char>(name[i])) && i + 1 < name.size() &&
                             std::islower(static_cast<unsigned char>(name[i + 1]));
    if (starts_word) first += '_';
    first += name[i];
  }
  std::string second;
  for (std::size_t i = 0; i < first.size(); ++i) {
    if (i > 0 && std::islower(static_cast<unsigned char>(first[i - 1])) &&
        std::isupper(static_cast<unsigned char>(first[i])))
      second += '_';
    second += first[i];
  }
  for (auto& ch : second) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return second;
}

namespace {

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::ostringstream text;
  text << "(";
  for (std::size_t i = 0; i < shape.size(); ++i) text << (i ? "," : "") << shape[i];
  text << ")";
  return text.str();
}

// Typed, non-throwing accessors on the parsed config.
const json* member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

Result<int> int_field(const json& object, const char* key, const std::string& where) {
  const json* value = member(object, key);
  if (!value || !value->is_number_integer())
    return Status::error(where + "field '" + key + "' is " + (value ? value->dump() : "missing") +
                         ", expected an integer");
  const auto number = value->get<std::int64_t>();
  if (number < -1'000'000 || number > 1'000'000)
    return Status::error(where + "field '" + key + "' is " + std::to_string(number) + ", out of range");
  return static_cast<int>(number);
}

Result<std::string> string_field(const json& object, const char* key, const std::string& where) {
  const json* value = member(object, key);
  if (!value || !value->is_string())
    return Status::error(where + "field '" + key + "' is " + (value ? value->dump() : "missing") +
                         ", expected a string");
  return value->get<std::string>();
}

// An int or a list of two ints ("kernel_size": [5, 5]); a missing field gives `fallback`.
Result<std::pair<int, int>> pair_field(const json& object, const char* key, const std::string& where,
                                       std::pair<int, int> fallback) {
  const json* value = member(object, key);
  if (!value) return fallback;
  if (value->is_number_integer()) {
    const int v = static_cast<int>(value->get<std::int64_t>());
    return std::make_pair(v, v);
  }
  if (value->is_array() && value->size() == 2 && (*value)[0].is_number_integer() && (*value)[1].is_number_integer()) {
    const auto a = (*value)[0].get<std::int64_t>(), b = (*value)[1].get<std::int64_t>();
    if (a >= 0 && a <= 1'000'000 && b >= 0 && b <= 1'000'000) return std::make_pair(int(a), int(b));
  }
  return Status::error(where + "field '" + key + "' is " + value->dump() + ", expected two integers");
}

Result<bool> bool_field(const json& object, const char* key, const std::string& where, bool fallback) {
  const json* value = member(object, key);
  if (!value) return fallback;
  if (!value->is_boolean())
    return Status::error(where + "field '" + key + "' is " + value->dump() + ", expected true or false");
  return value->get<bool>();
}

Result<Activation> activation_field(const json& object, const std::string& where) {
  const json* value = member(object, "activation");
  if (!value || value->is_null()) return Activation::linear;
  if (value->is_string()) {
    const auto name = value->get<std::string>();
    if (name == "linear") return Activation::linear;
    if (name == "relu") return Activation::relu;
  }
  return Status::error(where + "activation " + value->dump() + " is not supported, expected \"linear\" or \"relu\"");
}

class TensorIndex {
 public:
  explicit TensorIndex(const std::vector<NamedTensor>& tensors) {
    for (const auto& tensor : tensors) by_name_[tensor.name] = &tensor;
  }

  // Takes variable j of h5 group `group` with the expected shape; consumed names are tracked so that
  // variables nobody asked for can be reported.
  Result<const NamedTensor*> take(const std::string& group, int j, const std::vector<std::int64_t>& expected,
                                  const std::string& where, const char* what) {
    const std::string name = "layers/" + group + "/vars/" + std::to_string(j);
    auto it = by_name_.find(name);
    if (it == by_name_.end())
      return Status::error(where + "weight '" + name + "' (" + what + ", expected shape " + shape_text(expected) +
                           ") is missing");
    const NamedTensor& tensor = *it->second;
    std::int64_t count = 1;
    for (auto d : tensor.shape) count = (d < 0 || d > (1ll << 31)) ? -1 : count * d;
    if (tensor.shape != expected || count != static_cast<std::int64_t>(tensor.data.size()))
      return Status::error(where + "weight '" + name + "' (" + what + ") has shape " + shape_text(tensor.shape) +
                           " with " + std::to_string(tensor.data.size()) + " values, expected " + shape_text(expected));
    for (std::size_t i = 0; i < tensor.data.size(); ++i)
      if (!std::isfinite(tensor.data[i]))
        return Status::error(where + "weight '" + name + "' (" + what + ") holds " + std::to_string(tensor.data[i]) +
                             " at index " + std::to_string(i) + ", expected finite numbers");
    consumed_.insert(name);
    return &tensor;
  }

  Status check_all_consumed() const {
    for (const auto& entry : by_name_)
      if (entry.first.rfind("layers/", 0) == 0 && !consumed_.count(entry.first))
        return Status::error("weight '" + entry.first + "' does not belong to any supported layer of the config " +
                             "(expected only the variables of the layers listed in config.json)");
    return Status::ok();
  }

 private:
  std::map<std::string, const NamedTensor*> by_name_;
  std::set<std::string> consumed_;
};

struct ChainState {
  Shape3 shape;
  bool flattened = false;
  bool has_input = false;
  std::int64_t params = 0;  // of the current source layer
};

Status resolve_padding(const std::string& padding, const Shape3& in, int kh, int kw, int sh, int sw, Layer& layer,
                       const std::string& where) {
  if (padding == "same") {
    auto [top, bottom] = same_padding(in.h, kh, sh);
    auto [left, right] = same_padding(in.w, kw, sw);
    layer.pad = {top, bottom, left, right};
  } else if (padding == "valid") {
    layer.pad = {};
  } else {
    return Status::error(where + "padding \"" + padding + "\" is not supported, expected \"same\" or \"valid\"");
  }
  layer.kernel_h = kh;
  layer.kernel_w = kw;
  layer.stride_h = sh;
  layer.stride_w = sw;
  layer.in = in;
  const int out_h = conv_output_size(in.h, kh, sh, layer.pad.top, layer.pad.bottom);
  const int out_w = conv_output_size(in.w, kw, sw, layer.pad.left, layer.pad.right);
  if (out_h < 1 || out_w < 1)
    return Status::error(where + "kernel " + std::to_string(kh) + "x" + std::to_string(kw) + " does not fit the " +
                         std::to_string(in.h) + "x" + std::to_string(in.w) + " input");
  layer.out = {out_h, out_w, in.c};
  return Status::ok();
}

// Options every convolution must have at their only supported value.
Status check_conv_options(const json& config, const std::string& where) {
  auto dilation = pair_field(config, "dilation_rate", where, {1, 1});
  if (!dilation) return dilation.status();
  if (dilation.value() != std::make_pair(1, 1))
    return Status::error(where + "dilation_rate " + member(config, "dilation_rate")->dump() +
                         " is not supported, expected [1, 1]");
  if (const json* groups = member(config, "groups"); groups && !(groups->is_number_integer() && *groups == 1))
    return Status::error(where + "groups " + groups->dump() + " is not supported, expected 1");
  if (const json* format = member(config, "data_format");
      format && !format->is_null() && !(format->is_string() && *format == "channels_last"))
    return Status::error(where + "data_format " + format->dump() + " is not supported, expected \"channels_last\"");
  if (const json* multiplier = member(config, "depth_multiplier");
      multiplier && !(multiplier->is_number_integer() && *multiplier == 1))
    return Status::error(where + "depth_multiplier " + multiplier->dump() + " is not supported, expected 1");
  return Status::ok();
}

class Importer {
 public:
  Importer(const std::vector<NamedTensor>& tensors, Model& model) : tensors_(tensors), model_(model) {}

  Status add_layer(const std::string& class_name, const std::string& name, const json& config) {
    const std::string where = "layer '" + name + "' (" + class_name + "): ";
    std::string group = keras_snake_case(class_name);
    const int index = group_counts_[group]++;
    if (index > 0) group += "_" + std::to_string(index);
    state_.params = 0;

    if (class_name == "InputLayer") {
      CL_RETURN_IF_ERROR(add_input(config, where));
    } else {
      if (!state_.has_input) return Status::error(where + "comes before any InputLayer, expected the input first");
      if (class_name == "Conv2D") {
        CL_RETURN_IF_ERROR(add_conv2d(config, group, name, where));
      } else if (class_name == "DepthwiseConv2D") {
        CL_RETURN_IF_ERROR(add_depthwise(config, group, name, where, /*separable=*/false));
      } else if (class_name == "SeparableConv2D") {
        CL_RETURN_IF_ERROR(add_depthwise(config, group, name, where, /*separable=*/true));
      } else if (class_name == "BatchNormalization") {
        CL_RETURN_IF_ERROR(add_batch_norm(config, group, where));
      } else if (class_name == "Activation") {
        auto activation = activation_field(config, where);
        if (!activation) return activation.status();
        CL_RETURN_IF_ERROR(apply_activation(activation.value(), where));
      } else if (class_name == "ReLU") {
        CL_RETURN_IF_ERROR(check_plain_relu(config, where));
        CL_RETURN_IF_ERROR(apply_activation(Activation::relu, where));
      } else if (class_name == "Flatten") {
        state_.flattened = true;
      } else if (class_name == "Dropout") {
        // Identity at inference.
      } else if (class_name == "Dense") {
        CL_RETURN_IF_ERROR(add_dense(config, group, name, where));
      } else {
        return Status::error(where + "layer type \"" + class_name + "\" is not supported; supported: InputLayer, " +
                             "Conv2D, DepthwiseConv2D, SeparableConv2D, BatchNormalization, Activation, ReLU, " +
                             "Flatten, Dropout, Dense");
      }
    }
    const Shape3 out = state_.flattened ? Shape3{1, 1, static_cast<int>(state_.shape.size())} : state_.shape;
    model_.source_layers.push_back({name, class_name, out, state_.params});
    return Status::ok();
  }

  Status finish() {
    if (model_.layers.empty()) return Status::error("the model has no computing layers (Conv2D, Dense, ...)");
    return tensors_.check_all_consumed();
  }

 private:
  Result<std::vector<float>> take(const std::string& group, int j, const std::vector<std::int64_t>& shape,
                                  const std::string& where, const char* what) {
    auto tensor = tensors_.take(group, j, shape, where, what);
    if (!tensor) return tensor.status();
    state_.params += static_cast<std::int64_t>(tensor.value()->data.size());
    return tensor.value()->data;
  }

  Status add_input(const json& config, const std::string& where) {
    if (state_.has_input) return Status::error(where + "a second input; expected a single-input chain");
    const json* shape = member(config, "batch_shape");
    if (!shape) shape = member(config, "batch_input_shape");
    bool ok = shape && shape->is_array() && shape->size() == 4;
    int dims[3] = {0, 0, 0};
    for (int i = 0; ok && i < 3; ++i) {
      const json& d = (*shape)[i + 1];
      ok = d.is_number_integer() && d.get<std::int64_t>() > 0 && d.get<std::int64_t>() <= ModelLimits::max_dim;
      if (ok) dims[i] = static_cast<int>(d.get<std::int64_t>());
    }
    if (!ok)
      return Status::error(where + "input shape " + (shape ? shape->dump() : std::string("missing")) +
                           ", expected [null, height, width, channels]");
    state_.shape = {dims[0], dims[1], dims[2]};
    state_.has_input = true;
    model_.input = state_.shape;
    return Status::ok();
  }

  Status require_spatial(const std::string& where) {
    if (state_.flattened) return Status::error(where + "follows a Flatten, expected a (H, W, C) input");
    return Status::ok();
  }

  Status add_conv2d(const json& config, const std::string& group, const std::string& name, const std::string& where) {
    CL_RETURN_IF_ERROR(require_spatial(where));
    CL_RETURN_IF_ERROR(check_conv_options(config, where));
    auto filters = int_field(config, "filters", where);
    auto kernel = pair_field(config, "kernel_size", where, {0, 0});
    auto strides = pair_field(config, "strides", where, {1, 1});
    auto padding = string_field(config, "padding", where);
    auto use_bias = bool_field(config, "use_bias", where, true);
    auto activation = activation_field(config, where);
    for (const Status* s : {&filters.status(), &kernel.status(), &strides.status(), &padding.status(),
                            &use_bias.status(), &activation.status()})
      CL_RETURN_IF_ERROR(*s);
    if (filters.value() < 1 || filters.value() > ModelLimits::max_dim)
      return Status::error(where + "filters " + std::to_string(filters.value()) + ", expected 1.." +
                           std::to_string(ModelLimits::max_dim));
    const auto [kh, kw] = kernel.value();
    const auto [sh, sw] = strides.value();
    if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || kh > ModelLimits::max_kernel || kw > ModelLimits::max_kernel)
      return Status::error(where + "kernel_size and strides must be positive (kernel at most " +
                           std::to_string(ModelLimits::max_kernel) + ")");
    Layer layer;
    layer.kind = LayerKind::conv2d;
    layer.name = name;
    CL_RETURN_IF_ERROR(resolve_padding(padding.value(), state_.shape, kh, kw, sh, sw, layer, where));
    layer.out.c = filters.value();
    auto weights = take(group, 0, {kh, kw, state_.shape.c, filters.value()}, where, "kernel");
    if (!weights) return weights.status();
    layer.weights = std::move(weights).value();
    CL_RETURN_IF_ERROR(take_bias(layer, group, 1, use_bias.value(), where));
    layer.activation = activation.value();
    push(std::move(layer));
    return Status::ok();
  }

  Status add_depthwise(const json& config, const std::string& group, const std::string& name, const std::string& where,
                       bool separable) {
    CL_RETURN_IF_ERROR(require_spatial(where));
    CL_RETURN_IF_ERROR(check_conv_options(config, where));
    auto kernel = pair_field(config, "kernel_size", where, {0, 0});
    auto strides = pair_field(config, "strides", where, {1, 1});
    auto padding = string_field(config, "padding", where);
    auto use_bias = bool_field(config, "use_bias", where, true);
    auto activation = activation_field(config, where);
    for (const Status* s :
         {&kernel.status(), &strides.status(), &padding.status(), &use_bias.status(), &activation.status()})
      CL_RETURN_IF_ERROR(*s);
    const auto [kh, kw] = kernel.value();
    const auto [sh, sw] = strides.value();
    if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || kh > ModelLimits::max_kernel || kw > ModelLimits::max_kernel)
      return Status::error(where + "kernel_size and strides must be positive (kernel at most " +
                           std::to_string(ModelLimits::max_kernel) + ")");
    const int channels = state_.shape.c;

    Layer depthwise;
    depthwise.kind = LayerKind::depthwise_conv2d;
    depthwise.name = separable ? name + "/depthwise" : name;
    CL_RETURN_IF_ERROR(resolve_padding(padding.value(), state_.shape, kh, kw, sh, sw, depthwise, where));
    auto dw_weights = take(group, 0, {kh, kw, channels, 1}, where, "depthwise kernel");
    if (!dw_weights) return dw_weights.status();
    depthwise.weights = std::move(dw_weights).value();

    if (!separable) {
      CL_RETURN_IF_ERROR(take_bias(depthwise, group, 1, use_bias.value(), where));
      depthwise.activation = activation.value();
      push(std::move(depthwise));
      return Status::ok();
    }

    auto filters = int_field(config, "filters", where);
    if (!filters) return filters.status();
    if (filters.value() < 1 || filters.value() > ModelLimits::max_dim)
      return Status::error(where + "filters " + std::to_string(filters.value()) + ", expected 1.." +
                           std::to_string(ModelLimits::max_dim));
    depthwise.bias.assign(channels, 0.0f);
    const Shape3 mid = depthwise.out;
    push(std::move(depthwise));

    Layer pointwise;
    pointwise.kind = LayerKind::conv2d;
    pointwise.name = name + "/pointwise";
    pointwise.in = mid;
    pointwise.out = {mid.h, mid.w, filters.value()};
    auto pw_weights = take(group, 1, {1, 1, channels, filters.value()}, where, "pointwise kernel");
    if (!pw_weights) return pw_weights.status();
    pointwise.weights = std::move(pw_weights).value();
    CL_RETURN_IF_ERROR(take_bias(pointwise, group, 2, use_bias.value(), where));
    pointwise.activation = activation.value();
    push(std::move(pointwise));
    return Status::ok();
  }

  Status add_dense(const json& config, const std::string& group, const std::string& name, const std::string& where) {
    if (!state_.flattened && (state_.shape.h != 1 || state_.shape.w != 1))
      return Status::error(where + "applied to a " + std::to_string(state_.shape.h) + "x" +
                           std::to_string(state_.shape.w) + " map without a Flatten before it; expected a flat input");
    auto units = int_field(config, "units", where);
    auto use_bias = bool_field(config, "use_bias", where, true);
    auto activation = activation_field(config, where);
    for (const Status* s : {&units.status(), &use_bias.status(), &activation.status()}) CL_RETURN_IF_ERROR(*s);
    if (units.value() < 1 || units.value() > ModelLimits::max_dim)
      return Status::error(where + "units " + std::to_string(units.value()) + ", expected 1.." +
                           std::to_string(ModelLimits::max_dim));
    Layer layer;
    layer.kind = LayerKind::dense;
    layer.name = name;
    layer.in = state_.shape;
    layer.out = {1, 1, units.value()};
    auto weights = take(group, 0, {static_cast<std::int64_t>(state_.shape.size()), units.value()}, where, "kernel");
    if (!weights) return weights.status();
    layer.weights = std::move(weights).value();
    CL_RETURN_IF_ERROR(take_bias(layer, group, 1, use_bias.value(), where));
    layer.activation = activation.value();
    push(std::move(layer));
    state_.flattened = false;  // the output (1, 1, units) is already flat
    return Status::ok();
  }

  Status add_batch_norm(const json& config, const std::string& group, const std::string& where) {
    if (model_.layers.empty() || last_is_activated_ ||
        (state_.flattened && model_.layers.back().kind != LayerKind::dense))
      return Status::error(where +
                           "must directly follow a Conv2D, DepthwiseConv2D, SeparableConv2D or Dense "
                           "without an activation in between (it is folded into that layer)");
    if (const json* axis = member(config, "axis"); axis) {
      const bool last_axis = (axis->is_number_integer() && (*axis == -1 || *axis == 3)) ||
                             (axis->is_array() && axis->size() == 1 && (*axis)[0].is_number_integer() &&
                              ((*axis)[0] == -1 || (*axis)[0] == 3));
      if (!last_axis) return Status::error(where + "axis " + axis->dump() + " is not supported, expected -1");
    }
    const json* epsilon_value = member(config, "epsilon");
    if (!epsilon_value || !epsilon_value->is_number() || epsilon_value->get<double>() < 0)
      return Status::error(where + "epsilon is " + (epsilon_value ? epsilon_value->dump() : "missing") +
                           ", expected a non-negative number");
    const double epsilon = epsilon_value->get<double>();
    auto center = bool_field(config, "center", where, true);
    auto scale = bool_field(config, "scale", where, true);
    if (!center) return center.status();
    if (!scale) return scale.status();

    Layer& target = model_.layers.back();
    const std::int64_t channels = target.out.c;
    int j = 0;
    std::vector<float> gamma(channels, 1.0f), beta(channels, 0.0f);
    if (scale.value()) {
      auto g = take(group, j++, {channels}, where, "gamma");
      if (!g) return g.status();
      gamma = std::move(g).value();
    }
    if (center.value()) {
      auto b = take(group, j++, {channels}, where, "beta");
      if (!b) return b.status();
      beta = std::move(b).value();
    }
    auto mean = take(group, j++, {channels}, where, "moving_mean");
    if (!mean) return mean.status();
    auto variance = take(group, j++, {channels}, where, "moving_variance");
    if (!variance) return variance.status();
    for (std::int64_t c = 0; c < channels; ++c)
      if (variance.value()[c] + epsilon <= 0.0)
        return Status::error(where + "moving_variance[" + std::to_string(c) + "] + epsilon = " +
                             std::to_string(variance.value()[c] + epsilon) + ", expected a positive number");

    // y = gamma * (x - mean) / sqrt(var + eps) + beta, with x = w.in + b  =>  w' = w * s, b' = (b - mean) * s + beta.
    // Done in double so folding adds no error beyond the final rounding to float.
    std::vector<double> factor(channels);
    for (std::int64_t c = 0; c < channels; ++c)
      factor[c] = static_cast<double>(gamma[c]) / std::sqrt(static_cast<double>(variance.value()[c]) + epsilon);
    for (std::size_t i = 0; i < target.weights.size(); ++i)
      target.weights[i] = static_cast<float>(target.weights[i] * factor[i % channels]);
    for (std::int64_t c = 0; c < channels; ++c)
      target.bias[c] =
          static_cast<float>((static_cast<double>(target.bias[c]) - mean.value()[c]) * factor[c] + beta[c]);
    return Status::ok();
  }

  Status check_plain_relu(const json& config, const std::string& where) {
    for (const char* key : {"max_value", "negative_slope", "threshold"}) {
      const json* value = member(config, key);
      if (!value || value->is_null()) continue;
      if (value->is_number() && value->get<double>() == 0.0 && std::string(key) != "max_value") continue;
      return Status::error(where + key + " " + value->dump() + " is not supported, expected a plain ReLU");
    }
    return Status::ok();
  }

  Status apply_activation(Activation activation, const std::string& where) {
    if (activation == Activation::linear) return Status::ok();
    if (model_.layers.empty()) return Status::error(where + "an activation directly on the input is not supported");
    if (last_is_activated_)
      return Status::error(where + "a second activation after layer '" + model_.layers.back().name +
                           "' is not supported");
    model_.layers.back().activation = activation;
    last_is_activated_ = true;
    return Status::ok();
  }

  Status take_bias(Layer& layer, const std::string& group, int j, bool use_bias, const std::string& where) {
    if (!use_bias) {
      layer.bias.assign(layer.out.c, 0.0f);
      return Status::ok();
    }
    auto bias = take(group, j, {layer.out.c}, where, "bias");
    if (!bias) return bias.status();
    layer.bias = std::move(bias).value();
    return Status::ok();
  }

  void push(Layer layer) {
    last_is_activated_ = layer.activation != Activation::linear;
    state_.shape = layer.out;
    model_.layers.push_back(std::move(layer));
  }

  TensorIndex tensors_;
  Model& model_;
  ChainState state_;
  bool last_is_activated_ = false;
  std::map<std::string, int> group_counts_;
};

// The layers of the config in execution order, after checking they form one chain.
Result<std::vector<const json*>> chain_layers(const json& root) {
  const json* class_name = member(root, "class_name");
  const json* config = member(root, "config");
  if (!class_name || !class_name->is_string() || !config)
    return Status::error("config.json has no top-level \"class_name\" and \"config\", expected a Keras 3 model config");
  const std::string kind = class_name->get<std::string>();
  if (kind != "Functional" && kind != "Sequential" && kind != "Model")
    return Status::error("config.json describes a \"" + kind + "\", expected a Functional or Sequential model");
  const json* layers = member(*config, "layers");
  if (!layers || !layers->is_array() || layers->empty())
    return Status::error("config.json has no layer list, expected config.layers to be a non-empty array");
  if (layers->size() > static_cast<std::size_t>(ModelLimits::max_layers))
    return Status::error("config.json lists " + std::to_string(layers->size()) + " layers, more than the limit of " +
                         std::to_string(ModelLimits::max_layers));
  std::vector<const json*> chain;
  std::string previous;
  for (const json& layer : *layers) {
    const json* layer_config = member(layer, "config");
    const json* name = layer_config ? member(*layer_config, "name") : nullptr;
    if (!name || !name->is_string() || !member(layer, "class_name") || !member(layer, "class_name")->is_string())
      return Status::error("config.json: layer " + std::to_string(chain.size()) +
                           " has no class_name or config.name, expected both");
    const std::string this_name = name->get<std::string>();
    if (kind != "Sequential") {
      const json* inbound = member(layer, "inbound_nodes");
      const bool is_first = chain.empty();
      std::string source;
      if (inbound && inbound->is_array() && inbound->size() == 1) {
        const json* args = member((*inbound)[0], "args");
        if (args && args->is_array() && args->size() == 1) {
          const json* tensor_config = member((*args)[0], "config");
          const json* history = tensor_config ? member(*tensor_config, "keras_history") : nullptr;
          if (history && history->is_array() && !history->empty() && (*history)[0].is_string())
            source = (*history)[0].get<std::string>();
        }
      }
      const bool connects = is_first ? (!inbound || inbound->empty()) : source == previous;
      if (!connects)
        return Status::error("layer '" + this_name + "': its input is " +
                             (source.empty() ? "not a single tensor" : "'" + source + "'") + ", expected " +
                             (is_first ? "none (the InputLayer)" : "the output of '" + previous + "'") +
                             " (only single-chain models are supported)");
    }
    chain.push_back(&layer);
    previous = this_name;
  }
  if (kind != "Sequential") {
    const json* outputs = member(*config, "output_layers");
    if (outputs && outputs->is_array()) {
      const bool single = outputs->size() == 1 && (*outputs)[0].is_array() && !(*outputs)[0].empty() &&
                          (*outputs)[0][0].is_string() && (*outputs)[0][0] == previous;
      if (!single)
        return Status::error("config.json: output_layers is " + outputs->dump() + ", expected the last layer '" +
                             previous + "'");
    }
  }
  return chain;
}

}  // namespace

Result<Model> import_keras(std::string_view config_json, const std::vector<NamedTensor>& tensors,
                           const std::string& model_name) {
  const std::string context = "importing '" + model_name + "': ";
  const json root = json::parse(config_json.begin(), config_json.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return Status::error(context + "config.json is not valid JSON");
  auto chain = chain_layers(root);
  if (!chain) return chain.status().with_context(context);

  Model model;
  model.name = model_name;
  Importer importer(tensors, model);
  for (const json* layer : chain.value()) {
    const std::string class_name = (*layer)["class_name"].get<std::string>();
    const json& config = (*layer)["config"];
    CL_RETURN_IF_ERROR(importer.add_layer(class_name, config["name"].get<std::string>(), config).with_context(context));
  }
  CL_RETURN_IF_ERROR(importer.finish().with_context(context));
  model.output_names = v4_output_names(model_name, model.layers.back().out.size());
  CL_RETURN_IF_ERROR(validate_model(model).with_context(context));
  return model;
}

}  // namespace cortexlens
