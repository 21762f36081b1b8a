// Greedy coloured-block images (BlockSearch, synthesis.hpp): the gradient ranks every candidate block, the best few
// are tried exactly.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "analysis/synthesis_steps.hpp"
#include "cortexlens/image.hpp"
#include "cortexlens/synthesis.hpp"

namespace cortexlens {

const std::uint8_t kBlockPalette[kBlockPaletteSize][3] = {{0, 0, 0},   {255, 255, 255}, {255, 0, 0},   {0, 255, 0},
                                                          {0, 0, 255}, {255, 255, 0},   {0, 255, 255}, {255, 0, 255}};

BlockSearch::BlockSearch(const Model& model, const OutputSelector& selector, const BlockOptions& options)
    : model_(model), selector_(selector), options_(options), image_(model.input), gradient_(model.input) {
  start_ = response_ =
      input_gradient_unchecked(model_, image_.data.data(), selector_, gradient_.data.data(), workspace_);
}

Result<std::unique_ptr<BlockSearch>> BlockSearch::create(const Model& model, const OutputSelector& selector,
                                                         const BlockOptions& options) {
  if (model.input.c != 3)
    return Status::error("block images need an RGB input (H, W, 3); model '" + model.name + "' takes " +
                         std::to_string(model.input.c) + " channels");
  CL_RETURN_IF_ERROR(check_selector(model, selector));
  if (options.blocks < 1 || options.blocks > 1000)
    return Status::error("blocks " + std::to_string(options.blocks) + " out of range: expected 1..1000");
  if (options.candidates < 1 || options.candidates > 4096)
    return Status::error("candidates " + std::to_string(options.candidates) + " out of range: expected 1..4096");
  if (options.sizes.empty() || options.sizes.size() > 16)
    return Status::error("block sizes: expected 1..16 sizes, got " + std::to_string(options.sizes.size()));
  std::int64_t candidates = 0;
  for (int size : options.sizes) {
    if (size < 1 || size > std::min(model.input.h, model.input.w))
      return Status::error("block size " + std::to_string(size) + " out of range: expected 1.." +
                           std::to_string(std::min(model.input.h, model.input.w)));
    const int step = std::max(1, size / 2);
    candidates += static_cast<std::int64_t>((model.input.h - size) / step + 1) * ((model.input.w - size) / step + 1) *
                  kBlockPaletteSize;
  }
  // Each round ranks every candidate; bound the list so a large input with small blocks cannot exhaust memory.
  if (candidates > (1 << 22))
    return Status::error("block sizes give " + std::to_string(candidates) + " candidates per block, more than " +
                         std::to_string(1 << 22) + "; use larger blocks");
  return std::unique_ptr<BlockSearch>(new BlockSearch(model, selector, options));
}

// Long by design: one greedy step per block (rank every candidate by the gradient, evaluate the best exactly, keep
// the winner); the phases share the candidate list and the scratch images.
int BlockSearch::advance(int count) {
  const Shape3 s = model_.input;
  const int w1 = s.w + 1;
  struct Candidate {
    float estimate;
    int y, x, size, colour;
  };
  int placed = 0;
  std::vector<double> sums(static_cast<std::size_t>(s.h + 1) * w1 * 4);  // (H+1, W+1, 4): g_r, g_g, g_b, g . x
  std::vector<Candidate> candidates;
  Tensor trial;
  for (; placed < count && !done_; ++placed) {
    if (static_cast<int>(blocks_.size()) >= options_.blocks) {
      done_ = true;
      break;
    }
    // Summed-area tables of the gradient per channel and of gradient . image (gradient_ is current).
    std::fill(sums.begin(), sums.end(), 0.0);
    for (int y = 0; y < s.h; ++y)
      for (int x = 0; x < s.w; ++x) {
        double own[4] = {0, 0, 0, 0};
        for (int c = 0; c < 3; ++c) {
          own[c] = gradient_.at(y, x, c);
          own[3] += static_cast<double>(gradient_.at(y, x, c)) * image_.at(y, x, c);
        }
        for (int k = 0; k < 4; ++k)
          sums[((y + 1) * static_cast<std::size_t>(w1) + x + 1) * 4 + k] =
              own[k] + sums[(y * static_cast<std::size_t>(w1) + x + 1) * 4 + k] +
              sums[((y + 1) * static_cast<std::size_t>(w1) + x) * 4 + k] -
              sums[(y * static_cast<std::size_t>(w1) + x) * 4 + k];
      }
    auto box = [&](int y0, int x0, int y1, int x1, int k) {
      auto at = [&](int y, int x) { return sums[(static_cast<std::size_t>(y) * w1 + x) * 4 + k]; };
      return at(y1, x1) - at(y0, x1) - at(y1, x0) + at(y0, x0);
    };
    candidates.clear();
    const float direction = options_.minimize ? -1.0f : 1.0f;
    for (int size : options_.sizes) {
      const int step = std::max(1, size / 2);
      for (int y = 0; y + size <= s.h; y += step)
        for (int x = 0; x + size <= s.w; x += step) {
          const double gx = box(y, x, y + size, x + size, 3);
          for (int colour = 0; colour < kBlockPaletteSize; ++colour) {
            double estimate = -gx;
            for (int c = 0; c < 3; ++c)
              estimate +=
                  (kBlockPalette[colour][c] - static_cast<double>(kChannelMeans[c])) * box(y, x, y + size, x + size, c);
            candidates.push_back({direction * static_cast<float>(estimate), y, x, size, colour});
          }
        }
    }
    const std::size_t keep = std::min<std::size_t>(options_.candidates, candidates.size());
    // Ties broken by position so the order never depends on the sort implementation.
    std::partial_sort(candidates.begin(), candidates.begin() + keep, candidates.end(),
                      [](const Candidate& a, const Candidate& b) {
                        if (a.estimate != b.estimate) return a.estimate > b.estimate;
                        if (a.size != b.size) return a.size > b.size;
                        if (a.y != b.y) return a.y < b.y;
                        if (a.x != b.x) return a.x < b.x;
                        return a.colour < b.colour;
                      });
    float best = response_;
    int chosen = -1;
    for (std::size_t i = 0; i < keep; ++i) {
      const Candidate& k = candidates[i];
      trial = image_;
      for (int y = k.y; y < k.y + k.size; ++y)
        for (int x = k.x; x < k.x + k.size; ++x)
          for (int c = 0; c < 3; ++c) trial.at(y, x, c) = kBlockPalette[k.colour][c] - kChannelMeans[c];
      const float value = selected_value(model_, selector_, trial.data.data(), workspace_);
      if (direction * value > direction * best) {
        best = value;
        chosen = static_cast<int>(i);
      }
    }
    if (chosen < 0) {
      done_ = true;
      break;
    }
    const Candidate& k = candidates[chosen];
    for (int y = k.y; y < k.y + k.size; ++y)
      for (int x = k.x; x < k.x + k.size; ++x)
        for (int c = 0; c < 3; ++c) image_.at(y, x, c) = kBlockPalette[k.colour][c] - kChannelMeans[c];
    response_ = input_gradient_unchecked(model_, image_.data.data(), selector_, gradient_.data.data(), workspace_);
    blocks_.push_back({k.y, k.x, k.size, k.colour, response_});
    if (static_cast<int>(blocks_.size()) >= options_.blocks) done_ = true;
  }
  return placed;
}

}  // namespace cortexlens
