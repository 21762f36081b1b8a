// What every model-loading fuzz target checks once a hostile input has been accepted as a model: the model passes
// validate_model (the loaders promise that), and a forward pass on it stays inside its buffers (the sanitizers
// watch). Models over 4 M multiply-adds (twice the demo's) are not run: under the sanitizers a pass of a published
// model costs a second, and reaches no code a small one does not.
#pragma once

#include <cstdint>

#include "cortexlens/forward.hpp"
#include "cortexlens/model.hpp"

namespace cortexlens::fuzz {

inline constexpr std::int64_t kMaxFuzzedMultiplyAdds = 4'000'000;

inline void check_accepted_model(const Model& model) {
  if (!validate_model(model).is_ok()) __builtin_trap();
  if (model.multiply_adds() > kMaxFuzzedMultiplyAdds) return;
  Tensor input(model.input);
  for (std::size_t i = 0; i < input.data.size(); ++i) input.data[i] = 0.1f * static_cast<float>(i % 7) - 0.3f;
  const Result<ForwardResult> result = forward(model, input);
  if (!result || result->outputs.size() != model.output_count()) __builtin_trap();
}

}  // namespace cortexlens::fuzz
