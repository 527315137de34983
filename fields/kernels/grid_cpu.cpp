// Fused multiresolution grid lookup on CPU: cell, corner indices, weights and the weighted sum in one
// pass per (point, level), with no (N, L, corners, F) tensors. Built by fields/kernels/grid_cpu.py
// through torch.utils.cpp_extension.load and called through ctypes: only <ATen/Parallel.h> (torch's
// thread pool) is included, which keeps the first build to seconds instead of minutes.
//
// Level l of L reads rows [offset_l, offset_l + size_l) of table (R, F):
//   pos_i = x_i * scale_l + shift,  v_i = min(floor(pos_i), max_cell_l),  f_i = pos_i - v_i
//   dense level:  index = (sum_i v_i * stride_li) mod size_l
//   hashed level: index = (XOR_i v_i * prime_i in uint32 arithmetic) & (size_l - 1)
//   corner c takes v_i + 1 where bit i of c is set; its weight is prod_i (bit ? s_i : 1 - s_i) with
//   s = f (linear) or f^2 (3 - 2f) (smoothstep).
// This is tiny-cuda-nn's HashGrid indexing (grid_index) with the same corner order as the torch path; a
// vertex-aligned dense grid (shift 0, scale res - 1, max_cell res - 2) fits the same scheme.
// Levels own disjoint table ranges, so the table gradient is parallel over levels without atomics.

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace {

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

// Loop order, the key to speed on CPU: levels outside, points inside. One level's table (a few MB)
// then stays in cache while all points read it, instead of every point touching all levels' tables.
// Points go in blocks: the corner rows of a whole block are computed and prefetched first, then
// read, so many cache misses are in flight at once.
template <int D>
constexpr int block_size() { return (1 << D) <= 16 ? 32 : 512 / (1 << D); }

template <typename T, int D, int FF>
void forward_kernel(const T* x, const T* table, T* out, int64_t N, int64_t F_rt, const Levels<T>& lv) {
  const int64_t F = FF > 0 ? FF : F_rt;
  const int64_t L = lv.n_levels;
  constexpr int B = block_size<D>();
  constexpr int C = Cell<T, D>::C;
  at::parallel_for(0, N, 1024, [&](int64_t begin, int64_t end) {
    Cell<T, D> cells[B];
    T acc[kMaxFeatures];
    for (int64_t l = 0; l < L; ++l) {
      for (int64_t b0 = begin; b0 < end; b0 += B) {
        const int nb = static_cast<int>(std::min<int64_t>(B, end - b0));
        for (int j = 0; j < nb; ++j) {
          cells[j].compute(x + (b0 + j) * D, lv, l, false);
          for (int c = 0; c < C; ++c) __builtin_prefetch(table + cells[j].row[c] * F, 0, 3);
        }
        for (int j = 0; j < nb; ++j) {
          const Cell<T, D>& cell = cells[j];
          for (int64_t k = 0; k < F; ++k) acc[k] = T(0);
          for (int c = 0; c < C; ++c) {
            const T* row = table + cell.row[c] * F;
            const T w = cell.weight[c];
            for (int64_t k = 0; k < F; ++k) acc[k] += w * row[k];
          }
          T* o = out + ((b0 + j) * L + l) * F;
          for (int64_t k = 0; k < F; ++k) o[k] = acc[k];
        }
      }
    }
  });
}

// grad_table[row] += w * grad_out[n, l]; one level per task, each zeroing its own rows first.
template <typename T, int D, int FF>
void backward_table_kernel(const T* x, const T* grad_out, T* grad_table, int64_t N, int64_t F_rt, const Levels<T>& lv) {
  const int64_t F = FF > 0 ? FF : F_rt;
  const int64_t L = lv.n_levels;
  constexpr int B = block_size<D>();
  constexpr int C = Cell<T, D>::C;
  at::parallel_for(0, L, 1, [&](int64_t begin, int64_t end) {
    Cell<T, D> cells[B];
    for (int64_t l = begin; l < end; ++l) {
      T* level_rows = grad_table + lv.offset[l] * F;
      std::fill(level_rows, level_rows + lv.size[l] * F, T(0));
      for (int64_t b0 = 0; b0 < N; b0 += B) {
        const int nb = static_cast<int>(std::min<int64_t>(B, N - b0));
        for (int j = 0; j < nb; ++j) {
          cells[j].compute(x + (b0 + j) * D, lv, l, false);
          for (int c = 0; c < C; ++c) __builtin_prefetch(grad_table + cells[j].row[c] * F, 1, 3);
        }
        for (int j = 0; j < nb; ++j) {
          const Cell<T, D>& cell = cells[j];
          const T* g = grad_out + ((b0 + j) * L + l) * F;
          for (int c = 0; c < C; ++c) {
            T* row = grad_table + cell.row[c] * F;
            const T w = cell.weight[c];
            for (int64_t k = 0; k < F; ++k) row[k] += w * g[k];
          }
        }
      }
    }
  });
}

// grad_x[n, i] = sum_l scale_l * sum_c (d w_c / d f_i) * <table[row_c], grad_out[n, l]>
template <typename T, int D, int FF>
void backward_x_kernel(const T* x, const T* table, const T* grad_out, T* grad_x, int64_t N, int64_t F_rt,
                       const Levels<T>& lv) {
  const int64_t F = FF > 0 ? FF : F_rt;
  const int64_t L = lv.n_levels;
  constexpr int B = block_size<D>();
  constexpr int C = Cell<T, D>::C;
  at::parallel_for(0, N, 1024, [&](int64_t begin, int64_t end) {
    Cell<T, D> cells[B];
    T dot[C];
    std::fill(grad_x + begin * D, grad_x + end * D, T(0));
    for (int64_t l = 0; l < L; ++l) {
      const T scale = lv.scale[l];
      for (int64_t b0 = begin; b0 < end; b0 += B) {
        const int nb = static_cast<int>(std::min<int64_t>(B, end - b0));
        for (int j = 0; j < nb; ++j) {
          cells[j].compute(x + (b0 + j) * D, lv, l, true);
          for (int c = 0; c < C; ++c) __builtin_prefetch(table + cells[j].row[c] * F, 0, 3);
        }
        for (int j = 0; j < nb; ++j) {
          const Cell<T, D>& cell = cells[j];
          const T* g = grad_out + ((b0 + j) * L + l) * F;
          for (int c = 0; c < C; ++c) {
            const T* row = table + cell.row[c] * F;
            T acc = T(0);
            for (int64_t k = 0; k < F; ++k) acc += row[k] * g[k];
            dot[c] = acc;
          }
          T* gx = grad_x + (b0 + j) * D;
          for (int i = 0; i < D; ++i) {
            // d w_c / d s_i = (bit i of c ? 1 : -1) * prod_{j != i} (bit j ? s_j : 1 - s_j)
            T sum = T(0);
            for (int c = 0; c < C; ++c) {
              T w = ((c >> i) & 1) ? T(1) : T(-1);
              for (int q = 0; q < D; ++q) {
                if (q != i) w *= ((c >> q) & 1) ? cell.s[q] : T(1) - cell.s[q];
              }
              sum += w * dot[c];
            }
            gx[i] += sum * cell.ds[i] * scale;
          }
        }
      }
    }
  });
}

template <typename T, int D>
void run(const T* grad_out, const T* x, const T* table, T* out, T* grad_table, T* grad_x, int64_t N, int64_t F,
         const Levels<T>& lv) {
  // the common feature counts get unrolled loops
  if (F == 2) {
    if (out) forward_kernel<T, D, 2>(x, table, out, N, F, lv);
    if (grad_table) backward_table_kernel<T, D, 2>(x, grad_out, grad_table, N, F, lv);
    if (grad_x) backward_x_kernel<T, D, 2>(x, table, grad_out, grad_x, N, F, lv);
  } else {
    if (out) forward_kernel<T, D, 0>(x, table, out, N, F, lv);
    if (grad_table) backward_table_kernel<T, D, 0>(x, grad_out, grad_table, N, F, lv);
    if (grad_x) backward_x_kernel<T, D, 0>(x, table, grad_out, grad_x, N, F, lv);
  }
}

// One entry point per dtype. Exactly one of out (forward) or grad_table / grad_x (backward, either may
// be null) is set. The caller (grid_cpu.py) has checked shapes, dtypes and the level layout.
// Returns 0, or -1 for an unsupported dimension or feature count.
template <typename T>
int entry(const T* grad_out, const T* x, const T* table, T* out, T* grad_table, T* grad_x, int64_t N, int64_t D,
          int64_t F, const T* scale, const int64_t* stride, const int64_t* size, const int64_t* offset,
          const uint8_t* hashed, const int64_t* max_cell, int64_t L, double shift, int smoothstep) {
  if (F < 1 || F > kMaxFeatures) return -1;
  const Levels<T> lv{scale, stride, size, offset, hashed, max_cell, L, static_cast<T>(shift), smoothstep != 0};
  try {
    switch (D) {
      case 1: run<T, 1>(grad_out, x, table, out, grad_table, grad_x, N, F, lv); break;
      case 2: run<T, 2>(grad_out, x, table, out, grad_table, grad_x, N, F, lv); break;
      case 3: run<T, 3>(grad_out, x, table, out, grad_table, grad_x, N, F, lv); break;
      case 4: run<T, 4>(grad_out, x, table, out, grad_table, grad_x, N, F, lv); break;
      case 5: run<T, 5>(grad_out, x, table, out, grad_table, grad_x, N, F, lv); break;
      case 6: run<T, 6>(grad_out, x, table, out, grad_table, grad_x, N, F, lv); break;
      case 7: run<T, 7>(grad_out, x, table, out, grad_table, grad_x, N, F, lv); break;
      default: return -1;
    }
  } catch (...) {
    return -2;
  }
  return 0;
}

}  // namespace

#define FIELDS_ENTRY(NAME, T)                                                                                   \
  extern "C" int NAME(const T* grad_out, const T* x, const T* table, T* out, T* grad_table, T* grad_x,         \
                      int64_t N, int64_t D, int64_t F, const T* scale, const int64_t* stride,                 \
                      const int64_t* size, const int64_t* offset, const uint8_t* hashed,                      \
                      const int64_t* max_cell, int64_t L, double shift, int smoothstep) {                     \
    return entry<T>(grad_out, x, table, out, grad_table, grad_x, N, D, F, scale, stride, size, offset, hashed, \
                    max_cell, L, shift, smoothstep);                                                          \
  }

FIELDS_ENTRY(fields_grid_f32, float)
FIELDS_ENTRY(fields_grid_f64, double)
