// Scalar reference int8 kernels: the plainest statement of the int8 semantics (quantize.hpp), the input quantizer
// included. Fast kernels must match these bit-exactly.
#include <algorithm>
#include <cmath>

#include "cortexlens/isa.hpp"
#include "cortexlens/quantize.hpp"
#include "kernels/kernels.hpp"

namespace cortexlens {

void quantize_values_ref(const float* values, std::size_t count, float scale, bool unsigned_range, std::int16_t* out) {
  // Clamped before rounding: lround of a value beyond the range of long is undefined, and clamping first to the
  // integer limits gives the same result as rounding first.
  const float low = unsigned_range ? 0.0f : -static_cast<float>(kInt8Max);
  const float high = static_cast<float>(unsigned_range ? kUint8Max : kInt8Max);
  const float inverse = quantizer_inverse(scale);
  for (std::size_t i = 0; i < count; ++i)
    out[i] = static_cast<std::int16_t>(std::lround(std::clamp(values[i] * inverse, low, high)));
}

void conv2d_int8_ref(const Layer& layer, const std::int16_t* in, float* out) {
  const Shape3 is = layer.in, os = layer.out;
  const Int8Weights& q = *layer.int8;
  for (int oy = 0; oy < os.h; ++oy)
    for (int ox = 0; ox < os.w; ++ox)
      for (int oc = 0; oc < os.c; ++oc) {
        std::int32_t acc = 0;
        for (int ky = 0; ky < layer.kernel_h; ++ky) {
          const int iy = oy * layer.stride_h - layer.pad.top + ky;
          if (iy < 0 || iy >= is.h) continue;
          for (int kx = 0; kx < layer.kernel_w; ++kx) {
            const int ix = ox * layer.stride_w - layer.pad.left + kx;
            if (ix < 0 || ix >= is.w) continue;
            for (int ic = 0; ic < is.c; ++ic)
              acc += std::int32_t{in[(static_cast<std::size_t>(iy) * is.w + ix) * is.c + ic]} *
                     std::int32_t{
                         q.weights[((static_cast<std::size_t>(ky) * layer.kernel_w + kx) * is.c + ic) * os.c + oc]};
          }
        }
        out[(static_cast<std::size_t>(oy) * os.w + ox) * os.c + oc] =
            int8_epilogue(acc, q.input_scale * q.weight_scales[oc], layer.bias[oc], layer.activation);
      }
}

void depthwise_conv2d_int8_ref(const Layer& layer, const std::int16_t* in, float* out) {
  const Shape3 is = layer.in, os = layer.out;
  const Int8Weights& q = *layer.int8;
  for (int oy = 0; oy < os.h; ++oy)
    for (int ox = 0; ox < os.w; ++ox)
      for (int c = 0; c < os.c; ++c) {
        std::int32_t acc = 0;
        for (int ky = 0; ky < layer.kernel_h; ++ky) {
          const int iy = oy * layer.stride_h - layer.pad.top + ky;
          if (iy < 0 || iy >= is.h) continue;
          for (int kx = 0; kx < layer.kernel_w; ++kx) {
            const int ix = ox * layer.stride_w - layer.pad.left + kx;
            if (ix < 0 || ix >= is.w) continue;
            acc += std::int32_t{in[(static_cast<std::size_t>(iy) * is.w + ix) * is.c + c]} *
                   std::int32_t{q.weights[(static_cast<std::size_t>(ky) * layer.kernel_w + kx) * is.c + c]};
          }
        }
        out[(static_cast<std::size_t>(oy) * os.w + ox) * os.c + c] =
            int8_epilogue(acc, q.input_scale * q.weight_scales[c], layer.bias[c], layer.activation);
      }
}

void dense_int8_ref(const Layer& layer, const std::int16_t* in, float* out) {
  const std::size_t inputs = layer.in.size();
  const int units = layer.out.c;
  const Int8Weights& q = *layer.int8;
  for (int o = 0; o < units; ++o) {
    std::int32_t acc = 0;
    for (std::size_t i = 0; i < inputs; ++i) acc += std::int32_t{in[i]} * std::int32_t{q.weights[i * units + o]};
    out[o] = int8_epilogue(acc, q.input_scale * q.weight_scales[o], layer.bias[o], layer.activation);
  }
}

void run_layer_int8(const Layer& layer, const std::int16_t* in, float* out, bool use_reference) {
  use_reference = use_reference || active_isa() == Isa::scalar;
  switch (layer.kind) {
    case LayerKind::conv2d:
      // The register-tiled kernels (int8_simd.cpp, declared in kernels.hpp), bit-identical to the twins.
      return use_reference ? conv2d_int8_ref(layer, in, out) : conv2d_int8_tiled(layer, in, out);
    case LayerKind::depthwise_conv2d:
      return use_reference ? depthwise_conv2d_int8_ref(layer, in, out) : depthwise_conv2d_int8_tiled(layer, in, out);
    case LayerKind::dense:
      return use_reference ? dense_int8_ref(layer, in, out) : dense_int8_tiled(layer, in, out);
  }
}

}  // namespace cortexlens
