// Gaussian splatting on CPU: front-to-back compositing (its backward pass: splat_backward_cpu.cpp; tile
// binning: splat_tiles_cpu.cpp; projection: splat_project_cpu.cpp).
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
// // anyway; pixel loops run over whole tile rows, branch-free, so that they vectorise.

#include "splat_common.h"

int fields_splat_backward(const float* gdata, const int64_t* ids, const int64_t* offsets, const int64_t* layout,
                          const float* grad_image, const float* grad_alpha, const float* trans, const int32_t* last,
                          float* isect_grad, int64_t M, float* g_packed);
int fields_splat_backward(const double* gdata, const int64_t* ids, const int64_t* offsets, const int64_t* layout,
                          const double* grad_image, const double* grad_alpha, const double* trans, const int32_t* last,
                          double* isect_grad, int64_t M, double* g_packed);

namespace {

// Tile state, structure of arrays over the tile's pixels (row-major, width tw), so the pixel loops vectorise.
template <typename T>
struct TileState {
  std::vector<T> trans, acc;           // (P,), (C, P)
  std::vector<int32_t> last, active;   // (P,)
  std::vector<T> weight;               // one row of weights
  TileState(int64_t n_pix, int64_t C, int64_t width)
      : trans(n_pix, T(1)), acc(C * n_pix, T(0)), last(n_pix, 0), active(n_pix, 1), weight(width) {}
};

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
    std::vector<int32_t> row_active(ty1 - ty0, static_cast<int32_t>(tw));  // rows whose pixels have all stopped are skipped
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
        if (row_active[y - ty0] == 0) continue;
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
        row_active[y - ty0] -= stops;
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

// mode 0: forward, 1: backward (gradients into g_packed (N, 6 + C), zeroed by the caller); both read the packed
// Gaussians ``data`` (N, 6 + C). Binning is in splat_tiles_cpu.cpp.
template <typename T>
int entry(int mode, const T* data, const int64_t* ids, const int64_t* offsets, const int64_t* layout, T* image,
          T* trans, int32_t* last, const T* grad_image, const T* grad_alpha, T* isect_grad, int64_t M, T* g_packed) {
  const Layout L{layout[0], layout[1], layout[2], layout[3], layout[4], layout[5]};
  if (L.channels < 1 || L.channels > kMaxChannels) return -1;
  try {
    if (mode == 0) {
      if (L.channels == 4) forward<T, 4>(data, ids, offsets, L, image, trans, last);
      else forward<T, 0>(data, ids, offsets, L, image, trans, last);
    } else if (mode == 1) {
      return fields_splat_backward(data, ids, offsets, layout, grad_image, grad_alpha, trans, last, isect_grad, M,
                                   g_packed);
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
  extern "C" int NAME(int mode, const T* data, const int64_t* ids, const int64_t* offsets,                      \
                      const int64_t* layout, T* image, T* trans, int32_t* last, const T* grad_image,              \
                      const T* grad_alpha, T* isect_grad, int64_t M, T* g_packed) {                               \
    return entry<T>(mode, data, ids, offsets, layout, image, trans, last, grad_image, grad_alpha, isect_grad, M,  \
                    g_packed);                                                                                    \
  }

FIELDS_SPLAT_ENTRY(fields_splat_f32, float)
FIELDS_SPLAT_ENTRY(fields_splat_f64, double)

