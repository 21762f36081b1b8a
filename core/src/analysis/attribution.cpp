#include "cortexlens/attribution.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "cortexlens/forward.hpp"

namespace cortexlens {

Result<Tensor> saliency_gradient_x_input(const Model& model, const Tensor& input, const OutputSelector& selector,
                                         float* value) {
  auto g = input_gradient(model, input, selector);
  if (!g) return g.status();
  const Shape3 s = model.input;
  Tensor map({s.h, s.w, 1});
  for (std::size_t p = 0; p < static_cast<std::size_t>(s.h) * s.w; ++p) {
    float acc = 0.0f;
    for (int c = 0; c < s.c; ++c) acc += g.value().gradient.data[p * s.c + c] * input.data[p * s.c + c];
    map.data[p] = acc;
  }
  if (value) *value = g.value().value;
  return map;
}

namespace {

// The selected value by a forward pass (the whole model; selectors of internal layers read its activations).
Result<float> selected_value(const Model& model, const Tensor& input, const OutputSelector& s) {
  auto out = forward(model, input, {/*keep_activations=*/s.layer >= 0});
  if (!out) return out.status();
  if (s.layer < 0) return out.value().outputs[s.channel];
  const Tensor& a = out.value().activations[s.layer];
  if (s.y >= 0) return a.at(s.y, s.x, s.channel);
  double sum = 0.0;
  for (int y = 0; y < a.shape.h; ++y)
    for (int x = 0; x < a.shape.w; ++x) sum += a.at(y, x, s.channel);
  return static_cast<float>(sum / (a.shape.h * a.shape.w));
}

}  // namespace

Result<OcclusionMap> occlusion_map(const Model& model, const Tensor& input, const OutputSelector& selector,
                                   const OcclusionOptions& options, const std::function<bool(int, int)>& progress) {
  CL_RETURN_IF_ERROR(check_selector(model, selector));
  const Shape3 s = model.input;
  const int side = std::min(s.h, s.w);
  if (options.patch < 1 || options.patch > side || options.stride < 1 || options.stride > side)
    return Status::error("occlusion patch " + std::to_string(options.patch) + " and stride " +
                         std::to_string(options.stride) + " must both be 1.." + std::to_string(side));
  auto base = selected_value(model, input, selector);
  if (!base) return base.status();
  OcclusionMap map;
  map.baseline = base.value();
  // Positions until the patch reaches the far edge; the last one may overhang and is clipped.
  map.rows = (std::max(s.h - options.patch, 0) + options.stride - 1) / options.stride + 1;
  map.cols = (std::max(s.w - options.patch, 0) + options.stride - 1) / options.stride + 1;
  map.drops = Tensor({map.rows, map.cols, 1});
  Tensor covered_sum({s.h, s.w, 1}), covered_count({s.h, s.w, 1});
  Tensor occluded = input;
  for (int r = 0; r < map.rows; ++r) {
    for (int c = 0; c < map.cols; ++c) {
      const int y0 = r * options.stride, x0 = c * options.stride;
      const int y1 = std::min(y0 + options.patch, s.h), x1 = std::min(x0 + options.patch, s.w);
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x)
          for (int ch = 0; ch < s.c; ++ch) occluded.at(y, x, ch) = 0.0f;
      auto value = selected_value(model, occluded, selector);
      if (!value) return value.status();
      const float drop = map.baseline - value.value();
      map.drops.at(r, c, 0) = drop;
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) {
          covered_sum.at(y, x, 0) += drop;
          covered_count.at(y, x, 0) += 1.0f;
          for (int ch = 0; ch < s.c; ++ch) occluded.at(y, x, ch) = input.at(y, x, ch);
        }
    }
    if (progress && !progress(r + 1, map.rows)) return Status::error("occlusion map cancelled");
  }
  map.per_pixel = Tensor({s.h, s.w, 1});
  for (std::size_t i = 0; i < map.per_pixel.data.size(); ++i)
    map.per_pixel.data[i] = covered_count.data[i] > 0 ? covered_sum.data[i] / covered_count.data[i] : 0.0f;
  return map;
}

Result<Tensor> readout_map(const Model& model, const Tensor& input, int output, float* bias) {
  if (model.layers.size() < 2)
    return Status::error("model '" + model.name + "' has no readout: it needs a layer before its last one");
  const Layer& last = model.layers.back();
  const Shape3 in = last.in;
  const bool dense = last.kind == LayerKind::dense;
  const bool spatial_pool = last.kind == LayerKind::depthwise_conv2d && last.kernel_h == in.h &&
                            last.kernel_w == in.w && last.out.h == 1 && last.out.w == 1 && last.pad.top == 0 &&
                            last.pad.left == 0;
  if (!dense && !spatial_pool)
    return Status::error("model '" + model.name + "': the readout map needs a last layer that is Dense or a " +
                         "depthwise convolution over its whole input; found " + layer_kind_name(last.kind) + " '" +
                         last.name + "'");
  if (output < 0 || output >= last.out.c)
    return Status::error("output " + std::to_string(output) + " out of range: expected 0.." +
                         std::to_string(last.out.c - 1));
  if (last.activation != Activation::linear)
    return Status::error("layer '" + last.name + "' has an activation after its readout; the map would not add up");
  auto run = forward(model, input, {/*keep_activations=*/true});
  if (!run) return run.status();
  const Tensor& a = run.value().activations[model.layers.size() - 2];  // (H, W, C), the readout's input
  Tensor map({in.h, in.w, 1});
  for (int y = 0; y < in.h; ++y)
    for (int x = 0; x < in.w; ++x) {
      float acc = 0.0f;
      if (dense) {
        for (int c = 0; c < in.c; ++c)
          acc +=
              a.at(y, x, c) * last.weights[((static_cast<std::size_t>(y) * in.w + x) * in.c + c) * last.out.c + output];
      } else {
        acc = a.at(y, x, output) * last.weights[(static_cast<std::size_t>(y) * in.w + x) * in.c + output];
      }
      map.at(y, x, 0) = acc;
    }
  if (bias) *bias = last.bias[output];
  return map;
}

Status ablate_in_place(Model& model, int layer, int channel, float scale) {
  const int count = static_cast<int>(model.layers.size());
  if (layer < 0 || layer >= count)
    return Status::error("ablation layer " + std::to_string(layer) + " out of range: expected 0.." +
                         std::to_string(count - 1));
  Layer& l = model.layers[layer];
  if (channel < 0 || channel >= l.out.c)
    return Status::error("ablation channel " + std::to_string(channel) + " of layer '" + l.name +
                         "' out of range: expected 0.." + std::to_string(l.out.c - 1));
  if (!std::isfinite(scale) || (scale < 0.0f && l.activation == Activation::relu))
    return Status::error("ablation scale " + std::to_string(scale) + " for ReLU layer '" + l.name +
                         "': expected a finite value >= 0");
  const int out_c = l.out.c;
  // conv2d (kh, kw, in, out), depthwise (kh, kw, C) and dense (in, out): the output channel is the fastest index.
  for (std::size_t i = static_cast<std::size_t>(channel); i < l.weights.size(); i += out_c) l.weights[i] *= scale;
  l.bias[channel] *= scale;
  for (auto& layer_ : model.layers) layer_.int8.reset();
  return Status::ok();
}

Result<Model> ablate(const Model& model, int layer, int channel, float scale) {
  Model copy = model;
  CL_RETURN_IF_ERROR(ablate_in_place(copy, layer, channel, scale));
  return copy;
}

}  // namespace cortexlens
