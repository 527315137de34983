// Analytic backward pass of the splat compositing on CPU (the forward pass is splat_cpu.cpp): each tile's list
// is walked in reverse from the final transmittance, T_before = T_after / (1 - alpha); each Gaussian's sums over
// the tile's pixels go into its own row of a per-intersection buffer (threads never share an output row), and the
// rows are then summed per Gaussian.

#include "splat_common.h"

namespace {

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
    std::vector<int32_t> lastp(n_pix), row_last(ty1 - ty0, 0);
    int32_t max_last = 0;
    for (int64_t y = ty0; y < ty1; ++y)
      for (int64_t x = tx0; x < tx1; ++x) {
        const int64_t p = (y - ty0) * tw + (x - tx0), q = y * L.width + x;
        Tp[p] = t_final[p] = trans[q];
        ga[p] = grad_alpha[q];
        lastp[p] = last[q];
        for (int64_t ch = 0; ch < C; ++ch) G[ch * n_pix + p] = grad_image[q * C + ch];
        max_last = std::max(max_last, last[q]);
        row_last[y - ty0] = std::max(row_last[y - ty0], last[q]);
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
        if (local >= row_last[y - ty0]) continue;  // no pixel of this row composited Gaussian k
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

}  // namespace

// Called by the entry point in splat_cpu.cpp.
int fields_splat_backward(const float* gdata, const int64_t* ids, const int64_t* offsets, const int64_t* layout,
                          const float* grad_image, const float* grad_alpha, const float* trans, const int32_t* last,
                          float* isect_grad, int64_t M, float* g_packed);
int fields_splat_backward(const double* gdata, const int64_t* ids, const int64_t* offsets, const int64_t* layout,
                          const double* grad_image, const double* grad_alpha, const double* trans, const int32_t* last,
                          double* isect_grad, int64_t M, double* g_packed);

template <typename T>
static int backward_entry(const T* gdata, const int64_t* ids, const int64_t* offsets, const int64_t* layout,
                          const T* grad_image, const T* grad_alpha, const T* trans, const int32_t* last, T* isect_grad,
                          int64_t M, T* g_packed) {
  const Layout L{layout[0], layout[1], layout[2], layout[3], layout[4], layout[5]};
  try {
    if (L.channels == 4) backward<T, 4>(gdata, ids, offsets, L, grad_image, grad_alpha, trans, last, isect_grad);
    else backward<T, 0>(gdata, ids, offsets, L, grad_image, grad_alpha, trans, last, isect_grad);
    reduce(ids, M, L.channels, isect_grad, g_packed);
  } catch (...) {
    return -2;
  }
  return 0;
}

int fields_splat_backward(const float* gdata, const int64_t* ids, const int64_t* offsets, const int64_t* layout,
                          const float* grad_image, const float* grad_alpha, const float* trans, const int32_t* last,
                          float* isect_grad, int64_t M, float* g_packed) {
  return backward_entry(gdata, ids, offsets, layout, grad_image, grad_alpha, trans, last, isect_grad, M, g_packed);
}
int fields_splat_backward(const double* gdata, const int64_t* ids, const int64_t* offsets, const int64_t* layout,
                          const double* grad_image, const double* grad_alpha, const double* trans, const int32_t* last,
                          double* isect_grad, int64_t M, double* g_packed) {
  return backward_entry(gdata, ids, offsets, layout, grad_image, grad_alpha, trans, last, isect_grad, M, g_packed);
}
