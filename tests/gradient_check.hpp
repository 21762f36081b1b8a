// Gradient checking against central finite differences of a double-precision twin of the forward pass.
//
// The models here are piecewise linear in the input (convolutions, dense layers, ReLU). Between ReLU kinks a
// central difference is therefore exact up to double rounding, so the check can be tight; the only thing to
// avoid is a difference that straddles a kink. A kink lies between x - h and x + h exactly when some ReLU's
// pre-activation has a different sign at the two ends (on a segment inside one linear region every
// pre-activation is linear, so equal signs at both ends mean no crossing), and such points are skipped
// (ggml's tests/test-backend-ops.cpp does the same for its non-differentiable ops).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cortexlens/backward.hpp"

namespace cortexlens::gradcheck {

// One layer in double: the plain loops of kernels/f32_ref.cpp. Returns the pre-activation in `pre` and the output
// (after the activation) in `out`.
inline void layer_double(const Layer& layer, const std::vector<double>& in, std::vector<double>& pre,
                         std::vector<double>& out) {
  const Shape3 is = layer.in, os = layer.out;
  pre.assign(os.size(), 0.0);
  if (layer.kind == LayerKind::dense) {
    for (int o = 0; o < os.c; ++o) {
      double acc = layer.bias[o];
      for (std::size_t i = 0; i < is.size(); ++i) acc += in[i] * static_cast<double>(layer.weights[i * os.c + o]);
      pre[o] = acc;
    }
  } else {
    const bool depthwise = layer.kind == LayerKind::depthwise_conv2d;
    for (int oy = 0; oy < os.h; ++oy)
      for (int ox = 0; ox < os.w; ++ox)
        for (int oc = 0; oc < os.c; ++oc) {
          double acc = layer.bias[oc];
          for (int ky = 0; ky < layer.kernel_h; ++ky) {
            const int iy = oy * layer.stride_h - layer.pad.top + ky;
            if (iy < 0 || iy >= is.h) continue;
            for (int kx = 0; kx < layer.kernel_w; ++kx) {
              const int ix = ox * layer.stride_w - layer.pad.left + kx;
              if (ix < 0 || ix >= is.w) continue;
              const std::size_t pixel = (static_cast<std::size_t>(iy) * is.w + ix) * is.c;
              const std::size_t tap = static_cast<std::size_t>(ky) * layer.kernel_w + kx;
              if (depthwise) {
                acc += in[pixel + oc] * static_cast<double>(layer.weights[tap * is.c + oc]);
              } else {
                for (int ic = 0; ic < is.c; ++ic)
                  acc += in[pixel + ic] * static_cast<double>(layer.weights[(tap * is.c + ic) * os.c + oc]);
              }
            }
          }
          pre[(static_cast<std::size_t>(oy) * os.w + ox) * os.c + oc] = acc;
        }
  }
  out = pre;
  if (layer.activation == Activation::relu)
    for (auto& v : out) v = std::max(v, 0.0);
}

// The selected scalar in double. `signs` receives one bit per ReLU unit (pre-activation > 0), for kink detection.
inline double forward_double(const Model& model, const std::vector<double>& input, const OutputSelector& s,
                             std::vector<std::uint8_t>* signs = nullptr) {
  const int last = s.layer < 0 ? static_cast<int>(model.layers.size()) - 1 : s.layer;
  std::vector<double> x = input, pre, out;
  if (signs) signs->clear();
  for (int l = 0; l <= last; ++l) {
    layer_double(model.layers[l], x, pre, out);
    if (signs && model.layers[l].activation == Activation::relu)
      for (double v : pre) signs->push_back(v > 0.0);
    x.swap(out);
  }
  const Shape3 os = model.layers[last].out;
  if (s.layer < 0) return x[s.channel];
  if (s.y >= 0) return x[(static_cast<std::size_t>(s.y) * os.w + s.x) * os.c + s.channel];
  double sum = 0.0;
  for (int p = 0; p < os.h * os.w; ++p) sum += x[static_cast<std::size_t>(p) * os.c + s.channel];
  return sum / (os.h * os.w);
}

struct Report {
  int checked = 0, skipped = 0;
  double max_error = 0.0;  // max |analytic - numeric| over checked coordinates
  // max over checked directions of |analytic - numeric| / sum_i |g_i v_i|: rounding in a float gradient grows
  // with the terms of the dot product, so a direction's error is measured against their magnitude.
  double max_direction_error = 0.0;
  double scale = 0.0;  // max |analytic| over the whole gradient, the yardstick for the tolerance
};

// Central differences along each coordinate in `coords`, and along each direction in `directions` (a direction
// checks the whole gradient at once: g . v against (f(x + h v) - f(x - h v)) / 2h).
inline Report check(const Model& model, const Tensor& input, const OutputSelector& s, const std::vector<float>& grad,
                    const std::vector<std::size_t>& coords, const std::vector<std::vector<double>>& directions,
                    double h) {
  Report report;
  for (float g : grad) report.scale = std::max(report.scale, static_cast<double>(std::fabs(g)));
  const std::vector<double> x(input.data.begin(), input.data.end());
  std::vector<std::uint8_t> signs_plus, signs_minus;
  auto probe = [&](const std::vector<double>& v, double analytic, double magnitude) {
    std::vector<double> plus = x, minus = x;
    for (std::size_t i = 0; i < x.size(); ++i) {
      plus[i] += h * v[i];
      minus[i] -= h * v[i];
    }
    const double fp = forward_double(model, plus, s, &signs_plus);
    const double fm = forward_double(model, minus, s, &signs_minus);
    if (signs_plus != signs_minus) {
      ++report.skipped;
      return;
    }
    ++report.checked;
    const double error = std::fabs(analytic - (fp - fm) / (2 * h));
    if (magnitude > 0)
      report.max_direction_error = std::max(report.max_direction_error, error / magnitude);
    else
      report.max_error = std::max(report.max_error, error);
  };
  std::vector<double> e(x.size(), 0.0);
  for (std::size_t i : coords) {
    e[i] = 1.0;
    probe(e, grad[i], 0.0);
    e[i] = 0.0;
  }
  for (const auto& v : directions) {
    double analytic = 0.0, magnitude = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      analytic += static_cast<double>(grad[i]) * v[i];
      magnitude += std::fabs(static_cast<double>(grad[i]) * v[i]);
    }
    probe(v, analytic, magnitude > 0 ? magnitude : 1e-300);
  }
  return report;
}

}  // namespace cortexlens::gradcheck
