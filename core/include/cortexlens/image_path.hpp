// Nearly identical images: deterministic transforms of the 8-bit model input (shift, scale, rotate, contrast, blur,
// noise), the path from one image to another (a pixel blend) or to its transformed copy (the transform's amount in
// N steps), and the distance between two population response vectors.
//
// Transforms act on the 112x112 8-bit image the model sees (after the crop), not on the full photo: a "2-pixel
// shift" then means 2 pixels of the model's input, the unit its filters and readout are measured in, and the same
// transform means the same thing for a 112x112 session image and a 4000x3000 photo.
//
// Every pixel is computed with integer arithmetic (coefficients in fixed point; cos, sin and exp from our own
// polynomials in plain double arithmetic, then rounded to fixed point), so the page (wasm) and the CLI (native)
// produce the same bytes: no result depends on libm's last ulp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cortexlens/image.hpp"
#include "cortexlens/status.hpp"

namespace cortexlens {

enum class TransformKind { shift, scale, rotate, contrast, blur, noise };

// One transform at full amount. Amounts (units; the identity):
//   shift     pixels to the right (negative: left); 0. Pixels entering at the edge repeat the edge column.
//   scale     zoom factor about the image centre (1.05 = 5% larger); 1. Must be in [0.25, 4].
//   rotate    degrees counter-clockwise about the centre; 0. Corners outside the image repeat the nearest edge.
//   contrast  factor on each channel's distance from that channel's mean over the image; 1. In [0, 4].
//   blur      Gaussian sigma in pixels (separable, kernel radius ceil(3 sigma), edges repeated); 0. In [0, 8].
//   noise     standard deviation in pixel levels (0..255) of per-pixel, per-channel noise, fixed by `seed`; 0. In
//             [0, 128]. The noise is a sum of 12 uniform numbers (Irwin-Hall: mean 0, variance 1, within +-6 sd),
//             close to Gaussian without a logarithm.
// Geometric transforms sample bilinearly (weights in 1/65536), so a fractional shift also smooths slightly; integer
// shifts copy pixels exactly. Results are rounded to nearest and clamped to 0..255.
struct ImageTransform {
  TransformKind kind = TransformKind::shift;
  double amount = 0;
  std::uint64_t seed = 1;  // noise only
};

// "shift", "scale", ...; and the identity amount of each (0, or 1 for scale and contrast).
const char* transform_name(TransformKind kind);
double identity_amount(TransformKind kind);
// The kind named "shift", "scale", ...; an error listing the names otherwise.
Result<TransformKind> transform_kind_named(const std::string& name);

// Parses "shift=2", "scale=1.05", "rotate=-3", "contrast=0.8", "blur=1", "noise=4" (amounts in the ranges above).
Result<ImageTransform> parse_transform(const std::string& text);

// Checks the amount is finite and inside the kind's range (above).
Status check_transform(const ImageTransform& transform);

// The transform applied to an image (any size; the model input is 112x112). The result has the image's size.
Result<RgbImage> apply_transform(const RgbImage& image, const ImageTransform& transform);

// (1 - t) * a + t * b per byte, t in [0, 1] (in 1/65536 steps), rounded to nearest. a and b must have one size.
Result<RgbImage> blend_images(const RgbImage& a, const RgbImage& b, double t);

// Position of step `step` of `steps` along a path, from 0 (the first image) to 1 (the second, or the full
// transform): step / (steps - 1). steps >= 2.
double path_fraction(int step, int steps);
// The transform's amount at that step: identity + fraction * (amount - identity), exactly `amount` at the last step.
double path_amount(const ImageTransform& transform, int step, int steps);

// The images along a path, first to last, `steps` of them (2..kMaxPathSteps): either a pixel blend from `first` to
// `second` (transform null), or `first` under the transform at amount identity + fraction * (amount - identity)
// (second null). Step 0 is `first` itself in both cases.
constexpr int kMaxPathSteps = 256;
Result<std::vector<RgbImage>> image_path(const RgbImage& first, const RgbImage* second, const ImageTransform* transform,
                                         int steps);

// How far a population's response vector moved from a baseline: the root mean square over outputs of
// (response - baseline) / spread, where spread is each output's robust standard deviation on the reference natural
// images, (q75 - q25) / 1.349 (the interquartile range of a normal distribution is 1.349 sd). The models' units are
// arbitrary and differ per neuron, so each neuron is measured in its own natural-image spread: 1.0 means the
// neurons moved, on average, by one typical natural-image spread. Outputs whose spread is not positive are skipped
// (reported in `used`).
struct PopulationSpread {
  std::vector<double> spread;  // one per output
};
PopulationSpread spread_from_quartiles(const std::vector<double>& q25, const std::vector<double>& q75);
struct PopulationDistance {
  double distance = 0;
  std::size_t used = 0;
};
Result<PopulationDistance> population_distance(const std::vector<float>& responses, const std::vector<float>& baseline,
                                               const PopulationSpread& spread);

// Percentile (0..100) of `value` among a distribution given by its 0..100th percentiles (ascending), interpolated
// linearly, clamped to 0 and 100; NaN without a distribution. The page's web/src/reference.js percentileOf, in C++.
double percentile_of(double value, const std::vector<double>& quantiles);

}  // namespace cortexlens
