// Where a model looks and what its parts do, for one image: gradient x input saliency, occlusion, the readout map,
// and ablation (a copy of the model with a channel switched off or scaled). All maps are (H, W, 1) tensors.
#pragma once

#include <functional>

#include "cortexlens/backward.hpp"
#include "cortexlens/model.hpp"

namespace cortexlens {

// sum over colour channels of d value / d input * input, per pixel: (H, W, 1). Positive where the pixel's
// deviation from the mean grey pushes the selected value up. Also returns the value itself.
Result<Tensor> saliency_gradient_x_input(const Model& model, const Tensor& input, const OutputSelector& selector,
                                         float* value = nullptr);

struct OcclusionOptions {
  int patch = 16;  // side of the square grey patch (zero after recentring), pixels
  int stride = 8;  // step between patch positions, pixels
};

struct OcclusionMap {
  float baseline = 0.0f;   // the selected value for the unoccluded image
  int rows = 0, cols = 0;  // patch positions: top-left (r * stride, c * stride), clipped to the image
  Tensor drops;            // (rows, cols, 1): baseline - value with the patch there (positive: the patch hurt)
  Tensor per_pixel;        // (H, W, 1): mean drop over the patches covering each pixel, for overlays
};

// Slides the patch over the image; `progress(done, total)` after each row of positions may return false to stop
// (an error "cancelled" is returned then). Patch and stride must be 1..min(H, W).
Result<OcclusionMap> occlusion_map(const Model& model, const Tensor& input, const OutputSelector& selector,
                                   const OcclusionOptions& options = {},
                                   const std::function<bool(int, int)>& progress = {});

// The readout's share of output `output` per location: (H, W, 1) of the last layer's input map, where
// map[y, x] = sum_c a[y, x, c] * w[y, x, c, output], so that sum(map) + bias = the output. Works when the last
// layer is a Dense reading a flattened (H, W, C) map (the per-neuron models) or a depthwise layer whose kernel
// covers its whole input with no padding (the shared models' spatial pooling). Anything else is refused.
Result<Tensor> readout_map(const Model& model, const Tensor& input, int output, float* bias = nullptr);

// A copy of the model with channel `channel` of layer `layer`'s output (after its activation) multiplied by
// `scale` (0 switches it off). Done on the weights: the channel's kernel and bias are scaled, which equals
// scaling the output because ReLU is positively homogeneous; hence scale must be >= 0 for ReLU layers. The copy
// runs the float path (any int8 form is dropped, since its weights no longer match).
Result<Model> ablate(const Model& model, int layer, int channel, float scale);

// The same, in place; for applying several ablations in a row.
Status ablate_in_place(Model& model, int layer, int channel, float scale);

}  // namespace cortexlens
