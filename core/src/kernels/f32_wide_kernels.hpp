// The float32 kernels wider than 4 lanes, written once over a vector type V and included by f32_avx2.cpp and
// f32_avx512.cpp *inside an anonymous namespace*, so each gets its own copy compiled for its instruction set.
// (Layouts: f32_wide.hpp.) V provides:
//   type, mask, lanes; load, load_masked, store, store_masked, broadcast(const float*), zero(), fma(acc, a, b),
//   relu, sum_lanes, tail_mask(n) (the first n lanes, 1 <= n <= lanes);
//   kConvVectors (vectors per conv block), conv_tile_pixels(NV) (output pixels per conv register tile),
//   kDwVectors, kDwTile (the same for depthwise).
// Same structure as the portable kernels (f32_simd.cpp): direct convolution over zero-bordered buffers with a
// register tile of output pixels x output-channel vectors, one broadcast per pixel and reduction index, the weights
// loaded once per index. Multiply-adds are fused, so results differ from the 4-lane path in the last bits.
//
// No header guard on purpose: each wide translation unit includes it exactly once, in its own namespace.

template <typename V, int MR, int NV>
inline void conv_tile(const F32Geometry& g, const float* w, const float* bias, const float* in, float* out,
                      int tail_lanes, bool full) {
  typename V::type acc[MR][NV];
  for (int v = 0; v < NV; ++v) {
    const typename V::type b = V::load(bias + v * V::lanes);
    for (int p = 0; p < MR; ++p) acc[p][v] = b;
  }
  const int run = g.kw * g.in_cs;
  // A 1-wide kernel row (every pointwise conv) stops at the input's last real channel: the padding channels up to
  // in_cs are zeros times zero weights, so the sums are the same bits without them.
  const int reduced = g.kw == 1 ? g.in_c : run;
  const int pixel_step = g.sw * g.in_cs;
  for (int ky = 0; ky < g.kh; ++ky) {
    const float* x = in + static_cast<std::ptrdiff_t>(ky) * g.in_row;
    const float* wk = w + static_cast<std::ptrdiff_t>(ky) * run * NV * V::lanes;
    for (int j = 0; j < reduced; ++j) {
      typename V::type wv[NV];
      for (int v = 0; v < NV; ++v) wv[v] = V::load(wk + (j * NV + v) * V::lanes);
      for (int p = 0; p < MR; ++p) {
        const typename V::type xv = V::broadcast(x + p * pixel_step + j);
        for (int v = 0; v < NV; ++v) acc[p][v] = V::fma(xv, wv[v], acc[p][v]);
      }
    }
  }
  for (int p = 0; p < MR; ++p) {
    float* o = out + p * g.out_cs;
    for (int v = 0; v < NV; ++v) {
      const typename V::type r = g.relu ? V::relu(acc[p][v]) : acc[p][v];
      if (v + 1 < NV || full)
        V::store(o + v * V::lanes, r);
      else
        V::store_masked(o + v * V::lanes, V::tail_mask(tail_lanes), r);
    }
  }
}

// The pixels left over after the full tiles of a row: one tile of exactly `count` (< MR) pixels.
template <typename V, int MR, int NV>
inline void conv_tile_rest(int count, const F32Geometry& g, const float* w, const float* bias, const float* in,
                           float* out, int tail_lanes, bool full) {
  if constexpr (MR > 1) {
    if (count == MR) return conv_tile<V, MR, NV>(g, w, bias, in, out, tail_lanes, full);
    return conv_tile_rest<V, MR - 1, NV>(count, g, w, bias, in, out, tail_lanes, full);
  } else {
    conv_tile<V, 1, NV>(g, w, bias, in, out, tail_lanes, full);
  }
}

template <typename V, int NV>
void conv_block_rows(const F32Geometry& g, int c0, const float* w, const float* bias) {
  constexpr int kTile = V::conv_tile_pixels(NV);
  const int width = g.out_cs - c0 < NV * V::lanes ? g.out_cs - c0 : NV * V::lanes;
  const bool full = width == NV * V::lanes;
  // A lane count, not a mask: on AVX2 a mask is a vector register, which the tile's loop needs for accumulators.
  const int tail_lanes = width - (NV - 1) * V::lanes;
  const int in_pixel = g.sw * g.in_cs;
  for (int oy = 0; oy < g.out_h; ++oy) {
    const float* in = g.in + static_cast<std::ptrdiff_t>(oy) * g.sh * g.in_row;
    float* out = g.out + static_cast<std::ptrdiff_t>(oy) * g.out_row + c0;
    int ox = 0;
    for (; ox + kTile <= g.out_w; ox += kTile)
      conv_tile<V, kTile, NV>(g, w, bias, in + ox * in_pixel, out + ox * g.out_cs, tail_lanes, full);
    if (ox < g.out_w)
      conv_tile_rest<V, kTile - 1, NV>(g.out_w - ox, g, w, bias, in + ox * in_pixel, out + ox * g.out_cs, tail_lanes,
                                       full);
  }
}

template <typename V, int NV>
void conv_block_narrowing(const F32Geometry& g, int c0, const float* w, const float* bias, int vectors) {
  if constexpr (NV > 1) {
    if (vectors < NV) return conv_block_narrowing<V, NV - 1>(g, c0, w, bias, vectors);
  }
  conv_block_rows<V, NV>(g, c0, w, bias);
}

template <typename V>
void conv2d_wide(F32Geometry g, const float* weights, const float* bias) {
  // A 1x1 stride-1 conv over borderless rows is one long row: fewer tile remainders.
  if (g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.in_row == g.out_w * g.in_cs &&
      g.out_row == g.out_w * g.out_cs) {
    g.out_w *= g.out_h;
    g.out_h = 1;
  }
  constexpr int kBlock = V::kConvVectors * V::lanes;
  const std::ptrdiff_t per_channel = static_cast<std::ptrdiff_t>(g.kh) * g.kw * g.in_cs;
  // Blocks outer: with at most a few blocks per layer (64 channels per block on AVX-512), each block's weights stay
  // in L1 while its rows stream by, and the input (the larger operand of the first conv) is read once per block.
  for (int c0 = 0; c0 < g.out_cs; c0 += kBlock) {
    const int width = g.out_cs - c0 < kBlock ? g.out_cs - c0 : kBlock;
    const int vectors = (width + V::lanes - 1) / V::lanes;
    conv_block_narrowing<V, V::kConvVectors>(g, c0, weights + c0 * per_channel, bias + c0, vectors);
  }
}

// SW > 0: the stride as a constant; SW == 0: any stride. TAIL: the last vector holds fewer than `lanes` channels.
template <typename V, int MR, int NV, int SW, bool TAIL>
inline void depthwise_tile(const F32Geometry& g, const float* w, const float* bias, const float* in, float* out,
                           typename V::mask tail) {
  typename V::type acc[MR][NV];
  for (int v = 0; v < NV; ++v) {
    const typename V::type b = V::load(bias + v * V::lanes);
    for (int p = 0; p < MR; ++p) acc[p][v] = b;
  }
  const int cs = g.in_cs;
  const int pixel_step = (SW > 0 ? SW : g.sw) * cs;
  auto load = [tail](const float* p, int v) {
    return TAIL && v == NV - 1 ? V::load_masked(p + v * V::lanes, tail) : V::load(p + v * V::lanes);
  };
  for (int ky = 0; ky < g.kh; ++ky) {
    const float* x = in + static_cast<std::ptrdiff_t>(ky) * g.in_row;
    const float* wk = w + static_cast<std::ptrdiff_t>(ky) * g.kw * cs;
    for (int kx = 0; kx < g.kw; ++kx, x += cs, wk += cs) {
      typename V::type wv[NV];
      for (int v = 0; v < NV; ++v) wv[v] = load(wk, v);
      for (int p = 0; p < MR; ++p)
        for (int v = 0; v < NV; ++v) acc[p][v] = V::fma(load(x + p * pixel_step, v), wv[v], acc[p][v]);
    }
  }
  for (int p = 0; p < MR; ++p)
    for (int v = 0; v < NV; ++v) {
      const typename V::type r = g.relu ? V::relu(acc[p][v]) : acc[p][v];
      if (TAIL && v == NV - 1)
        V::store_masked(out + p * cs + v * V::lanes, tail, r);
      else
        V::store(out + p * cs + v * V::lanes, r);
    }
}

// One channel block (NV vectors, the last one partial when TAIL) of every pixel of output row oy.
template <typename V, int NV, int SW, bool TAIL>
void depthwise_block_row(const F32Geometry& g, int oy, int c0, const float* weights, const float* bias,
                         typename V::mask tail) {
  constexpr int kTile = V::kDwTile;
  const float* in = g.in + static_cast<std::ptrdiff_t>(oy) * g.sh * g.in_row + c0;
  float* out = g.out + static_cast<std::ptrdiff_t>(oy) * g.out_row + c0;
  int ox = 0;
  for (; ox + kTile <= g.out_w; ox += kTile)
    depthwise_tile<V, kTile, NV, SW, TAIL>(g, weights + c0, bias + c0, in + ox * g.sw * g.in_cs, out + ox * g.out_cs,
                                           tail);
  for (; ox < g.out_w; ++ox)
    depthwise_tile<V, 1, NV, SW, TAIL>(g, weights + c0, bias + c0, in + ox * g.sw * g.in_cs, out + ox * g.out_cs, tail);
}

template <typename V, int NV, int SW>
void depthwise_block_row_narrowing(const F32Geometry& g, int oy, int c0, const float* weights, const float* bias,
                                   int vectors, bool partial, typename V::mask tail) {
  if constexpr (NV > 1) {
    if (vectors < NV)
      return depthwise_block_row_narrowing<V, NV - 1, SW>(g, oy, c0, weights, bias, vectors, partial, tail);
  }
  if (partial)
    depthwise_block_row<V, NV, SW, true>(g, oy, c0, weights, bias, tail);
  else
    depthwise_block_row<V, NV, SW, false>(g, oy, c0, weights, bias, tail);
}

template <typename V, int SW>
void depthwise_blocks(const F32Geometry& g, const float* weights, const float* bias) {
  // Rows outer, channel blocks of up to 64 channels inner: the kh input rows an output row reads (all channels)
  // stay in L2 while each block reads its share, and the next output rows reuse most of them. With blocks outer, a
  // map larger than L2 (the shared model's 112 x 112 x 100 input to its first depthwise conv, 5.6 MB) was streamed
  // from L3 once per block: 0.40 -> 0.32 ms on that layer (bench_onnx.mjs, avx512).
  constexpr int kBlock = V::kDwVectors * V::lanes;
  for (int oy = 0; oy < g.out_h; ++oy)
    for (int c0 = 0; c0 < g.out_cs; c0 += kBlock) {
      const int width = g.out_cs - c0 < kBlock ? g.out_cs - c0 : kBlock;
      const int vectors = (width + V::lanes - 1) / V::lanes;
      const int last = width - (vectors - 1) * V::lanes;
      depthwise_block_row_narrowing<V, V::kDwVectors, SW>(g, oy, c0, weights, bias, vectors, last < V::lanes,
                                                          V::tail_mask(last));
    }
}

template <typename V>
void depthwise_wide(const F32Geometry& g, const float* weights, const float* bias) {
  if (g.sw == 1) return depthwise_blocks<V, 1>(g, weights, bias);
  if (g.sw == 2) return depthwise_blocks<V, 2>(g, weights, bias);
  depthwise_blocks<V, 0>(g, weights, bias);
}

template <typename V>
void dense_wide(const F32Dense& d) {
  constexpr int L = V::lanes;
  if (d.units == 1) {
    // Four independent accumulators hide the latency of one long dot product.
    typename V::type acc[4] = {V::zero(), V::zero(), V::zero(), V::zero()};
    std::size_t i = 0;
    for (; i + 4 * L <= d.n; i += 4 * L)
      for (int a = 0; a < 4; ++a) acc[a] = V::fma(V::load(d.x + i + a * L), V::load(d.weights + i + a * L), acc[a]);
    for (; i + L <= d.n; i += L) acc[0] = V::fma(V::load(d.x + i), V::load(d.weights + i), acc[0]);
    if (i < d.n) {
      const typename V::mask tail = V::tail_mask(static_cast<int>(d.n - i));
      acc[1] = V::fma(V::load_masked(d.x + i, tail), V::load_masked(d.weights + i, tail), acc[1]);
    }
    const float value = V::sum_lanes(V::add(V::add(acc[0], acc[1]), V::add(acc[2], acc[3]))) + d.bias[0];
    d.out[0] = d.relu && value < 0.0f ? 0.0f : value;
    return;
  }
  for (int o = 0; o < d.units; o += L) {
    const int width = d.units - o < L ? d.units - o : L;
    const typename V::mask tail = V::tail_mask(width);
    typename V::type acc = V::load(d.bias + o);
    // The last block's rows are read masked: a full vector would run past the end of the weights.
    if (width == L && o + L <= d.units_stride) {
      for (std::size_t i = 0; i < d.n; ++i)
        acc = V::fma(V::broadcast(d.x + i), V::load(d.weights + i * d.units_stride + o), acc);
    } else {
      for (std::size_t i = 0; i < d.n; ++i)
        acc = V::fma(V::broadcast(d.x + i), V::load_masked(d.weights + i * d.units_stride + o, tail), acc);
    }
    if (d.relu) acc = V::relu(acc);
    V::store_masked(d.out + o, tail, acc);
  }
}
