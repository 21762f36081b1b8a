// Portable fast float kernels. They keep the output pixel's channels in a contiguous accumulator so the innermost
// loop runs over output channels with unit stride (HWIO weights), which compilers vectorize natively and with
// -msimd128; tap ranges are clipped per row/column instead of testing bounds inside the loops.
#include <algorithm>
#include <vector>

#include "cortexlens/kernels.hpp"

namespace cortexlens {

namespace {

struct TapRange {
  int first, last;  // kernel taps [first, last) that land inside the input
};

inline TapRange valid_taps(int out_index, int stride, int pad_before, int kernel, int in_size) {
  const int origin = out_index * stride - pad_before;
  return {std::max(0, -origin), std::min(kernel, in_size - origin)};
}

inline void apply_activation(Activation activation, float* values, int count) {
  if (activation != Activation::relu) return;
  for (int i = 0; i < count; ++i) values[i] = values[i] > 0.0f ? values[i] : 0.0f;
}

}  // namespace

void conv2d_f32(const Layer& layer, const float* in, float* out) {
  const Shape3 is = layer.in, os = layer.out;
  const int in_c = is.c, out_c = os.c;
  for (int oy = 0; oy < os.h; ++oy) {
    const TapRange ty = valid_taps(oy, layer.stride_h, layer.pad.top, layer.kernel_h, is.h);
    for (int ox = 0; ox < os.w; ++ox) {
      const TapRange tx = valid_taps(ox, layer.stride_w, layer.pad.left, layer.kernel_w, is.w);
      float* acc = out + (static_cast<std::size_t>(oy) * os.w + ox) * out_c;
      std::copy(layer.bias.begin(), layer.bias.end(), acc);
      for (int ky = ty.first; ky < ty.last; ++ky) {
        const int iy = oy * layer.stride_h - layer.pad.top + ky;
        for (int kx = tx.first; kx < tx.last; ++kx) {
          const int ix = ox * layer.stride_w - layer.pad.left + kx;
          const float* pixel = in + (static_cast<std::size_t>(iy) * is.w + ix) * in_c;
          const float* tap = layer.weights.data() + (static_cast<std::size_t>(ky) * layer.kernel_w + kx) * in_c * out_c;
          for (int ic = 0; ic < in_c; ++ic) {
            const float value = pixel[ic];
            const float* w = tap + static_cast<std::size_t>(ic) * out_c;
            for (int oc = 0; oc < out_c; ++oc) acc[oc] += value * w[oc];
          }
        }
      }
      apply_activation(layer.activation, acc, out_c);
    }
  }
}

void depthwise_conv2d_f32(const Layer& layer, const float* in, float* out) {
  const Shape3 is = layer.in, os = layer.out;
  const int channels = os.c;
  for (int oy = 0; oy < os.h; ++oy) {
    const TapRange ty = valid_taps(oy, layer.stride_h, layer.pad.top, layer.kernel_h, is.h);
    for (int ox = 0; ox < os.w; ++ox) {
      const TapRange tx = valid_taps(ox, layer.stride_w, layer.pad.left, layer.kernel_w, is.w);
      float* acc = out + (static_cast<std::size_t>(oy) * os.w + ox) * channels;
      std::copy(layer.bias.begin(), layer.bias.end(), acc);
      for (int ky = ty.first; ky < ty.last; ++ky) {
        const int iy = oy * layer.stride_h - layer.pad.top + ky;
        for (int kx = tx.first; kx < tx.last; ++kx) {
          const int ix = ox * layer.stride_w - layer.pad.left + kx;
          const float* pixel = in + (static_cast<std::size_t>(iy) * is.w + ix) * channels;
          const float* w = layer.weights.data() + (static_cast<std::size_t>(ky) * layer.kernel_w + kx) * channels;
          for (int c = 0; c < channels; ++c) acc[c] += pixel[c] * w[c];
        }
      }
      apply_activation(layer.activation, acc, channels);
    }
  }
}

void dense_f32(const Layer& layer, const float* in, float* out) {
  const std::size_t inputs = layer.in.size();
  const int units = layer.out.c;
  std::copy(layer.bias.begin(), layer.bias.end(), out);
  if (units == 1) {
    // A readout to one neuron is a long dot product: independent partial sums let it vectorize.
    constexpr int lanes = 8;
    float partial[lanes] = {};
    std::size_t i = 0;
    for (; i + lanes <= inputs; i += lanes)
      for (int l = 0; l < lanes; ++l) partial[l] += in[i + l] * layer.weights[i + l];
    float sum = 0.0f;
    for (; i < inputs; ++i) sum += in[i] * layer.weights[i];
    for (int l = 0; l < lanes; ++l) sum += partial[l];
    out[0] += sum;
  } else {
    for (std::size_t i = 0; i < inputs; ++i) {
      const float value = in[i];
      const float* w = layer.weights.data() + i * units;
      for (int o = 0; o < units; ++o) out[o] += value * w[o];
    }
  }
  apply_activation(layer.activation, out, units);
}

}  // namespace cortexlens
