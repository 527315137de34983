// Gaussian splatting on CPU: tile binning, front-to-back compositing and its analytic backward pass.
// Built by fields/kernels/splat_cpu.py through torch.utils.cpp_extension.load and called through ctypes;
// only <ATen/Parallel.h> (torch's thread pool) is included, so the first build takes seconds.
//
// Per pixel p (centre at integer + 0.5) and Gaussian i of its tile, front to back, d = mean_i - p:
//   sigma = 1/2 (cA dx^2 + cC dy^2) + cB dx dy,   alpha = min(0.99, o_i exp(-sigma))
// skipped when sigma < 0 or alpha < 1/255; compositing stops before the Gaussian that would bring the
// transmittance T to 1e-4 or below. The arithmetic follows fields/render/splat/composite.py operation by
// operation (compiled with -ffp-contract=off) so the decisions at the thresholds agree with the reference.
//
// Speed: tiles are handed out to threads dynamically (an atomic counter; tiles differ a lot in cost); a tile
// stops when all its pixels have stopped; each Gaussian visits only the pixels of its alpha >= 1/255
// ellipse's bounding box (plus one pixel of margin), which is exact since pixels outside it are skipped
// anyway. The backward pass walks each tile's list in reverse from the final transmittance (T_before =
// T_after / (1 - alpha), in double) and writes each Gaussian's tile-local sums into its own row of a
// per-intersection buffer, so threads never share an output row; the rows are then summed per Gaussian.

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
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
// of the ellipse sigma <= log(255 o), widened by one pixel. Returns false when it reaches none.
template <typename T>
inline bool reach(const T* m, const T* c, T o, int64_t& x0, int64_t& y0, int64_t& x1, int64_t& y1) {
  if (!(o >= T(kAlphaMin))) return false;  // alpha < 1/255 everywhere (or NaN: never composited)
  const double s = std::max(0.0, std::log(255.0 * static_cast<double>(o)));
  const double det = static_cast<double>(c[0]) * c[2] - static_cast<double>(c[1]) * c[1];
  if (!(det > 0.0)) return true;
  const double ex = std::sqrt(2.0 * s * c[2] / det) + 1.0, ey = std::sqrt(2.0 * s * c[0] / det) + 1.0;
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

template <typename T, int CC>
void forward(const T* means2d, const T* conics, const T* opac, const T* feats, const int64_t* ids,
             const int64_t* offsets, const Layout& L, T* image, T* trans, int32_t* last) {
  const int64_t C = CC > 0 ? CC : L.channels;
  for_each_tile(L.tiles_x * L.tiles_y, [&](int64_t t) {
    int64_t tx0, ty0, tx1, ty1;
    tile_rect(L, t, tx0, ty0, tx1, ty1);
    const int64_t tw = tx1 - tx0, n_pix = tw * (ty1 - ty0);
    std::vector<double> Tp(n_pix, 1.0);  // torch's cumprod accumulates float products in double too
    std::vector<T> acc(n_pix * C, T(0));
    std::vector<int32_t> lastp(n_pix, 0);
    std::vector<uint8_t> active(n_pix, 1);
    int64_t n_active = n_pix;
    const int64_t start = offsets[t], end = offsets[t + 1];
    for (int64_t k = start; k < end && n_active > 0; ++k) {
      const int64_t g = ids[k];
      const T* m = means2d + 2 * g;
      const T* c = conics + 3 * g;
      const T o = opac[g];
      int64_t x0 = tx0, y0 = ty0, x1 = tx1, y1 = ty1;
      if (!reach(m, c, o, x0, y0, x1, y1)) continue;
      const T* f = feats + C * g;
      for (int64_t y = y0; y < y1; ++y) {
        const T dy = m[1] - (T(y) + T(0.5));
        for (int64_t x = x0; x < x1; ++x) {
          const int64_t p = (y - ty0) * tw + (x - tx0);
          if (!active[p]) continue;
          const T dx = m[0] - (T(x) + T(0.5));
          const T sigma = sigma_of(c, dx, dy);
          if (sigma < T(0)) continue;
          const T alpha = std::min(T(kAlphaMax), o * std::exp(-sigma));
          if (alpha < T(kAlphaMin)) continue;
          const double next_t = Tp[p] * static_cast<double>(T(1) - alpha);
          if (static_cast<T>(next_t) <= T(kTMin)) {
            active[p] = 0;
            --n_active;
            continue;
          }
          const T w = alpha * static_cast<T>(Tp[p]);
          T* a = acc.data() + p * C;
          for (int64_t ch = 0; ch < C; ++ch) a[ch] += w * f[ch];
          Tp[p] = next_t;
          lastp[p] = static_cast<int32_t>(k - start + 1);
        }
      }
    }
    for (int64_t y = ty0; y < ty1; ++y) {
      for (int64_t x = tx0; x < tx1; ++x) {
        const int64_t p = (y - ty0) * tw + (x - tx0), q = y * L.width + x;
        trans[q] = static_cast<T>(Tp[p]);
        last[q] = lastp[p];
        for (int64_t ch = 0; ch < C; ++ch) image[q * C + ch] = acc[p * C + ch];
      }
    }
  });
}

// Per-intersection gradient rows: [mean2d (2), conic (3), opacity (1), features (C)].
template <typename T, int CC>
void backward(const T* means2d, const T* conics, const T* opac, const T* feats, const int64_t* ids,
              const int64_t* offsets, const Layout& L, const T* grad_image, const T* grad_alpha, const T* trans,
              const int32_t* last, T* isect_grad) {
  const int64_t C = CC > 0 ? CC : L.channels, R = 6 + C;
  for_each_tile(L.tiles_x * L.tiles_y, [&](int64_t t) {
    int64_t tx0, ty0, tx1, ty1;
    tile_rect(L, t, tx0, ty0, tx1, ty1);
    const int64_t tw = tx1 - tx0, n_pix = tw * (ty1 - ty0);
    const int64_t start = offsets[t];
    std::vector<double> Tp(n_pix), buf(n_pix * C, 0.0);
    int32_t max_last = 0;
    for (int64_t y = ty0; y < ty1; ++y)
      for (int64_t x = tx0; x < tx1; ++x) {
        const int64_t p = (y - ty0) * tw + (x - tx0), q = y * L.width + x;
        Tp[p] = trans[q];
        max_last = std::max(max_last, last[q]);
      }
    double gf[kMaxChannels];
    for (int64_t k = start + max_last - 1; k >= start; --k) {
      const int64_t g = ids[k], local = k - start;
      const T* m = means2d + 2 * g;
      const T* c = conics + 3 * g;
      const T o = opac[g];
      const T* f = feats + C * g;
      T* out = isect_grad + k * R;
      double gm0 = 0, gm1 = 0, gc0 = 0, gc1 = 0, gc2 = 0, go = 0;
      for (int64_t ch = 0; ch < C; ++ch) gf[ch] = 0.0;
      int64_t x0 = tx0, y0 = ty0, x1 = tx1, y1 = ty1;
      if (reach(m, c, o, x0, y0, x1, y1)) {
        for (int64_t y = y0; y < y1; ++y) {
          const T dy = m[1] - (T(y) + T(0.5));
          for (int64_t x = x0; x < x1; ++x) {
            const int64_t q = y * L.width + x;
            if (local >= last[q]) continue;
            const T dx = m[0] - (T(x) + T(0.5));
            const T sigma = sigma_of(c, dx, dy);
            if (sigma < T(0)) continue;
            const T gauss = std::exp(-sigma);
            const T raw = o * gauss;
            const T alpha = std::min(T(kAlphaMax), raw);
            if (alpha < T(kAlphaMin)) continue;
            const int64_t p = (y - ty0) * tw + (x - tx0);
            const double one_minus = 1.0 - static_cast<double>(alpha);
            const double t_before = Tp[p] / one_minus;
            const double w = alpha * t_before;
            const T* go_pix = grad_image + q * C;
            double* b = buf.data() + p * C;
            double v_alpha = static_cast<double>(grad_alpha[q]) * trans[q] / one_minus;
            for (int64_t ch = 0; ch < C; ++ch) {
              gf[ch] += w * go_pix[ch];
              v_alpha += go_pix[ch] * (f[ch] * t_before - b[ch] / one_minus);
              b[ch] += f[ch] * w;
            }
            Tp[p] = t_before;
            if (raw > T(kAlphaMax)) continue;  // clamped: alpha does not depend on o or sigma here
            const double v_sigma = -static_cast<double>(raw) * v_alpha;
            go += gauss * v_alpha;
            gc0 += 0.5 * dx * dx * v_sigma;
            gc1 += static_cast<double>(dx) * dy * v_sigma;
            gc2 += 0.5 * dy * dy * v_sigma;
            gm0 += v_sigma * (static_cast<double>(c[0]) * dx + static_cast<double>(c[1]) * dy);
            gm1 += v_sigma * (static_cast<double>(c[1]) * dx + static_cast<double>(c[2]) * dy);
          }
        }
      }
      out[0] = T(gm0), out[1] = T(gm1), out[2] = T(gc0), out[3] = T(gc1), out[4] = T(gc2), out[5] = T(go);
      for (int64_t ch = 0; ch < C; ++ch) out[6 + ch] = T(gf[ch]);
    }
  });
}

// Sum the per-intersection rows into per-Gaussian gradients (zeroed by the caller); rows of untouched
// intersections (beyond every pixel's last) are skipped by the zero fill in Python.
template <typename T>
void reduce(const int64_t* ids, int64_t M, int64_t C, const T* isect_grad, T* g_means2d, T* g_conics, T* g_opac,
            T* g_feats) {
  const int64_t R = 6 + C;
  for (int64_t k = 0; k < M; ++k) {
    const int64_t g = ids[k];
    const T* r = isect_grad + k * R;
    g_means2d[2 * g] += r[0], g_means2d[2 * g + 1] += r[1];
    g_conics[3 * g] += r[2], g_conics[3 * g + 1] += r[3], g_conics[3 * g + 2] += r[4];
    g_opac[g] += r[5];
    for (int64_t ch = 0; ch < C; ++ch) g_feats[C * g + ch] += r[6 + ch];
  }
}

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

template <typename T>
int entry(int mode, const T* means2d, const T* conics, const T* opac, const T* feats, const int64_t* ids,
          int64_t* offsets, const int64_t* layout, T* image, T* trans, int32_t* last, const T* grad_image,
          const T* grad_alpha, T* isect_grad, int64_t M, T* g_means2d, T* g_conics, T* g_opac, T* g_feats,
          const int32_t* radii, const int64_t* order, int64_t N, int64_t* ids_out) {
  const Layout L{layout[0], layout[1], layout[2], layout[3], layout[4], layout[5]};
  if (L.channels < 1 || L.channels > kMaxChannels) return -1;
  try {
    if (mode == 0) {
      if (L.channels == 4) forward<T, 4>(means2d, conics, opac, feats, ids, offsets, L, image, trans, last);
      else forward<T, 0>(means2d, conics, opac, feats, ids, offsets, L, image, trans, last);
    } else if (mode == 1) {
      if (L.channels == 4)
        backward<T, 4>(means2d, conics, opac, feats, ids, offsets, L, grad_image, grad_alpha, trans, last, isect_grad);
      else
        backward<T, 0>(means2d, conics, opac, feats, ids, offsets, L, grad_image, grad_alpha, trans, last, isect_grad);
      reduce(ids, M, L.channels, isect_grad, g_means2d, g_conics, g_opac, g_feats);
    } else if (mode == 2) {
      bin(means2d, radii, order, N, L, offsets, ids_out);
    } else {
      return -3;
    }
  } catch (...) {
    return -2;
  }
  return 0;
}

}  // namespace

#define FIELDS_SPLAT_ENTRY(NAME, T)                                                                               \
  extern "C" int NAME(int mode, const T* means2d, const T* conics, const T* opac, const T* feats,                 \
                      const int64_t* ids, int64_t* offsets, const int64_t* layout, T* image, T* trans,            \
                      int32_t* last, const T* grad_image, const T* grad_alpha, T* isect_grad, int64_t M,          \
                      T* g_means2d, T* g_conics, T* g_opac, T* g_feats, const int32_t* radii,                     \
                      const int64_t* order, int64_t N, int64_t* ids_out) {                                        \
    return entry<T>(mode, means2d, conics, opac, feats, ids, offsets, layout, image, trans, last, grad_image,     \
                    grad_alpha, isect_grad, M, g_means2d, g_conics, g_opac, g_feats, radii, order, N, ids_out);    \
  }

FIELDS_SPLAT_ENTRY(fields_splat_f32, float)
FIELDS_SPLAT_ENTRY(fields_splat_f64, double)
