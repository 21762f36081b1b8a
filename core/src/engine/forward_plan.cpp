// The chain of a ForwardPlan: one step per layer between bordered buffers (engine/forward_plan.hpp); the steps
// themselves, with the kernels, are kernels/f32_simd.cpp.
#include "engine/forward_plan.hpp"

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
  buffers_.push_back(make_buffer(model.input, Padding{}, input_channel_stride_));
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
  const Shape3 input = buffers_.front().shape;
  buffers_.clear();
  buffers_.reserve(steps_.size() + 1);
  buffers_.push_back(make_buffer(input, border_for(0), input_channel_stride_));
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    const Shape3 out = steps_[i].layer->out;
    buffers_.push_back(make_buffer(out, border_for(i + 1), channel_stride(out.c, isa)));
  }
  for (std::size_t i = 0; i < steps_.size(); ++i)
    steps_[i] = prepare_step(*steps_[i].layer, buffers_[i].channel_stride, isa);
}

void ForwardPlan::run(const float* input, float* outputs, std::vector<Tensor>* activations) {
  if (const Isa isa = active_isa(); isa != isa_) pack_steps(isa);
  copy_in(input, buffers_.front());
  if (activations) activations->clear();
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    run_step(steps_[i], buffers_[i], buffers_[i + 1]);
    if (activations) {
      Tensor t(buffers_[i + 1].shape);
      copy_out(buffers_[i + 1], t.data.data());
      activations->push_back(std::move(t));
    }
  }
  copy_out(buffers_.back(), outputs);
}

}  // namespace cortexlens
