// Transforms of the 8-bit model input and paths between images (cortexlens/image_path.hpp). Every pixel comes from
// integer arithmetic on fixed-point coefficients; the only floating-point steps are + - * / and our own
// polynomials (cos, sin, exp), which IEEE 754 makes identical natively and in wasm. (This file must not be compiled
// with -ffp-contract=fast: the core's CMake flags do not fuse multiply-adds outside the wide kernels.)
#include "cortexlens/image_path.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace cortexlens {

namespace {

constexpr int kRgb = 3;
constexpr std::int64_t kOne = 65536;  // fixed point: 16 fractional bits
constexpr double kPi = 3.14159265358979323846;

struct AmountRange {
  double low, high;
};
AmountRange range_of(TransformKind kind) {
  switch (kind) {
    case TransformKind::shift:
      return {-56, 56};
    case TransformKind::scale:
      return {0.25, 4};
    case TransformKind::rotate:
      return {-180, 180};
    case TransformKind::contrast:
      return {0, 4};
    case TransformKind::blur:
      return {0, 8};
    case TransformKind::noise:
      return {0, 128};
  }
  return {0, 0};
}

// Round half away from zero, in double (exact: no libm involved beyond floor, which is exact).
std::int64_t round_to_int(double value) {
  return value >= 0 ? static_cast<std::int64_t>(std::floor(value + 0.5))
                    : -static_cast<std::int64_t>(std::floor(-value + 0.5));
}

// num / den rounded half away from zero, den > 0.
std::int64_t round_div(std::int64_t num, std::int64_t den) {
  return num >= 0 ? (num + den / 2) / den : -((-num + den / 2) / den);
}

// floor(num / 2^16) for any sign (>> on a negative value is implementation-defined before C++20).
std::int64_t floor_q16(std::int64_t num) { return num >= 0 ? num / kOne : -((-num + kOne - 1) / kOne); }

std::uint8_t clamp_u8(std::int64_t value) { return static_cast<std::uint8_t>(std::clamp<std::int64_t>(value, 0, 255)); }

// Taylor series, in plain double arithmetic: the same bits on every IEEE 754 machine (libm's cos, sin and exp may
// differ in the last ulp between glibc and musl).
// |x| <= pi after reduction: terms up to x^25/25! leave an error below 1e-15.
void cos_sin(double degrees, double& c, double& s) {
  double reduced = degrees - 360.0 * std::floor(degrees / 360.0);  // [0, 360)
  if (reduced > 180.0) reduced -= 360.0;
  const double x = reduced * (kPi / 180.0);
  double term_c = 1.0, term_s = x;
  c = 0.0;
  s = 0.0;
  for (int k = 0; k < 13; ++k) {
    c += term_c;
    s += term_s;
    term_c *= -x * x / ((2.0 * k + 1) * (2.0 * k + 2));
    term_s *= -x * x / ((2.0 * k + 2) * (2.0 * k + 3));
  }
}

// exp(-x) for x >= 0: exp(-x / 64) by its Taylor series (argument <= 0.625), then squared six times; 0 beyond
// x = 40 (exp(-40) = 4e-18 rounds to a zero tap anyway).
double exp_negative(double x) {
  if (x > 40) return 0;
  const double y = -x / 64.0;
  double term = 1.0, sum = 0.0;
  for (int k = 1; k <= 20; ++k) {
    sum += term;
    term *= y / k;
  }
  for (int k = 0; k < 6; ++k) sum *= sum;
  return sum;
}

// An affine inverse map in 1/65536 pixels: the source point of an output pixel centre p is
// A (p - centre) + centre + t, A = [[a, b], [c, d]].
struct InverseAffine {
  std::int64_t a = kOne, b = 0, c = 0, d = kOne, tx = 0, ty = 0;
};

RgbImage sample_bilinear(const RgbImage& image, const InverseAffine& m) {
  const int w = image.width, h = image.height;
  RgbImage out;
  out.width = w;
  out.height = h;
  out.pixels.resize(image.pixels.size());
  auto at = [&](int x, int y, int ch) -> std::int64_t {
    return image.pixels[(static_cast<std::size_t>(y) * w + x) * kRgb + ch];
  };
  for (int y = 0; y < h; ++y) {
    const std::int64_t dy2 = 2 * y + 1 - h;  // twice the offset of the pixel centre from the image centre
    for (int x = 0; x < w; ++x) {
      const std::int64_t dx2 = 2 * x + 1 - w;
      // Source position in 1/65536 pixels, measured from the top-left pixel's centre.
      const std::int64_t sx = floor_q16((m.a * dx2 + m.b * dy2) * (kOne / 2)) + (w - 1) * (kOne / 2) + m.tx;
      const std::int64_t sy = floor_q16((m.c * dx2 + m.d * dy2) * (kOne / 2)) + (h - 1) * (kOne / 2) + m.ty;
      const std::int64_t x0 = floor_q16(sx), y0 = floor_q16(sy);
      const std::int64_t fx = sx - x0 * kOne, fy = sy - y0 * kOne;  // [0, 65536)
      // Outside the image the nearest edge pixel repeats.
      const int xa = static_cast<int>(std::clamp<std::int64_t>(x0, 0, w - 1));
      const int xb = static_cast<int>(std::clamp<std::int64_t>(x0 + 1, 0, w - 1));
      const int ya = static_cast<int>(std::clamp<std::int64_t>(y0, 0, h - 1));
      const int yb = static_cast<int>(std::clamp<std::int64_t>(y0 + 1, 0, h - 1));
      for (int ch = 0; ch < kRgb; ++ch) {
        const std::int64_t top = at(xa, ya, ch) * (kOne - fx) + at(xb, ya, ch) * fx;  // <= 255 * 2^16
        const std::int64_t bottom = at(xa, yb, ch) * (kOne - fx) + at(xb, yb, ch) * fx;
        const std::int64_t value = top * (kOne - fy) + bottom * fy;  // <= 255 * 2^32
        out.pixels[(static_cast<std::size_t>(y) * w + x) * kRgb + ch] = clamp_u8((value + (kOne * kOne / 2)) >> 32);
      }
    }
  }
  return out;
}

RgbImage adjust_contrast(const RgbImage& image, double factor) {
  const std::size_t pixels = image.pixels.size() / kRgb;
  std::int64_t sum[kRgb] = {0, 0, 0};
  for (std::size_t i = 0; i < image.pixels.size(); ++i) sum[i % kRgb] += image.pixels[i];
  std::int64_t mean[kRgb];
  for (int ch = 0; ch < kRgb; ++ch) mean[ch] = round_div(sum[ch], static_cast<std::int64_t>(pixels));
  const std::int64_t f = round_to_int(factor * kOne);
  RgbImage out = image;
  for (std::size_t i = 0; i < image.pixels.size(); ++i) {
    const std::int64_t m = mean[i % kRgb];
    out.pixels[i] = clamp_u8(m + round_div((image.pixels[i] - m) * f, kOne));
  }
  return out;
}

RgbImage gaussian_blur(const RgbImage& image, double sigma) {
  if (sigma < 1.0 / 256) return image;
  const int radius = static_cast<int>(std::ceil(3 * sigma));
  std::vector<double> w(static_cast<std::size_t>(radius) + 1);
  double total = 0;
  for (int i = 0; i <= radius; ++i) {
    w[static_cast<std::size_t>(i)] = exp_negative(i * i / (2 * sigma * sigma));
    total += (i == 0 ? 1 : 2) * w[static_cast<std::size_t>(i)];
  }
  // Integer taps that sum to exactly 65536 (the centre tap takes the rounding remainder), so a flat image stays flat.
  std::vector<std::int64_t> taps(w.size());
  std::int64_t outer = 0;
  for (int i = 1; i <= radius; ++i) {
    taps[static_cast<std::size_t>(i)] = round_to_int(w[static_cast<std::size_t>(i)] / total * kOne);
    outer += 2 * taps[static_cast<std::size_t>(i)];
  }
  taps[0] = kOne - outer;
  const int width = image.width, height = image.height;
  // Horizontal pass into (H, W, 3) sums in 1/65536 levels, then the vertical pass rounds once.
  std::vector<std::int64_t> rows(image.pixels.size());
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int ch = 0; ch < kRgb; ++ch) {
        std::int64_t acc = 0;
        for (int k = -radius; k <= radius; ++k) {
          const int xs = std::clamp(x + k, 0, width - 1);
          acc += taps[static_cast<std::size_t>(std::abs(k))] *
                 image.pixels[(static_cast<std::size_t>(y) * width + xs) * kRgb + ch];
        }
        rows[(static_cast<std::size_t>(y) * width + x) * kRgb + ch] = acc;
      }
  RgbImage out = image;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int ch = 0; ch < kRgb; ++ch) {
        std::int64_t acc = 0;
        for (int k = -radius; k <= radius; ++k) {
          const int ys = std::clamp(y + k, 0, height - 1);
          acc += taps[static_cast<std::size_t>(std::abs(k))] *
                 rows[(static_cast<std::size_t>(ys) * width + x) * kRgb + ch];
        }
        out.pixels[(static_cast<std::size_t>(y) * width + x) * kRgb + ch] = clamp_u8((acc + (kOne * kOne / 2)) >> 32);
      }
  return out;
}

// SplitMix64 (Steele, Lea & Flood 2014): a tiny generator whose stream is fully specified by its seed.
std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

RgbImage add_noise(const RgbImage& image, double sd, std::uint64_t seed) {
  const std::int64_t sd_q8 = round_to_int(sd * 256);
  std::uint64_t state = seed;
  RgbImage out = image;
  constexpr std::int64_t kMax16 = 65535;
  for (std::size_t i = 0; i < image.pixels.size(); ++i) {
    std::int64_t sum = 0;  // 12 uniform 16-bit numbers
    for (int k = 0; k < 3; ++k) {
      const std::uint64_t bits = splitmix64(state);
      for (int part = 0; part < 4; ++part) sum += static_cast<std::int64_t>((bits >> (16 * part)) & 0xFFFF);
    }
    // z = sum / 65535 - 6 (mean 0, variance 1); noise = sd * z, in exact integer ratios.
    const std::int64_t noise = round_div(sd_q8 * (2 * sum - 12 * kMax16), 256 * 2 * kMax16);
    out.pixels[i] = clamp_u8(image.pixels[i] + noise);
  }
  return out;
}

Status check_image_size(const RgbImage& image) {
  const std::int64_t expected = std::int64_t{image.width} * image.height * kRgb;
  if (image.width <= 0 || image.height <= 0 || image.width > ImageLimits::max_side ||
      image.height > ImageLimits::max_side || static_cast<std::int64_t>(image.pixels.size()) != expected)
    return Status::error("the image is " + std::to_string(image.width) + "x" + std::to_string(image.height) + " with " +
                         std::to_string(image.pixels.size()) +
                         " bytes of pixels; expected a positive size and width * height * 3 bytes");
  return Status::ok();
}

std::string number_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

}  // namespace

const char* transform_name(TransformKind kind) {
  switch (kind) {
    case TransformKind::shift:
      return "shift";
    case TransformKind::scale:
      return "scale";
    case TransformKind::rotate:
      return "rotate";
    case TransformKind::contrast:
      return "contrast";
    case TransformKind::blur:
      return "blur";
    case TransformKind::noise:
      return "noise";
  }
  return "?";
}

double identity_amount(TransformKind kind) {
  return kind == TransformKind::scale || kind == TransformKind::contrast ? 1.0 : 0.0;
}

Status check_transform(const ImageTransform& transform) {
  const AmountRange range = range_of(transform.kind);
  if (!std::isfinite(transform.amount) || transform.amount < range.low || transform.amount > range.high)
    return Status::error(std::string(transform_name(transform.kind)) + " amount " + number_text(transform.amount) +
                         " is out of range; expected " + number_text(range.low) + ".." + number_text(range.high));
  return Status::ok();
}

Result<TransformKind> transform_kind_named(const std::string& name) {
  for (TransformKind kind : {TransformKind::shift, TransformKind::scale, TransformKind::rotate, TransformKind::contrast,
                             TransformKind::blur, TransformKind::noise})
    if (name == transform_name(kind)) return kind;
  return Status::error("unknown transform '" + name + "'; expected shift, scale, rotate, contrast, blur or noise");
}

Result<ImageTransform> parse_transform(const std::string& text) {
  const std::size_t equals = text.find('=');
  const std::string expected = "expected KIND=AMOUNT with KIND one of shift, scale, rotate, contrast, blur, noise";
  if (equals == std::string::npos) return Status::error("transform '" + text + "' has no '='; " + expected);
  const std::string amount = text.substr(equals + 1);
  auto kind = transform_kind_named(text.substr(0, equals));
  if (!kind) return kind.status();
  ImageTransform transform;
  transform.kind = kind.value();
  char* end = nullptr;
  transform.amount = std::strtod(amount.c_str(), &end);
  if (amount.empty() || end != amount.c_str() + amount.size())
    return Status::error("transform amount '" + amount + "' is not a number; " + expected);
  CL_RETURN_IF_ERROR(check_transform(transform));
  return transform;
}

Result<RgbImage> apply_transform(const RgbImage& image, const ImageTransform& transform) {
  CL_RETURN_IF_ERROR(check_image_size(image));
  CL_RETURN_IF_ERROR(check_transform(transform));
  const double amount = transform.amount;
  InverseAffine m;
  switch (transform.kind) {
    case TransformKind::shift:
      if (amount == 0) return image;
      m.tx = -round_to_int(amount * kOne);
      return sample_bilinear(image, m);
    case TransformKind::scale:
      if (amount == 1) return image;
      m.a = m.d = round_to_int(kOne / amount);
      return sample_bilinear(image, m);
    case TransformKind::rotate: {
      if (amount == 0) return image;
      double c = 0, s = 0;
      cos_sin(amount, c, s);
      // Content turns counter-clockwise on screen (y points down): the source of an output offset (dx, dy) is
      // (dx cos - dy sin, dx sin + dy cos).
      m.a = m.d = round_to_int(c * kOne);
      m.b = -round_to_int(s * kOne);
      m.c = round_to_int(s * kOne);
      return sample_bilinear(image, m);
    }
    case TransformKind::contrast:
      return amount == 1 ? image : adjust_contrast(image, amount);
    case TransformKind::blur:
      return gaussian_blur(image, amount);
    case TransformKind::noise:
      return amount == 0 ? image : add_noise(image, amount, transform.seed);
  }
  return Status::error("unknown transform kind");
}

Result<RgbImage> blend_images(const RgbImage& a, const RgbImage& b, double t) {
  CL_RETURN_IF_ERROR(check_image_size(a));
  CL_RETURN_IF_ERROR(check_image_size(b));
  if (a.width != b.width || a.height != b.height)
    return Status::error("blending a " + std::to_string(a.width) + "x" + std::to_string(a.height) + " image with a " +
                         std::to_string(b.width) + "x" + std::to_string(b.height) + " one; expected one size");
  if (!(t >= 0 && t <= 1)) return Status::error("blend fraction " + number_text(t) + "; expected 0..1");
  const std::int64_t tq = round_to_int(t * kOne);
  RgbImage out = a;
  for (std::size_t i = 0; i < a.pixels.size(); ++i)
    out.pixels[i] = clamp_u8((a.pixels[i] * (kOne - tq) + b.pixels[i] * tq + kOne / 2) >> 16);
  return out;
}

double path_fraction(int step, int steps) { return steps <= 1 ? 0.0 : static_cast<double>(step) / (steps - 1); }

double path_amount(const ImageTransform& transform, int step, int steps) {
  if (step >= steps - 1) return transform.amount;
  const double identity = identity_amount(transform.kind);
  return identity + path_fraction(step, steps) * (transform.amount - identity);
}

Result<std::vector<RgbImage>> image_path(const RgbImage& first, const RgbImage* second, const ImageTransform* transform,
                                         int steps) {
  if ((second == nullptr) == (transform == nullptr))
    return Status::error("a path needs either a second image or a transform, not both or neither");
  if (steps < 2 || steps > kMaxPathSteps)
    return Status::error("a path of " + std::to_string(steps) + " steps; expected 2.." + std::to_string(kMaxPathSteps));
  CL_RETURN_IF_ERROR(check_image_size(first));
  if (transform) CL_RETURN_IF_ERROR(check_transform(*transform));
  std::vector<RgbImage> images;
  images.reserve(static_cast<std::size_t>(steps));
  for (int step = 0; step < steps; ++step) {
    const double fraction = path_fraction(step, steps);
    if (second) {
      auto blended = blend_images(first, *second, fraction);
      if (!blended) return blended.status();
      images.push_back(std::move(blended).value());
    } else {
      ImageTransform at = *transform;
      at.amount = path_amount(*transform, step, steps);
      auto moved = apply_transform(first, at);
      if (!moved) return moved.status();
      images.push_back(std::move(moved).value());
    }
  }
  return images;
}

PopulationSpread spread_from_quartiles(const std::vector<double>& q25, const std::vector<double>& q75) {
  PopulationSpread spread;
  for (std::size_t i = 0; i < std::min(q25.size(), q75.size()); ++i) spread.spread.push_back((q75[i] - q25[i]) / 1.349);
  return spread;
}

Result<PopulationDistance> population_distance(const std::vector<float>& responses, const std::vector<float>& baseline,
                                               const PopulationSpread& spread) {
  if (responses.size() != baseline.size() || responses.size() != spread.spread.size())
    return Status::error("population distance over " + std::to_string(responses.size()) + " responses, " +
                         std::to_string(baseline.size()) + " baseline responses and " +
                         std::to_string(spread.spread.size()) + " spreads; expected one of each per output");
  PopulationDistance result;
  double sum = 0;
  for (std::size_t i = 0; i < responses.size(); ++i) {
    const double s = spread.spread[i];
    if (!(s > 0)) continue;
    const double z = (static_cast<double>(responses[i]) - static_cast<double>(baseline[i])) / s;
    sum += z * z;
    ++result.used;
  }
  if (result.used == 0) return Status::error("no output has a positive natural-image spread");
  result.distance = std::sqrt(sum / static_cast<double>(result.used));
  return result;
}

double percentile_of(double value, const std::vector<double>& quantiles) {
  if (quantiles.size() < 2 || !std::isfinite(value)) return std::nan("");
  const std::size_t n = quantiles.size() - 1;
  if (value <= quantiles[0]) return 0;
  if (value >= quantiles[n]) return 100;
  std::size_t lo = 0, hi = n;
  while (hi - lo > 1) {
    const std::size_t mid = (lo + hi) >> 1;
    if (quantiles[mid] <= value)
      lo = mid;
    else
      hi = mid;
  }
  const double span = quantiles[hi] - quantiles[lo];
  const double fraction = span > 0 ? (value - quantiles[lo]) / span : 0;
  return ((static_cast<double>(lo) + fraction) / static_cast<double>(n)) * 100;
}

}  // namespace cortexlens
