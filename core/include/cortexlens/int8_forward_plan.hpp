// An int8 model prepared once for many forward passes: what forward_int8 runs, and what a caller keeps in a hot
// loop (the wasm module keeps one per loaded model) so repeated predictions do no packing and no allocation.
//
// Same arithmetic as forward_int8 with the reference kernels (quantize.hpp), bit for bit, in a different order of
// work:
//   - the model input is quantized once (quantize_values, layer 0's scale and range) into layer 0's input buffer;
//   - every layer's quantized input lives in a zero-bordered (pad_top + H + pad_bottom, pad_left + W + pad_right,
//     cs) int16 buffer whose border is that layer's padding, so no kernel tests bounds and no padding copy is made;
//     cs, the channel stride, is C for the model input of a conv2d (the 5x5 conv on RGB does no extra work), C
//     rounded up to 8 for a depthwise input (8 channels per 16-bit vector), else C rounded up to 4; channels past
//     C hold 0 and meet zero weights;
//   - each producing layer finishes its int32 sums with int8_epilogue's float arithmetic and quantizes the value
//     at once, exactly as quantize_values would (x times the float reciprocal of the scale; clamp; round half
//     away from zero), with the consuming layer's input scale and range, straight into the consumer's buffer. The float
//     activations between layers are never stored, unless run() is asked for them;
//   - the last layer writes floats.
// Weights are packed once in the tiled kernels' layouts: conv2d per block of 16 output channels as
// (kh, ceil(kw * cs / 2), 16, 2) int16 pairs (i32x4.dot_i16x8_s, SSE2 pmaddwd), depthwise as (tap pairs, cs, 2),
// a dense layer with one unit as one int16 row, with several units per block of 16 units as (pairs, 16, 2) int8.
// Combined scales input_scale * weight_scales[oc] are computed as the reference computes them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cortexlens/forward.hpp"
#include "cortexlens/model.hpp"

namespace cortexlens {

// Activation storage shared by plans that take turns on one thread (the wasm module's models: a worker of the
// population view holds ~110 of them): one block as large as the largest plan needs instead of ~2 MB per plan.
// A plan that finds the block as it left it uses it as it is; after another plan it zeroes only what its layers
// never write (the zero borders, channels past C, the slack), not the whole block.
class Int8Arena {
 public:
  Int8Arena() = default;
  Int8Arena(const Int8Arena&) = delete;
  Int8Arena& operator=(const Int8Arena&) = delete;
  std::size_t capacity() const { return storage_.size(); }  // int16 values

 private:
  friend class Int8ForwardPlan;
  friend void scribble_int8_arena(Int8Arena& arena, std::int16_t value);  // tests (int8_forward_plan_internals.hpp)
  std::vector<std::int16_t> storage_;
  std::uint64_t holder_ = 0;  // id of the plan whose activations the block holds; 0: none
};

class Int8ForwardPlan {
 public:
  // The model must be an int8 model that passed validate_model and check_int8_layers (is_int8_model true). The plan
  // points at the model's layers: the model must outlive it and stay unchanged. With an arena, the plan keeps no
  // activation storage of its own and borrows the arena's at each run(); the arena must outlive the plan, and the
  // plans sharing it must run one at a time.
  explicit Int8ForwardPlan(const Model& model, Int8Arena* arena = nullptr);
  ~Int8ForwardPlan();
  Int8ForwardPlan(const Int8ForwardPlan&) = delete;
  Int8ForwardPlan& operator=(const Int8ForwardPlan&) = delete;

  // Moves a plan made with an arena to another one (the next run lays its buffers out there): a model run by
  // whichever thread is free uses that thread's arena. Not for a plan made without one.
  void use_arena(Int8Arena* arena) {
    if (arena_ && arena) arena_ = arena;
  }

  const Shape3& input_shape() const;
  std::size_t output_size() const { return output_shape_.size(); }

  // input: input_shape().size() finite floats (H, W, C); outputs: output_size() floats, the last layer's (H, W, C).
  // activations, if given, is filled with one dense (H, W, C) float tensor per layer (the values forward_int8
  // keeps). One plan must not run on two threads at once: it reuses its buffers.
  void run(const float* input, float* outputs, std::vector<Tensor>* activations = nullptr);

  // For profiling one layer at a time: runs layer i alone on the buffers the last run() filled.
  std::size_t layer_count() const;
  void run_layer(std::size_t i);

  // For a plan without an arena: frees the activation buffers (about 2 MB for a per-neuron model) and keeps the
  // packed weights (tens of KB); the next run() allocates them again, zeroed. (Plans that take turns by the hundred
  // share an Int8Arena instead.)
  void release_buffers();
  bool holds_buffers() const;

  // The plan's parts, private to the core: a quantized activation with its zero border (Buffer), one layer with its
  // weights in the tiled kernels' layout (Step), where a step's finished values go (Sink), and the functions that
  // make and run them. Defined in core/src/engine/int8_forward_plan_internals.hpp, for the kernels
  // (core/src/kernels/int8_simd.cpp), their tests and bench_kernels.
  struct Buffer;
  struct Step;
  struct Sink;
  static Buffer describe_buffer(Shape3 shape, const Padding& border, int channel_stride);
  static Buffer make_buffer(Shape3 shape, const Padding& border, int channel_stride);
  static Step prepare_step(const Layer& layer, int in_cs);
  static void run_step(const Step& step, Buffer& in, const Sink& sink);

 private:
  Sink sink_for(std::size_t i, std::vector<float>* activation);
  void bind_buffers();  // gives every buffer storage, zeroed where no layer writes, before a run

  Int8Arena* arena_ = nullptr;
  std::uint64_t id_ = 0;  // unique per plan, for the arena (an address may be reused by a later plan)
  std::size_t arena_elements_ = 0;
  std::vector<Step> steps_;
  std::vector<Buffer> buffers_;  // buffers_[i]: layer i's quantized input
  Shape3 output_shape_;
  int output_cs_ = 0;
  std::vector<float> output_;                        // (H, W, output_cs_) the last layer's floats
  std::vector<std::vector<float>> activation_maps_;  // per layer (H, W, round_up(C, 8)), only when asked for
};

// The checks forward_int8 makes before running: int8 weights on every layer, the input shape, finite inputs.
Status check_int8_forward(const Model& model, const Tensor& input);

// forward_int8 through a plan the caller keeps (built from the same model): same checks, same results.
Result<ForwardResult> forward_int8_planned(const Model& model, Int8ForwardPlan& plan, const Tensor& input,
                                           bool keep_activations = false);

}  // namespace cortexlens
