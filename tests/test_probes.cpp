// Parametric probes: what is drawn is measured from the pixels and compared with the parameters (a grating's
// orientation and frequency from the peak of its 2-D Fourier transform, a dot's diameter and centre from its
// coverage, a bar's orientation and a curve's bend from their moments, a colour's hue from its RGB); the bytes are
// pinned by hashes that this same file checks natively and compiled to wasm (ctest --preset wasm), so the page and
// the CLI draw identical pixels; bad parameters are refused with messages naming what was expected; a sweep runs
// exactly the passes a saved stimulus would.
#include <catch2/catch.hpp>

#include <cmath>
#include <complex>
#include <cstdio>
#include <cstring>

#include "cortexlens/fnv1a.hpp"
#include "cortexlens/model_file.hpp"
#include "cortexlens/probes.hpp"
#include "cortexlens/quantize.hpp"
#include "image_fixtures.hpp"

using namespace cortexlens;

namespace {

constexpr int kSide = 112;
constexpr double kPi = 3.14159265358979323846;

ProbeSettings settings_of(ProbeFamily family, const std::vector<std::pair<std::string, double>>& values) {
  auto s = probe_settings(family, values);
  INFO(s.message());
  REQUIRE(s);
  return s.value();
}

RgbImage draw(ProbeFamily family, const std::vector<std::pair<std::string, double>>& values) {
  auto image = draw_probe(settings_of(family, values));
  INFO(image.message());
  REQUIRE(image);
  REQUIRE(image.value().width == kSide);
  REQUIRE(image.value().height == kSide);
  REQUIRE(image.value().pixels.size() == static_cast<std::size_t>(kSide * kSide * 3));
  return image.value();
}

// The grey level minus its mean, Hann-windowed so the spectral peak of a non-integer frequency is not pulled by
// leakage from the window's edges.
std::vector<double> windowed_luminance(const RgbImage& image) {
  std::vector<double> g(kSide * kSide);
  double mean = 0;
  for (int k = 0; k < kSide * kSide; ++k) {
    g[k] = (image.pixels[3 * k] + image.pixels[3 * k + 1] + image.pixels[3 * k + 2]) / 3.0;
    mean += g[k] / (kSide * kSide);
  }
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      const double wx = 0.5 - 0.5 * std::cos(2 * kPi * (x + 0.5) / kSide);
      const double wy = 0.5 - 0.5 * std::cos(2 * kPi * (y + 0.5) / kSide);
      g[y * kSide + x] = (g[y * kSide + x] - mean) * wx * wy;
    }
  return g;
}

// |sum_{x,y} g(x, y) exp(-2 pi i (fx x + fy y) / 112)|, the discrete-time Fourier transform, at every (fx, fy) of a
// grid (cycles per image; magnitude[j][i] is at fxs[i], fys[j]). Separable: each row's transform at every fx, then
// the column sums, so a grid costs |fx| * 112^2 + |fx| * |fy| * 112 instead of |fx| * |fy| * 112^2 (the direct sum
// took half a minute of the sanitizer run).
std::vector<std::vector<double>> dtft_magnitudes(const std::vector<double>& g, const std::vector<double>& fxs,
                                                 const std::vector<double>& fys) {
  std::vector<std::vector<std::complex<double>>> rows(kSide, std::vector<std::complex<double>>(fxs.size()));
  for (std::size_t i = 0; i < fxs.size(); ++i) {
    std::vector<std::complex<double>> wave(kSide);
    for (int x = 0; x < kSide; ++x) wave[x] = std::polar(1.0, -2 * kPi * fxs[i] * x / kSide);
    for (int y = 0; y < kSide; ++y) {
      std::complex<double> sum = 0;
      for (int x = 0; x < kSide; ++x) sum += g[y * kSide + x] * wave[x];
      rows[y][i] = sum;
    }
  }
  std::vector<std::vector<double>> magnitude(fys.size(), std::vector<double>(fxs.size()));
  for (std::size_t j = 0; j < fys.size(); ++j) {
    std::vector<std::complex<double>> wave(kSide);
    for (int y = 0; y < kSide; ++y) wave[y] = std::polar(1.0, -2 * kPi * fys[j] * y / kSide);
    for (std::size_t i = 0; i < fxs.size(); ++i) {
      std::complex<double> total = 0;
      for (int y = 0; y < kSide; ++y) total += rows[y][i] * wave[y];
      magnitude[j][i] = std::abs(total);
    }
  }
  return magnitude;
}

struct Peak {
  double fx, fy;  // cycles per image
};

// The spectral peak: the largest of the 2-D DFT's bins (half plane fy >= 0, each wave appears twice), then refined
// on finer grids around it (0.1 then 0.01 cycles per image).
Peak spectral_peak(const RgbImage& image) {
  const auto g = windowed_luminance(image);
  std::vector<double> fxs, fys;
  for (int fx = -kSide / 2 + 1; fx <= kSide / 2; ++fx) fxs.push_back(fx);
  for (int fy = 0; fy <= kSide / 2; ++fy) fys.push_back(fy);
  Peak best{0, 0};
  double best_value = -1;
  auto search = [&](bool skip_zero) {
    const auto magnitude = dtft_magnitudes(g, fxs, fys);
    for (std::size_t j = 0; j < fys.size(); ++j)
      for (std::size_t i = 0; i < fxs.size(); ++i) {
        if (skip_zero && fxs[i] == 0 && fys[j] == 0) continue;
        if (magnitude[j][i] > best_value) best_value = magnitude[j][i], best = {fxs[i], fys[j]};
      }
  };
  search(true);
  for (double step : {0.1, 0.01}) {
    const Peak centre = best;
    fxs.clear(), fys.clear();
    for (int a = -10; a <= 10; ++a) fxs.push_back(centre.fx + a * step), fys.push_back(centre.fy + a * step);
    search(false);
  }
  return best;
}

double angle_difference_mod180(double a, double b) {
  double d = std::fmod(a - b, 180.0);
  if (d < 0) d += 180;
  return std::min(d, 180 - d);
}

// Coverage of each pixel by the figure, recovered from the grey level: (level - background) / (figure - background).
std::vector<double> coverage_of(const RgbImage& image, double background, double figure) {
  std::vector<double> c(kSide * kSide);
  for (int k = 0; k < kSide * kSide; ++k) c[k] = (image.pixels[3 * k] - background) / (figure - background);
  return c;
}

struct Moments {
  double area, cx, cy;  // cx, cy relative to the image centre (56, 56)
  double orientation;   // of the principal axis, degrees counter-clockwise on screen, in [0, 180)
};

Moments moments_of(const std::vector<double>& c) {
  Moments m{0, 0, 0, 0};
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      const double w = c[y * kSide + x];
      m.area += w;
      m.cx += w * (x + 0.5 - 56);
      m.cy += w * (y + 0.5 - 56);
    }
  m.cx /= m.area;
  m.cy /= m.area;
  double sxx = 0, syy = 0, sxy = 0;
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      const double w = c[y * kSide + x], dx = x + 0.5 - 56 - m.cx, dy = y + 0.5 - 56 - m.cy;
      sxx += w * dx * dx, syy += w * dy * dy, sxy += w * dx * dy;
    }
  // Screen y points down: counter-clockwise on screen is clockwise in (x, y), hence the minus sign.
  double theta = -0.5 * std::atan2(2 * sxy, sxx - syy) * 180 / kPi;
  m.orientation = theta < 0 ? theta + 180 : theta;
  return m;
}

// HSL hue of an RGB colour, degrees in [0, 360).
double hue_of(double r, double g, double b) {
  const double mx = std::max({r, g, b}), mn = std::min({r, g, b}), c = mx - mn;
  if (c == 0) return 0;
  double h = mx == r ? std::fmod((g - b) / c + 6, 6.0) : mx == g ? (b - r) / c + 2 : (r - g) / c + 4;
  return 60 * h;
}

}  // namespace

TEST_CASE("a grating's orientation and frequency are where its 2-D Fourier transform peaks", "[probes]") {
  struct Case {
    double orientation, frequency;
  };
  std::vector<Case> cases;
  for (double o = 0; o < 180; o += 15) cases.push_back({o, 8});
  for (double f : {2.0, 4.5, 16.0, 27.0}) cases.push_back({30, f});
  cases.push_back({100, 11.3});
  double worst_orientation = 0, worst_frequency = 0;
  for (const Case& c : cases) {
    const RgbImage image = draw(ProbeFamily::grating, {{"orientation", c.orientation}, {"frequency", c.frequency}});
    const Peak p = spectral_peak(image);
    // The wave vector is (sin o, cos o) * f in (x, y) with y down (probes.hpp): the stripes run across it.
    const double measured_frequency = std::hypot(p.fx, p.fy);
    const double measured_orientation = std::atan2(p.fx, p.fy) * 180 / kPi;
    INFO("orientation " << c.orientation << " frequency " << c.frequency << ": measured " << measured_orientation
                        << " deg, " << measured_frequency << " cycles/image");
    CHECK(std::fabs(measured_frequency - c.frequency) < 0.05);
    CHECK(angle_difference_mod180(measured_orientation, c.orientation) < 0.3);
    worst_frequency = std::max(worst_frequency, std::fabs(measured_frequency - c.frequency));
    worst_orientation = std::max(worst_orientation, angle_difference_mod180(measured_orientation, c.orientation));
  }
  std::printf(
      "grating spectral peak vs parameters over %zu gratings: max |frequency error| %.3f cycles/image, "
      "max |orientation error| %.3f deg\n",
      cases.size(), worst_frequency, worst_orientation);
}

TEST_CASE("a grating's phase, contrast and colours are as asked", "[probes]") {
  // Horizontal stripes, 4 cycles per image: the pixel rows just above and below the centre straddle the peak.
  const RgbImage peak = draw(ProbeFamily::grating, {{"frequency", 4}, {"phase", 0}});
  const RgbImage trough = draw(ProbeFamily::grating, {{"frequency", 4}, {"phase", 180}});
  const std::size_t centre = (55 * kSide + 10) * 3;
  CHECK(peak.pixels[centre] > 250);
  CHECK(trough.pixels[centre] < 5);

  const RgbImage half = draw(ProbeFamily::grating, {{"frequency", 4}, {"contrast", 0.5}});
  int lo = 255, hi = 0;
  for (std::size_t k = 0; k < half.pixels.size(); k += 3)
    lo = std::min<int>(lo, half.pixels[k]), hi = std::max<int>(hi, half.pixels[k]);
  CHECK(std::fabs(double(hi - lo) / (hi + lo) - 0.5) < 0.01);

  const RgbImage red_blue = draw(ProbeFamily::grating, {{"colour1", 0xFF0000}, {"colour2", 0x0000FF}});
  bool only_red_and_blue = true, some_red = false, some_blue = false;
  for (std::size_t k = 0; k < red_blue.pixels.size(); k += 3) {
    only_red_and_blue &= red_blue.pixels[k + 1] == 0 && red_blue.pixels[k] + red_blue.pixels[k + 2] == 255;
    some_red |= red_blue.pixels[k] > 250;
    some_blue |= red_blue.pixels[k + 2] > 250;
  }
  CHECK(only_red_and_blue);
  CHECK(some_red);
  CHECK(some_blue);
}

TEST_CASE("a dot's diameter and centre are measured from its pixels", "[probes]") {
  struct Case {
    double diameter, x, y, polarity;
  };
  const std::vector<Case> cases = {{8, 0, 0, 1}, {3, 10.3, -7.6, 1}, {20.5, -20, 15.25, -1}, {50, 3, 4, 1}};
  for (const Case& c : cases) {
    const RgbImage image =
        draw(ProbeFamily::dots, {{"diameter", c.diameter}, {"x", c.x}, {"y", c.y}, {"polarity", c.polarity}});
    const double figure = c.polarity > 0 ? 255 : 0;
    const Moments m = moments_of(coverage_of(image, 128, figure));
    const double diameter = 2 * std::sqrt(m.area / kPi);
    INFO("dot " << c.diameter << " at " << c.x << "," << c.y << ": measured diameter " << diameter << ", centre "
                << m.cx << "," << m.cy);
    CHECK(std::fabs(diameter - c.diameter) < 0.02 * c.diameter + 0.05);
    // The one-pixel antialiasing ramp shifts a small dot's centroid by a few hundredths of a pixel at most.
    CHECK(std::fabs(m.cx - c.x) < 0.05);
    CHECK(std::fabs(m.cy - c.y) < 0.05);
  }
  // A 3x3 grid: nine separate dots, spaced as asked, around the grid centre.
  const RgbImage grid = draw(ProbeFamily::dots, {{"diameter", 6}, {"count", 3}, {"spacing", 20}, {"x", 5}});
  const auto c = coverage_of(grid, 128, 255);
  int dots = 0;
  for (int gy = -1; gy <= 1; ++gy)
    for (int gx = -1; gx <= 1; ++gx) {
      // The pixel holding each expected centre is fully covered.
      const int x = static_cast<int>(std::floor(56 + 5 + 20 * gx)), y = static_cast<int>(std::floor(56 + 20 * gy));
      dots += c[y * kSide + x] > 0.99;
    }
  CHECK(dots == 9);
  const Moments gm = moments_of(c);
  CHECK(std::fabs(gm.area - 9 * kPi * 9) < 0.03 * 9 * kPi * 9);
  CHECK(std::fabs(gm.cx - 5) < 0.02);
}

TEST_CASE("a bar's orientation and size, and a curve's bend, are measured from its pixels", "[probes]") {
  for (double o : {0.0, 30.0, 90.0, 135.0}) {
    const RgbImage image = draw(ProbeFamily::bar, {{"length", 40}, {"width", 4}, {"orientation", o}});
    const Moments m = moments_of(coverage_of(image, 128, 255));
    INFO("bar at " << o << " deg: measured " << m.orientation << " deg, area " << m.area);
    CHECK(angle_difference_mod180(m.orientation, o) < 0.3);
    CHECK(std::fabs(m.area - (40 * 4 + kPi * 4)) < 0.02 * (40 * 4 + kPi * 4));  // a capsule: rectangle + two half discs
    CHECK(std::fabs(m.cx) < 0.05);
    CHECK(std::fabs(m.cy) < 0.05);
  }
  // A half circle (bend 180 deg) of centre-line length L has radius R = L / pi. Its stroke (width w = 2h) is a
  // half annulus, whose centroid lies (2 / pi) (R + h^2 / (3 R)) from the circle's centre, plus two round end caps
  // (half discs, together area pi h^2) centred on the diameter through the circle's centre. The circle's centre is
  // on the left of the tangent (positive bend turns counter-clockwise): for orientation 0, R above the middle.
  const double L = 60, R = L / kPi, h = 1;
  const double annulus_offset = R - (2 / kPi) * (R + h * h / (3 * R));  // from the middle of the line toward it
  const double expected_offset = (L * 2 * h * annulus_offset + kPi * h * h * R) / (L * 2 * h + kPi * h * h);
  const RgbImage up = draw(ProbeFamily::bar, {{"length", L}, {"width", 2 * h}, {"curvature", 180}});
  const RgbImage down = draw(ProbeFamily::bar, {{"length", L}, {"width", 2 * h}, {"curvature", -180}});
  const Moments mu = moments_of(coverage_of(up, 128, 255)), md = moments_of(coverage_of(down, 128, 255));
  INFO("half circle: centroid " << mu.cx << "," << mu.cy << " (bend +180), " << md.cx << "," << md.cy
                                << " (-180), expected 0," << -expected_offset << " and 0," << expected_offset);
  CHECK(std::fabs(mu.cy + expected_offset) < 0.05);
  CHECK(std::fabs(md.cy - expected_offset) < 0.05);
  CHECK(std::fabs(mu.cx) < 0.05);
  CHECK(std::fabs(mu.area - (L * 2 * h + kPi * h * h)) < 0.02 * (L * 2 * h + kPi * h * h));
  // A full circle (bend 360): a ring of radius L / (2 pi) centred above the middle of the line.
  const RgbImage ring = draw(ProbeFamily::bar, {{"length", 2 * kPi * 20}, {"width", 2}, {"curvature", 360}});
  const Moments mr = moments_of(coverage_of(ring, 128, 255));
  CHECK(std::fabs(mr.cy + 20) < 0.1);
  CHECK(std::fabs(mr.cx) < 0.1);
  // Dark polarity at half contrast: halfway from the background to black.
  const RgbImage dark = draw(ProbeFamily::bar, {{"polarity", -1}, {"contrast", 0.5}, {"background", 200}});
  CHECK(dark.pixels[(56 * kSide + 56) * 3] == 100);
  CHECK(dark.pixels[0] == 200);
}

TEST_CASE("a uniform colour has the hue, saturation and lightness asked for", "[probes]") {
  for (double hue = 0; hue < 360; hue += 7.5) {
    const RgbImage image = draw(ProbeFamily::uniform, {{"hue", hue}, {"saturation", 1}, {"lightness", 0.5}});
    const double r = image.pixels[0], g = image.pixels[1], b = image.pixels[2];
    INFO("hue " << hue << ": rgb " << r << "," << g << "," << b << " -> " << hue_of(r, g, b));
    CHECK(std::fabs(hue_of(r, g, b) - hue) < 0.5);
    CHECK(std::max({r, g, b}) == 255);
    CHECK(std::min({r, g, b}) == 0);
    CHECK(std::memcmp(image.pixels.data(), image.pixels.data() + 3 * 777, 3) == 0);
  }
  const RgbImage grey = draw(ProbeFamily::uniform, {{"saturation", 0}, {"lightness", 0.25}});
  CHECK((grey.pixels[0] == 64 && grey.pixels[1] == 64 && grey.pixels[2] == 64));
  const RgbImage pastel = draw(ProbeFamily::uniform, {{"hue", 240}, {"saturation", 0.5}, {"lightness", 0.75}});
  // CSS hsl(240 50% 75%) = rgb(159, 159, 223).
  CHECK((pastel.pixels[0] == 159 && pastel.pixels[1] == 159 && pastel.pixels[2] == 223));
}

// The same bytes on every target: this test runs natively and compiled to wasm, against the same hashes, and
// tests/wasm/probes.test.mjs compares the page's bindings with the CLI's CSV hashes.
TEST_CASE("probe pixels are identical bit for bit on every platform", "[probes]") {
  struct Case {
    ProbeFamily family;
    std::vector<std::pair<std::string, double>> values;
    std::uint64_t hash;
  };
  const std::vector<Case> cases = {
      {ProbeFamily::grating,
       {{"orientation", 37}, {"frequency", 7.3}, {"phase", 21}, {"contrast", 0.8}},
       0x8453ab73d8a1343aull},
      {ProbeFamily::grating,
       {{"orientation", 100}, {"frequency", 50}, {"colour1", 0xFF8000}, {"colour2", 0x2040A0}},
       0x9fe8a0bb085643b7ull},
      {ProbeFamily::dots,
       {{"diameter", 5.5}, {"x", 3.3}, {"y", -7.1}, {"count", 4}, {"spacing", 13.7}},
       0x284f69e9d6dfd31cull},
      {ProbeFamily::bar,
       {{"length", 50}, {"width", 3.5}, {"orientation", 63}, {"curvature", -140}, {"x", 4}},
       0xf922a8c2e6b00194ull},
      {ProbeFamily::bar,
       {{"length", 30}, {"width", 7}, {"orientation", 22.5}, {"polarity", -1}},
       0x4dcf241de2b089e1ull},
      {ProbeFamily::uniform, {{"hue", 203}, {"saturation", 0.7}, {"lightness", 0.4}}, 0xc180169ab0687a25ull},
  };
  for (const Case& c : cases) {
    const std::uint64_t h = fnv1a_64(draw(c.family, c.values).pixels);
    INFO(probe_family_name(c.family) << ": fnv1a 0x" << std::hex << h);
    CHECK(h == c.hash);
  }
}

TEST_CASE("bad probe parameters are refused with what was expected", "[probes]") {
  auto message = [](ProbeFamily f, std::vector<std::pair<std::string, double>> v) {
    auto s = probe_settings(f, v);
    REQUIRE_FALSE(s);
    return s.message();
  };
  CHECK(message(ProbeFamily::grating, {{"freq", 4}}) ==
        "grating has no parameter 'freq', expected one of orientation, frequency, phase, contrast, colour1, colour2");
  CHECK(message(ProbeFamily::grating, {{"frequency", 80}}) ==
        "grating frequency: found 80, expected a number in 0..56 (cycles/image)");
  CHECK(message(ProbeFamily::dots, {{"count", 2.5}}) == "dots count: found 2.5, expected a whole number in 1..10");
  CHECK(message(ProbeFamily::dots, {{"polarity", 0}}) ==
        "dots polarity: found 0, expected +1 (brighter) or -1 (darker)");
  CHECK(message(ProbeFamily::uniform, {{"hue", NAN}}) ==
        "uniform hue: found a non-finite value, expected a number in 0..360 (deg)");
  CHECK(message(ProbeFamily::bar, {{"width", 3}, {"width", 4}}) == "bar width is set twice, expected once");
  CHECK(probe_family_from_name("gabor").message() ==
        "unknown probe family 'gabor', expected grating, dots, bar (or curve) or uniform");
  ProbeSettings hand;
  hand.family = ProbeFamily::uniform;
  hand.values = {1, 2};
  CHECK(draw_probe(hand).message() == "uniform: found 2 parameter values, expected 3 (hue, saturation, lightness)");
}

TEST_CASE("sweep values and sweeps are parsed and checked", "[probes]") {
  auto v = parse_sweep_values("0:180:15");
  REQUIRE(v);
  CHECK(v.value().size() == 13);
  CHECK(v.value().back() == 180);
  auto tenths = parse_sweep_values("0:1:0.1");
  REQUIRE(tenths);
  CHECK(tenths.value().size() == 11);  // 1.0 is reached despite 0.1's rounding
  auto down = parse_sweep_values("8:1:-1");
  REQUIRE(down);
  CHECK(down.value() == std::vector<double>{8, 7, 6, 5, 4, 3, 2, 1});
  auto list = parse_sweep_values("1,2.5,4");
  REQUIRE(list);
  CHECK(list.value() == std::vector<double>{1, 2.5, 4});
  for (const char* bad : {"", "1:2", "1:2:0", "2:1:1", "1,,2", "a:b:c", "1:2:3:4", "0:1000:1"}) {
    INFO(bad);
    auto r = parse_sweep_values(bad);
    CHECK_FALSE(r);
    CHECK(r.message().find("expected FIRST:LAST:STEP") != std::string::npos);
  }

  const ProbeSettings fixed = settings_of(ProbeFamily::grating, {{"frequency", 4}});
  auto sweep = make_probe_sweep(fixed, {{"orientation", {0, 45, 90}}, {"phase", {0, 180}}});
  REQUIRE(sweep);
  REQUIRE(sweep.value().point_count() == 6);
  const ProbeSettings p4 = sweep_point(sweep.value(), 4);  // orientation is the slow axis: (90, 0)
  CHECK(p4.get("orientation") == 90);
  CHECK(p4.get("phase") == 0);
  CHECK(p4.get("frequency") == 4);
  CHECK(make_probe_sweep(fixed, {{"frequency", {1, 60}}}).message() ==
        "grating frequency: found 60, expected a number in 0..56 (cycles/image)");
  CHECK(make_probe_sweep(fixed, {{"size", {1}}}).message() ==
        "grating has no parameter 'size' to vary, expected one of orientation, frequency, phase, contrast, colour1, "
        "colour2");
  CHECK(make_probe_sweep(fixed, {{"phase", {1}}, {"phase", {2}}}).message() ==
        "a sweep varies two different parameters, found phase twice");
  CHECK(make_probe_sweep(fixed, {}).message() == "a sweep varies 1 or 2 parameters, found 0");
  std::vector<double> many(100);
  for (int i = 0; i < 100; ++i) many[i] = i * 0.5;
  CHECK(make_probe_sweep(fixed, {{"frequency", many}, {"orientation", many}}).message() ==
        "the sweep has 10000 stimuli, expected at most 4096");
}

TEST_CASE("a sweep's responses are the model's responses to the drawn stimuli", "[probes]") {
  std::vector<std::uint8_t> bytes;
  REQUIRE(fixtures::read_file(std::string(CORTEXLENS_MODELS_DIR) + "/demo/demo_dot_detector.clm", bytes));
  auto loaded = read_model_file(bytes.data(), bytes.size());
  REQUIRE(loaded);
  const Model& model = loaded.value().model;
  const ProbeSettings fixed = settings_of(ProbeFamily::dots, {});
  auto sweep = make_probe_sweep(fixed, {{"diameter", {2, 4, 8, 16, 32}}, {"x", {-20, 0, 20}}});
  REQUIRE(sweep);
  for (Precision precision : {Precision::int8, Precision::float32}) {
    auto runner = ModelRunner::create(model, precision);
    REQUIRE(runner);
    const std::size_t n = sweep.value().point_count(), outputs = runner.value()->output_size();
    std::vector<float> responses(n * outputs);
    // In two parts, as the CLI's threads and the page's chunks split it.
    REQUIRE(run_probe_sweep(sweep.value(), *runner.value(), 0, 7, responses.data()));
    REQUIRE(run_probe_sweep(sweep.value(), *runner.value(), 7, n, responses.data() + 7 * outputs));
    for (std::size_t k = 0; k < n; ++k) {
      auto image = draw_probe(sweep_point(sweep.value(), k));
      REQUIRE(image);
      auto expected = forward_with_precision(model, recentre(image.value()), precision);
      REQUIRE(expected);
      CHECK(std::memcmp(&responses[k * outputs], expected.value().outputs.data(), outputs * sizeof(float)) == 0);
    }
    CHECK_FALSE(run_probe_sweep(sweep.value(), *runner.value(), 3, n + 1, responses.data()));
  }
}
