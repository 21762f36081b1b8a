// A layer of any kind with random weights and the geometry Keras would give it ("same" or "valid"),
// shared by the kernel and backward tests.
#pragma once

#include <random>

#include "cortexlens/model.hpp"

namespace cortexlens::test {

inline Layer random_layer(LayerKind kind, Shape3 in, int out_c, int k, int stride, bool same, Activation act,
                          std::mt19937& rng) {
  Layer layer;
  layer.kind = kind;
  layer.name = "test";
  layer.in = in;
  layer.kernel_h = layer.kernel_w = k;
  layer.stride_h = layer.stride_w = stride;
  if (same) {
    auto [t, b] = same_padding(in.h, k, stride);
    auto [l, r] = same_padding(in.w, k, stride);
    layer.pad = {t, b, l, r};
  }
  layer.activation = act;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::size_t weights = 0;
  if (kind == LayerKind::dense) {
    layer.out = {1, 1, out_c};
    weights = in.size() * out_c;
  } else {
    const int oh = conv_output_size(in.h, k, stride, layer.pad.top, layer.pad.bottom);
    const int ow = conv_output_size(in.w, k, stride, layer.pad.left, layer.pad.right);
    layer.out = {oh, ow, kind == LayerKind::conv2d ? out_c : in.c};
    weights = static_cast<std::size_t>(k) * k * in.c * (kind == LayerKind::conv2d ? out_c : 1);
  }
  for (std::size_t i = 0; i < weights; ++i) layer.weights.push_back(normal(rng));
  for (int i = 0; i < layer.out.c; ++i) layer.bias.push_back(normal(rng));
  return layer;
}

}  // namespace cortexlens::test
