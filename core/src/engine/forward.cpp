#include "cortexlens/forward.hpp"

#include "engine/forward_plan.hpp"
#include "kernels/kernels.hpp"

namespace cortexlens {

Status check_forward_input(const Model& model, const Tensor& input) {
  if (input.shape == model.input && input.data.size() == model.input.size()) return Status::ok();
  return Status::error("input has shape (" + std::to_string(input.shape.h) + "," + std::to_string(input.shape.w) + "," +
                       std::to_string(input.shape.c) + "), model '" + model.name + "' expects (" +
                       std::to_string(model.input.h) + "," + std::to_string(model.input.w) + "," +
                       std::to_string(model.input.c) + ")");
}

ForwardRunner::ForwardRunner(const Model& model) : model_(&model), plan_(std::make_unique<ForwardPlan>(model)) {}
ForwardRunner::~ForwardRunner() = default;

Result<std::vector<float>> ForwardRunner::run(const Tensor& input) {
  CL_RETURN_IF_ERROR(check_forward_input(*model_, input));
  std::vector<float> outputs(plan_->output_size());
  plan_->run(input.data.data(), outputs.data());
  return outputs;
}

ForwardRunner::LayerOutput ForwardRunner::layer_output(std::size_t i) const {
  const ForwardPlan::Buffer& buffer = plan_->output_buffer(i);
  return {buffer.at(0, 0), buffer.shape, buffer.row_stride(), buffer.channel_stride};
}

Result<ForwardResult> forward(const Model& model, const Tensor& input, const ForwardOptions& options) {
  CL_RETURN_IF_ERROR(check_forward_input(model, input));
  ForwardResult result;
  if (!options.use_reference_kernels) {
    // A plan per call repacks the weights and reallocates the buffers; hot loops keep their own ForwardPlan
    // (bench_native prints both timings).
    ForwardPlan plan(model);
    result.outputs.resize(plan.output_size());
    plan.run(input.data.data(), result.outputs.data(), options.keep_activations ? &result.activations : nullptr);
    return result;
  }
  if (options.keep_activations) result.activations.reserve(model.layers.size());
  Tensor current = input;
  Tensor next;
  for (const auto& layer : model.layers) {
    next.shape = layer.out;
    next.data.resize(layer.out.size());
    run_layer_f32(layer, current.data.data(), next.data.data(), options.use_reference_kernels);
    if (options.keep_activations) result.activations.push_back(next);
    std::swap(current, next);
  }
  result.outputs = std::move(current.data);
  return result;
}

}  // namespace cortexlens
