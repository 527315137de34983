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
#include <type_traits>

#include "grid_cell.h"
#include "grid_simd.h"

namespace {

using fields_grid::Cell;
using fields_grid::kMaxFeatures;
using fields_grid::kPrimes;
using fields_grid::Levels;

// Loop order, the key to speed on CPU: levels outside, points inside. One level's table (a few MB)
// then stays in cache while all points read it, instead of every point touching all levels' tables.
// Points go in blocks: the corner rows of a whole block are computed and prefetched first, then
// read, so many cache misses are in flight at once.
template <int D>
constexpr int block_size() { return (1 << D) <= 16 ? 32 : 512 / (1 << D); }

#ifdef FIELDS_GRID_SIMD
// the vector lanes address rows in int32: the table must have fewer than 2^31 of them
inline bool simd_fits(const Levels<float>& lv) {
  return lv.n_levels > 0 && lv.offset[lv.n_levels - 1] + lv.size[lv.n_levels - 1] < (int64_t(1) << 31);
}

// One point u (3,) at level l, 2 features, into out (N, L, 2) of Out (float, or bfloat16 bits): the
// vector kernel's scalar blocks
template <typename Out>
inline void lookup_one(const float* u, const float* table, Out* out, int64_t n, int64_t l, const Levels<float>& lv) {
  Cell<float, 3> cell;
  cell.compute(u, lv, l, false);
  float acc[2] = {0.0f, 0.0f};
  for (int c = 0; c < Cell<float, 3>::C; ++c)
    for (int k = 0; k < 2; ++k) acc[k] += cell.weight[c] * table[cell.row[c] * 2 + k];
  for (int k = 0; k < 2; ++k) {
    if constexpr (sizeof(Out) == 2) {
      out[(n * lv.n_levels + l) * 2 + k] = fields_grid_simd::to_bf16(acc[k]);
    } else {
      out[(n * lv.n_levels + l) * 2 + k] = acc[k];
    }
  }
}
#endif

template <typename T, int D, int FF>
void forward_kernel(const T* x, const T* table, T* out, int64_t N, int64_t F_rt, const Levels<T>& lv) {
  const int64_t F = FF > 0 ? FF : F_rt;
  const int64_t L = lv.n_levels;
  constexpr int B = block_size<D>();
  constexpr int C = Cell<T, D>::C;
#ifdef FIELDS_GRID_SIMD
  if constexpr (std::is_same_v<T, float> && D == 3 && FF == 2) {
    if (simd_fits(lv)) {
      auto one = [&](int64_t n, int64_t l) { lookup_one(x + n * 3, table, out, n, l, lv); };
      at::parallel_for(0, N, 1024, [&](int64_t begin, int64_t end) {
        fields_grid_simd::forward_d3f2(x, table, out, begin, end, lv, kPrimes, one);
      });
      return;
    }
  }
#endif
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

// Inference lookup (grid_simd.h) of 3D points with 2 features per level: x (N, 3) float32 in a box's
// frame (box: lo (3,) then size (3,); null: already in [0, 1]^3), out (N, L, 2) float32 or, with
// out_bf16, bfloat16 bits. Returns 0; -1 where this build has no vector kernel or the table is too large.
extern "C" int fields_grid_infer_f32(const float* x, const float* table, void* out, int64_t N, const float* box,
                                     int out_bf16, const float* scale, const int64_t* stride, const int64_t* size,
                                     const int64_t* offset, const uint8_t* hashed, const int64_t* max_cell,
                                     int64_t L, double shift, int smoothstep) {
#ifdef FIELDS_GRID_SIMD
  const Levels<float> lv{scale, stride, size, offset, hashed, max_cell, L, static_cast<float>(shift), smoothstep != 0};
  if (!simd_fits(lv)) return -1;
  const fields_grid_simd::Box b{box, box ? box + 3 : nullptr};
  auto run_on = [&](auto* o) {
    auto one = [&](int64_t n, int64_t l) {
      const float u[3] = {b.unit(x[n * 3], 0), b.unit(x[n * 3 + 1], 1), b.unit(x[n * 3 + 2], 2)};
      lookup_one(u, table, o, n, l, lv);
    };
    at::parallel_for(0, N, 1024, [&](int64_t begin, int64_t end) {
      fields_grid_simd::forward_d3f2(x, table, o, begin, end, lv, kPrimes, one, b);
    });
  };
  try {
    if (out_bf16) {
      run_on(static_cast<uint16_t*>(out));
    } else {
      run_on(static_cast<float*>(out));
    }
  } catch (...) {
    return -2;
  }
  return 0;
#else
  return -1;
#endif
}
