// Small models for the visualization tests, built in code.
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>

#include "cortexlens/model.hpp"
#include "cortexlens/synthesis.hpp"

namespace cortexlens::testmodels {

// A small RGB model (conv 5x5 relu -> depthwise stride 2 -> pointwise relu -> dense), fast enough for hundreds of
// synthesis steps in a test. Input 24x24 so the Fourier canvas is 64x64.
inline Model small_rgb_model(unsigned seed, bool zero_bias = false) {
  // Our own generator, not std::normal_distribution, whose output differs between libstdc++ and libc++: the
  // model must be the same natively and compiled to wasm.
  Pcg32 rng(seed);
  auto fill = [&](std::size_t n, float scale) {
    std::vector<float> v(n);
    for (auto& x : v) x = scale * rng.normal();
    return v;
  };
  Model m;
  m.name = "small";
  m.input = {24, 24, 3};
  Layer conv;
  conv.kind = LayerKind::conv2d;
  conv.name = "conv";
  conv.kernel_h = conv.kernel_w = 5;
  conv.pad = {2, 2, 2, 2};
  conv.in = m.input;
  conv.out = {24, 24, 6};
  conv.weights = fill(5 * 5 * 3 * 6, 0.01f);
  conv.bias = fill(6, 0.1f);
  conv.activation = Activation::relu;
  Layer dw;
  dw.kind = LayerKind::depthwise_conv2d;
  dw.name = "dw";
  dw.kernel_h = dw.kernel_w = 5;
  dw.stride_h = dw.stride_w = 2;
  dw.pad = {1, 2, 1, 2};
  dw.in = conv.out;
  dw.out = {12, 12, 6};
  dw.weights = fill(5 * 5 * 6, 0.2f);
  dw.bias.assign(6, 0.0f);
  Layer pw;
  pw.kind = LayerKind::conv2d;
  pw.name = "pw";
  pw.in = dw.out;
  pw.out = {12, 12, 4};
  pw.weights = fill(6 * 4, 0.5f);
  pw.bias = fill(4, 0.1f);
  pw.activation = Activation::relu;
  Layer dense;
  dense.kind = LayerKind::dense;
  dense.name = "readout";
  dense.in = pw.out;
  dense.out = {1, 1, 1};
  dense.weights = fill(pw.out.size(), 0.1f);
  dense.bias = {0.0f};
  if (zero_bias)
    for (Layer* l : {&conv, &dw, &pw, &dense}) std::fill(l->bias.begin(), l->bias.end(), 0.0f);
  m.layers = {conv, dw, pw, dense};
  m.output_names = {"out"};
  REQUIRE(validate_model(m).is_ok());
  return m;
}

}  // namespace cortexlens::testmodels
