// Parametric probes (cortexlens/probes.hpp). Everything that decides a pixel is IEEE-exact double arithmetic
// (+, -, *, /, sqrt, floor) or sin_turns below, so native and wasm builds draw the same bytes; this file is
// compiled with -ffp-contract=off (core/CMakeLists.txt).
#include "cortexlens/probes.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace cortexlens {

namespace {

constexpr int kSide = kModelInputSide;
constexpr double kCentre = kSide / 2.0;
constexpr double kTwoPi = 6.283185307179586476925;

// sin(2*pi*t) for t in turns, by a fixed Taylor polynomial on a quarter turn (error < 5e-14): the same result on
// every platform, unlike libm's sin, whose last bit differs between glibc and musl.
double sin_turns(double t) {
  t -= std::floor(t);  // [0, 1)
  double u;            // in [-0.25, 0.25], sin(2 pi u) == sin(2 pi t)
  if (t < 0.25)
    u = t;
  else if (t < 0.75)
    u = 0.5 - t;
  else
    u = t - 1.0;
  const double x = kTwoPi * u;
  const double x2 = x * x;
  // Horner on x^2: coefficients (-1)^k / (2k+1)!, k = 0..8.
  double p = 1.0 / 355687428096000.0;  // 1/17!
  p = p * x2 - 1.0 / 1307674368000.0;  // 1/15!
  p = p * x2 + 1.0 / 6227020800.0;     // 1/13!
  p = p * x2 - 1.0 / 39916800.0;       // 1/11!
  p = p * x2 + 1.0 / 362880.0;         // 1/9!
  p = p * x2 - 1.0 / 5040.0;           // 1/7!
  p = p * x2 + 1.0 / 120.0;            // 1/5!
  p = p * x2 - 1.0 / 6.0;              // 1/3!
  p = p * x2 + 1.0;
  return p * x;
}
double cos_turns(double t) { return sin_turns(t + 0.25); }

// The factor a box filter one pixel wide applies to a cosine of c cycles per pixel: sin(pi c) / (pi c). Applied per
// axis, it gives each pixel the exact mean of the grating over its square.
double box_gain(double cycles_per_pixel) {
  const double a = cycles_per_pixel;
  if (std::fabs(a) < 1e-12) return 1.0;
  return sin_turns(a / 2.0) / (kTwoPi * a / 2.0);
}

std::uint8_t to_level(double v) {
  if (!(v > 0.0)) return 0;  // also NaN
  if (v >= 255.0) return 255;
  return static_cast<std::uint8_t>(std::floor(v + 0.5));
}

double clamp01(double v) { return v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v; }

// Pixel centre of column i (or row j), relative to the image centre.
double offset_of(int i) { return i + 0.5 - kCentre; }

const std::vector<ProbeParameterSpec>& specs_of(ProbeFamily family) {
  static const std::vector<ProbeParameterSpec> grating = {
      {"orientation", "deg", 0, 360, 0, false, "angle of the stripes, counter-clockwise; 0 = horizontal stripes"},
      {"frequency", "cycles/image", 0, 56, 4, false, "cycles across the 112-px width (cycles/px = value / 112)"},
      {"phase", "deg", 0, 360, 0, false, "phase of the cosine at the image centre; 0 = colour1 stripe there"},
      {"contrast", "", 0, 1, 1, false, "Michelson contrast between colour1 and colour2"},
      {"colour1", "0xRRGGBB", 0, 0xFFFFFF, 0xFFFFFF, true, "colour of the stripes' peaks"},
      {"colour2", "0xRRGGBB", 0, 0xFFFFFF, 0x000000, true, "colour of the stripes' troughs"},
  };
  static const std::vector<ProbeParameterSpec> dots = {
      {"diameter", "px", 0.5, 112, 8, false, "dot diameter"},
      {"x", "px", -56, 56, 0, false, "grid centre, right of the image centre"},
      {"y", "px", -56, 56, 0, false, "grid centre, below the image centre"},
      {"polarity", "", -1, 1, 1, true, "+1 brighter than the background, -1 darker"},
      {"contrast", "", 0, 1, 1, false, "fraction of the way from the background to white (or black)"},
      {"count", "", 1, 10, 1, true, "dots per row and per column (count x count)"},
      {"spacing", "px", 1, 112, 16, false, "distance between neighbouring dot centres"},
      {"background", "level", 0, 255, 128, true, "grey level of the background"},
  };
  static const std::vector<ProbeParameterSpec> bar = {
      {"length", "px", 0, 224, 40, false, "length of the centre line (round ends add width/2 each)"},
      {"width", "px", 0.5, 112, 6, false, "stroke width"},
      {"orientation", "deg", 0, 360, 0, false, "direction of the centre line at its middle; 0 = horizontal"},
      {"curvature", "deg", -360, 360, 0, false, "turn of the centre line from end to end; 0 = straight"},
      {"x", "px", -56, 56, 0, false, "middle of the centre line, right of the image centre"},
      {"y", "px", -56, 56, 0, false, "middle of the centre line, below the image centre"},
      {"polarity", "", -1, 1, 1, true, "+1 brighter than the background, -1 darker"},
      {"contrast", "", 0, 1, 1, false, "fraction of the way from the background to white (or black)"},
      {"background", "level", 0, 255, 128, true, "grey level of the background"},
  };
  static const std::vector<ProbeParameterSpec> uniform = {
      {"hue", "deg", 0, 360, 0, false, "HSL hue: 0 red, 120 green, 240 blue"},
      {"saturation", "", 0, 1, 1, false, "HSL saturation"},
      {"lightness", "", 0, 1, 0.5, false, "HSL lightness: 0 black, 0.5 full colour, 1 white"},
  };
  switch (family) {
    case ProbeFamily::grating:
      return grating;
    case ProbeFamily::dots:
      return dots;
    case ProbeFamily::bar:
      return bar;
    case ProbeFamily::uniform:
      return uniform;
  }
  return grating;
}

int index_of(ProbeFamily family, const std::string& name) {
  const auto& specs = specs_of(family);
  for (std::size_t i = 0; i < specs.size(); ++i)
    if (name == specs[i].name) return static_cast<int>(i);
  return -1;
}

std::string parameter_list(ProbeFamily family) {
  std::string out;
  for (const auto& s : specs_of(family)) out += (out.empty() ? "" : ", ") + std::string(s.name);
  return out;
}

std::string number_text(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", v);
  return buffer;
}

Status check_value(ProbeFamily family, const ProbeParameterSpec& spec, double value) {
  const std::string what = std::string(probe_family_name(family)) + " " + spec.name;
  const std::string range = number_text(spec.low) + ".." + number_text(spec.high) +
                            (*spec.unit ? std::string(" (") + spec.unit + ")" : std::string());
  if (!std::isfinite(value)) return Status::error(what + ": found a non-finite value, expected a number in " + range);
  if (value < spec.low || value > spec.high)
    return Status::error(what + ": found " + number_text(value) + ", expected a number in " + range);
  if (spec.integer && value != std::floor(value))
    return Status::error(what + ": found " + number_text(value) + ", expected a whole number in " + range);
  if (spec.integer && std::string(spec.name) == "polarity" && value == 0)
    return Status::error(what + ": found 0, expected +1 (brighter) or -1 (darker)");
  return Status::ok();
}

struct Rgb {
  double r, g, b;
};
Rgb rgb_of(double colour) {
  const auto c = static_cast<std::uint32_t>(colour);
  return {static_cast<double>((c >> 16) & 255), static_cast<double>((c >> 8) & 255), static_cast<double>(c & 255)};
}

RgbImage blank_image() {
  RgbImage image;
  image.width = image.height = kSide;
  image.pixels.assign(static_cast<std::size_t>(kSide) * kSide * 3, 0);
  return image;
}

void draw_grating(const ProbeSettings& s, RgbImage& image) {
  const double orientation = s.values[0], frequency = s.values[1], phase = s.values[2], contrast = s.values[3];
  const Rgb a = rgb_of(s.values[4]), b = rgb_of(s.values[5]);
  // The wave runs across the stripes: direction (sin, cos) of the orientation on screen (y down), so 0 degrees
  // varies along y (horizontal stripes) and 90 along x (vertical stripes).
  const double nx = sin_turns(orientation / 360.0), ny = cos_turns(orientation / 360.0);
  const double fx = frequency / kSide * nx, fy = frequency / kSide * ny;  // cycles per pixel along x and y
  const double gain = contrast * box_gain(fx) * box_gain(fy);
  const double mid[3] = {(a.r + b.r) / 2, (a.g + b.g) / 2, (a.b + b.b) / 2};
  const double half[3] = {(a.r - b.r) / 2, (a.g - b.g) / 2, (a.b - b.b) / 2};
  // cos(a_i + b_j) = cos a_i cos b_j - sin a_i sin b_j: 448 polynomial evaluations instead of 12544 (a sweep draws
  // every stimulus, and the page waits for them).
  double cos_a[kSide], sin_a[kSide], cos_b[kSide], sin_b[kSide];
  for (int k = 0; k < kSide; ++k) {
    const double a_turns = fx * offset_of(k) + phase / 360.0, b_turns = fy * offset_of(k);
    cos_a[k] = cos_turns(a_turns), sin_a[k] = sin_turns(a_turns);
    cos_b[k] = cos_turns(b_turns), sin_b[k] = sin_turns(b_turns);
  }
  for (int j = 0; j < kSide; ++j)
    for (int i = 0; i < kSide; ++i) {
      const double wave = gain * (cos_a[i] * cos_b[j] - sin_a[i] * sin_b[j]);
      std::uint8_t* p = &image.pixels[(static_cast<std::size_t>(j) * kSide + i) * 3];
      for (int c = 0; c < 3; ++c) p[c] = to_level(mid[c] + half[c] * wave);
    }
}

// The level a shape of full coverage has: `contrast` of the way from the background to white (polarity +1) or
// black (-1).
double figure_level(double background, double polarity, double contrast) {
  return polarity > 0 ? background + contrast * (255.0 - background) : background - contrast * background;
}

void fill_grey(const std::vector<double>& coverage, double background, double figure, RgbImage& image) {
  for (std::size_t k = 0; k < coverage.size(); ++k) {
    const std::uint8_t level = to_level(background + coverage[k] * (figure - background));
    image.pixels[3 * k] = image.pixels[3 * k + 1] = image.pixels[3 * k + 2] = level;
  }
}

void draw_dots(const ProbeSettings& s, RgbImage& image) {
  const double radius = s.values[0] / 2, x = s.values[1], y = s.values[2], polarity = s.values[3];
  const double contrast = s.values[4], spacing = s.values[6], background = s.values[7];
  const int count = static_cast<int>(s.values[5]);
  std::vector<double> coverage(static_cast<std::size_t>(kSide) * kSide, 0.0);
  for (int gj = 0; gj < count; ++gj)
    for (int gi = 0; gi < count; ++gi) {
      const double cx = x + (gi - (count - 1) / 2.0) * spacing, cy = y + (gj - (count - 1) / 2.0) * spacing;
      // Only pixels whose centre lies within radius + 0.5 of the dot's centre are touched.
      const int i0 = std::max(0, static_cast<int>(std::floor(cx + kCentre - radius - 1)));
      const int i1 = std::min(kSide - 1, static_cast<int>(std::floor(cx + kCentre + radius + 1)));
      const int j0 = std::max(0, static_cast<int>(std::floor(cy + kCentre - radius - 1)));
      const int j1 = std::min(kSide - 1, static_cast<int>(std::floor(cy + kCentre + radius + 1)));
      for (int j = j0; j <= j1; ++j)
        for (int i = i0; i <= i1; ++i) {
          const double dx = offset_of(i) - cx, dy = offset_of(j) - cy;
          const double c = clamp01(radius - std::sqrt(dx * dx + dy * dy) + 0.5);
          double& cell = coverage[static_cast<std::size_t>(j) * kSide + i];
          cell = std::max(cell, c);
        }
    }
  fill_grey(coverage, background, figure_level(background, polarity, contrast), image);
}

void draw_bar(const ProbeSettings& s, RgbImage& image) {
  const double length = s.values[0], half_width = s.values[1] / 2, orientation = s.values[2];
  const double bend = s.values[3], mx = s.values[4], my = s.values[5];
  // Tangent of the centre line at its middle (on screen, y down, counter-clockwise) and the normal to its left.
  const double tx = cos_turns(orientation / 360.0), ty = -sin_turns(orientation / 360.0);
  const double nx = ty, ny = -tx;  // the tangent turned a quarter turn counter-clockwise on screen
  const double turns = std::fabs(bend) / 360.0;
  const double radius = turns > 0 ? length / (kTwoPi * turns) : 0.0;
  const bool straight = turns == 0.0 || radius > 1e5;
  // A positive bend turns the line counter-clockwise as it runs along the tangent: the centre of its circle lies on
  // the left (the normal's side). u: unit vector from the circle's centre to the middle of the line.
  const double side = bend > 0 ? 1.0 : -1.0;
  const double cx = mx + side * radius * nx, cy = my + side * radius * ny;
  const double ux = -side * nx, uy = -side * ny;
  const double cos_half = cos_turns(turns / 2), sin_half = sin_turns(turns / 2);
  const double e1x = cx + radius * (ux * cos_half - uy * sin_half), e1y = cy + radius * (ux * sin_half + uy * cos_half);
  const double e2x = cx + radius * (ux * cos_half + uy * sin_half),
               e2y = cy + radius * (-ux * sin_half + uy * cos_half);

  std::vector<double> coverage(static_cast<std::size_t>(kSide) * kSide, 0.0);
  for (int j = 0; j < kSide; ++j)
    for (int i = 0; i < kSide; ++i) {
      const double px = offset_of(i), py = offset_of(j);
      double distance;
      if (straight) {
        const double along = std::clamp((px - mx) * tx + (py - my) * ty, -length / 2, length / 2);
        const double dx = px - mx - along * tx, dy = py - my - along * ty;
        distance = std::sqrt(dx * dx + dy * dy);
      } else {
        const double qx = px - cx, qy = py - cy;
        const double rho = std::sqrt(qx * qx + qy * qy);
        // Within the arc's angular span when the angle between q and u is at most half the turn.
        if (qx * ux + qy * uy >= rho * cos_half) {
          distance = std::fabs(rho - radius);
        } else {
          const double d1 = std::sqrt((px - e1x) * (px - e1x) + (py - e1y) * (py - e1y));
          const double d2 = std::sqrt((px - e2x) * (px - e2x) + (py - e2y) * (py - e2y));
          distance = std::min(d1, d2);
        }
      }
      coverage[static_cast<std::size_t>(j) * kSide + i] = clamp01(half_width - distance + 0.5);
    }
  fill_grey(coverage, s.values[8], figure_level(s.values[8], s.values[6], s.values[7]), image);
}

// HSL to RGB as CSS Color 4 defines it, in exact arithmetic.
void draw_uniform(const ProbeSettings& s, RgbImage& image) {
  const double hue = s.values[0], saturation = s.values[1], lightness = s.values[2];
  const double chroma = (1 - std::fabs(2 * lightness - 1)) * saturation;
  double h = hue / 60.0;
  h -= 6.0 * std::floor(h / 6.0);  // [0, 6)
  const double x = chroma * (1 - std::fabs(h - 2.0 * std::floor(h / 2.0) - 1));
  double r = 0, g = 0, b = 0;
  if (h < 1)
    r = chroma, g = x;
  else if (h < 2)
    r = x, g = chroma;
  else if (h < 3)
    g = chroma, b = x;
  else if (h < 4)
    g = x, b = chroma;
  else if (h < 5)
    r = x, b = chroma;
  else
    r = chroma, b = x;
  const double m = lightness - chroma / 2;
  const std::uint8_t rgb[3] = {to_level(255 * (r + m)), to_level(255 * (g + m)), to_level(255 * (b + m))};
  for (std::size_t k = 0; k < image.pixels.size(); k += 3) std::copy(rgb, rgb + 3, &image.pixels[k]);
}

}  // namespace

const char* probe_family_name(ProbeFamily family) {
  switch (family) {
    case ProbeFamily::grating:
      return "grating";
    case ProbeFamily::dots:
      return "dots";
    case ProbeFamily::bar:
      return "bar";
    case ProbeFamily::uniform:
      return "uniform";
  }
  return "?";
}

const std::vector<ProbeFamily>& probe_families() {
  static const std::vector<ProbeFamily> all = {ProbeFamily::grating, ProbeFamily::dots, ProbeFamily::bar,
                                               ProbeFamily::uniform};
  return all;
}

Result<ProbeFamily> probe_family_from_name(const std::string& name) {
  for (ProbeFamily f : probe_families())
    if (name == probe_family_name(f)) return f;
  if (name == "curve") return ProbeFamily::bar;
  return Status::error("unknown probe family '" + name + "', expected grating, dots, bar (or curve) or uniform");
}

const std::vector<ProbeParameterSpec>& probe_parameters(ProbeFamily family) { return specs_of(family); }

double ProbeSettings::get(const std::string& name) const {
  const int i = index_of(family, name);
  return i < 0 || static_cast<std::size_t>(i) >= values.size() ? std::numeric_limits<double>::quiet_NaN()
                                                               : values[static_cast<std::size_t>(i)];
}

Status check_probe_settings(const ProbeSettings& settings) {
  const auto& specs = specs_of(settings.family);
  if (settings.values.size() != specs.size())
    return Status::error(std::string(probe_family_name(settings.family)) + ": found " +
                         std::to_string(settings.values.size()) + " parameter values, expected " +
                         std::to_string(specs.size()) + " (" + parameter_list(settings.family) + ")");
  for (std::size_t i = 0; i < specs.size(); ++i)
    CL_RETURN_IF_ERROR(check_value(settings.family, specs[i], settings.values[i]));
  return Status::ok();
}

Result<ProbeSettings> probe_settings(ProbeFamily family, const std::vector<std::pair<std::string, double>>& values) {
  const auto& specs = specs_of(family);
  ProbeSettings settings;
  settings.family = family;
  for (const auto& s : specs) settings.values.push_back(s.initial);
  std::vector<bool> seen(specs.size(), false);
  for (const auto& [name, value] : values) {
    const int i = index_of(family, name);
    if (i < 0)
      return Status::error(std::string(probe_family_name(family)) + " has no parameter '" + name +
                           "', expected one of " + parameter_list(family));
    if (seen[static_cast<std::size_t>(i)])
      return Status::error(std::string(probe_family_name(family)) + " " + name + " is set twice, expected once");
    seen[static_cast<std::size_t>(i)] = true;
    CL_RETURN_IF_ERROR(check_value(family, specs[static_cast<std::size_t>(i)], value));
    settings.values[static_cast<std::size_t>(i)] = value;
  }
  return settings;
}

Result<RgbImage> draw_probe(const ProbeSettings& settings) {
  CL_RETURN_IF_ERROR(check_probe_settings(settings));
  RgbImage image = blank_image();
  switch (settings.family) {
    case ProbeFamily::grating:
      draw_grating(settings, image);
      break;
    case ProbeFamily::dots:
      draw_dots(settings, image);
      break;
    case ProbeFamily::bar:
      draw_bar(settings, image);
      break;
    case ProbeFamily::uniform:
      draw_uniform(settings, image);
      break;
  }
  return image;
}

Result<std::vector<double>> parse_sweep_values(const std::string& text) {
  const std::string expected = "expected FIRST:LAST:STEP (e.g. 0:180:15) or a list V1,V2,... of at most " +
                               std::to_string(SweepLimits::max_axis_values) + " numbers";
  auto number = [](const std::string& part, double& out) {
    if (part.empty()) return false;
    char* end = nullptr;
    out = std::strtod(part.c_str(), &end);
    return end == part.c_str() + part.size() && std::isfinite(out);
  };
  std::vector<double> values;
  if (text.find(':') != std::string::npos) {
    const std::size_t a = text.find(':'), b = text.find(':', a + 1);
    double first = 0, last = 0, step = 0;
    if (b == std::string::npos || text.find(':', b + 1) != std::string::npos || !number(text.substr(0, a), first) ||
        !number(text.substr(a + 1, b - a - 1), last) || !number(text.substr(b + 1), step))
      return Status::error("sweep values '" + text + "': " + expected);
    if (step == 0 || (step > 0 && first > last) || (step < 0 && first < last))
      return Status::error("sweep values '" + text + "': the step must be nonzero and lead from FIRST to LAST; " +
                           expected);
    const double span = (last - first) / step;
    if (span + 1 > SweepLimits::max_axis_values + 1e-9)
      return Status::error("sweep values '" + text + "': found " + number_text(std::floor(span + 1e-9) + 1) +
                           " values; " + expected);
    const int n = static_cast<int>(std::floor(span + 1e-9)) + 1;
    for (int k = 0; k < n; ++k) values.push_back(first + k * step);
    return values;
  }
  for (std::size_t begin = 0; begin <= text.size();) {
    const std::size_t comma = std::min(text.find(',', begin), text.size());
    double v = 0;
    if (!number(text.substr(begin, comma - begin), v)) return Status::error("sweep values '" + text + "': " + expected);
    values.push_back(v);
    if (values.size() > static_cast<std::size_t>(SweepLimits::max_axis_values))
      return Status::error("sweep values '" + text + "': too many values; " + expected);
    begin = comma + 1;
  }
  return values;
}

std::size_t ProbeSweep::point_count() const {
  std::size_t n = 1;
  for (const auto& a : axes) n *= a.values.size();
  return axes.empty() ? 0 : n;
}

Result<ProbeSweep> make_probe_sweep(const ProbeSettings& fixed, std::vector<SweepAxis> axes) {
  CL_RETURN_IF_ERROR(check_probe_settings(fixed));
  const std::string family = probe_family_name(fixed.family);
  if (axes.empty() || axes.size() > 2)
    return Status::error("a sweep varies 1 or 2 parameters, found " + std::to_string(axes.size()));
  if (axes.size() == 2 && axes[0].name == axes[1].name)
    return Status::error("a sweep varies two different parameters, found " + axes[0].name + " twice");
  std::size_t points = 1;
  for (const auto& axis : axes) {
    const int i = index_of(fixed.family, axis.name);
    if (i < 0)
      return Status::error(family + " has no parameter '" + axis.name + "' to vary, expected one of " +
                           parameter_list(fixed.family));
    if (axis.values.empty() || axis.values.size() > static_cast<std::size_t>(SweepLimits::max_axis_values))
      return Status::error(family + " " + axis.name + ": found " + std::to_string(axis.values.size()) +
                           " values to sweep, expected 1.." + std::to_string(SweepLimits::max_axis_values));
    for (double v : axis.values)
      CL_RETURN_IF_ERROR(check_value(fixed.family, specs_of(fixed.family)[static_cast<std::size_t>(i)], v));
    points *= axis.values.size();
  }
  if (points > static_cast<std::size_t>(SweepLimits::max_points))
    return Status::error("the sweep has " + std::to_string(points) + " stimuli, expected at most " +
                         std::to_string(SweepLimits::max_points));
  ProbeSweep sweep;
  sweep.fixed = fixed;
  sweep.axes = std::move(axes);
  return sweep;
}

ProbeSettings sweep_point(const ProbeSweep& sweep, std::size_t k) {
  ProbeSettings s = sweep.fixed;
  std::size_t rest = k;
  for (std::size_t a = sweep.axes.size(); a-- > 0;) {
    const auto& axis = sweep.axes[a];
    s.values[static_cast<std::size_t>(index_of(s.family, axis.name))] = axis.values[rest % axis.values.size()];
    rest /= axis.values.size();
  }
  return s;
}

Status run_probe_sweep(const ProbeSweep& sweep, ModelRunner& runner, std::size_t begin, std::size_t end,
                       float* responses, std::uint8_t* stimuli) {
  if (begin > end || end > sweep.point_count())
    return Status::error("sweep points " + std::to_string(begin) + ".." + std::to_string(end) +
                         ": expected a range in 0.." + std::to_string(sweep.point_count()));
  const std::size_t outputs = runner.output_size();
  for (std::size_t k = begin; k < end; ++k) {
    auto image = draw_probe(sweep_point(sweep, k));
    if (!image) return image.status();
    CL_RETURN_IF_ERROR(runner.run(recentre(image.value()), responses + (k - begin) * outputs));
    if (stimuli)
      std::copy(image.value().pixels.begin(), image.value().pixels.end(), stimuli + (k - begin) * kProbeBytes);
  }
  return Status::ok();
}

}  // namespace cortexlens
