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
// ellipse's bounding box (widened by a hair for rounding), which is exact since pixels outside it are skipped
// anyway (and pixels in the box's corners skip the exp). The backward pass walks each tile's list in reverse from the final transmittance (T_before =
// T_after / (1 - alpha), in double) and writes each Gaussian's tile-local sums into its own row of a
// per-intersection buffer, so threads never share an output row; the rows are then summed per Gaussian.

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

// Tile state, structure of arrays over the tile's pixels (row-major, width tw), so the pixel loops vectorise.
template <typename T>
struct TileState {
  std::vector<T> trans, acc;           // (P,), (C, P)
  std::vector<int32_t> last, active;   // (P,)
  std::vector<T> weight;               // one row of weights
  TileState(int64_t n_pix, int64_t C, int64_t width)
      : trans(n_pix, T(1)), acc(C * n_pix, T(0)), last(n_pix, 0), active(n_pix, 1), weight(width) {}
};

// gdata (N, 6 + C): per Gaussian [mean2d (2), conic (3), opacity, features (C)] in one row, so that each
// Gaussian of a tile list costs one cache miss (the lists are in depth order: random rows); rows a few
// entries ahead are prefetched.
constexpr int64_t kPrefetch = 8;

template <typename T, int CC>
void forward(const T* gdata, const int64_t* ids, const int64_t* offsets, const Layout& L, T* image, T* trans,
             int32_t* last) {
  const int64_t C = CC > 0 ? CC : L.channels, R = 6 + C;
  for_each_tile(L.tiles_x * L.tiles_y, [&](int64_t t) {
    int64_t tx0, ty0, tx1, ty1;
    tile_rect(L, t, tx0, ty0, tx1, ty1);
    const int64_t tw = tx1 - tx0, n_pix = tw * (ty1 - ty0);
    TileState<T> st(n_pix, C, tw);
    int64_t n_active = n_pix;
    const int64_t start = offsets[t], end = offsets[t + 1];
    for (int64_t k = start; k < end && n_active > 0; ++k) {
      if (k + kPrefetch < end) __builtin_prefetch(gdata + R * ids[k + kPrefetch]);
      const T* m = gdata + R * ids[k];
      const T* c = m + 2;
      const T o = m[5];
      int64_t x0 = tx0, y0 = ty0, x1 = tx1, y1 = ty1;
      T s_cut;
      if (!reach(m, c, o, x0, y0, x1, y1, s_cut)) continue;
      T f[kMaxChannels];
      for (int64_t ch = 0; ch < C; ++ch) f[ch] = m[6 + ch];
      const T mx = m[0], c0 = c[0], c1 = c[1];
      const int32_t index = static_cast<int32_t>(k - start + 1);
      // whole tile rows: one full vector per row beats a short scalar remainder; pixels outside the ellipse's
      // box fail the sigma <= s_cut test anyway
      x0 = tx0, x1 = tx1;
      for (int64_t y = y0; y < y1; ++y) {
        const T dy = m[1] - (T(y) + T(0.5));
        const T cdy = c[2] * (dy * dy);
        const int64_t row = (y - ty0) * tw - tx0;
        T* tr = st.trans.data() + row;
        int32_t* act = st.active.data() + row;
        int32_t* lst = st.last.data() + row;
        T* wrow = st.weight.data() - x0;
        int32_t stops = 0;
        for (int64_t x = x0; x < x1; ++x) {  // branch-free: vectorised
          const T dx = mx - (T(x) + T(0.5));
          const T sigma = T(0.5) * (c0 * (dx * dx) + cdy) + c1 * dx * dy;  // as sigma_of
          const T alpha = std::min(T(kAlphaMax), o * exp_neg(-std::min(sigma, s_cut + T(1))));
          const T trx = tr[x];
          const int32_t ax = act[x];  // int32 masks, not bools: GCC vectorises these
          const int32_t ok = ax & int32_t(sigma >= T(0)) & int32_t(sigma <= s_cut) & int32_t(alpha >= T(kAlphaMin));
          const T next_t = trx * (T(1) - alpha);
          const int32_t stop = ok & int32_t(next_t <= T(kTMin));
          const int32_t use = ok & (1 - stop);
          wrow[x] = use ? alpha * trx : T(0);
          tr[x] = use ? next_t : trx;
          lst[x] = use ? index : lst[x];
          act[x] = ax & (1 - stop);
          stops += stop;
        }
        for (int64_t ch = 0; ch < C; ++ch) {
          T* a = st.acc.data() + ch * n_pix + row;
          const T fc = f[ch];
          for (int64_t x = x0; x < x1; ++x) a[x] += wrow[x] * fc;
        }
        n_active -= stops;
      }
    }
    for (int64_t y = ty0; y < ty1; ++y) {
      for (int64_t x = tx0; x < tx1; ++x) {
        const int64_t p = (y - ty0) * tw + (x - tx0), q = y * L.width + x;
        trans[q] = st.trans[p];
        last[q] = st.last[p];
        for (int64_t ch = 0; ch < C; ++ch) image[q * C + ch] = st.acc[ch * n_pix + p];
      }
    }
  });
}

// Per-intersection gradient rows: [mean2d (2), conic (3), opacity (1), features (C)]. Vectorised like the forward
// pass: whole tile rows, per-lane (pixel column) partial sums, summed once per Gaussian.
template <typename T, int CC>
void backward(const T* gdata, const int64_t* ids, const int64_t* offsets, const Layout& L, const T* grad_image,
              const T* grad_alpha, const T* trans, const int32_t* last, T* isect_grad) {
  const int64_t C = CC > 0 ? CC : L.channels, R = 6 + C;
  for_each_tile(L.tiles_x * L.tiles_y, [&](int64_t t) {
    int64_t tx0, ty0, tx1, ty1;
    tile_rect(L, t, tx0, ty0, tx1, ty1);
    const int64_t tw = tx1 - tx0, n_pix = tw * (ty1 - ty0);
    const int64_t start = offsets[t];
    std::vector<T> Tp(n_pix), t_final(n_pix), ga(n_pix), G(C * n_pix), buf(C * n_pix, T(0)), lanes(R * tw),
        scratch(8 * tw);
    std::vector<int32_t> lastp(n_pix);
    int32_t max_last = 0;
    for (int64_t y = ty0; y < ty1; ++y)
      for (int64_t x = tx0; x < tx1; ++x) {
        const int64_t p = (y - ty0) * tw + (x - tx0), q = y * L.width + x;
        Tp[p] = t_final[p] = trans[q];
        ga[p] = grad_alpha[q];
        lastp[p] = last[q];
        for (int64_t ch = 0; ch < C; ++ch) G[ch * n_pix + p] = grad_image[q * C + ch];
        max_last = std::max(max_last, last[q]);
      }
    for (int64_t k = start + max_last - 1; k >= start; --k) {
      if (k - kPrefetch >= start) __builtin_prefetch(gdata + R * ids[k - kPrefetch]);
      const int32_t local = static_cast<int32_t>(k - start);
      const T* m = gdata + R * ids[k];
      const T* c = m + 2;
      const T o = m[5];
      T f[kMaxChannels];
      for (int64_t ch = 0; ch < C; ++ch) f[ch] = m[6 + ch];
      T* out = isect_grad + k * R;
      int64_t x0 = tx0, y0 = ty0, x1 = tx1, y1 = ty1;
      T s_cut;
      if (!reach(m, c, o, x0, y0, x1, y1, s_cut)) continue;  // its row stays zero
      std::fill(lanes.begin(), lanes.end(), T(0));
      T* l_gm0 = lanes.data(); T* l_gm1 = l_gm0 + tw; T* l_gc0 = l_gm1 + tw; T* l_gc1 = l_gc0 + tw;
      T* l_gc2 = l_gc1 + tw; T* l_go = l_gc2 + tw; T* l_gf = l_go + tw;
      const T mx = m[0], c0 = c[0], c1 = c[1], c2 = c[2];
      for (int64_t y = y0; y < y1; ++y) {
        const T dy = m[1] - (T(y) + T(0.5));
        const T cdy = c2 * (dy * dy);
        const int64_t row = (y - ty0) * tw;
        T* tr = Tp.data() + row;
        const T* tf = t_final.data() + row;
        const T* gar = ga.data() + row;
        const int32_t* lst = lastp.data() + row;
        T* om = scratch.data();  // per pixel of the row: 1 - alpha, T_before, w, d L / d alpha, dx, raw, gauss, ok
        T* tb = om + tw; T* wv = tb + tw; T* va = wv + tw; T* dxv = va + tw; T* rawv = dxv + tw; T* gsv = rawv + tw;
        T* okv = gsv + tw;
#pragma omp simd  // iterations are independent pixels (GCC's own alias analysis gives up here)
        for (int64_t x = 0; x < tw; ++x) {  // branch-free: vectorised
          const T dx = mx - (T(tx0 + x) + T(0.5));
          const T sigma = T(0.5) * (c0 * (dx * dx) + cdy) + c1 * dx * dy;  // as sigma_of
          const T gauss = exp_neg(-std::min(sigma, s_cut + T(1)));
          const T raw = o * gauss;
          const T alpha = std::min(T(kAlphaMax), raw);
          // masks as chains of float selects: the form GCC vectorises here (AVX-512 mask conversions fail)
          T inc = local < lst[x] ? T(1) : T(0);
          inc = sigma >= T(0) ? inc : T(0);
          inc = sigma <= s_cut ? inc : T(0);
          inc = alpha >= T(kAlphaMin) ? inc : T(0);
          const T one_minus = T(1) - alpha;
          const T trx = tr[x];
          const T divided = trx / one_minus;  // one_minus >= 0.01
          const T t_before = inc != T(0) ? divided : trx;
          om[x] = one_minus;
          tb[x] = t_before;
          wv[x] = inc != T(0) ? alpha * t_before : T(0);
          va[x] = gar[x] * tf[x] / one_minus;
          tr[x] = t_before;
          dxv[x] = dx, rawv[x] = raw, gsv[x] = gauss;
          okv[x] = raw <= T(kAlphaMax) ? inc : T(0);  // clamped: alpha has no o or sigma gradient
        }
        for (int64_t ch = 0; ch < C; ++ch) {
          const T* g = G.data() + ch * n_pix + row;
          T* b = buf.data() + ch * n_pix + row;
          T* lane = l_gf + ch * tw;
          const T fc = f[ch];
#pragma omp simd
          for (int64_t x = 0; x < tw; ++x) {
            va[x] += g[x] * (fc * tb[x] - b[x] / om[x]);
            b[x] += wv[x] * fc;
            lane[x] += wv[x] * g[x];
          }
        }
#pragma omp simd
        for (int64_t x = 0; x < tw; ++x) {
          const T dx = dxv[x];
          const T v_sigma = okv[x] != T(0) ? -rawv[x] * va[x] : T(0);
          l_go[x] += okv[x] != T(0) ? gsv[x] * va[x] : T(0);
          l_gc0[x] += T(0.5) * dx * dx * v_sigma;
          l_gc1[x] += dx * dy * v_sigma;
          l_gc2[x] += T(0.5) * dy * dy * v_sigma;
          l_gm0[x] += v_sigma * (c0 * dx + c1 * dy);
          l_gm1[x] += v_sigma * (c1 * dx + c2 * dy);
        }
      }
      for (int64_t j = 0; j < R; ++j) {
        double sum = 0.0;
        for (int64_t x = 0; x < tw; ++x) sum += lanes[j * tw + x];
        out[j] = T(sum);
      }
    }
  });
}

// Sum the per-intersection rows into per-Gaussian gradients (zeroed by the caller); rows of untouched
// intersections (beyond every pixel's last) are skipped by the zero fill in Python.
template <typename T>
void reduce(const int64_t* ids, int64_t M, int64_t C, const T* isect_grad, T* g_packed) {
  const int64_t R = 6 + C;
  for (int64_t k = 0; k < M; ++k) {
    T* out = g_packed + R * ids[k];
    const T* r = isect_grad + k * R;
    for (int64_t j = 0; j < R; ++j) out[j] += r[j];
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

// mode 0: forward, 1: backward (gradients into g_packed (N, 6 + C), zeroed by the caller), 2: binning (data:
// means2d (N, 2)); modes 0 and 1 read the packed Gaussians ``data`` (N, 6 + C).
template <typename T>
int entry(int mode, const T* data, const int64_t* ids, int64_t* offsets, const int64_t* layout, T* image, T* trans,
          int32_t* last, const T* grad_image, const T* grad_alpha, T* isect_grad, int64_t M, T* g_packed,
          const int32_t* radii, const int64_t* order, int64_t N, int64_t* ids_out) {
  const Layout L{layout[0], layout[1], layout[2], layout[3], layout[4], layout[5]};
  if (L.channels < 1 || L.channels > kMaxChannels) return -1;
  try {
    if (mode == 0) {
      if (L.channels == 4) forward<T, 4>(data, ids, offsets, L, image, trans, last);
      else forward<T, 0>(data, ids, offsets, L, image, trans, last);
    } else if (mode == 1) {
      if (L.channels == 4) backward<T, 4>(data, ids, offsets, L, grad_image, grad_alpha, trans, last, isect_grad);
      else backward<T, 0>(data, ids, offsets, L, grad_image, grad_alpha, trans, last, isect_grad);
      reduce(ids, M, L.channels, isect_grad, g_packed);
    } else if (mode == 2) {
      bin(data, radii, order, N, L, offsets, ids_out);
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
  extern "C" int NAME(int mode, const T* data, const int64_t* ids, int64_t* offsets, const int64_t* layout,       \
                      T* image, T* trans, int32_t* last, const T* grad_image, const T* grad_alpha, T* isect_grad, \
                      int64_t M, T* g_packed, const int32_t* radii, const int64_t* order, int64_t N,              \
                      int64_t* ids_out) {                                                                         \
    return entry<T>(mode, data, ids, offsets, layout, image, trans, last, grad_image, grad_alpha, isect_grad, M,  \
                    g_packed, radii, order, N, ids_out);                                                          \
  }

FIELDS_SPLAT_ENTRY(fields_splat_f32, float)
FIELDS_SPLAT_ENTRY(fields_splat_f64, double)
