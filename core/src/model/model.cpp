#include "cortexlens/model.hpp"

#include <cmath>
#include <sstream>

namespace cortexlens {

const char* layer_kind_name(LayerKind kind) {
  switch (kind) {
    case LayerKind::conv2d:
      return "conv2d";
    case LayerKind::depthwise_conv2d:
      return "depthwise_conv2d";
    case LayerKind::dense:
      return "dense";
  }
  return "unknown";
}

const char* activation_name(Activation activation) { return activation == Activation::relu ? "relu" : "linear"; }

std::int64_t Layer::multiply_adds() const {
  const std::int64_t positions = static_cast<std::int64_t>(out.h) * out.w;
  switch (kind) {
    case LayerKind::conv2d:
      return positions * out.c * kernel_h * kernel_w * in.c;
    case LayerKind::depthwise_conv2d:
      return positions * out.c * kernel_h * kernel_w;
    case LayerKind::dense:
      return static_cast<std::int64_t>(in.size()) * out.c;
  }
  return 0;
}

std::int64_t Model::source_params() const {
  std::int64_t total = 0;
  for (const auto& layer : source_layers) total += layer.params;
  return total;
}

std::int64_t Model::multiply_adds() const {
  std::int64_t total = 0;
  for (const auto& layer : layers) total += layer.multiply_adds();
  return total;
}

int conv_output_size(int in, int kernel, int stride, int pad_before, int pad_after) {
  const int span = in + pad_before + pad_after - kernel;
  return span < 0 ? 0 : span / stride + 1;
}

std::pair<int, int> same_padding(int in, int kernel, int stride) {
  const int out = (in + stride - 1) / stride;
  const int total = std::max((out - 1) * stride + kernel - in, 0);
  return {total / 2, total - total / 2};
}

namespace {

std::string shape_text(const Shape3& s) {
  std::ostringstream text;
  text << "(" << s.h << "," << s.w << "," << s.c << ")";
  return text.str();
}

bool dims_ok(const Shape3& s) {
  return s.h > 0 && s.w > 0 && s.c > 0 && s.h <= ModelLimits::max_dim && s.w <= ModelLimits::max_dim &&
         s.c <= ModelLimits::max_dim && static_cast<std::int64_t>(s.size()) <= ModelLimits::max_tensor_elements;
}

Status validate_layer(const Layer& layer, const Shape3& expected_in) {
  const std::string where = "layer '" + layer.name + "' (" + layer_kind_name(layer.kind) + "): ";
  if (layer.in != expected_in)
    return Status::error(where + "input shape " + shape_text(layer.in) + " does not match the previous output " +
                         shape_text(expected_in));
  if (!dims_ok(layer.in) || !dims_ok(layer.out))
    return Status::error(where + "shape " + shape_text(layer.in) + " -> " + shape_text(layer.out) +
                         " is empty or exceeds the limits (each dimension 1.." + std::to_string(ModelLimits::max_dim) +
                         ")");

  std::size_t expected_weights = 0;
  if (layer.kind == LayerKind::dense) {
    if (layer.out.h != 1 || layer.out.w != 1)
      return Status::error(where + "output shape " + shape_text(layer.out) + ", expected (1,1,units)");
    expected_weights = layer.in.size() * static_cast<std::size_t>(layer.out.c);
  } else {
    if (layer.kernel_h < 1 || layer.kernel_w < 1 || layer.kernel_h > ModelLimits::max_kernel ||
        layer.kernel_w > ModelLimits::max_kernel || layer.stride_h < 1 || layer.stride_w < 1 ||
        layer.stride_h > ModelLimits::max_kernel || layer.stride_w > ModelLimits::max_kernel)
      return Status::error(where + "kernel " + std::to_string(layer.kernel_h) + "x" + std::to_string(layer.kernel_w) +
                           " stride " + std::to_string(layer.stride_h) + "x" + std::to_string(layer.stride_w) +
                           ", expected kernel and stride in 1.." + std::to_string(ModelLimits::max_kernel));
    const Padding& p = layer.pad;
    if (p.top < 0 || p.bottom < 0 || p.left < 0 || p.right < 0 || p.top >= layer.kernel_h ||
        p.bottom >= layer.kernel_h || p.left >= layer.kernel_w || p.right >= layer.kernel_w)
      return Status::error(where + "padding (top " + std::to_string(p.top) + ", bottom " + std::to_string(p.bottom) +
                           ", left " + std::to_string(p.left) + ", right " + std::to_string(p.right) +
                           ") must be non-negative and smaller than the kernel");
    const int out_h = conv_output_size(layer.in.h, layer.kernel_h, layer.stride_h, p.top, p.bottom);
    const int out_w = conv_output_size(layer.in.w, layer.kernel_w, layer.stride_w, p.left, p.right);
    if (out_h != layer.out.h || out_w != layer.out.w)
      return Status::error(where + "output " + std::to_string(layer.out.h) + "x" + std::to_string(layer.out.w) +
                           " does not follow from input " + std::to_string(layer.in.h) + "x" +
                           std::to_string(layer.in.w) + ", kernel, stride and padding (expected " +
                           std::to_string(out_h) + "x" + std::to_string(out_w) + ")");
    const std::size_t taps = static_cast<std::size_t>(layer.kernel_h) * layer.kernel_w;
    if (layer.kind == LayerKind::conv2d) {
      expected_weights = taps * layer.in.c * layer.out.c;
    } else {
      if (layer.out.c != layer.in.c)
        return Status::error(where + "output has " + std::to_string(layer.out.c) + " channels, expected " +
                             std::to_string(layer.in.c) + " (depth multiplier 1)");
      expected_weights = taps * layer.in.c;
    }
  }
  if (static_cast<std::int64_t>(expected_weights) > ModelLimits::max_tensor_elements)
    return Status::error(where + "needs " + std::to_string(expected_weights) + " weights, more than the limit of " +
                         std::to_string(ModelLimits::max_tensor_elements));
  if (layer.weights.size() != expected_weights)
    return Status::error(where + "has " + std::to_string(layer.weights.size()) + " weights, expected " +
                         std::to_string(expected_weights));
  if (layer.bias.size() != static_cast<std::size_t>(layer.out.c))
    return Status::error(where + "has " + std::to_string(layer.bias.size()) + " biases, expected " +
                         std::to_string(layer.out.c));
  for (std::size_t i = 0; i < layer.weights.size(); ++i)
    if (!std::isfinite(layer.weights[i]))
      return Status::error(where + "weight " + std::to_string(i) + " is " + std::to_string(layer.weights[i]) +
                           ", expected a finite number");
  for (std::size_t i = 0; i < layer.bias.size(); ++i)
    if (!std::isfinite(layer.bias[i]))
      return Status::error(where + "bias " + std::to_string(i) + " is " + std::to_string(layer.bias[i]) +
                           ", expected a finite number");
  return Status::ok();
}

}  // namespace

Status validate_model(const Model& model) {
  const std::string where = "model '" + model.name + "': ";
  if (model.layers.empty()) return Status::error(where + "has no layers, expected at least one");
  if (model.layers.size() > static_cast<std::size_t>(ModelLimits::max_layers))
    return Status::error(where + "has " + std::to_string(model.layers.size()) + " layers, more than the limit of " +
                         std::to_string(ModelLimits::max_layers));
  if (!dims_ok(model.input)) return Status::error(where + "input shape " + shape_text(model.input) + " is invalid");
  Shape3 current = model.input;
  std::int64_t total_weights = 0;
  for (const auto& layer : model.layers) {
    CL_RETURN_IF_ERROR(validate_layer(layer, current).with_context(where));
    total_weights += static_cast<std::int64_t>(layer.weights.size());
    if (total_weights > ModelLimits::max_total_weights)
      return Status::error(where + "has more than " + std::to_string(ModelLimits::max_total_weights) + " weights");
    current = layer.out;
  }
  const std::size_t outputs = current.size();
  if (model.output_names.size() != outputs)
    return Status::error(where + "has " + std::to_string(model.output_names.size()) + " output names, expected " +
                         std::to_string(outputs) + " (one per value of the last layer's " + shape_text(current) +
                         " output)");
  return Status::ok();
}

}  // namespace cortexlens
