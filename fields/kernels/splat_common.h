// Shared by the splat CPU kernels (splat_cpu.cpp: forward; splat_backward_cpu.cpp: backward): constants, the
// tile rectangle, the reach of a Gaussian, the tile scheduler and a vectorisable exp. Each source includes it
// in an anonymous namespace; fields/kernels/splat_cpu.py names the library after a hash of all these files.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace {

constexpr double kAlphaMin = 1.0 / 255.0;
constexpr double kAlphaMax = 0.99;
constexpr double kTMin = 1e-4;
constexpr int kMaxChannels = 32;

struct Layout {
  int64_t width, height, tiles_x, tiles_y, tile_size, channels;
};

// Pixel rectangle [x0, x1) x [y0, y1) of tile t, clipped to the image.
inline void tile_rect(const Layout& L, int64_t t, int64_t& x0, int64_t& y0, int64_t& x1, int64_t& y1) {
  const int64_t ty = t / L.tiles_x, tx = t % L.tiles_x;
  x0 = tx * L.tile_size;
  y0 = ty * L.tile_size;
  x1 = std::min(x0 + L.tile_size, L.width);
  y1 = std::min(y0 + L.tile_size, L.height);
}

// Pixels of the tile rectangle that Gaussian (m, conic, o) can reach with alpha >= 1/255: the bounding box
// of the ellipse sigma <= s_max = log(255 o), widened by a hair for rounding. Returns false when it reaches
// none. ``s_cut`` receives a bound above which sigma surely gives alpha < 1/255 (the exp can be skipped).
template <typename T>
inline bool reach(const T* m, const T* c, T o, int64_t& x0, int64_t& y0, int64_t& x1, int64_t& y1, T& s_cut) {
  if (!(o >= T(kAlphaMin))) return false;  // alpha < 1/255 everywhere (or NaN: never composited)
  const double s = std::max(0.0, std::log(255.0 * static_cast<double>(o)));
  s_cut = static_cast<T>(s * (1.0 + 1e-4) + 1e-4);
  const double det = static_cast<double>(c[0]) * c[2] - static_cast<double>(c[1]) * c[1];
  if (!(det > 0.0) || !(c[0] > 0) || !(c[2] > 0)) {
    s_cut = std::numeric_limits<T>::infinity();
    return true;
  }
  const double margin = 1e-3;
  const double ex = std::sqrt(2.0 * s * c[2] / det) * (1.0 + 1e-4) + margin;
  const double ey = std::sqrt(2.0 * s * c[0] / det) * (1.0 + 1e-4) + margin;
  // pixel x has centre x + 0.5: keep x with |m - x - 0.5| <= ex
  const double mx = static_cast<double>(m[0]) - 0.5, my = static_cast<double>(m[1]) - 0.5;
  x0 = std::max<int64_t>(x0, static_cast<int64_t>(std::ceil(std::max(mx - ex, -1e15))));
  x1 = std::min<int64_t>(x1, static_cast<int64_t>(std::floor(std::min(mx + ex, 1e15))) + 1);
  y0 = std::max<int64_t>(y0, static_cast<int64_t>(std::ceil(std::max(my - ey, -1e15))));
  y1 = std::min<int64_t>(y1, static_cast<int64_t>(std::floor(std::min(my + ey, 1e15))) + 1);
  return x0 < x1 && y0 < y1;
}

// sigma as the reference computes it: 0.5 * (cx * dx**2 + cz * dy**2) + cy * dx * dy
template <typename T>
inline T sigma_of(const T* c, T dx, T dy) {
  return T(0.5) * (c[0] * (dx * dx) + c[2] * (dy * dy)) + c[1] * dx * dy;
}

// Run body(tile) for every tile on torch's threads, handing tiles out one at a time.
template <typename F>
void for_each_tile(int64_t n_tiles, const F& body) {
  std::atomic<int64_t> next{0};
  const int64_t n_workers = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), n_tiles));
  at::parallel_for(0, n_workers, 1, [&](int64_t, int64_t) {
    for (int64_t t = next++; t < n_tiles; t = next++) body(t);
  });
}

// exp(x) for x <= 0 without branches, so that the pixel loops vectorise: Cephes' expf (about 1 ulp) for
// float; std::exp for double (the float64 parity tests compare to 1e-10).
inline float exp_neg(float x) {
  x = std::min(std::max(x, -87.0f), 0.0f);
  const float v = x * 1.44269504088896341f + 0.5f;
  int32_t n = static_cast<int32_t>(v);
  n -= (v < static_cast<float>(n)) ? 1 : 0;  // floor
  const float fn = static_cast<float>(n);
  x = x - fn * 0.693359375f;
  x = x - fn * -2.12194440e-4f;
  const float z = x * x;
  float y = 1.9875691500e-4f;
  y = y * x + 1.3981999507e-3f;
  y = y * x + 8.3334519073e-3f;
  y = y * x + 4.1665795894e-2f;
  y = y * x + 1.6666665459e-1f;
  y = y * x + 5.0000001201e-1f;
  y = y * z + x + 1.0f;
  const int32_t bits = (n + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return y * scale;
}
inline double exp_neg(double x) { return std::exp(x); }

// gdata (N, 6 + C): per Gaussian [mean2d (2), conic (3), opacity, features (C)] in one row, so that each
// Gaussian of a tile list costs one cache miss (the lists are in depth order: random rows); rows a few
// entries ahead are prefetched.
constexpr int64_t kPrefetch = 8;

}  // namespace
