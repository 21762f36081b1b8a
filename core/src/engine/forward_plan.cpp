// The chain of a ForwardPlan: one step per layer between bordered buffers (engine/forward_plan.hpp); the steps
// themselves, with the kernels, are kernels/f32_simd.cpp.
#include "engine/forward_plan.hpp"

#include <algorithm>
#include <cstring>

namespace cortexlens {

namespace {

constexpr int kLanes = 4;  // floats per f32x4: channel strides are multiples of it
int round_up4(int c) { return (c + kLanes - 1) / kLanes * kLanes; }

}  // namespace

// Unpadded channels make a buffer row one contiguous run: one copy per row instead of one per pixel.
void ForwardPlan::copy_in(const float* dense, Buffer& buffer) {
  const Shape3 s = buffer.shape;
  const std::size_t row = static_cast<std::size_t>(s.w) * s.c;
  for (int y = 0; y < s.h; ++y) {
    if (buffer.channel_stride == s.c) {
      std::memcpy(buffer.at(y, 0), dense + y * row, sizeof(float) * row);
      continue;
    }
    for (int x = 0; x < s.w; ++x) std::memcpy(buffer.at(y, x), dense + y * row + x * s.c, sizeof(float) * s.c);
  }
}

void ForwardPlan::copy_out(Buffer& buffer, float* dense) {
  const Shape3 s = buffer.shape;
  const std::size_t row = static_cast<std::size_t>(s.w) * s.c;
  for (int y = 0; y < s.h; ++y) {
    if (buffer.channel_stride == s.c) {
      std::memcpy(dense + y * row, buffer.at(y, 0), sizeof(float) * row);
      continue;
    }
    for (int x = 0; x < s.w; ++x) std::memcpy(dense + y * row + x * s.c, buffer.at(y, x), sizeof(float) * s.c);
  }
}

ForwardPlan::ForwardPlan(const Model& model) {
  const auto& layers = model.layers;
  // The model input of a first conv2d keeps its C channels: the 5x5 conv on RGB would do a third more work on 4.
  input_channel_stride_ =
      !layers.empty() && layers[0].kind == LayerKind::conv2d ? model.input.c : round_up4(model.input.c);
  input_shape_ = model.input;
  steps_.resize(layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i) steps_[i].layer = &layers[i];
  pack_steps(active_isa());
}

void ForwardPlan::pack_steps(Isa isa) {
  isa_ = isa;
  auto border_for = [&](std::size_t consumer) {
    return consumer < steps_.size() && steps_[consumer].layer->kind != LayerKind::dense ? steps_[consumer].layer->pad
                                                                                        : Padding{};
  };
  buffers_.clear();
  buffers_.reserve(steps_.size() + 1);
  buffers_.push_back(make_buffer(input_shape_, border_for(0), input_channel_stride_));
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    const Shape3 out = steps_[i].layer->out;
    buffers_.push_back(make_buffer(out, border_for(i + 1), channel_stride(out.c, isa)));
  }
  for (std::size_t i = 0; i < steps_.size(); ++i)
    steps_[i] = prepare_step(*steps_[i].layer, buffers_[i].channel_stride, isa);
}

namespace {

// A conv's output map above this size is interleaved with the depthwise conv that reads it (run_in_bands): the
// shared model's first conv writes 5.6 MB, more than this machine's 2 MB of L2 per core, and its depthwise conv,
// run after the whole map, read it back from L3 (bound there at ~17 GB/s). Bands of ~256 KB of the conv's output
// are read by the depthwise conv while they are still in L2.
constexpr std::size_t kBandedMapBytes = std::size_t{1} << 20;
constexpr std::size_t kBandBytes = std::size_t{256} << 10;

}  // namespace

bool ForwardPlan::runs_in_bands(std::size_t i) const {
  if (i + 1 >= steps_.size()) return false;
  const Step &conv = steps_[i], &depthwise = steps_[i + 1];
  return conv.layer->kind == LayerKind::conv2d && depthwise.layer->kind == LayerKind::depthwise_conv2d &&
         conv.isa != Isa::scalar && depthwise.isa != Isa::scalar &&
         buffers_[i + 1].data.size() * sizeof(float) > kBandedMapBytes;
}

// The conv's rows are computed just before the first band of depthwise rows that reads them, so each of its output
// rows is written once and read (by the kh depthwise taps over it) soon after. Each row is computed by the same
// kernels on the same data as in a whole-layer run: the same bits.
void ForwardPlan::run_in_bands(std::size_t i) {
  const Step &conv = steps_[i], &depthwise = steps_[i + 1];
  const Layer& dw = *depthwise.layer;
  const int conv_rows = conv.layer->out.h;
  const std::size_t row_bytes = sizeof(float) * static_cast<std::size_t>(buffers_[i + 1].row_stride());
  const int band = std::max<int>(1, static_cast<int>(kBandBytes / (row_bytes * static_cast<std::size_t>(dw.stride_h))));
  int conv_done = 0;
  for (int r0 = 0; r0 < dw.out.h; r0 += band) {
    const int r1 = std::min(dw.out.h, r0 + band);
    // Depthwise row r reads conv rows r * stride - pad_top up to kh - 1 below it (those outside the map: border).
    const int needed = std::min(conv_rows, (r1 - 1) * dw.stride_h - dw.pad.top + dw.kernel_h);
    if (needed > conv_done) {
      run_step_rows(conv, buffers_[i], buffers_[i + 1], conv_done, needed);
      conv_done = needed;
    }
    run_step_rows(depthwise, buffers_[i + 1], buffers_[i + 2], r0, r1);
  }
  // Rows no depthwise tap reads are still part of the conv's activation.
  if (conv_done < conv_rows) run_step_rows(conv, buffers_[i], buffers_[i + 1], conv_done, conv_rows);
}

void ForwardPlan::run(const float* input, float* outputs, std::vector<Tensor>* activations) {
  if (const Isa isa = active_isa(); isa != isa_) pack_steps(isa);
  copy_in(input, buffers_.front());
  if (activations) activations->clear();
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    const bool pair = runs_in_bands(i);
    if (pair)
      run_in_bands(i);
    else
      run_step(steps_[i], buffers_[i], buffers_[i + 1]);
    for (std::size_t j = i; j <= i + (pair ? 1 : 0) && activations; ++j) {
      Tensor t(buffers_[j + 1].shape);
      copy_out(buffers_[j + 1], t.data.data());
      activations->push_back(std::move(t));
    }
    if (pair) ++i;
  }
  copy_out(buffers_.back(), outputs);
}

}  // namespace cortexlens
