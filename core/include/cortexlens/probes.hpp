// Parametric probes: the artificial stimuli a physiologist sweeps (gratings, dots, bars and curved contours, uniform
// colour), drawn as the model's 112x112 RGB input, and sweeps over one or two of their parameters.
//
// The page (through wasm) and the CLI call the same functions, and the pixels are identical bit for bit on every
// platform: drawing uses only +, -, *, /, sqrt and floor on doubles (IEEE-exact everywhere) and the file's own sine
// polynomial, never libm's sin/cos/atan2, whose last bit differs between glibc and Emscripten's musl. The drawing
// translation unit is compiled with -ffp-contract=off so no compiler fuses a multiply and an add on one target only.
//
// Geometry, for every family: the image is 112x112 pixels, x to the right, y downwards, pixel (i, j) covers
// [i, i+1) x [j, j+1), so the image centre is the point (56, 56), a pixel corner. Positions (x, y) are offsets in
// pixels from that centre, y positive downwards (as on screen). Angles are degrees counter-clockwise as seen on
// screen; orientation 0 is horizontal, 90 vertical. Intensities are 8-bit levels (0..255), rounded to nearest.
//
// Antialiasing: gratings are box-filtered exactly (the mean of the sinusoid over each pixel square, a sinc factor
// per axis), so a grating above the pixel Nyquist limit fades to its mean instead of aliasing; dots and strokes use
// their signed distance to the pixel centre, coverage = clamp(0.5 - distance, 0, 1) (a one-pixel-wide linear ramp).
//
// The families and their parameters (probe_parameters lists them with ranges, defaults and units):
//   grating   orientation (deg, of the stripes; 0 = horizontal stripes), frequency (cycles per image: across the
//             112-pixel width, so cycles per pixel = frequency / 112; 56 is the pixel Nyquist limit), phase (deg,
//             of the cosine at the image centre: 0 puts the middle of a colour1 stripe there), contrast (0..1,
//             Michelson: 1 swings fully between colour1 and colour2, 0 is their mean), colour1 and colour2 (24-bit
//             0xRRGGBB; defaults white and black).
//   dots      diameter (px), x, y (px, the centre of the grid), polarity (+1 bright on the background, -1 dark),
//             contrast (0..1 of the way from the background to white or black), count (dots per row and column
//             of a square grid: count x count dots), spacing (px between neighbouring dot centres), background
//             (grey level).
//   bar       length (px, of the centre line), width (px), orientation (deg, of the centre line at its middle),
//             curvature (deg: how far the centre line turns from one end to the other; 0 straight, 180 a half
//             circle, 360 a full circle; the sign bends it to either side), x, y (px, the middle of the centre
//             line), polarity, contrast, background. Ends are round (a straight bar is a capsule).
//   uniform   hue (deg, 0 red, 120 green, 240 blue), saturation (0..1), lightness (0..1), HSL as in CSS.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cortexlens/image.hpp"
#include "cortexlens/model_runner.hpp"
#include "cortexlens/status.hpp"

namespace cortexlens {

enum class ProbeFamily { grating, dots, bar, uniform };

const char* probe_family_name(ProbeFamily family);  // "grating", "dots", "bar", "uniform"
// "grating" | "dots" | "bar" | "uniform" (also "curve" for bar) -> the family, or an error listing them.
Result<ProbeFamily> probe_family_from_name(const std::string& name);
const std::vector<ProbeFamily>& probe_families();

struct ProbeParameterSpec {
  const char* name;
  const char* unit;   // "deg", "cycles/image", "px", "" (a fraction or a count), "0xRRGGBB", "level"
  double low, high;   // the accepted closed range
  double initial;     // the value when not set
  bool integer;       // only whole numbers (count, polarity, colours, levels)
  const char* about;  // one line for usage texts and the page's controls
};

// The parameters of a family, in a fixed order (the order settings and CSV columns use).
const std::vector<ProbeParameterSpec>& probe_parameters(ProbeFamily family);

// A family with every parameter's value, in probe_parameters order.
struct ProbeSettings {
  ProbeFamily family = ProbeFamily::grating;
  std::vector<double> values;
  double get(const std::string& name) const;  // NaN for a name the family does not have
};

// The family's defaults overridden by `values` (name, value): refuses an unknown name (listing the family's), a
// repeated name, a non-finite value, a value out of range or a fraction for an integer parameter, each naming the
// parameter, what was found and what was expected.
Result<ProbeSettings> probe_settings(ProbeFamily family, const std::vector<std::pair<std::string, double>>& values);
// Checks settings built by hand (a values vector of the wrong length, or values out of range).
Status check_probe_settings(const ProbeSettings& settings);

// The stimulus as 112x112 RGB, (H, W, 3) row-major. Identical bytes on every platform (see above).
Result<RgbImage> draw_probe(const ProbeSettings& settings);

// ---- sweeps ----

struct SweepLimits {
  static constexpr int max_axis_values = 256;
  static constexpr int max_points = 4096;  // 64 x 64
};

// One swept parameter and its values, in the order they are drawn.
struct SweepAxis {
  std::string name;
  std::vector<double> values;
};

// "FIRST:LAST:STEP" (LAST included when a step lands on it within 1e-9 of the step; STEP > 0 and FIRST <= LAST,
// or STEP < 0 and FIRST >= LAST) or "V1,V2,..." -> the values. An error says which form was expected.
Result<std::vector<double>> parse_sweep_values(const std::string& text);

// A sweep: the fixed settings and one or two axes. Point k of a two-axis sweep has axes[0] at values[k / n1] and
// axes[1] at values[k % n1] (the first axis is the slow one: rows of a heatmap).
struct ProbeSweep {
  ProbeSettings fixed;
  std::vector<SweepAxis> axes;
  std::size_t point_count() const;
};

// Checks the axes (1 or 2, distinct parameters of the family, every value in range, at most max_axis_values each
// and max_points in all) against `fixed` and returns the sweep.
Result<ProbeSweep> make_probe_sweep(const ProbeSettings& fixed, std::vector<SweepAxis> axes);
// The settings of point k (k < point_count()).
ProbeSettings sweep_point(const ProbeSweep& sweep, std::size_t k);

// Bytes of one stimulus: 112 x 112 x 3.
constexpr std::size_t kProbeBytes = static_cast<std::size_t>(kModelInputSide) * kModelInputSide * 3;

// Runs points [begin, end) of the sweep through the runner: responses[(k - begin) * outputs + o] for output o.
// Each stimulus is drawn, recentred (image.hpp) and run exactly as a decoded PNG of it would be, so a saved
// stimulus predicted later gives the same number. responses must hold (end - begin) * runner.output_size() floats;
// stimuli, when not null, receives the drawn pixels ((end - begin) x kProbeBytes), so a caller that shows them
// does not draw them twice.
Status run_probe_sweep(const ProbeSweep& sweep, ModelRunner& runner, std::size_t begin, std::size_t end,
                       float* responses, std::uint8_t* stimuli = nullptr);

}  // namespace cortexlens
