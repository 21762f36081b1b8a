// Scalar reference kernels: the plainest statement of each layer's semantics, forward and backward to the input.
// Fast kernels are tested against these.
#include <algorithm>

#include "kernels/kernels.hpp"

namespace cortexlens {

namespace {
inline float activate(Activation activation, float value) {
  return activation == Activation::relu ? std::max(value, 0.0f) : value;
}
}  // namespace

void conv2d_f32_ref(const Layer& layer, const float* in, float* out) {
  const Shape3 is = layer.in, os = layer.out;
  for (int oy = 0; oy < os.h; ++oy)
    for (int ox = 0; ox < os.w; ++ox)
      for (int oc = 0; oc < os.c; ++oc) {
        float acc = layer.bias[oc];
        for (int ky = 0; ky < layer.kernel_h; ++ky) {
          const int iy = oy * layer.stride_h - layer.pad.top + ky;
          if (iy < 0 || iy >= is.h) continue;
          for (int kx = 0; kx < layer.kernel_w; ++kx) {
            const int ix = ox * layer.stride_w - layer.pad.left + kx;
            if (ix < 0 || ix >= is.w) continue;
            for (int ic = 0; ic < is.c; ++ic)
              acc += in[(static_cast<std::size_t>(iy) * is.w + ix) * is.c + ic] *
                     layer.weights[((static_cast<std::size_t>(ky) * layer.kernel_w + kx) * is.c + ic) * os.c + oc];
          }
        }
        out[(static_cast<std::size_t>(oy) * os.w + ox) * os.c + oc] = activate(layer.activation, acc);
      }
}

void depthwise_conv2d_f32_ref(const Layer& layer, const float* in, float* out) {
  const Shape3 is = layer.in, os = layer.out;
  for (int oy = 0; oy < os.h; ++oy)
    for (int ox = 0; ox < os.w; ++ox)
      for (int c = 0; c < os.c; ++c) {
        float acc = layer.bias[c];
        for (int ky = 0; ky < layer.kernel_h; ++ky) {
          const int iy = oy * layer.stride_h - layer.pad.top + ky;
          if (iy < 0 || iy >= is.h) continue;
          for (int kx = 0; kx < layer.kernel_w; ++kx) {
            const int ix = ox * layer.stride_w - layer.pad.left + kx;
            if (ix < 0 || ix >= is.w) continue;
            acc += in[(static_cast<std::size_t>(iy) * is.w + ix) * is.c + c] *
                   layer.weights[(static_cast<std::size_t>(ky) * layer.kernel_w + kx) * is.c + c];
          }
        }
        out[(static_cast<std::size_t>(oy) * os.w + ox) * os.c + c] = activate(layer.activation, acc);
      }
}

void dense_f32_ref(const Layer& layer, const float* in, float* out) {
  const std::size_t inputs = layer.in.size();
  const int units = layer.out.c;
  for (int o = 0; o < units; ++o) {
    float acc = layer.bias[o];
    for (std::size_t i = 0; i < inputs; ++i) acc += in[i] * layer.weights[i * units + o];
    out[o] = activate(layer.activation, acc);
  }
}

void run_layer_f32(const Layer& layer, const float* in, float* out, bool use_reference) {
  switch (layer.kind) {
    case LayerKind::conv2d:
      return use_reference ? conv2d_f32_ref(layer, in, out) : conv2d_f32(layer, in, out);
    case LayerKind::depthwise_conv2d:
      return use_reference ? depthwise_conv2d_f32_ref(layer, in, out) : depthwise_conv2d_f32(layer, in, out);
    case LayerKind::dense:
      return use_reference ? dense_f32_ref(layer, in, out) : dense_f32(layer, in, out);
  }
}

// ---- backward to the input: the chain rule in scatter form, mirroring the forward loops above ----

void conv2d_backward_input_f32_ref(const Layer& layer, const float* dy, float* dx) {
  const Shape3 is = layer.in, os = layer.out;
  std::fill(dx, dx + is.size(), 0.0f);
  for (int oy = 0; oy < os.h; ++oy)
    for (int ox = 0; ox < os.w; ++ox)
      for (int oc = 0; oc < os.c; ++oc) {
        const float g = dy[(static_cast<std::size_t>(oy) * os.w + ox) * os.c + oc];
        for (int ky = 0; ky < layer.kernel_h; ++ky) {
          const int iy = oy * layer.stride_h - layer.pad.top + ky;
          if (iy < 0 || iy >= is.h) continue;
          for (int kx = 0; kx < layer.kernel_w; ++kx) {
            const int ix = ox * layer.stride_w - layer.pad.left + kx;
            if (ix < 0 || ix >= is.w) continue;
            for (int ic = 0; ic < is.c; ++ic)
              dx[(static_cast<std::size_t>(iy) * is.w + ix) * is.c + ic] +=
                  g * layer.weights[((static_cast<std::size_t>(ky) * layer.kernel_w + kx) * is.c + ic) * os.c + oc];
          }
        }
      }
}

void depthwise_conv2d_backward_input_f32_ref(const Layer& layer, const float* dy, float* dx) {
  const Shape3 is = layer.in, os = layer.out;
  std::fill(dx, dx + is.size(), 0.0f);
  for (int oy = 0; oy < os.h; ++oy)
    for (int ox = 0; ox < os.w; ++ox)
      for (int c = 0; c < os.c; ++c) {
        const float g = dy[(static_cast<std::size_t>(oy) * os.w + ox) * os.c + c];
        for (int ky = 0; ky < layer.kernel_h; ++ky) {
          const int iy = oy * layer.stride_h - layer.pad.top + ky;
          if (iy < 0 || iy >= is.h) continue;
          for (int kx = 0; kx < layer.kernel_w; ++kx) {
            const int ix = ox * layer.stride_w - layer.pad.left + kx;
            if (ix < 0 || ix >= is.w) continue;
            dx[(static_cast<std::size_t>(iy) * is.w + ix) * is.c + c] +=
                g * layer.weights[(static_cast<std::size_t>(ky) * layer.kernel_w + kx) * is.c + c];
          }
        }
      }
}

void dense_backward_input_f32_ref(const Layer& layer, const float* dy, float* dx) {
  const std::size_t inputs = layer.in.size();
  const int units = layer.out.c;
  for (std::size_t i = 0; i < inputs; ++i) {
    float acc = 0.0f;
    for (int o = 0; o < units; ++o) acc += dy[o] * layer.weights[i * units + o];
    dx[i] = acc;
  }
}

}  // namespace cortexlens
