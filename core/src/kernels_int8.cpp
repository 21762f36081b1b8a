// Portable fast int8 kernels, shaped like the float ones (kernels_f32.cpp): each output pixel keeps its channels in
// a contiguous int32 accumulator so the innermost loop runs over output channels with unit stride over HWIO weights
// (a widening multiply-add compilers vectorize natively and with -msimd128), and tap ranges are clipped once per
// row/column instead of testing bounds per product. Integer sums are exact, so any order matches the reference.
#include <algorithm>
#include <vector>

#include "cortexlens/quantize.hpp"

namespace cortexlens {

namespace {

struct TapRange {
  int first, last;  // kernel taps [first, last) that land inside the input
};

inline TapRange valid_taps(int out_index, int stride, int pad_before, int kernel, int in_size) {
  const int origin = out_index * stride - pad_before;
  return {std::max(0, -origin), std::min(kernel, in_size - origin)};
}

// Weights widened once per call: an 8-bit product (|p| <= 255 * 127 = 32385) fits int16, so the inner loops
// multiply in 16 bits (SSE2 pmullw, wasm i16x8.mul) and only widen the product to add it to the int32 accumulator.
// Without this SSE2 has no sign-extending load or 32-bit multiply and the loops run several times slower.
std::vector<std::int16_t> widened(const std::vector<std::int8_t>& weights) {
  return std::vector<std::int16_t>(weights.begin(), weights.end());
}

// (out.c) input_scale * weight_scales[oc], computed the same way as the reference computes it per output.
std::vector<float> combined_scales(const Int8Weights& q) {
  std::vector<float> scales(q.weight_scales.size());
  for (std::size_t c = 0; c < scales.size(); ++c) scales[c] = q.input_scale * q.weight_scales[c];
  return scales;
}

}  // namespace

void conv2d_int8(const Layer& layer, const std::int16_t* in, float* out) {
  const Shape3 is = layer.in, os = layer.out;
  const int in_c = is.c, out_c = os.c;
  const Int8Weights& q = *layer.int8;
  const std::vector<float> scales = combined_scales(q);
  const std::vector<std::int16_t> weights = widened(q.weights);    // (kh, kw, in.c, out.c)
  std::vector<std::int32_t> acc(static_cast<std::size_t>(out_c));  // (out.c) one output pixel
  for (int oy = 0; oy < os.h; ++oy) {
    const TapRange ty = valid_taps(oy, layer.stride_h, layer.pad.top, layer.kernel_h, is.h);
    for (int ox = 0; ox < os.w; ++ox) {
      const TapRange tx = valid_taps(ox, layer.stride_w, layer.pad.left, layer.kernel_w, is.w);
      std::fill(acc.begin(), acc.end(), 0);
      std::int32_t* __restrict a = acc.data();
      for (int ky = ty.first; ky < ty.last; ++ky) {
        const int iy = oy * layer.stride_h - layer.pad.top + ky;
        for (int kx = tx.first; kx < tx.last; ++kx) {
          const int ix = ox * layer.stride_w - layer.pad.left + kx;
          const std::int16_t* pixel = in + (static_cast<std::size_t>(iy) * is.w + ix) * in_c;
          const std::int16_t* tap = weights.data() + (static_cast<std::size_t>(ky) * layer.kernel_w + kx) * in_c * out_c;
          for (int ic = 0; ic < in_c; ++ic) {
            const std::int16_t v = pixel[ic];
            if (v == 0) continue;  // post-ReLU inputs are mostly zero
            const std::int16_t* __restrict w = tap + static_cast<std::size_t>(ic) * out_c;
            // One product (<= 255 * 127) fits int16: a 16-bit multiply, widened only to be added.
            for (int oc = 0; oc < out_c; ++oc) a[oc] += static_cast<std::int16_t>(v * w[oc]);
          }
        }
      }
      float* o = out + (static_cast<std::size_t>(oy) * os.w + ox) * out_c;
      for (int oc = 0; oc < out_c; ++oc) o[oc] = int8_epilogue(a[oc], scales[oc], layer.bias[oc], layer.activation);
    }
  }
}

void depthwise_conv2d_int8(const Layer& layer, const std::int16_t* in, float* out) {
  const Shape3 is = layer.in, os = layer.out;
  const int channels = os.c;
  const Int8Weights& q = *layer.int8;
  const std::vector<float> scales = combined_scales(q);
  const std::vector<std::int16_t> weights = widened(q.weights);       // (kh, kw, C)
  std::vector<std::int32_t> acc(static_cast<std::size_t>(channels));  // (C) one output pixel
  for (int oy = 0; oy < os.h; ++oy) {
    const TapRange ty = valid_taps(oy, layer.stride_h, layer.pad.top, layer.kernel_h, is.h);
    for (int ox = 0; ox < os.w; ++ox) {
      const TapRange tx = valid_taps(ox, layer.stride_w, layer.pad.left, layer.kernel_w, is.w);
      std::fill(acc.begin(), acc.end(), 0);
      std::int32_t* __restrict a = acc.data();
      for (int ky = ty.first; ky < ty.last; ++ky) {
        const int iy = oy * layer.stride_h - layer.pad.top + ky;
        for (int kx = tx.first; kx < tx.last; ++kx) {
          const int ix = ox * layer.stride_w - layer.pad.left + kx;
          const std::int16_t* pixel = in + (static_cast<std::size_t>(iy) * is.w + ix) * channels;
          const std::int16_t* w = weights.data() + (static_cast<std::size_t>(ky) * layer.kernel_w + kx) * channels;
          for (int c = 0; c < channels; ++c) a[c] += static_cast<std::int16_t>(pixel[c] * w[c]);
        }
      }
      float* o = out + (static_cast<std::size_t>(oy) * os.w + ox) * channels;
      for (int c = 0; c < channels; ++c) o[c] = int8_epilogue(a[c], scales[c], layer.bias[c], layer.activation);
    }
  }
}

void dense_int8(const Layer& layer, const std::int16_t* in, float* out) {
  const std::size_t inputs = layer.in.size();
  const int units = layer.out.c;
  const Int8Weights& q = *layer.int8;
  std::vector<std::int32_t> acc(static_cast<std::size_t>(units), 0);  // (units)
  if (units == 1) {
    // A readout to one neuron is one long dot product; a plain reduction vectorizes.
    std::int32_t sum = 0;
    for (std::size_t i = 0; i < inputs; ++i)
      sum += static_cast<std::int16_t>(in[i] * std::int16_t{q.weights[i]});
    acc[0] = sum;
  } else {
    for (std::size_t i = 0; i < inputs; ++i) {
      const std::int32_t value = in[i];
      if (value == 0) continue;
      const std::int8_t* w = q.weights.data() + i * units;
      for (int o = 0; o < units; ++o) acc[static_cast<std::size_t>(o)] += value * w[o];
    }
  }
  for (int o = 0; o < units; ++o)
    out[o] = int8_epilogue(acc[static_cast<std::size_t>(o)], q.input_scale * q.weight_scales[o], layer.bias[o],
                           layer.activation);
}

}  // namespace cortexlens
