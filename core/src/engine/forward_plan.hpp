// Private to the core (tests and bench include it too): the float32 forward pass prepared once, which forward(),
// the backward pass's forward half (GradientWorkspace) and the analyses run.
//
// Its steps (prepare_step, run_step, make_buffer: the kernels' weight and buffer layouts) are defined beside the
// kernels in kernels/f32_simd.cpp; the chain of steps and buffers in engine/forward_plan.cpp.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

#include "cortexlens/isa.hpp"
#include "cortexlens/model.hpp"

namespace cortexlens {

// Storage on 64-byte boundaries: with channel strides that are multiples of 16 floats, a 16-float (AVX-512) load of
// a pixel's channels then never spans two cache lines.
template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}  // NOLINT: allocators convert implicitly
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{64})); }
  void deallocate(T* p, std::size_t) { ::operator delete (p, std::align_val_t{64}); }
  template <typename U>
  bool operator==(const CacheLineAllocator<U>&) const {
    return true;
  }
  template <typename U>
  bool operator!=(const CacheLineAllocator<U>&) const {
    return false;
  }
};
using AlignedFloats = std::vector<float, CacheLineAllocator<float>>;

// A model prepared once for many fast float32 forward passes (what forward() uses; hold one yourself in hot loops
// such as benchmarks, evaluation over many images or synthesis, to skip the per-call packing and allocation).
//
// Built from a model that passed validate_model:
//   - conv2d weights are packed per block of output channels (16 on sse; kernels/f32_wide.hpp for the wider paths)
//     as (kh, kw * in_cs, block), the order the register tile of the kernel reads them in; depthwise weights as
//     (kh, kw, cs); dense rows follow the padded input layout; biases and padding channels are zero;
//   - every activation has its own buffer (H + pad_top + pad_bottom, W + pad_left + pad_right, cs) whose zero
//     border is the padding the consuming layer needs, and whose channel stride cs is channel_stride(C, isa): C
//     rounded up to 4, or to the path's vector once C fills one (the model input keeps cs = C when the first
//     layer is a conv2d, so the 5x5 conv on RGB does not do 33% extra work). The producing layer writes straight into
//     the interior, so no kernel tests bounds or handles a partial vector, and no padding copy is made between layers.
// run() reuses these buffers, so one plan must not run on two threads at once (give each worker its own).
//
// Instruction set: the weights are packed for active_isa() (the conv blocks are 16 channels wide on sse and
// avx2, 64 on avx512; scalar packs nothing and runs the `_ref` twins) and each step remembers the ISA it was
// packed for. run() compares active_isa() with the plan's ISA and repacks every step when it changed, so
// set_isa() applies to the next pass of existing plans as well (one relaxed atomic load per pass). The buffers'
// channel strides depend on the ISA too (channel_stride) and are remade with the steps; the backward pass reads
// the ReLU masks of output_buffer() through each buffer's own strides. run_layer() runs the steps as packed.
// The plan points at the model's layers: the model must outlive it and stay unchanged.
class ForwardPlan {
 public:
  explicit ForwardPlan(const Model& model);

  Isa isa() const { return isa_; }

  const Shape3& input_shape() const { return buffers_.front().shape; }
  std::size_t output_size() const { return buffers_.back().shape.size(); }

  // input: input_shape().size() floats (H, W, C); outputs: output_size() floats, the last layer's (H, W, C) output.
  // activations, if given, is filled with one dense (H, W, C) tensor per layer.
  void run(const float* input, float* outputs, std::vector<Tensor>* activations = nullptr);

  // For profiling one layer at a time: runs layer i alone on the buffers the last run() filled.
  std::size_t layer_count() const { return steps_.size(); }
  void run_layer(std::size_t i) { run_step(steps_[i], buffers_[i], buffers_[i + 1]); }

  // An activation with its zero border and padded channel stride (public for the kernels' own tests).
  struct Buffer {
    Shape3 shape;  // (H, W, C) of the activation itself
    int pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
    int channel_stride = 0;  // >= shape.c
    AlignedFloats data;      // (pad_top + H + pad_bottom, pad_left + W + pad_right, channel_stride), zero border

    int row_stride() const { return (pad_left + shape.w + pad_right) * channel_stride; }
    // Pixel (y, x) of the activation; y and x may reach into the border (negative or >= H, W).
    float* at(int y, int x) {
      return data.data() + static_cast<std::ptrdiff_t>(y + pad_top) * row_stride() +
             static_cast<std::ptrdiff_t>(x + pad_left) * channel_stride;
    }
    const float* at(int y, int x) const { return const_cast<Buffer*>(this)->at(y, x); }
  };
  // Layer i's output (after its activation) as the last run() left it: the backward pass reads its ReLU masks here
  // instead of asking run() for dense copies of every activation.
  const Buffer& output_buffer(std::size_t i) const { return buffers_[i + 1]; }
  // One layer with its weights in the kernels' layout.
  struct Step {
    const Layer* layer = nullptr;  // geometry and activation; only valid while the source model lives
    AlignedFloats weights;         // packed, see above
    std::vector<float> bias;       // (round_up(out.c, 16)) zero-padded; dense with 1 unit: (1)
    int units_stride = 0;          // dense only: floats per packed weight row
    Isa isa = Isa::sse;            // the kernels run_step calls, and the layout `weights` is packed in for them
                                   // (narrower than the plan's for depthwise layers of <= 8 channels: f32_simd.cpp)
  };
  static Step prepare_step(const Layer& layer, int in_channel_stride, Isa isa);
  // The channel stride of a C-channel activation on `isa`: C rounded up to 4, or to the path's vector (8 floats on
  // avx2, 16 on avx512) once C fills one, so that each pixel starts on a vector boundary.
  static int channel_stride(int channels, Isa isa);
  static Buffer make_buffer(Shape3 shape, const Padding& border, int channel_stride);
  static void run_step(const Step& step, Buffer& in, Buffer& out);
  // Output rows [row_begin, row_end) of a conv2d or depthwise step (the scalar and dense steps run whole).
  static void run_step_rows(const Step& step, Buffer& in, Buffer& out, int row_begin, int row_end);
  // A dense (H, W, C) map into a buffer's interior, and back out.
  static void copy_in(const float* dense, Buffer& buffer);
  static void copy_out(Buffer& buffer, float* dense);

 private:
  void pack_steps(Isa isa);
  // Whether steps i and i + 1 run interleaved in bands of rows (run_in_bands), and running them so.
  bool runs_in_bands(std::size_t i) const;
  void run_in_bands(std::size_t i);

  Isa isa_ = Isa::sse;
  Shape3 input_shape_;
  int input_channel_stride_ = 0;
  std::vector<Step> steps_;
  std::vector<Buffer> buffers_;  // buffers_[0] the input, buffers_[i + 1] the output of layer i
};

}  // namespace cortexlens
