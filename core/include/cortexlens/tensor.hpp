// A dense float32 feature map in (H, W, C) order, channels fastest: the layout Keras uses
// (channels_last) and the order Flatten reads, so flattening is free.
#pragma once

#include <cstddef>
#include <vector>

namespace cortexlens {

struct Shape3 {
  int h = 0, w = 0, c = 0;
  std::size_t size() const { return static_cast<std::size_t>(h) * w * c; }
  bool operator==(const Shape3& o) const { return h == o.h && w == o.w && c == o.c; }
  bool operator!=(const Shape3& o) const { return !(*this == o); }
};

struct Tensor {
  Shape3 shape;
  std::vector<float> data;  // (H, W, C), size == shape.size()

  Tensor() = default;
  explicit Tensor(Shape3 s, float fill = 0.0f) : shape(s), data(s.size(), fill) {}

  float& at(int y, int x, int ch) { return data[(static_cast<std::size_t>(y) * shape.w + x) * shape.c + ch]; }
  float at(int y, int x, int ch) const { return data[(static_cast<std::size_t>(y) * shape.w + x) * shape.c + ch]; }
};

}  // namespace cortexlens
