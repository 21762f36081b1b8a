// The forward pass of a validated Model on one recentred input.
#pragma once

#include <memory>
#include <vector>

#include "cortexlens/model.hpp"

namespace cortexlens {

struct ForwardOptions {
  bool keep_activations = false;  // keep every layer's output (the page draws them)
  bool use_reference_kernels = false;
};

struct ForwardResult {
  std::vector<float> outputs;       // model.output_count() values
  std::vector<Tensor> activations;  // one per model.layers entry when keep_activations, else empty
};

// The input must have shape model.input; anything else is refused with the shapes named.
Result<ForwardResult> forward(const Model& model, const Tensor& input, const ForwardOptions& options = {});

// forward()'s check of an input against the model's input shape (the same message wherever a float pass runs).
Status check_forward_input(const Model& model, const Tensor& input);

class ForwardPlan;  // engine/forward_plan.hpp (private to the core)

// forward() over many inputs on one thread: the weights are packed and the activation buffers allocated once,
// where forward() does both on every call (for a 112x112 model that setup costs as much as the pass itself).
// Results are bit-identical to forward(). Not thread-safe: give each worker thread its own. The model must outlive
// the runner and stay unchanged.
class ForwardRunner {
 public:
  explicit ForwardRunner(const Model& model);
  ~ForwardRunner();
  ForwardRunner(const ForwardRunner&) = delete;
  ForwardRunner& operator=(const ForwardRunner&) = delete;

  // The model's outputs; an input of the wrong shape is refused as forward() refuses it.
  Result<std::vector<float>> run(const Tensor& input);
  // For a caller that reads every layer's output (calibration): layer i's output after the last run(), as a
  // (H, W, C) view with a row stride and a channel stride of its own (the plan's bordered buffer).
  struct LayerOutput {
    const float* data;  // pixel (y, x), channel c at data[y * row_stride + x * channel_stride + c]
    Shape3 shape;
    std::ptrdiff_t row_stride, channel_stride;
  };
  LayerOutput layer_output(std::size_t i) const;

 private:
  const Model* model_;
  std::unique_ptr<ForwardPlan> plan_;
};

}  // namespace cortexlens
