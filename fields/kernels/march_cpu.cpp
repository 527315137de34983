// Occupancy-grid marching on CPU (Instant-NGP's ray marching through a multi-level binary grid): every
// step of every ray is tested, one ray per loop iteration, with the float32 arithmetic of the torch
// marcher (fields/render/occupancy_grid.py: _steps_at and _cells), so both keep the same samples up to
// the rounding of log2 at a level's cube face. Built by fields/kernels/march_cpu.py through
// torch.utils.cpp_extension.load and called through ctypes; only <ATen/Parallel.h> (torch's thread
// pool and OpenMP runtime) is included.
//
// Step s of ray r: lo = edges[s], hi = edges[s + 1], offset = (shift_r - 0.5) (hi - lo),
// t0 = lo + offset, t1 = hi + offset, x = o + d (t0 + t1) / 2. Level l (cube of side 2^l centred on
// 0.5): the smallest with 2 max|x - 0.5| <= 2^l; cell = floor(((x - 0.5) / 2^l + 0.5) res).
// fields_march_f32: every occupied step of every ray, in two calls: counts (offsets null), then the
// packed samples at offsets (exclusive sums of the counts).
// fields_march_next_f32: for the rays listed, the next k occupied steps from next[r] (updated past the
// last step tested): the rounds of early ray termination march only as far as the rays stay alive.

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace {

struct Grid {
  const uint8_t* binaries;  // (L, res, res, res)
  int64_t levels, res;
};

inline bool occupied(const Grid& g, float x0, float x1, float x2) {
  const float e0 = std::fabs(x0 - 0.5f), e1 = std::fabs(x1 - 0.5f), e2 = std::fabs(x2 - 0.5f);
  const float extent = std::max(std::max(e0, e1), e2) * 2.0f;
  float l = std::ceil(std::log2(std::max(extent, 1e-12f)));
  int64_t level = l < 0.0f ? 0 : static_cast<int64_t>(l);
  if (level >= g.levels) return false;
  const float size = std::ldexp(1.0f, static_cast<int>(level));
  const float res = static_cast<float>(g.res);
  int64_t c[3];
  const float xs[3] = {x0, x1, x2};
  for (int i = 0; i < 3; ++i) {
    const float v = std::floor(((xs[i] - 0.5f) / size + 0.5f) * res);
    c[i] = std::min<int64_t>(std::max<int64_t>(static_cast<int64_t>(v), 0), g.res - 1);
  }
  return g.binaries[((level * g.res + c[0]) * g.res + c[1]) * g.res + c[2]] != 0;
}

}  // namespace

extern "C" int fields_march_f32(const float* origins, const float* directions, const float* edges,
                                const int64_t* first, const int64_t* count, const float* shift,
                                const uint8_t* binaries, int64_t levels, int64_t res, int64_t n_rays,
                                int64_t* counts, const int64_t* offsets, int64_t* ray_out, int64_t* step_out,
                                float* t0_out, float* t1_out) {
  const Grid g{binaries, levels, res};
  try {
    at::parallel_for(0, n_rays, 16, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const float o0 = origins[3 * r], o1 = origins[3 * r + 1], o2 = origins[3 * r + 2];
        const float d0 = directions[3 * r], d1 = directions[3 * r + 1], d2 = directions[3 * r + 2];
        const float jitter = shift[r] - 0.5f;
        int64_t n = 0, out = offsets ? offsets[r] : 0;
        for (int64_t s = first[r], stop = first[r] + count[r]; s < stop; ++s) {
          const float lo = edges[s], hi = edges[s + 1];
          const float offset = jitter * (hi - lo);
          const float t0 = lo + offset, t1 = hi + offset;
          const float mid = (t0 + t1) / 2.0f;
          if (!occupied(g, o0 + d0 * mid, o1 + d1 * mid, o2 + d2 * mid)) continue;
          if (offsets) {
            ray_out[out] = r;
            step_out[out] = s;
            t0_out[out] = t0;
            t1_out[out] = t1;
            ++out;
          }
          ++n;
        }
        if (!offsets) counts[r] = n;
      }
    });
  } catch (...) {
    return -2;
  }
  return 0;
}

extern "C" int fields_march_next_f32(const float* origins, const float* directions, const float* edges,
                                     const float* shift, const uint8_t* binaries, int64_t levels, int64_t res,
                                     const int64_t* rays, int64_t n_rays, int64_t* next, const int64_t* end,
                                     int64_t k, int64_t* step_out, float* t0_out, float* t1_out, int64_t* n_out) {
  const Grid g{binaries, levels, res};
  try {
    at::parallel_for(0, n_rays, 16, [&](int64_t begin, int64_t stop_row) {
      for (int64_t a = begin; a < stop_row; ++a) {
        const int64_t r = rays[a];
        const float o0 = origins[3 * r], o1 = origins[3 * r + 1], o2 = origins[3 * r + 2];
        const float d0 = directions[3 * r], d1 = directions[3 * r + 1], d2 = directions[3 * r + 2];
        const float jitter = shift[r] - 0.5f;
        int64_t n = 0, s = next[r];
        const int64_t stop = end[r];
        for (; s < stop && n < k; ++s) {
          const float lo = edges[s], hi = edges[s + 1];
          const float offset = jitter * (hi - lo);
          const float t0 = lo + offset, t1 = hi + offset;
          const float mid = (t0 + t1) / 2.0f;
          if (!occupied(g, o0 + d0 * mid, o1 + d1 * mid, o2 + d2 * mid)) continue;
          step_out[a * k + n] = s;
          t0_out[a * k + n] = t0;
          t1_out[a * k + n] = t1;
          ++n;
        }
        next[r] = s;
        n_out[a] = n;
      }
    });
  } catch (...) {
    return -2;
  }
  return 0;
}
