// Tile binning on CPU: the Gaussians of each 16x16 tile, front to back, by a counting sort per tile of the
// Gaussians taken in depth order (one sort of N depths, in torch; no sort of the N x tiles intersections).
// Same rectangles as fields/render/splat/tiles.py (same float operations), so the same lists. Compiled into
// the library of splat_cpu.cpp (see fields/kernels/splat_cpu.py).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace {

struct Layout {
  int64_t width, height, tiles_x, tiles_y, tile_size, channels;
};

// Tile rectangle of one Gaussian as fields/render/splat/tiles.py computes it.
template <typename T>
inline void gaussian_tiles(const T* m, int32_t r, const Layout& L, int64_t& x0, int64_t& y0, int64_t& x1,
                           int64_t& y1) {
  const T rr = static_cast<T>(r), ts = static_cast<T>(L.tile_size);
  auto clampi = [](T v, int64_t hi) { return static_cast<int64_t>(std::min<T>(std::max<T>(v, T(0)), T(hi))); };
  x0 = clampi(std::floor((m[0] - rr) / ts), L.tiles_x);
  x1 = clampi(std::ceil((m[0] + rr) / ts), L.tiles_x);
  y0 = clampi(std::floor((m[1] - rr) / ts), L.tiles_y);
  y1 = clampi(std::ceil((m[1] + rr) / ts), L.tiles_y);
  if (r <= 0) x1 = x0, y1 = y0;
}

// Counting sort by tile of the Gaussians taken in depth order: counts (pass 1, ids == nullptr) into
// offsets[1..n_tiles], then (pass 2) the ids per tile, front to back. offsets[0] = 0 on entry.
template <typename T>
void bin(const T* means2d, const int32_t* radii, const int64_t* order, int64_t N, const Layout& L,
         int64_t* offsets, int64_t* ids) {
  const int64_t n_tiles = L.tiles_x * L.tiles_y;
  if (ids == nullptr) {
    for (int64_t i = 0; i < N; ++i) {
      int64_t x0, y0, x1, y1;
      gaussian_tiles(means2d + 2 * i, radii[i], L, x0, y0, x1, y1);
      for (int64_t y = y0; y < y1; ++y)
        for (int64_t x = x0; x < x1; ++x) ++offsets[1 + y * L.tiles_x + x];
    }
    for (int64_t t = 0; t < n_tiles; ++t) offsets[t + 1] += offsets[t];
    return;
  }
  std::vector<int64_t> cursor(offsets, offsets + n_tiles);
  for (int64_t j = 0; j < N; ++j) {
    const int64_t i = order[j];
    int64_t x0, y0, x1, y1;
    gaussian_tiles(means2d + 2 * i, radii[i], L, x0, y0, x1, y1);
    for (int64_t y = y0; y < y1; ++y)
      for (int64_t x = x0; x < x1; ++x) ids[cursor[y * L.tiles_x + x]++] = i;
  }
}

}  // namespace

#define FIELDS_BIN_ENTRY(NAME, T)                                                                                  \
  extern "C" int NAME(const T* means2d, const int32_t* radii, const int64_t* order, int64_t N,                    \
                      const int64_t* layout, int64_t* offsets, int64_t* ids) {                                     \
    const Layout L{layout[0], layout[1], layout[2], layout[3], layout[4], layout[5]};                              \
    try {                                                                                                          \
      bin<T>(means2d, radii, order, N, L, offsets, ids);                                                           \
    } catch (...) {                                                                                                \
      return -2;                                                                                                   \
    }                                                                                                              \
    return 0;                                                                                                      \
  }

FIELDS_BIN_ENTRY(fields_splat_bin_f32, float)
FIELDS_BIN_ENTRY(fields_splat_bin_f64, double)
