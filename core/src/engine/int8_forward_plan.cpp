// The chain of an Int8ForwardPlan: the model input quantized into layer 0's buffer, then one step per layer, each
// finishing into the next layer's buffer (cortexlens/int8_forward_plan.hpp); the buffers' storage, owned or in an
// arena. The steps themselves, with the kernels, are kernels/int8_simd.cpp.
#include "cortexlens/int8_forward_plan.hpp"

#include <algorithm>
#include <atomic>
#include <vector>

#include "engine/int8_forward_plan_internals.hpp"
#include "kernels/int8_arithmetic.hpp"

namespace cortexlens {

namespace {

constexpr int kLanes = 4;  // int32 lanes per vector: channel strides are multiples of it
int round_up(int c, int multiple) { return (c + multiple - 1) / multiple * multiple; }

}  // namespace

void scribble_int8_arena(Int8Arena& arena, std::int16_t value) {
  std::fill(arena.storage_.begin(), arena.storage_.end(), value);
  arena.holder_ = 0;
}

void Int8ForwardPlan::release_buffers() {
  if (arena_) return;
  for (Buffer& b : buffers_) {
    std::vector<std::int16_t>().swap(b.owned);
    b.origin = nullptr;
  }
  std::vector<std::vector<float>>().swap(activation_maps_);
}

void Int8ForwardPlan::bind_buffers() {
  if (!arena_) {
    // After release_buffers(): zeroed again, as the borders must be.
    for (Buffer& b : buffers_)
      if (!b.origin) {
        b.owned.assign(b.elements(), 0);
        b.origin = b.owned.data();
      }
    return;
  }
  if (arena_->holder_ == id_) return;  // as this plan left it
  if (arena_->storage_.size() < arena_elements_) {
    arena_->storage_.clear();  // nothing to keep: no reallocation copy
    arena_->storage_.resize(arena_elements_);
  }
  std::int16_t* next = arena_->storage_.data();
  for (Buffer& b : buffers_) {
    b.origin = next;
    next += b.elements();
    b.clear_unwritten();
  }
  arena_->holder_ = id_;
}

namespace {

// The channel stride of a layer's input buffer (int8_forward_plan.hpp explains the choice).
int input_channel_stride(const Layer& consumer, bool model_input) {
  if (consumer.kind == LayerKind::depthwise_conv2d) return round_up(consumer.in.c, 8);
  return model_input ? consumer.in.c : round_up(consumer.in.c, kLanes);
}

}  // namespace

Int8ForwardPlan::Int8ForwardPlan(const Model& model, Int8Arena* arena) : arena_(arena) {
  static std::atomic<std::uint64_t> last_id{0};
  id_ = ++last_id;
  const auto& layers = model.layers;
  buffers_.reserve(layers.size());
  steps_.reserve(layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Layer& layer = layers[i];
    const Padding border = layer.kind == LayerKind::dense ? Padding{} : layer.pad;
    const int cs = input_channel_stride(layer, i == 0);
    buffers_.push_back(arena_ ? describe_buffer(layer.in, border, cs) : make_buffer(layer.in, border, cs));
    arena_elements_ += buffers_.back().elements();
    steps_.push_back(prepare_step(layer, cs));
  }
  output_shape_ = layers.back().out;
  output_cs_ = round_up(output_shape_.c, 8);
  output_.assign(static_cast<std::size_t>(output_shape_.h) * output_shape_.w * output_cs_, 0.0f);
}

Int8ForwardPlan::Sink Int8ForwardPlan::sink_for(std::size_t i, std::vector<float>* activation) {
  Sink sink;
  const Shape3 out = steps_[i].layer->out;
  if (i + 1 < steps_.size()) {
    Buffer& next = buffers_[i + 1];
    const Int8Weights& q = *steps_[i + 1].layer->int8;
    sink.q = next.at(0, 0);
    sink.q_pixel = next.channel_stride;
    sink.q_row = next.row_stride();
    sink.q_scale = q.input_scale;
    sink.q_low = static_cast<float>(input_q_min(q));
    sink.q_high = static_cast<float>(input_q_max(q));
  } else {
    activation = &output_;
  }
  if (activation) {
    const int cs = round_up(out.c, 8);
    if (activation->size() != static_cast<std::size_t>(out.h) * out.w * cs)
      activation->assign(static_cast<std::size_t>(out.h) * out.w * cs, 0.0f);
    sink.f = activation->data();
    sink.f_pixel = cs;
    sink.f_row = static_cast<std::ptrdiff_t>(out.w) * cs;
  }
  return sink;
}

void Int8ForwardPlan::run_layer(std::size_t i) {
  bind_buffers();
  run_step(steps_[i], buffers_[i], sink_for(i, nullptr));
}

void Int8ForwardPlan::run(const float* input, float* outputs, std::vector<Tensor>* activations) {
  bind_buffers();
  // The model input, quantized once with layer 0's scale and range into its bordered buffer.
  Buffer& first = buffers_.front();
  const Int8Weights& q0 = *steps_.front().layer->int8;
  const Shape3 s = first.shape;
  for (int y = 0; y < s.h; ++y) {
    if (first.channel_stride == s.c) {
      quantize_values(input + static_cast<std::size_t>(y) * s.w * s.c, static_cast<std::size_t>(s.w) * s.c,
                      q0.input_scale, q0.unsigned_input, first.at(y, 0));
      continue;
    }
    for (int x = 0; x < s.w; ++x)
      quantize_values(input + (static_cast<std::size_t>(y) * s.w + x) * s.c, static_cast<std::size_t>(s.c),
                      q0.input_scale, q0.unsigned_input, first.at(y, x));
  }
  if (activations) {
    activation_maps_.resize(steps_.size());
    activations->clear();
  }
  for (std::size_t i = 0; i < steps_.size(); ++i)
    run_step(steps_[i], buffers_[i], sink_for(i, activations ? &activation_maps_[i] : nullptr));
  const auto copy_dense = [](const std::vector<float>& map, Shape3 shape, float* dense) {
    const int cs = round_up(shape.c, 8);
    for (std::size_t p = 0; p < static_cast<std::size_t>(shape.h) * shape.w; ++p)
      std::copy_n(map.data() + p * cs, shape.c, dense + p * shape.c);
  };
  if (activations) {
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      Tensor t(steps_[i].layer->out);
      copy_dense(i + 1 < steps_.size() ? activation_maps_[i] : output_, t.shape, t.data.data());
      activations->push_back(std::move(t));
    }
  }
  copy_dense(output_, output_shape_, outputs);
}

Int8ForwardPlan::~Int8ForwardPlan() = default;

const Shape3& Int8ForwardPlan::input_shape() const { return buffers_.front().shape; }

std::size_t Int8ForwardPlan::layer_count() const { return steps_.size(); }

bool Int8ForwardPlan::holds_buffers() const {
  return !buffers_.empty() && buffers_.front().origin != nullptr && !arena_;
}

}  // namespace cortexlens
