// Private to the core (tests include it too): the building blocks of the synthesis recipes (synthesis.hpp), exposed
// for tests and for other analyses.
#pragma once

#include <vector>

#include "cortexlens/backward.hpp"
#include "cortexlens/model.hpp"
#include "cortexlens/tensor.hpp"

namespace cortexlens {

// scipy.ndimage.gaussian_filter over H and W of an (H, W, C) map, sigma in pixels, truncate 4 (radius
// round(4 sigma)), "reflect" borders (d c b a | a b c d), in place. The weights use exp_deterministic.
// The fast version (f32x4) gives the same bits as the plain line-by-line `_ref` twin; `scratch` (resized to the
// map's size) lets loops skip the allocation.
void gaussian_blur_hw(Tensor& map, float sigma);
void gaussian_blur_hw(Tensor& map, float sigma, std::vector<float>& scratch);
void gaussian_blur_hw_ref(Tensor& map, float sigma);

// e^x in double from basic arithmetic only (range reduction by ln 2, a Taylor polynomial, exact scaling by 2^k),
// so both targets compute identical values; accurate to a few ulp for |x| < 700.
double exp_deterministic(double x);
// sin and cos likewise (reduction to [-pi/4, pi/4] and Taylor polynomials).
void sincos_deterministic(double x, double& s, double& c);

// Clips each recentred value so the raw pixel (value + channel mean) stays within 0..255.
void clip_to_valid_pixels(Tensor& image);
// Replaces each pixel's channels by the mean of its raw values (what the authors' grayscale option does).
void make_grayscale(Tensor& image);

// The selected scalar's value at an image (recentred, model.input.size() floats), by a forward pass up to the
// selected layer; what the recipes and the block search compare candidates by.
float selected_value(const Model& model, const OutputSelector& s, const float* input, GradientWorkspace& ws);

}  // namespace cortexlens
