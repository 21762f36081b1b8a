// The int8 forward pass: the checks, then an Int8ForwardPlan (or, for reference, the _ref kernels a layer at a
// time), and the switch between float32 and int8.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "cortexlens/forward.hpp"
#include "cortexlens/int8_forward_plan.hpp"
#include "cortexlens/quantize.hpp"
#include "kernels/kernels.hpp"

namespace cortexlens {

Status check_int8_forward(const Model& model, const Tensor& input) {
  for (const auto& layer : model.layers)
    if (!layer.int8)
      return Status::error("model '" + model.name + "' has no int8 weights for layer '" + layer.name +
                           "' (convert it with --precision int8, or run it as float32)");
  if (model.layers.empty()) return Status::error("model '" + model.name + "' has no layers");
  if (input.shape != model.input || input.data.size() != model.input.size())
    return Status::error("input has shape (" + std::to_string(input.shape.h) + "," + std::to_string(input.shape.w) +
                         "," + std::to_string(input.shape.c) + "), model '" + model.name + "' expects (" +
                         std::to_string(model.input.h) + "," + std::to_string(model.input.w) + "," +
                         std::to_string(model.input.c) + ")");
  // Quantizing converts float to int, which is undefined for NaN; the float path would merely propagate it.
  // A value is not finite when its exponent bits are all ones. Testing that for every value with an OR, and
  // looking for which one only if any is, lets the compiler vectorize the pass: a std::isfinite loop with an early
  // return took ~35 us per 112 x 112 x 3 input in wasm, which the population view paid 219 times per image.
  std::uint32_t any_non_finite = 0;
  for (const float value : input.data) {
    std::uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    any_non_finite |= static_cast<std::uint32_t>((~bits & 0x7F800000u) == 0);
  }
  if (any_non_finite)
    for (std::size_t i = 0; i < input.data.size(); ++i)
      if (!std::isfinite(input.data[i]))
        return Status::error("input value " + std::to_string(i) + " is " + std::to_string(input.data[i]) +
                             ", expected a finite number");
  return Status::ok();
}

Result<ForwardResult> forward_int8_planned(const Model& model, Int8ForwardPlan& plan, const Tensor& input,
                                           bool keep_activations) {
  CL_RETURN_IF_ERROR(check_int8_forward(model, input));
  ForwardResult result;
  result.outputs.resize(plan.output_size());
  plan.run(input.data.data(), result.outputs.data(), keep_activations ? &result.activations : nullptr);
  return result;
}

Result<ForwardResult> forward_int8(const Model& model, const Tensor& input, const ForwardOptions& options) {
  CL_RETURN_IF_ERROR(check_int8_forward(model, input));
  if (!options.use_reference_kernels) {
    // A plan per call packs the weights and allocates the buffers again; hot loops keep their own Int8ForwardPlan.
    Int8ForwardPlan plan(model);
    return forward_int8_planned(model, plan, input, options.keep_activations);
  }
  // The reference: layer at a time through float tensors, each layer quantizing its own input.
  ForwardResult result;
  if (options.keep_activations) result.activations.reserve(model.layers.size());
  Tensor current = input;
  Tensor next;
  std::vector<std::int16_t> quantized;  // (H, W, C) of the current layer's input
  for (const auto& layer : model.layers) {
    quantized.resize(current.data.size());
    const Int8Weights& q = *layer.int8;
    quantize_values_ref(current.data.data(), current.data.size(), q.input_scale, q.unsigned_input, quantized.data());
    next.shape = layer.out;
    next.data.resize(layer.out.size());
    run_layer_int8(layer, quantized.data(), next.data.data(), /*use_reference=*/true);
    if (options.keep_activations) result.activations.push_back(next);
    std::swap(current, next);
  }
  result.outputs = std::move(current.data);
  return result;
}

Result<ForwardResult> forward_with_precision(const Model& model, const Tensor& input, Precision precision,
                                             const ForwardOptions& options) {
  return precision == Precision::int8 ? forward_int8(model, input, options) : forward(model, input, options);
}

}  // namespace cortexlens
