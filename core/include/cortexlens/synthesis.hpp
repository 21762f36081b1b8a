// Preferred-image synthesis: images that drive one chosen output (or internal channel) of a model up or down.
//
// Two recipes:
//  - authors: the published recipe of Cowley et al. (their classes/class_synth.py), step for step: white noise
//    (raw pixels uniform in [128, 178)), then per step the gradient of the response with respect to the recentred
//    image, divided by its root-mean-square + 1e-5, blurred with a Gaussian of sigma 1 pixel (scipy's
//    gaussian_filter: radius 4, "reflect" borders), added 10x to the image (subtracted to minimize), each pixel
//    clipped so the raw value stays within 0..255, optionally made grey (mean of the raw channels); the response
//    of the new image is compared with the best so far; after every 50th step (not the first) the image itself
//    is blurred with sigma 1. One deliberate difference: the best starts at -inf (+inf when minimizing), not at 0
//    (1e5) as in their code, which returns the untouched noise image when a model's response never exceeds 0
//    (some published outputs are negative throughout).
//  - fourier: the parameterization popularized by Lucid / Distill's "Feature Visualization" (Olah et al. 2017):
//    the image is the inverse FFT of a learnt spectrum scaled by 1/frequency, with decorrelated colour (Lucid's
//    colour-correlation square root) and a sigmoid to the valid pixel range; each step sees a random jitter and
//    scale of a slightly larger (128x128) canvas, and Adam (learning rate 0.05) updates the spectrum. The result
//    is the centred 112x112 view of the canvas.
//
// Determinism: the same options and seed give bit-identical images natively and in WebAssembly. The random
// numbers come from our own PCG32 (normal deviates from sums of uniforms, so no libm call is involved), and the
// few constants that need exp/cos/sin (blur weights, FFT twiddles, sigmoid) are computed with our own series in
// basic IEEE arithmetic, which both targets round identically. This assumes the layer kernels sum in the same
// order on both targets, which the portable kernels do (tests/wasm/viz.test.mjs checks it against the CLI).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "cortexlens/backward.hpp"
#include "cortexlens/model.hpp"

namespace cortexlens {

// PCG32 (O'Neill 2014, XSH RR): small, fast, and identical on every platform.
class Pcg32 {
 public:
  explicit Pcg32(std::uint64_t seed, std::uint64_t stream = 54);
  std::uint32_t next_u32();
  float uniform();   // [0, 1), 24 random bits
  float normal();    // approximately N(0, 1): the sum of 12 uniforms minus 6 (Irwin-Hall), no libm
  int below(int n);  // uniform integer in [0, n), n > 0

 private:
  std::uint64_t state_ = 0, inc_ = 0;
};

enum class SynthRecipe { authors, fourier };

struct SynthOptions {
  SynthRecipe recipe = SynthRecipe::authors;
  bool minimize = false;
  int steps = 1000;
  std::uint64_t seed = 1;
  bool grayscale = false;  // authors: forced after every step; fourier: one shared channel for R, G and B
};

// Bounds checked by Synthesizer::create.
struct SynthLimits {
  static constexpr int max_steps = 100000;
  static constexpr int max_fourier_side = 496;  // canvas 512x512
};

// A synthesis run that advances in chunks, so a caller (the page's worker) can show intermediate images,
// report progress and cancel between chunks without threads. All images are recentred (H, W, 3) tensors of
// the model's input shape.
class Synthesizer {
 public:
  // The model must outlive the Synthesizer. Refuses models whose input is not (H, W, 3), bad selectors,
  // and steps outside 1..SynthLimits::max_steps.
  static Result<std::unique_ptr<Synthesizer>> create(const Model& model, const OutputSelector& selector,
                                                     const SynthOptions& options);
  virtual ~Synthesizer() = default;

  // Runs up to `count` more steps (never past options.steps); returns how many ran.
  virtual int advance(int count) = 0;

  int step() const { return step_; }
  int steps() const { return options_.steps; }
  bool done() const { return step_ >= options_.steps; }
  const SynthOptions& options() const { return options_; }

  // The image the optimization currently holds (for live display) and the best image seen with its response.
  // Before any step, best_image() is the starting image and best_response() is NaN.
  virtual Tensor current_image() const = 0;
  const Tensor& best_image() const { return best_image_; }
  float best_response() const { return best_response_; }
  // The response after each completed step (of the image that step produced, as the recipe sees it).
  const std::vector<float>& trace() const { return trace_; }

 protected:
  Synthesizer(const Model& model, const OutputSelector& selector, const SynthOptions& options);
  // Keeps `image` when `response` beats the best so far in the recipe's direction.
  void offer(const Tensor& image, float response);

  const Model& model_;
  OutputSelector selector_;
  SynthOptions options_;
  Pcg32 rng_;
  GradientWorkspace workspace_;
  int step_ = 0;
  Tensor best_image_;
  float best_response_;
  std::vector<float> trace_;
};

// Progress of a whole-run synthesis; return false from the callback to stop early (the best so far is kept).
struct SynthProgress {
  int step = 0, steps = 0;
  float best_response = 0.0f;
  const Synthesizer* synthesizer = nullptr;
};
using SynthCallback = std::function<bool(const SynthProgress&)>;

struct SynthResult {
  Tensor image;           // the best image, recentred (H, W, 3)
  float response = 0.0f;  // the selected output's response to it
  int steps_done = 0;
  bool cancelled = false;
  std::vector<float> trace;
};

// Runs a whole synthesis, calling `progress` every `report_every` steps (and at the end).
Result<SynthResult> synthesize(const Model& model, const OutputSelector& selector, const SynthOptions& options,
                               const SynthCallback& progress = {}, int report_every = 50);

// ---- block images ----

// Greedy coloured-block images: start from mean grey (zero input) and repeatedly add the one block (position,
// size, colour from a fixed palette) that raises the response most (lowers it, when minimizing). Trying every
// candidate exactly would take thousands of forward passes per block, so each round ranks all candidates by the
// first-order change the gradient predicts (sum over the block of gradient x (colour - current pixels), from
// summed-area tables) and evaluates only the best `candidates` of them exactly. Stops early when no evaluated
// block improves the response.
struct BlockOptions {
  int blocks = 20;                       // at most this many blocks, 1..1000
  std::vector<int> sizes = {28, 14, 7};  // square block sides in pixels; positions step by half a side
  int candidates = 16;                   // exact evaluations per block, 1..4096
  bool minimize = false;
};

// The palette, raw RGB 0..255: black, white, red, green, blue, yellow, cyan, magenta.
constexpr int kBlockPaletteSize = 8;
extern const std::uint8_t kBlockPalette[kBlockPaletteSize][3];

class BlockSearch {
 public:
  struct Block {
    int y = 0, x = 0, size = 0, colour = 0;  // top-left, side, palette index
    float response = 0.0f;                   // the response once this block was added
  };
  // The model must outlive the search. Refuses non-RGB models, bad selectors and options out of range.
  static Result<std::unique_ptr<BlockSearch>> create(const Model& model, const OutputSelector& selector,
                                                     const BlockOptions& options);
  // Places up to `count` more blocks; returns how many were placed.
  int advance(int count);
  bool done() const { return done_; }
  const Tensor& image() const { return image_; }   // recentred (H, W, 3)
  float response() const { return response_; }     // of image()
  float start_response() const { return start_; }  // of the grey image
  const std::vector<Block>& blocks() const { return blocks_; }
  const BlockOptions& options() const { return options_; }

 private:
  BlockSearch(const Model& model, const OutputSelector& selector, const BlockOptions& options);
  const Model& model_;
  OutputSelector selector_;
  BlockOptions options_;
  GradientWorkspace workspace_;
  Tensor image_, gradient_;
  float response_ = 0.0f, start_ = 0.0f;
  bool done_ = false;
  std::vector<Block> blocks_;
};

// The recipes' building blocks (the Gaussian blur, the deterministic exp and sincos, the pixel clip) are private
// to the core: core/src/analysis/synthesis_steps.hpp.

}  // namespace cortexlens
