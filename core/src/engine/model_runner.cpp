#include "cortexlens/model_runner.hpp"

#include "cortexlens/forward.hpp"
#include "cortexlens/int8_forward_plan.hpp"
#include "engine/forward_plan.hpp"

namespace cortexlens {

ModelRunner::ModelRunner(const Model& model, Precision precision) : model_(&model), precision_(precision) {}

ModelRunner::~ModelRunner() = default;

Result<std::unique_ptr<ModelRunner>> ModelRunner::create(const Model& model, Precision precision) {
  if (model.layers.empty()) return Status::error("model '" + model.name + "' has no layers");
  std::unique_ptr<ModelRunner> runner(new ModelRunner(model, precision));
  if (precision == Precision::int8) {
    for (const auto& layer : model.layers)
      if (!layer.int8)
        return Status::error("model '" + model.name + "' has no int8 weights for layer '" + layer.name +
                             "' (convert it with --precision int8, or run it as float32)");
    runner->int8_plan_ = std::make_unique<Int8ForwardPlan>(model);
    runner->output_size_ = runner->int8_plan_->output_size();
  } else {
    runner->float_plan_ = std::make_unique<ForwardPlan>(model);
    runner->output_size_ = runner->float_plan_->output_size();
  }
  return runner;
}

Status ModelRunner::run(const Tensor& input, float* outputs) {
  if (int8_plan_) {
    CL_RETURN_IF_ERROR(check_int8_forward(*model_, input));
    int8_plan_->run(input.data.data(), outputs);
  } else {
    CL_RETURN_IF_ERROR(check_forward_input(*model_, input));
    float_plan_->run(input.data.data(), outputs);
  }
  return Status::ok();
}

}  // namespace cortexlens
