// The forward pass of a validated Model on one recentred input.
#pragma once

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

}  // namespace cortexlens
