// The backward pass to the input: d(one chosen scalar of the model)/d(input image), for every layer kind the
// executable Model has (conv2d with any kernel, stride and pads; depthwise_conv2d; dense; relu or linear
// activation). Only the gradient with respect to the layer *inputs* is computed, never the weight gradients:
// synthesis, saliency and attribution need d/d(image) and nothing else.
//
// The forward half is the same ForwardPlan that predictions use (or, with use_reference_kernels, the scalar twins
// for both halves), so the gradient is taken at exactly the activations a prediction sees; the backward reads the
// ReLU masks from the plan's buffers. A GradientWorkspace keeps both plans, so a synthesis loop packs the weights
// once and allocates nothing per step.
//
// How to add a layer kind: write its scalar `<kind>_backward_input_f32_ref` (the plain scatter form of the chain
// rule, beside its forward twin in core/src/kernels/f32_ref.cpp), declare it in core/src/kernels/kernels.hpp and
// dispatch it in run_layer_backward_input_f32; for a fast version pack its weights and buffers in
// prepare_backward_step and run it in run_backward_step (core/src/engine/backward_plan.cpp), compare it with the
// twin on awkward shapes, and add a finite-difference case to tests/test_backward.cpp.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "cortexlens/model.hpp"

namespace cortexlens {

// Which scalar to differentiate.
//  - layer == -1: the model's output number `channel` (the last layer's output flattened in (H, W, C) order).
//  - layer >= 0: channel `channel` of model.layers[layer]'s output *after* its activation; at position (y, x)
//    when both are >= 0, otherwise the mean over all positions of that channel (an internal filter's
//    "channel objective").
struct OutputSelector {
  int layer = -1;
  int channel = 0;
  int y = -1, x = -1;

  static OutputSelector output(int index) { return {-1, index, -1, -1}; }
  static OutputSelector channel_mean(int layer, int channel) { return {layer, channel, -1, -1}; }
  static OutputSelector unit(int layer, int channel, int y, int x) { return {layer, channel, y, x}; }
};

// Ok when the selector names an existing layer, channel and position of a validated model.
Status check_selector(const Model& model, const OutputSelector& selector);

struct GradientOptions {
  bool use_reference_kernels = false;  // scalar twins for both halves (tests; checking a new kernel)
};

struct GradientResult {
  float value = 0.0f;  // the selected scalar at this input
  Tensor gradient;     // (H, W, C) like model.input: d value / d input (recentred units)
};

// Buffers reused across calls, so that a synthesis loop of 1000 steps allocates nothing and packs the weights once.
// It keeps a ForwardPlan and a BackwardPlan for the model it last ran (recognised by address): a model changed in
// place after that needs a fresh workspace. Opaque to callers.
struct BackwardPlan;  // per layer: transposed packed weights and bordered gradient buffers (engine/backward_plan.cpp)
class ForwardPlan;    // the float forward pass with its buffers kept (core/src/engine/forward_plan.hpp)

struct GradientWorkspace {
  GradientWorkspace();
  ~GradientWorkspace();
  GradientWorkspace(GradientWorkspace&&) noexcept;
  GradientWorkspace& operator=(GradientWorkspace&&) noexcept;

  std::vector<Tensor> activations;       // per layer (out.h, out.w, out.c), after the activation; filled by
                                         // run_forward(..., true) and by the reference path only
  std::vector<float> outputs;            // the last layer's output, flattened
  std::vector<float> grad_out, grad_in;  // reference path: the gradient travelling down, sized for the largest layer
  std::vector<float> vjp_weights;        // input_vjp_unchecked: the weights of the outputs
  std::unique_ptr<ForwardPlan> plan;
  std::unique_ptr<BackwardPlan> backward;
  const Model* plan_model = nullptr;
  const Layer* plan_layers = nullptr;

  // The fast forward pass (a ForwardPlan) for `model`, filling `activations` when asked; `outputs` always.
  void run_forward(const Model& model, const float* input, bool keep_activations);
};

// The selected scalar and its gradient with respect to the (recentred) input. The input must have shape
// model.input, the selector must pass check_selector; otherwise an error names what was wrong.
// At a ReLU kink (pre-activation exactly 0) the derivative is taken as 0, as TensorFlow does.
Result<GradientResult> input_gradient(const Model& model, const Tensor& input, const OutputSelector& selector,
                                      const GradientOptions& options = {}, GradientWorkspace* workspace = nullptr);

// The same without any checks or allocation beyond the workspace: for loops that already validated the model,
// input shape and selector once. `input` holds model.input.size() floats, `gradient` has room for as many.
float input_gradient_unchecked(const Model& model, const float* input, const OutputSelector& selector, float* gradient,
                               GradientWorkspace& workspace, bool use_reference_kernels = false);

// ---- vector-Jacobian products: d(sum_j w_j y_j)/d input for all outputs y_j of a multi-output model ----
//
// For objectives over several outputs at once (a penalty on how much the other 218 neurons of a shared model move):
// one backward pass instead of one per output. The weights may depend on the outputs at this very input (the
// penalty's do), so they are asked for between the forward and the backward pass.

// Receives the model's outputs at the input (the last layer's map flattened in (H, W, C) order) and writes one
// weight per output into `weights` (zeroed, as many as outputs).
using VjpWeights = std::function<void(const std::vector<float>& outputs, float* weights)>;

// Without checks, for loops that validated the model and input once: `input` holds model.input.size() floats,
// `gradient` room for as many. At a ReLU kink the derivative is 0, as for input_gradient.
void input_vjp_unchecked(const Model& model, const float* input, const VjpWeights& weights_of, float* gradient,
                         GradientWorkspace& workspace, bool use_reference_kernels = false);

struct VjpResult {
  std::vector<float> outputs;  // the model's outputs at this input
  Tensor gradient;             // (H, W, C) like model.input: d(sum_j w_j outputs_j) / d input
};

// Fixed weights, one per output; refuses an input of the wrong shape and a weight count that is not the model's
// output count.
Result<VjpResult> input_vjp(const Model& model, const Tensor& input, const std::vector<float>& weights,
                            const GradientOptions& options = {}, GradientWorkspace* workspace = nullptr);

}  // namespace cortexlens
