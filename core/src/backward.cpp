#include "cortexlens/backward.hpp"

#include <algorithm>
#include <string>

#include "cortexlens/kernels.hpp"
#include "simd_f32x4.hpp"

namespace cortexlens {

// ---- scalar references: the chain rule in scatter form, mirroring the forward loops of kernels_ref.cpp ----

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

// ---- fast kernels: gather form, one input pixel at a time, so every dx element is written once and the inner
// loops run with unit stride over channels (HWIO weights keep a tap's output channels contiguous) ----

namespace {

// Independent partial sums let compilers vectorize a float dot product without -ffast-math.
inline float dot_f32(const float* a, const float* b, int n) {
  constexpr int lanes = 8;
  float partial[lanes] = {};
  int i = 0;
  for (; i + lanes <= n; i += lanes)
    for (int l = 0; l < lanes; ++l) partial[l] += a[i + l] * b[i + l];
  float sum = 0.0f;
  for (; i < n; ++i) sum += a[i] * b[i];
  for (int l = 0; l < lanes; ++l) sum += partial[l];
  return sum;
}

// Output index o with o * stride - pad + k == i, or -1 when none lies inside [0, out_size).
inline int source_output(int i, int k, int stride, int pad_before, int out_size) {
  const int num = i + pad_before - k;
  if (num < 0 || num % stride) return -1;
  const int o = num / stride;
  return o < out_size ? o : -1;
}

// N input channels (ic .. ic + N - 1) of one input pixel: acc[ic + j] = sum over the taps of g . w[ic + j].
// Explicit f32x4 (simd_f32x4.hpp) so wasm gets SIMD too, with the same lane order on every target, which keeps
// results bit-identical natively and in wasm.
template <int N>
inline void backward_tile(const float* const* gs, const float* const* ws, std::size_t taps, int ic, int out_c,
                          int blocked, float* acc) {
  simd::f32x4 a[N];
  float rest[N];
  for (int j = 0; j < N; ++j) {
    a[j] = simd::splat(0.0f);
    rest[j] = 0.0f;
  }
  for (std::size_t t = 0; t < taps; ++t) {
    const float* g = gs[t];
    const float* w = ws[t] + static_cast<std::size_t>(ic) * out_c;
    for (int oc = 0; oc < blocked; oc += 4) {
      const simd::f32x4 gv = simd::load(g + oc);
      for (int j = 0; j < N; ++j) a[j] = simd::mul_add(a[j], gv, simd::load(w + j * out_c + oc));
    }
    for (int oc = blocked; oc < out_c; ++oc)
      for (int j = 0; j < N; ++j) rest[j] += g[oc] * w[j * out_c + oc];
  }
  for (int j = 0; j < N; ++j) acc[ic + j] = rest[j] + simd::sum_lanes(a[j]);
}

}  // namespace

void conv2d_backward_input_f32(const Layer& layer, const float* dy, float* dx) {
  const Shape3 is = layer.in, os = layer.out;
  const int in_c = is.c, out_c = os.c;
  const int blocked = out_c / 4 * 4;
  // The taps that reach each input pixel are listed once; then each input channel sums over all of them in
  // register partial sums, reduced once per pixel and channel rather than once per tap (the first layer, with
  // 3 input channels and 25 taps, would otherwise spend most of its time in horizontal sums).
  std::vector<const float*> gs, ws;  // per valid tap: (out_c) gradient row, (in_c, out_c) weights
  gs.reserve(static_cast<std::size_t>(layer.kernel_h) * layer.kernel_w);
  ws.reserve(gs.capacity());
  for (int iy = 0; iy < is.h; ++iy)
    for (int ix = 0; ix < is.w; ++ix) {
      gs.clear();
      ws.clear();
      for (int ky = 0; ky < layer.kernel_h; ++ky) {
        const int oy = source_output(iy, ky, layer.stride_h, layer.pad.top, os.h);
        if (oy < 0) continue;
        for (int kx = 0; kx < layer.kernel_w; ++kx) {
          const int ox = source_output(ix, kx, layer.stride_w, layer.pad.left, os.w);
          if (ox < 0) continue;
          gs.push_back(dy + (static_cast<std::size_t>(oy) * os.w + ox) * out_c);
          ws.push_back(layer.weights.data() + (static_cast<std::size_t>(ky) * layer.kernel_w + kx) * in_c * out_c);
        }
      }
      float* acc = dx + (static_cast<std::size_t>(iy) * is.w + ix) * in_c;  // (in_c)
      const std::size_t taps = gs.size();
      // Up to four input channels at a time share each load of the gradient row and keep independent
      // accumulator chains.
      int ic = 0;
      for (; ic + 4 <= in_c; ic += 4) backward_tile<4>(gs.data(), ws.data(), taps, ic, out_c, blocked, acc);
      switch (in_c - ic) {
        case 3: backward_tile<3>(gs.data(), ws.data(), taps, ic, out_c, blocked, acc); break;
        case 2: backward_tile<2>(gs.data(), ws.data(), taps, ic, out_c, blocked, acc); break;
        case 1: backward_tile<1>(gs.data(), ws.data(), taps, ic, out_c, blocked, acc); break;
        default: break;
      }
    }
}

void depthwise_conv2d_backward_input_f32(const Layer& layer, const float* dy, float* dx) {
  const Shape3 is = layer.in, os = layer.out;
  const int channels = is.c;
  for (int iy = 0; iy < is.h; ++iy)
    for (int ix = 0; ix < is.w; ++ix) {
      float* acc = dx + (static_cast<std::size_t>(iy) * is.w + ix) * channels;
      std::fill(acc, acc + channels, 0.0f);
      for (int ky = 0; ky < layer.kernel_h; ++ky) {
        const int oy = source_output(iy, ky, layer.stride_h, layer.pad.top, os.h);
        if (oy < 0) continue;
        for (int kx = 0; kx < layer.kernel_w; ++kx) {
          const int ox = source_output(ix, kx, layer.stride_w, layer.pad.left, os.w);
          if (ox < 0) continue;
          const float* g = dy + (static_cast<std::size_t>(oy) * os.w + ox) * channels;
          const float* w = layer.weights.data() + (static_cast<std::size_t>(ky) * layer.kernel_w + kx) * channels;
          for (int c = 0; c < channels; ++c) acc[c] += g[c] * w[c];
        }
      }
    }
}

void dense_backward_input_f32(const Layer& layer, const float* dy, float* dx) {
  const std::size_t inputs = layer.in.size();
  const int units = layer.out.c;
  if (units == 1) {
    const float g = dy[0];
    for (std::size_t i = 0; i < inputs; ++i) dx[i] = g * layer.weights[i];
    return;
  }
  for (std::size_t i = 0; i < inputs; ++i) dx[i] = dot_f32(dy, layer.weights.data() + i * units, units);
}

void run_layer_backward_input_f32(const Layer& layer, const float* dy, float* dx, bool use_reference) {
  switch (layer.kind) {
    case LayerKind::conv2d:
      return use_reference ? conv2d_backward_input_f32_ref(layer, dy, dx) : conv2d_backward_input_f32(layer, dy, dx);
    case LayerKind::depthwise_conv2d:
      return use_reference ? depthwise_conv2d_backward_input_f32_ref(layer, dy, dx)
                           : depthwise_conv2d_backward_input_f32(layer, dy, dx);
    case LayerKind::dense:
      return use_reference ? dense_backward_input_f32_ref(layer, dy, dx) : dense_backward_input_f32(layer, dy, dx);
  }
}

// ---- the whole chain ----

Status check_selector(const Model& model, const OutputSelector& s) {
  if (model.layers.empty()) return Status::error("model '" + model.name + "' has no layers");
  const int count = static_cast<int>(model.layers.size());
  if (s.layer < -1 || s.layer >= count)
    return Status::error("selector layer " + std::to_string(s.layer) + " out of range: model '" + model.name +
                         "' has layers 0.." + std::to_string(count - 1) + " (or -1 for the outputs)");
  const Shape3 out = model.layers[s.layer < 0 ? count - 1 : s.layer].out;
  // The outputs are the last layer's map flattened in (H, W, C) order.
  const int limit = s.layer < 0 ? static_cast<int>(out.size()) : out.c;
  if (s.channel < 0 || s.channel >= limit)
    return Status::error(std::string(s.layer < 0 ? "output" : "channel") + " " + std::to_string(s.channel) +
                         " out of range: expected 0.." + std::to_string(limit - 1));
  if (s.layer >= 0 && (s.y >= 0 || s.x >= 0) && (s.y < 0 || s.x < 0 || s.y >= out.h || s.x >= out.w))
    return Status::error("position (" + std::to_string(s.y) + "," + std::to_string(s.x) + ") outside layer " +
                         std::to_string(s.layer) + "'s " + std::to_string(out.h) + "x" + std::to_string(out.w) +
                         " map (use -1,-1 for the mean over positions)");
  return Status::ok();
}

void GradientWorkspace::run_forward(const Model& model, const float* input, bool keep_activations) {
  if (!plan || plan_model != &model || plan_layers != model.layers.data()) {
    plan = std::make_unique<ForwardPlan>(model);
    plan_model = &model;
    plan_layers = model.layers.data();
  }
  outputs.resize(plan->output_size());
  plan->run(input, outputs.data(), keep_activations ? &activations : nullptr);
}

float input_gradient_unchecked(const Model& model, const float* input, const OutputSelector& selector,
                               float* gradient, GradientWorkspace& ws, bool use_reference) {
  const int last = selector.layer < 0 ? static_cast<int>(model.layers.size()) - 1 : selector.layer;
  std::size_t largest = model.input.size();
  for (int l = 0; l <= last; ++l) largest = std::max(largest, model.layers[l].out.size());
  if (use_reference) {
    ws.activations.resize(static_cast<std::size_t>(last) + 1);
    for (int l = 0; l <= last; ++l) {
      const Layer& layer = model.layers[l];
      ws.activations[l] = Tensor(layer.out);
      run_layer_f32(layer, l == 0 ? input : ws.activations[l - 1].data.data(), ws.activations[l].data.data(), true);
    }
  } else {
    ws.run_forward(model, input, true);
  }
  ws.grad_out.assign(largest, 0.0f);
  ws.grad_in.resize(largest);

  // Seed: d objective / d (post-activation output of the selected layer), (out.h, out.w, out.c).
  const Layer& top = model.layers[last];
  const Shape3 os = top.out;
  const std::vector<float>& y = ws.activations[last].data;
  float value = 0.0f;
  if (selector.layer < 0 || selector.y >= 0) {
    const std::size_t at = selector.layer < 0
                               ? static_cast<std::size_t>(selector.channel)
                               : (static_cast<std::size_t>(selector.y) * os.w + selector.x) * os.c + selector.channel;
    value = y[at];
    ws.grad_out[at] = 1.0f;
  } else {
    const float weight = 1.0f / static_cast<float>(os.h * os.w);
    double sum = 0.0;
    for (int p = 0; p < os.h * os.w; ++p) {
      const std::size_t at = static_cast<std::size_t>(p) * os.c + selector.channel;
      sum += y[at];
      ws.grad_out[at] = weight;
    }
    value = static_cast<float>(sum / (os.h * os.w));
  }

  for (int l = last; l >= 0; --l) {
    const Layer& layer = model.layers[l];
    float* dy = ws.grad_out.data();
    if (layer.activation == Activation::relu) {
      // The kept output is post-ReLU: it is > 0 exactly where the pre-activation was.
      const float* out = ws.activations[l].data.data();
      const std::size_t n = layer.out.size();
      for (std::size_t i = 0; i < n; ++i) dy[i] = out[i] > 0.0f ? dy[i] : 0.0f;
    }
    float* dx = l == 0 ? gradient : ws.grad_in.data();
    run_layer_backward_input_f32(layer, dy, dx, use_reference);
    if (l > 0) std::swap(ws.grad_out, ws.grad_in);
  }
  return value;
}

Result<GradientResult> input_gradient(const Model& model, const Tensor& input, const OutputSelector& selector,
                                      const GradientOptions& options, GradientWorkspace* workspace) {
  if (input.shape != model.input || input.data.size() != model.input.size())
    return Status::error("input has shape (" + std::to_string(input.shape.h) + "," + std::to_string(input.shape.w) +
                         "," + std::to_string(input.shape.c) + "), model '" + model.name + "' expects (" +
                         std::to_string(model.input.h) + "," + std::to_string(model.input.w) + "," +
                         std::to_string(model.input.c) + ")");
  CL_RETURN_IF_ERROR(check_selector(model, selector));
  GradientWorkspace local;
  GradientResult result;
  result.gradient = Tensor(model.input);
  result.value = input_gradient_unchecked(model, input.data.data(), selector, result.gradient.data.data(),
                                          workspace ? *workspace : local, options.use_reference_kernels);
  return result;
}

}  // namespace cortexlens
