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
  const uint8_t* coarse;    // (L, res / 4, res / 4, res / 4): any cell of a 4x4x4 block occupied; or null
  const uint8_t* coarse16;  // (L, res / 16, res / 16, res / 16): the same for 16x16x16 blocks; or null
};

// Where the ray o + t d leaves the cell c (3,) of side 1 / cells of the level's cube of side size.
inline float cell_exit(const float* o, const float* d, const int64_t* c, float cells, float size) {
  float t = INFINITY;
  for (int i = 0; i < 3; ++i) {
    if (d[i] == 0.0f) continue;
    const float face = 0.5f + (static_cast<float>(c[i] + (d[i] > 0.0f ? 1 : 0)) / cells - 0.5f) * size;
    t = std::min(t, (face - o[i]) / d[i]);
  }
  return t;
}

// Occupancy of the cell holding x; for an empty cell inside the grid, exit_t is where the ray o + t d
// leaves it, or leaves its 4x4x4 block when the whole block is empty (else infinity). Levels' cubes nest
// on cell boundaries (res divisible by 4; by 16 for 4x4x4 blocks, by 64 for 16x16x16 ones), so the whole
// cell or block belongs to its level and every step whose midpoint lies in it is empty too.
inline bool occupied(const Grid& g, const float* o, const float* d, float x0, float x1, float x2,
                     float* exit_t) {
  const float e0 = std::fabs(x0 - 0.5f), e1 = std::fabs(x1 - 0.5f), e2 = std::fabs(x2 - 0.5f);
  const float extent = std::max(std::max(e0, e1), e2) * 2.0f;
  int64_t level = 0;  // ceil(log2(extent)) clamped at 0: most points lie in level 0, without the log2
  if (extent > 1.0f) level = static_cast<int64_t>(std::ceil(std::log2(extent)));
  *exit_t = INFINITY;
  if (level >= g.levels) return false;
  const float size = level ? std::ldexp(1.0f, static_cast<int>(level)) : 1.0f;
  const float res = static_cast<float>(g.res);
  int64_t c[3];
  const float xs[3] = {x0, x1, x2};
  for (int i = 0; i < 3; ++i) {
    const float v = std::floor(((xs[i] - 0.5f) / size + 0.5f) * res);
    c[i] = std::min<int64_t>(std::max<int64_t>(static_cast<int64_t>(v), 0), g.res - 1);
  }
  if (g.binaries[((level * g.res + c[0]) * g.res + c[1]) * g.res + c[2]] != 0) return true;
  if (g.coarse != nullptr) {
    const int64_t cr = g.res / 4, b[3] = {c[0] / 4, c[1] / 4, c[2] / 4};
    if (g.coarse[((level * cr + b[0]) * cr + b[1]) * cr + b[2]] == 0) {
      // a wide empty region: leave the whole 16x16x16 block where it is empty too
      if (g.coarse16 != nullptr) {
        const int64_t cr16 = g.res / 16, b16[3] = {c[0] / 16, c[1] / 16, c[2] / 16};
        if (g.coarse16[((level * cr16 + b16[0]) * cr16 + b16[1]) * cr16 + b16[2]] == 0) {
          *exit_t = cell_exit(o, d, b16, static_cast<float>(cr16), size);
          return false;
        }
      }
      *exit_t = cell_exit(o, d, b, static_cast<float>(cr), size);
      return false;
    }
  }
  if (g.res % 4 == 0) *exit_t = cell_exit(o, d, c, res, size);
  return false;
}

// The first step in [s, stop) whose midpoint reaches exit_t less a margin (steps within the margin of
// the cell's face are tested one by one: their cell depends on rounding). Midpoints grow with the step
// (edges increase, widths never shrink): a cell holds a few steps, scanned; a block more, bisected.
inline int64_t skip_to(const float* edges, float jitter, int64_t s, int64_t stop, float exit_t) {
  const float until = exit_t - 1e-5f;
  auto reaches = [&](int64_t i) {
    const float a = edges[i], b = edges[i + 1];
    const float off = jitter * (b - a);
    return ((a + off) + (b + off)) / 2.0f >= until;
  };
  for (int64_t scanned = 0; s < stop && scanned < 8; ++s, ++scanned) {
    if (reaches(s)) return s;
  }
  int64_t lo = s, hi = stop;  // the first step that reaches lies in [lo, hi]
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (reaches(mid)) hi = mid; else lo = mid + 1;
  }
  return lo;
}

}  // namespace

extern "C" int fields_march_f32(const float* origins, const float* directions, const float* edges,
                                const int64_t* first, const int64_t* count, const float* shift,
                                const uint8_t* binaries, int64_t levels, int64_t res, const uint8_t* coarse,
                                const uint8_t* coarse16, int64_t n_rays, int64_t* counts, const int64_t* offsets,
                                int64_t* ray_out, int64_t* step_out, float* t0_out, float* t1_out) {
  const Grid g{binaries, levels, res, coarse, coarse16};
  try {
    at::parallel_for(0, n_rays, 16, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const float o0 = origins[3 * r], o1 = origins[3 * r + 1], o2 = origins[3 * r + 2];
        const float d0 = directions[3 * r], d1 = directions[3 * r + 1], d2 = directions[3 * r + 2];
        const float o[3] = {o0, o1, o2}, d[3] = {d0, d1, d2};
        const float jitter = shift[r] - 0.5f;
        int64_t n = 0, out = offsets ? offsets[r] : 0;
        for (int64_t s = first[r], stop = first[r] + count[r]; s < stop; ++s) {
          const float lo = edges[s], hi = edges[s + 1];
          const float offset = jitter * (hi - lo);
          const float t0 = lo + offset, t1 = hi + offset;
          const float mid = (t0 + t1) / 2.0f;
          float exit_t;
          if (!occupied(g, o, d, o0 + d0 * mid, o1 + d1 * mid, o2 + d2 * mid, &exit_t)) {
            if (exit_t < INFINITY) s = std::max(s, skip_to(edges, jitter, s + 1, stop, exit_t) - 1);
            continue;
          }
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
                                     const uint8_t* coarse, const uint8_t* coarse16, const int64_t* rays,
                                     int64_t n_rays, int64_t* next, const int64_t* end, int64_t k, int64_t* step_out, float* t0_out,
                                     float* t1_out, int64_t* n_out) {
  const Grid g{binaries, levels, res, coarse, coarse16};
  try {
    at::parallel_for(0, n_rays, 16, [&](int64_t begin, int64_t stop_row) {
      for (int64_t a = begin; a < stop_row; ++a) {
        const int64_t r = rays[a];
        const float o0 = origins[3 * r], o1 = origins[3 * r + 1], o2 = origins[3 * r + 2];
        const float d0 = directions[3 * r], d1 = directions[3 * r + 1], d2 = directions[3 * r + 2];
        const float o[3] = {o0, o1, o2}, d[3] = {d0, d1, d2};
        const float jitter = shift[r] - 0.5f;
        int64_t n = 0, s = next[r];
        const int64_t stop = end[r];
        for (; s < stop && n < k; ++s) {
          const float lo = edges[s], hi = edges[s + 1];
          const float offset = jitter * (hi - lo);
          const float t0 = lo + offset, t1 = hi + offset;
          const float mid = (t0 + t1) / 2.0f;
          float exit_t;
          if (!occupied(g, o, d, o0 + d0 * mid, o1 + d1 * mid, o2 + d2 * mid, &exit_t)) {
            if (exit_t < INFINITY) s = std::max(s, skip_to(edges, jitter, s + 1, stop, exit_t) - 1);
            continue;
          }
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

// fields_pack_f32: the rows of one round of fields_march_next_f32 packed: sample a's j-th step (j < n[a])
// goes to offsets[a] + j with its ray, t0, t1 and midpoint x = o + d (t0 + t1) / 2 (the torch arithmetic).
extern "C" int fields_pack_f32(const float* origins, const float* directions, const int64_t* rays, int64_t n_rays,
                               int64_t k, const float* t0, const float* t1, const int64_t* n, const int64_t* offsets,
                               int64_t* ray_out, float* t0_out, float* t1_out, float* x_out) {
  try {
    at::parallel_for(0, n_rays, 256, [&](int64_t begin, int64_t stop) {
      for (int64_t a = begin; a < stop; ++a) {
        const int64_t r = rays[a];
        for (int64_t j = 0, i = offsets[a]; j < n[a]; ++j, ++i) {
          const float lo = t0[a * k + j], hi = t1[a * k + j], mid = (lo + hi) / 2.0f;
          ray_out[i] = r;
          t0_out[i] = lo;
          t1_out[i] = hi;
          for (int c = 0; c < 3; ++c) x_out[3 * i + c] = origins[3 * r + c] + directions[3 * r + c] * mid;
        }
      }
    });
  } catch (...) {
    return -2;
  }
  return 0;
}

// fields_composite_f32: front-to-back compositing of one round's packed densities, per listed ray a:
// T = exp(-optical[r]) before each step, alpha = 1 - exp(-sigma (t1 - t0)) (float64); a step is kept when
// T >= eps and alpha >= alpha_thre, its weight T alpha added to opacity[r] and (times the midpoint) to
// depth[r]; shows[i] marks weights >= min_weight (the colour pass), alive[a] whether the ray goes on
// (optical depth below depth_limit and steps left).
extern "C" int fields_composite_f32(const int64_t* rays, int64_t n_rays, const int64_t* n, const int64_t* offsets,
                                    const float* t0, const float* t1, const float* sigma, double* optical,
                                    float* opacity, float* depth, const int64_t* next, const int64_t* end,
                                    double eps, double alpha_thre, double min_weight, double depth_limit,
                                    float* weight_out, uint8_t* shows_out, uint8_t* alive_out) {
  try {
    at::parallel_for(0, n_rays, 256, [&](int64_t begin, int64_t stop) {
      for (int64_t a = begin; a < stop; ++a) {
        const int64_t r = rays[a];
        double od = optical[r];
        float op = opacity[r], dp = depth[r];
        for (int64_t j = 0, i = offsets[a]; j < n[a]; ++j, ++i) {
          const double sd = static_cast<double>(sigma[i]) * static_cast<double>(t1[i] - t0[i]);
          const double transmittance = std::exp(-od), alpha = 1.0 - std::exp(-sd);
          const float w = (transmittance >= eps && alpha >= alpha_thre) ? static_cast<float>(transmittance * alpha)
                                                                        : 0.0f;
          op += w;
          dp += w * (t0[i] + t1[i]) / 2.0f;
          weight_out[i] = w;
          shows_out[i] = w >= min_weight && w > 0.0f;
          od += sd;
        }
        optical[r] = od;
        opacity[r] = op;
        depth[r] = dp;
        alive_out[a] = od < depth_limit && next[r] < end[r];
      }
    });
  } catch (...) {
    return -2;
  }
  return 0;
}
