#include "cortexlens/synthesis.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "analysis/synthesis_steps.hpp"
#include "cortexlens/image.hpp"
#include "kernels/simd_f32x4.hpp"

namespace cortexlens {

// ---- random numbers and deterministic elementary functions ----

Pcg32::Pcg32(std::uint64_t seed, std::uint64_t stream) {
  inc_ = (stream << 1u) | 1u;
  next_u32();
  state_ += seed;
  next_u32();
}

std::uint32_t Pcg32::next_u32() {
  const std::uint64_t old = state_;
  state_ = old * 6364136223846793005ull + inc_;
  const auto xorshifted = static_cast<std::uint32_t>(((old >> 18u) ^ old) >> 27u);
  const auto rot = static_cast<std::uint32_t>(old >> 59u);
  return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
}

float Pcg32::uniform() { return static_cast<float>(next_u32() >> 8) * (1.0f / 16777216.0f); }

float Pcg32::normal() {
  float sum = 0.0f;
  for (int i = 0; i < 12; ++i) sum += uniform();
  return sum - 6.0f;
}

int Pcg32::below(int n) { return static_cast<int>((static_cast<std::uint64_t>(next_u32()) * n) >> 32); }

double exp_deterministic(double x) {
  if (x < -700.0) return 0.0;
  if (x > 700.0) x = 700.0;
  constexpr double ln2 = 0.69314718055994530942;
  const double k = std::floor(x / ln2 + 0.5);  // floor is exact on every IEEE platform
  const double r = x - k * ln2;                // |r| <= ln2 / 2
  double term = 1.0, sum = 1.0;
  for (int i = 1; i <= 20; ++i) {
    term *= r / i;
    sum += term;
  }
  return std::ldexp(sum, static_cast<int>(k));
}

void sincos_deterministic(double x, double& s, double& c) {
  constexpr double half_pi = 1.57079632679489661923;
  const double q = std::floor(x / half_pi + 0.5);
  const double r = x - q * half_pi;  // |r| <= pi/4
  double sr = 0.0, cr = 0.0, term_s = r, term_c = 1.0;
  for (int i = 0; i < 12; ++i) {
    sr += term_s;
    cr += term_c;
    term_s *= -r * r / ((2 * i + 2) * (2 * i + 3));
    term_c *= -r * r / ((2 * i + 1) * (2 * i + 2));
  }
  const int quadrant = static_cast<int>(q - 4.0 * std::floor(q / 4.0));
  switch (quadrant) {
    case 0:
      s = sr;
      c = cr;
      break;
    case 1:
      s = cr;
      c = -sr;
      break;
    case 2:
      s = -sr;
      c = -cr;
      break;
    default:
      s = -cr;
      c = sr;
      break;
  }
}

// ---- image operations of the recipes ----

namespace {

std::vector<float> gaussian_weights(float sigma, int radius) {
  std::vector<float> weights(2 * radius + 1);
  double total = 0.0;
  std::vector<double> w(2 * radius + 1);
  for (int k = -radius; k <= radius; ++k) total += w[k + radius] = exp_deterministic(-0.5 * k * k / (sigma * sigma));
  for (int k = 0; k <= 2 * radius; ++k) weights[k] = static_cast<float>(w[k] / total);
  return weights;
}

// scipy's "reflect": the edge sample is repeated (d c b a | a b c d); periodic for kernels longer than the axis.
int reflect(int i, int n) {
  const int period = 2 * n;
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - 1 - i;
}

}  // namespace

void gaussian_blur_hw_ref(Tensor& map, float sigma) {
  if (!(sigma > 0.0f)) return;
  const int radius = static_cast<int>(4.0f * sigma + 0.5f);
  const std::vector<float> weights = gaussian_weights(sigma, radius);
  const Shape3 s = map.shape;
  std::vector<float> line, out;
  // One axis at a time (H, then W), as scipy does for a separable filter; each line is copied with its reflected
  // margins so the inner loop has no index arithmetic.
  for (int axis = 0; axis < 2; ++axis) {
    const int n = axis == 0 ? s.h : s.w, lines = axis == 0 ? s.w : s.h;
    line.resize(n + 2 * radius);
    out.resize(n);
    const std::size_t stride = axis == 0 ? static_cast<std::size_t>(s.w) * s.c : s.c;
    for (int l = 0; l < lines; ++l)
      for (int c = 0; c < s.c; ++c) {
        float* first = map.data.data() +
                       (axis == 0 ? static_cast<std::size_t>(l) * s.c : static_cast<std::size_t>(l) * s.w * s.c) + c;
        for (int i = -radius; i < n + radius; ++i) line[i + radius] = first[reflect(i, n) * stride];
        for (int i = 0; i < n; ++i) {
          float acc = 0.0f;
          for (int k = 0; k <= 2 * radius; ++k) acc += weights[k] * line[i + k];
          out[i] = acc;
        }
        for (int i = 0; i < n; ++i) first[i * stride] = out[i];
      }
  }
}

// The same sums in the same order as gaussian_blur_hw_ref (so the same bits), four values at a time: along H, whole
// rows of W * C values are combined; along W, each value's taps lie C floats apart in its row, and only the first
// and last `radius` pixels of a row need the reflection.
void gaussian_blur_hw(Tensor& map, float sigma, std::vector<float>& scratch) {
  if (!(sigma > 0.0f)) return;
  const int radius = static_cast<int>(4.0f * sigma + 0.5f);
  const std::vector<float> weights = gaussian_weights(sigma, radius);
  const int taps = 2 * radius + 1;
  const Shape3 s = map.shape;
  const int row = s.w * s.c;
  // reflected[i + radius]: the sample at position i, i in -radius .. max(H, W) + radius - 1, for each axis.
  std::vector<int> reflected_h(s.h + 2 * radius), reflected_w(s.w + 2 * radius);
  for (int i = -radius; i < s.h + radius; ++i) reflected_h[i + radius] = reflect(i, s.h);
  for (int i = -radius; i < s.w + radius; ++i) reflected_w[i + radius] = reflect(i, s.w);
  std::vector<const float*> rows(taps);
  scratch.assign(map.data.begin(), map.data.end());
  for (int y = 0; y < s.h; ++y) {
    for (int k = 0; k < taps; ++k) rows[k] = scratch.data() + static_cast<std::size_t>(reflected_h[y + k]) * row;
    float* out = map.data.data() + static_cast<std::size_t>(y) * row;
    int j = 0;
    for (; j + 4 <= row; j += 4) {
      simd::f32x4 acc = simd::splat(0.0f);
      for (int k = 0; k < taps; ++k) acc = simd::mul_add(acc, simd::splat(weights[k]), simd::load(rows[k] + j));
      simd::store(out + j, acc);
    }
    for (; j < row; ++j) {
      float acc = 0.0f;
      for (int k = 0; k < taps; ++k) acc += weights[k] * rows[k][j];
      out[j] = acc;
    }
  }
  scratch.assign(map.data.begin(), map.data.end());
  // Pixels radius .. W - radius - 1 have all their taps inside the row.
  const int inner_begin = std::min(radius, s.w) * s.c;
  const int inner_end = std::max(inner_begin, (s.w - radius) * s.c);
  for (int y = 0; y < s.h; ++y) {
    const float* in = scratch.data() + static_cast<std::size_t>(y) * row;
    float* out = map.data.data() + static_cast<std::size_t>(y) * row;
    auto edge = [&](int j) {
      const int x = j / s.c, c = j % s.c;
      float acc = 0.0f;
      for (int k = 0; k < taps; ++k) acc += weights[k] * in[reflected_w[x + k] * s.c + c];
      out[j] = acc;
    };
    int j = 0;
    for (; j < inner_begin; ++j) edge(j);
    for (; j + 4 <= inner_end; j += 4) {
      simd::f32x4 acc = simd::splat(0.0f);
      for (int k = 0; k < taps; ++k)
        acc = simd::mul_add(acc, simd::splat(weights[k]), simd::load(in + j + (k - radius) * s.c));
      simd::store(out + j, acc);
    }
    for (; j < row; ++j) edge(j);
  }
}

void gaussian_blur_hw(Tensor& map, float sigma) {
  std::vector<float> scratch;
  gaussian_blur_hw(map, sigma, scratch);
}

void clip_to_valid_pixels(Tensor& image) {
  const int channels = image.shape.c;
  for (std::size_t p = 0; p < image.data.size(); p += channels)
    for (int c = 0; c < channels; ++c) {
      const float mean = kChannelMeans[c % 3];
      image.data[p + c] = std::min(std::max(image.data[p + c], -mean), 255.0f - mean);
    }
}

void make_grayscale(Tensor& image) {
  if (image.shape.c != 3) return;
  for (std::size_t p = 0; p < image.data.size(); p += 3) {
    const float grey = ((image.data[p] + kChannelMeans[0]) + (image.data[p + 1] + kChannelMeans[1]) +
                        (image.data[p + 2] + kChannelMeans[2])) /
                       3.0f;
    for (int c = 0; c < 3; ++c) image.data[p + c] = grey - kChannelMeans[c];
  }
}

// ---- the common part ----

Synthesizer::Synthesizer(const Model& model, const OutputSelector& selector, const SynthOptions& options)
    : model_(model),
      selector_(selector),
      options_(options),
      rng_(options.seed),
      best_response_(std::numeric_limits<float>::quiet_NaN()) {}

void Synthesizer::offer(const Tensor& image, float response) {
  const bool better =
      std::isnan(best_response_) || (options_.minimize ? response < best_response_ : response > best_response_);
  if (better && !std::isnan(response)) {
    best_response_ = response;
    best_image_ = image;
  }
}

// The selected scalar's value at an image, by a forward pass up to the selected layer.
float selected_value(const Model& model, const OutputSelector& s, const float* input, GradientWorkspace& ws) {
  ws.run_forward(model, input, s.layer >= 0);
  const int last = s.layer < 0 ? static_cast<int>(model.layers.size()) - 1 : s.layer;
  const std::vector<float>& y = s.layer < 0 ? ws.outputs : ws.activations[last].data;
  const Shape3 os = model.layers[last].out;
  if (s.layer < 0) return y[s.channel];
  if (s.y >= 0) return y[(static_cast<std::size_t>(s.y) * os.w + s.x) * os.c + s.channel];
  double sum = 0.0;
  for (int p = 0; p < os.h * os.w; ++p) sum += y[static_cast<std::size_t>(p) * os.c + s.channel];
  return static_cast<float>(sum / (os.h * os.w));
}

namespace {

// ---- the authors' recipe ----

class AuthorsSynthesizer final : public Synthesizer {
 public:
  AuthorsSynthesizer(const Model& model, const OutputSelector& selector, const SynthOptions& options)
      : Synthesizer(model, selector, options), image_(model.input), gradient_(model.input) {
    // np.random.uniform(size=(1,112,112,3)) * 50 + 128, then recentred; drawn in (H, W, C) order.
    for (std::size_t i = 0; i < image_.data.size(); ++i)
      image_.data[i] = rng_.uniform() * 50.0f + 128.0f - kChannelMeans[i % 3];
    best_image_ = image_;
  }

  int advance(int count) override {
    int ran = 0;
    for (; ran < count && !done(); ++ran) {
      const float value =
          input_gradient_unchecked(model_, image_.data.data(), selector_, gradient_.data.data(), workspace_);
      // The image this gradient was taken at is the previous step's result (unless that step blurred it, when
      // the unblurred image was already judged): the authors' per-step forward pass, shared with the gradient.
      if (pending_) {
        record(value);
        offer(image_, value);
      }
      double squares = 0.0;
      for (float g : gradient_.data) squares += static_cast<double>(g) * g;
      const float rms = static_cast<float>(std::sqrt(squares / gradient_.data.size()));
      for (auto& g : gradient_.data) g /= (rms + 1e-5f);
      gaussian_blur_hw(gradient_, kSigma, blur_scratch_);
      for (std::size_t i = 0; i < image_.data.size(); ++i)
        image_.data[i] += (options_.minimize ? -kStepSize : kStepSize) * gradient_.data[i];
      clip_to_valid_pixels(image_);
      if (options_.grayscale) make_grayscale(image_);
      pending_ = true;
      ++step_;
      const bool blur_now = (step_ - 1) % kBlurEvery == 0 && step_ - 1 > 0;
      if (blur_now || done()) {
        const float judged = selected_value(model_, selector_, image_.data.data(), workspace_);
        record(judged);
        offer(image_, judged);
        pending_ = false;
        if (blur_now) gaussian_blur_hw(image_, kSigma, blur_scratch_);
      }
    }
    return ran;
  }

  Tensor current_image() const override { return image_; }

 private:
  static constexpr float kStepSize = 10.0f, kSigma = 1.0f;
  static constexpr int kBlurEvery = 50;

  void record(float value) { trace_.push_back(value); }

  Tensor image_;     // (H, W, 3) recentred
  Tensor gradient_;  // (H, W, 3)
  std::vector<float> blur_scratch_;
  bool pending_ = false;  // image_ is a step's result that has not been judged yet
};

// ---- the Fourier-space recipe ----

// In-place radix-2 FFT of `n` complex values with stride, unnormalized; sign -1 forward, +1 inverse.
class Fft {
 public:
  explicit Fft(int n) : n_(n), cos_(n / 2), sin_(n / 2) {
    constexpr double two_pi = 6.28318530717958647692;
    for (int k = 0; k < n / 2; ++k) {
      double s, c;
      sincos_deterministic(two_pi * k / n, s, c);
      cos_[k] = static_cast<float>(c);
      sin_[k] = static_cast<float>(s);
    }
  }

  void run(float* re, float* im, std::size_t stride, int sign) const {
    const int n = n_;
    for (int i = 1, j = 0; i < n; ++i) {
      int bit = n >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      if (i < j) {
        std::swap(re[i * stride], re[j * stride]);
        std::swap(im[i * stride], im[j * stride]);
      }
    }
    for (int len = 2; len <= n; len <<= 1) {
      const int step = n / len;
      for (int start = 0; start < n; start += len)
        for (int k = 0; k < len / 2; ++k) {
          const float wr = cos_[k * step], wi = sign * sin_[k * step];
          const std::size_t a = (start + k) * stride, b = (start + k + len / 2) * stride;
          const float tr = re[b] * wr - im[b] * wi, ti = re[b] * wi + im[b] * wr;
          re[b] = re[a] - tr;
          im[b] = im[a] - ti;
          re[a] += tr;
          im[a] += ti;
        }
    }
  }

  // Rows then columns of an (n, n) plane.
  void run_2d(float* re, float* im, int sign) const {
    for (int r = 0; r < n_; ++r)
      run(re + static_cast<std::size_t>(r) * n_, im + static_cast<std::size_t>(r) * n_, 1, sign);
    for (int c = 0; c < n_; ++c) run(re + c, im + c, n_, sign);
  }

 private:
  int n_;
  std::vector<float> cos_, sin_;
};

class FourierSynthesizer final : public Synthesizer {
 public:
  FourierSynthesizer(const Model& model, const OutputSelector& selector, const SynthOptions& options)
      : Synthesizer(model, selector, options),
        side_(canvas_side(model.input)),
        fft_(side_),
        channels_(options.grayscale ? 1 : 3) {
    const std::size_t plane = static_cast<std::size_t>(side_) * side_;
    params_.resize(2 * channels_ * plane);  // (channel, re|im, y, x)
    for (auto& p : params_) p = 0.01f * rng_.normal();
    adam_m_.assign(params_.size(), 0.0f);
    adam_v_.assign(params_.size(), 0.0f);
    scale_.resize(plane);
    for (int y = 0; y < side_; ++y)
      for (int x = 0; x < side_; ++x) {
        const float fy = static_cast<float>(std::min(y, side_ - y)) / side_;
        const float fx = static_cast<float>(std::min(x, side_ - x)) / side_;
        const float f = std::max(std::sqrt(fy * fy + fx * fx), 1.0f / side_);
        // Lucid: 1/f decay, times sqrt(h w), with irfft's 1/(h w) and its "magic" 1/4.
        scale_[static_cast<std::size_t>(y) * side_ + x] = 1.0f / (f * side_ * 4.0f);
      }
    render_canvas();
    best_image_ = centred_view();
  }

  int advance(int count) override {
    int ran = 0;
    const Shape3 in = model_.input;
    Tensor view(in), grad_view(in);
    for (; ran < count && !done(); ++ran) {
      // A random view of the canvas: scale in 0.95..1.05, jitter up to the canvas margin.
      const float scale = 0.95f + 0.01f * rng_.below(11);
      // Jitter of up to 8 pixels at 112 (Lucid's scale), proportionally less for smaller inputs.
      const int extent = std::max(in.h, in.w);
      const int margin = std::min((side_ - extent) / 2, std::max(1, (extent * 8 + 56) / 112));
      const int jy = rng_.below(2 * margin + 1) - margin, jx = rng_.below(2 * margin + 1) - margin;
      sample_view(scale, jy, jx, view);
      const float value =
          input_gradient_unchecked(model_, view.data.data(), selector_, grad_view.data.data(), workspace_);
      trace_.push_back(value);
      backward_through_view(scale, jy, jx, grad_view);
      adam_step();
      ++step_;
      if (step_ % kJudgeEvery == 0 || done()) {
        const Tensor centred = centred_view();
        offer(centred, selected_value(model_, selector_, centred.data.data(), workspace_));
      }
    }
    return ran;
  }

  Tensor current_image() const override { return centred_view(); }

 private:
  static constexpr int kJudgeEvery = 10;
  static constexpr float kLearningRate = 0.05f, kBeta1 = 0.9f, kBeta2 = 0.999f, kEpsilon = 1e-8f;

  static int canvas_side(Shape3 input) {
    int side = 1;
    while (side < std::max(input.h, input.w) + 16) side <<= 1;
    return side;
  }

  // Lucid's colour-correlation square root, normalized by its largest column norm.
  static constexpr float kColour[3][3] = {{0.26f, 0.09f, 0.02f}, {0.27f, 0.00f, -0.05f}, {0.27f, -0.09f, 0.03f}};
  static float colour(int i, int j) {
    static const float max_norm = [] {
      float best = 0.0f;
      for (int col = 0; col < 3; ++col) {
        float sum = 0.0f;
        for (int row = 0; row < 3; ++row) sum += kColour[row][col] * kColour[row][col];
        best = std::max(best, std::sqrt(sum));
      }
      return best;
    }();
    return kColour[i][j] / max_norm;
  }

  // params -> canvas_ (side, side, 3) recentred, and sig_ (the sigmoid of each value, for the backward).
  void render_canvas() {
    const std::size_t plane = static_cast<std::size_t>(side_) * side_;
    std::vector<float> decorrelated(plane * channels_);  // (channel, y, x)
    re_.resize(plane);
    im_.resize(plane);
    for (int c = 0; c < channels_; ++c) {
      const float* p = params_.data() + 2 * c * plane;
      for (std::size_t k = 0; k < plane; ++k) {
        re_[k] = p[k] * scale_[k];
        im_[k] = p[plane + k] * scale_[k];
      }
      fft_.run_2d(re_.data(), im_.data(), +1);
      std::copy(re_.begin(), re_.end(), decorrelated.begin() + c * plane);
    }
    canvas_ = Tensor({side_, side_, 3});
    sig_.resize(plane * 3);
    for (std::size_t k = 0; k < plane; ++k)
      for (int i = 0; i < 3; ++i) {
        float z = 0.0f;
        if (channels_ == 1) {
          z = decorrelated[k];
        } else {
          for (int j = 0; j < 3; ++j) z += colour(i, j) * decorrelated[j * plane + k];
        }
        const float s = static_cast<float>(1.0 / (1.0 + exp_deterministic(-static_cast<double>(z))));
        sig_[k * 3 + i] = s;
        canvas_.data[k * 3 + i] = 255.0f * s - kChannelMeans[i];
      }
  }

  // Bilinear sample of the canvas around its centre, with a scale and an integer jitter; coordinates are clamped
  // to the canvas. The same weights serve the backward (a scatter).
  template <typename Visit>
  void for_each_tap(float scale, int jy, int jx, Visit visit) const {
    const Shape3 in = model_.input;
    const float centre = (side_ - 1) * 0.5f;
    for (int y = 0; y < in.h; ++y) {
      const float sy = std::min(std::max(centre + (y - (in.h - 1) * 0.5f) * scale + jy, 0.0f), side_ - 1.0f);
      const int y0 = std::min(static_cast<int>(sy), side_ - 2);
      const float wy = sy - y0;
      for (int x = 0; x < in.w; ++x) {
        const float sx = std::min(std::max(centre + (x - (in.w - 1) * 0.5f) * scale + jx, 0.0f), side_ - 1.0f);
        const int x0 = std::min(static_cast<int>(sx), side_ - 2);
        const float wx = sx - x0;
        const std::size_t out = (static_cast<std::size_t>(y) * in.w + x) * 3;
        const std::size_t base = (static_cast<std::size_t>(y0) * side_ + x0) * 3;
        visit(out, base, (1 - wy) * (1 - wx), (1 - wy) * wx, wy * (1 - wx), wy * wx);
      }
    }
  }

  void sample_view(float scale, int jy, int jx, Tensor& view) const {
    const std::size_t row = static_cast<std::size_t>(side_) * 3;
    const float* c = canvas_.data.data();
    for_each_tap(scale, jy, jx, [&](std::size_t out, std::size_t base, float a, float b, float d, float e) {
      for (int ch = 0; ch < 3; ++ch)
        view.data[out + ch] =
            a * c[base + ch] + b * c[base + 3 + ch] + d * c[base + row + ch] + e * c[base + row + 3 + ch];
    });
  }

  Tensor centred_view() const {
    Tensor view(model_.input);
    sample_view(1.0f, 0, 0, view);
    return view;
  }

  // d objective / d view -> d objective / d params, into grad_params_.
  void backward_through_view(float scale, int jy, int jx, const Tensor& grad_view) {
    const std::size_t plane = static_cast<std::size_t>(side_) * side_;
    const std::size_t row = static_cast<std::size_t>(side_) * 3;
    std::vector<float> grad_canvas(plane * 3, 0.0f);  // (y, x, 3)
    const float* g = grad_view.data.data();
    for_each_tap(scale, jy, jx, [&](std::size_t out, std::size_t base, float a, float b, float d, float e) {
      for (int ch = 0; ch < 3; ++ch) {
        grad_canvas[base + ch] += a * g[out + ch];
        grad_canvas[base + 3 + ch] += b * g[out + ch];
        grad_canvas[base + row + ch] += d * g[out + ch];
        grad_canvas[base + row + 3 + ch] += e * g[out + ch];
      }
    });
    // Through 255 * sigmoid and the colour matrix, to the per-channel images, (channel, y, x).
    std::vector<float> grad_decorrelated(plane * channels_, 0.0f);
    for (std::size_t k = 0; k < plane; ++k)
      for (int i = 0; i < 3; ++i) {
        const float s = sig_[k * 3 + i];
        const float dz = grad_canvas[k * 3 + i] * 255.0f * s * (1.0f - s);
        if (channels_ == 1) {
          grad_decorrelated[k] += dz;
        } else {
          for (int j = 0; j < 3; ++j) grad_decorrelated[j * plane + k] += colour(i, j) * dz;
        }
      }
    // Real part of an inverse FFT: its adjoint is the forward FFT (see the derivation in the header comment of
    // this recipe: d/dRe S_k = scale_k Re G_k, d/dIm S_k = scale_k Im G_k with G the forward FFT of the gradient).
    grad_params_.resize(params_.size());
    for (int c = 0; c < channels_; ++c) {
      std::copy(grad_decorrelated.begin() + c * plane, grad_decorrelated.begin() + (c + 1) * plane, re_.begin());
      std::fill(im_.begin(), im_.end(), 0.0f);
      fft_.run_2d(re_.data(), im_.data(), -1);
      float* gp = grad_params_.data() + 2 * c * plane;
      for (std::size_t k = 0; k < plane; ++k) {
        gp[k] = scale_[k] * re_[k];
        gp[plane + k] = scale_[k] * im_[k];
      }
    }
  }

  void adam_step() {
    beta1_power_ *= kBeta1;
    beta2_power_ *= kBeta2;
    const float direction = options_.minimize ? -1.0f : 1.0f;
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const float g = direction * grad_params_[i];
      adam_m_[i] = kBeta1 * adam_m_[i] + (1 - kBeta1) * g;
      adam_v_[i] = kBeta2 * adam_v_[i] + (1 - kBeta2) * g * g;
      const float m_hat = adam_m_[i] / (1 - beta1_power_), v_hat = adam_v_[i] / (1 - beta2_power_);
      params_[i] += kLearningRate * m_hat / (std::sqrt(v_hat) + kEpsilon);
    }
    render_canvas();
  }

  int side_;
  Fft fft_;
  int channels_;
  std::vector<float> params_, grad_params_, adam_m_, adam_v_;  // (channel, re|im, side, side)
  std::vector<float> scale_;                                   // (side, side): 1/frequency weighting
  std::vector<float> re_, im_;                                 // (side, side) scratch
  std::vector<float> sig_;                                     // (side, side, 3)
  Tensor canvas_;                                              // (side, side, 3) recentred
  float beta1_power_ = 1.0f, beta2_power_ = 1.0f;
};

}  // namespace

Result<std::unique_ptr<Synthesizer>> Synthesizer::create(const Model& model, const OutputSelector& selector,
                                                         const SynthOptions& options) {
  if (model.input.c != 3)
    return Status::error("synthesis needs an RGB input (H, W, 3); model '" + model.name + "' takes " +
                         std::to_string(model.input.c) + " channels");
  CL_RETURN_IF_ERROR(check_selector(model, selector));
  if (options.steps < 1 || options.steps > SynthLimits::max_steps)
    return Status::error("steps " + std::to_string(options.steps) + " out of range: expected 1.." +
                         std::to_string(SynthLimits::max_steps));
  if (options.recipe == SynthRecipe::fourier) {
    // The canvas is the next power of two above the input plus margin, with ~12 floats per canvas pixel.
    if (std::max(model.input.h, model.input.w) > SynthLimits::max_fourier_side)
      return Status::error("the Fourier recipe supports inputs up to " + std::to_string(SynthLimits::max_fourier_side) +
                           " pixels a side; model '" + model.name + "' takes " + std::to_string(model.input.h) + "x" +
                           std::to_string(model.input.w));
    return std::unique_ptr<Synthesizer>(new FourierSynthesizer(model, selector, options));
  }
  return std::unique_ptr<Synthesizer>(new AuthorsSynthesizer(model, selector, options));
}

Result<SynthResult> synthesize(const Model& model, const OutputSelector& selector, const SynthOptions& options,
                               const SynthCallback& progress, int report_every) {
  auto created = Synthesizer::create(model, selector, options);
  if (!created) return created.status();
  Synthesizer& synth = *created.value();
  SynthResult result;
  report_every = std::max(1, report_every);
  while (!synth.done()) {
    synth.advance(report_every);
    if (progress && !progress({synth.step(), synth.steps(), synth.best_response(), &synth})) {
      result.cancelled = true;
      break;
    }
  }
  result.image = synth.best_image();
  result.response = synth.best_response();
  result.steps_done = synth.step();
  result.trace = synth.trace();
  return result;
}

}  // namespace cortexlens
