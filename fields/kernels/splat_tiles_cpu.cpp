// Tile binning on CPU: the Gaussians of each 16x16 tile, front to back, by a counting sort per tile of the
// Gaussians taken in depth order (one radix sort of the visible depths; no sort of the N x tiles intersections).
// Same rectangles as fields/render/splat/tiles.py (same float operations), so the same lists. Compiled into
// the library of splat_cpu.cpp (see fields/kernels/splat_cpu.py).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
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
void bin(const T* means2d, const int32_t* radii, const int64_t* order, int64_t N, int64_t n_order, const Layout& L,
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
  for (int64_t j = 0; j < n_order; ++j) {
    const int64_t i = order[j];
    int64_t x0, y0, x1, y1;
    gaussian_tiles(means2d + 2 * i, radii[i], L, x0, y0, x1, y1);
    for (int64_t y = y0; y < y1; ++y)
      for (int64_t x = x0; x < x1; ++x) ids[cursor[y * L.tiles_x + x]++] = i;
  }
}

}  // namespace

// The visible Gaussians (radii > 0) front to back, ties by index (= a stable sort of their float32 depths,
// all > near > 0, so their bit patterns sort as integers): an LSD radix sort, two passes of 16 bits. Returns
// how many were written to ``order``.
extern "C" int64_t fields_splat_depth_order_f32(const float* depths, const int32_t* radii, int64_t N, int64_t* order) {
  std::vector<int64_t> visible;
  visible.reserve(N);
  for (int64_t i = 0; i < N; ++i)
    if (radii[i] > 0) visible.push_back(i);
  const int64_t n = static_cast<int64_t>(visible.size());
  std::vector<uint32_t> key(n);
  for (int64_t j = 0; j < n; ++j) std::memcpy(&key[j], depths + visible[j], sizeof(uint32_t));
  std::vector<int64_t> tmp(n);
  std::vector<uint32_t> tmp_key(n);
  for (int shift = 0; shift < 32; shift += 16) {
    std::vector<int64_t> count(65537, 0);
    for (int64_t j = 0; j < n; ++j) ++count[1 + ((key[j] >> shift) & 0xFFFF)];
    for (int b = 0; b < 65536; ++b) count[b + 1] += count[b];
    int64_t* dst = shift == 0 ? tmp.data() : order;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t slot = count[(key[j] >> shift) & 0xFFFF]++;
      dst[slot] = visible[j];
      tmp_key[slot] = key[j];
    }
    if (shift == 0) {
      visible.swap(tmp);
      key.swap(tmp_key);
    }
  }
  return n;
}

#define FIELDS_BIN_ENTRY(NAME, T)                                                                                  \
  extern "C" int NAME(const T* means2d, const int32_t* radii, const int64_t* order, int64_t N, int64_t n_order,   \
                      const int64_t* layout, int64_t* offsets, int64_t* ids) {                                     \
    const Layout L{layout[0], layout[1], layout[2], layout[3], layout[4], layout[5]};                              \
    try {                                                                                                          \
      bin<T>(means2d, radii, order, N, n_order, L, offsets, ids);                                                  \
    } catch (...) {                                                                                                \
      return -2;                                                                                                   \
    }                                                                                                              \
    return 0;                                                                                                      \
  }

FIELDS_BIN_ENTRY(fields_splat_bin_f32, float)
FIELDS_BIN_ENTRY(fields_splat_bin_f64, double)
