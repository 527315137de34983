// The cell of a multiresolution grid around one point at one level (grid_cpu.cpp's formulas): its corners'
// table rows and interpolation weights, as tiny-cuda-nn's grid_index computes them. Shared by the scalar
// kernels and the AVX-512 forward (grid_simd.h) for its fallback blocks.
#pragma once

#include <cmath>
#include <cstdint>

namespace fields_grid {

constexpr uint32_t kPrimes[7] = {1u, 2654435761u, 805459861u, 3674653429u, 2097192037u, 1434869437u, 2165219737u};
constexpr int kMaxFeatures = 64;

template <typename T>
struct Levels {
  const T* scale;          // (L,)
  const int64_t* stride;   // (L, D)
  const int64_t* size;     // (L,)
  const int64_t* offset;   // (L,)
  const uint8_t* hashed;   // (L,)
  const int64_t* max_cell; // (L,) upper bound of the lower cell corner (vertex-aligned grids)
  int64_t n_levels;
  T shift;
  bool smoothstep;
};

// Corners of the cell around one point at one level: absolute table rows and weights; optionally the
// per-dimension factors needed for d weight / d x.
template <typename T, int D>
struct Cell {
  static constexpr int C = 1 << D;
  int64_t row[C];
  T weight[C];
  T s[D];    // interpolation parameter per dimension (f or smoothstep(f))
  T ds[D];   // d s / d f

  inline void compute(const T* x, const Levels<T>& lv, int64_t l, bool need_ds) {
    int64_t v[D];
    for (int i = 0; i < D; ++i) {
      const T p = x[i] * lv.scale[l] + lv.shift;
      T c = std::floor(p);
      if (c > static_cast<T>(lv.max_cell[l])) c = static_cast<T>(lv.max_cell[l]);
      const T f = p - c;
      v[i] = static_cast<int64_t>(c);
      if (lv.smoothstep) {
        s[i] = f * f * (T(3) - T(2) * f);
        if (need_ds) ds[i] = T(6) * f * (T(1) - f);
      } else {
        s[i] = f;
        if (need_ds) ds[i] = T(1);
      }
    }
    // weights in the torch path's order: w = stack(1 - s0, s0); then cat(w * (1 - s_i), w * s_i)
    weight[0] = T(1) - s[0];
    weight[1] = s[0];
    for (int i = 1; i < D; ++i) {
      const int n = 1 << i;
      for (int c = 0; c < n; ++c) {
        weight[c + n] = weight[c] * s[i];
        weight[c] = weight[c] * (T(1) - s[i]);
      }
    }
    const int64_t size = lv.size[l];
    const int64_t offset = lv.offset[l];
    if (lv.hashed[l]) {
      uint32_t h[C];
      h[0] = static_cast<uint32_t>(v[0]) * kPrimes[0];
      h[1] = static_cast<uint32_t>(v[0] + 1) * kPrimes[0];
      for (int i = 1; i < D; ++i) {
        const int n = 1 << i;
        const uint32_t lo = static_cast<uint32_t>(v[i]) * kPrimes[i];
        const uint32_t hi = static_cast<uint32_t>(v[i] + 1) * kPrimes[i];
        for (int c = 0; c < n; ++c) {
          h[c + n] = h[c] ^ hi;
          h[c] = h[c] ^ lo;
        }
      }
      const uint32_t mask = static_cast<uint32_t>(size - 1);
      for (int c = 0; c < C; ++c) row[c] = offset + static_cast<int64_t>(h[c] & mask);
    } else {
      const int64_t* stride = lv.stride + l * D;
      int64_t a[C];
      a[0] = v[0] * stride[0];
      a[1] = (v[0] + 1) * stride[0];
      for (int i = 1; i < D; ++i) {
        const int n = 1 << i;
        const int64_t lo = v[i] * stride[i];
        const int64_t hi = (v[i] + 1) * stride[i];
        for (int c = 0; c < n; ++c) {
          a[c + n] = a[c] + hi;
          a[c] = a[c] + lo;
        }
      }
      for (int c = 0; c < C; ++c) {
        // a dense index is below twice the size for inputs in [0, 1]; the general modulo keeps any
        // other input (NaN, out of range) inside the level's rows
        int64_t r = a[c] < size ? a[c] : a[c] - size;
        if (r < 0 || r >= size) {
          r = a[c] % size;
          if (r < 0) r += size;
        }
        row[c] = offset + r;
      }
    }
  }
};

}  // namespace fields_grid
