// The forward grid lookup of the common case, 3D points and 2 features per level in float32 (the hash
// grid of every radiance and SDF field), in AVX-512 across 16 points at a time: positions, weights and
// the 8 corners' hashes in vector lanes, each corner's 2 features read as one 64-bit gather. The scalar
// per-point loop (grid_cpu.cpp, Cell::compute) spends most of its time on instructions, not on memory
// (a table shrunk to 16k rows still took 80% of the time), so the lanes do the work of 16 points at once.
//
// Same operations in the same order as the scalar loop (mul then add, no fused multiply-add; weights as
// the torch path orders them), so the same bits. Blocks where a dense level's index leaves its rows (an
// input outside [0, 1] or NaN) and the tail of fewer than 16 points go through the scalar Cell.
//
// For inference the points may come in a box's frame (Box: u = clamp((x - lo) / size, 0, 1), a radiance
// field's to_field) and the features may go out in bfloat16 (Out = uint16_t, rounded to nearest even as
// torch rounds), straight into the buffer the density MLP reads.
#pragma once

#if defined(__AVX512F__)
#include <immintrin.h>
#define FIELDS_GRID_SIMD 1

#include <cstdint>
#include <vector>

namespace fields_grid_simd {

constexpr int kLanes = 16;

struct Box {
  const float* lo;    // (3,), or null: the points are used as they are
  const float* size;  // (3,)
  inline float unit(float x, int i) const {
    if (!lo) return x;
    const float u = (x - lo[i]) / size[i];
    return u < 0.0f ? 0.0f : (u > 1.0f ? 1.0f : u);  // NaN stays NaN, as torch's clamp
  }
};

// torch's float -> bfloat16 (c10::BFloat16): round to nearest even, NaN to 0x7FC0
inline uint16_t to_bf16(float f) {
  if (f != f) return 0x7FC0;
  uint32_t bits;
  __builtin_memcpy(&bits, &f, 4);
  return static_cast<uint16_t>((bits + ((bits >> 16) & 1u) + 0x7FFFu) >> 16);
}

inline __m256i to_bf16(__m512 v) {
  const __m512i bits = _mm512_castps_si512(v);
  __m512i r = _mm512_srli_epi32(
      _mm512_add_epi32(bits, _mm512_add_epi32(_mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1)),
                                              _mm512_set1_epi32(0x7FFF))), 16);
  r = _mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_set1_epi32(0x7FC0));
  return _mm512_cvtepi32_epi16(r);
}

// 16 points' 2 features (lo: points 0-7, hi: points 8-15, as feature pairs) to out (N, L, 2) of Out
template <typename Out>
inline void store_pairs(Out* out, int64_t first, int64_t L, int64_t l, __m512 acc_lo, __m512 acc_hi) {
  if constexpr (sizeof(Out) == 4) {
    alignas(64) uint64_t lanes[kLanes];
    _mm512_store_si512(lanes, _mm512_castps_si512(acc_lo));
    _mm512_store_si512(lanes + 8, _mm512_castps_si512(acc_hi));
    uint64_t* o = reinterpret_cast<uint64_t*>(out) + first * L + l;
    for (int k = 0; k < kLanes; ++k) o[k * L] = lanes[k];
  } else {
    alignas(32) uint32_t lanes[kLanes];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), to_bf16(acc_lo));
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes + 8), to_bf16(acc_hi));
    uint32_t* o = reinterpret_cast<uint32_t*>(out) + first * L + l;
    for (int k = 0; k < kLanes; ++k) o[k * L] = lanes[k];
  }
}

// out (N, L, 2) for points x (N, 3) in [begin, end) (through box); levels as grid_cpu.cpp's Levels.
// scalar(n, l) handles one point at one level. Every (point, level) of the range is written.
template <typename Out, typename LevelsT, typename Scalar>
inline void forward_d3f2(const float* x, const float* table, Out* out, int64_t begin, int64_t end,
                         const LevelsT& lv, const uint32_t* primes, Scalar scalar, Box box = {nullptr, nullptr}) {
  const int64_t L = lv.n_levels;
  const int64_t n = end - begin;
  const int64_t full = n / kLanes * kLanes;
  // the range's points in structure-of-arrays form, once for all levels
  std::vector<float> soa(3 * static_cast<size_t>(full));
  for (int64_t j = 0; j < full; ++j)
    for (int i = 0; i < 3; ++i) soa[i * full + j] = box.unit(x[(begin + j) * 3 + i], i);
  const __m512i pair_lo = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
  const __m512i pair_hi = _mm512_set_epi32(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8);
  const __m512 big = _mm512_set1_ps(1073741824.0f);  // 2^30
  const __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f), three = _mm512_set1_ps(3.0f);
  const __m512i ione = _mm512_set1_epi32(1);
  for (int64_t l = 0; l < L; ++l) {
    const __m512 scale = _mm512_set1_ps(lv.scale[l]), shift = _mm512_set1_ps(lv.shift);
    const __m512 cap = _mm512_set1_ps(static_cast<float>(lv.max_cell[l]));
    const int64_t size = lv.size[l], offset = lv.offset[l];
    const bool hashed = lv.hashed[l] != 0;
    const __m512i vsize = _mm512_set1_epi32(static_cast<int32_t>(size));
    const __m512i voffset = _mm512_set1_epi32(static_cast<int32_t>(offset));
    const __m512i mask = _mm512_set1_epi32(static_cast<int32_t>(size - 1));
    const int64_t* stride = lv.stride + l * 3;
    for (int64_t j = 0; j < full; j += kLanes) {
      __m512 s[3];
      __m512i lo[3], hi[3];
      bool outside = false;
      for (int i = 0; i < 3; ++i) {
        const __m512 p = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(&soa[i * full + j]), scale), shift);
        // NaN or beyond int32 cells: the scalar path's int64 conversion decides
        outside = outside || _mm512_cmp_ps_mask(_mm512_abs_ps(p), big, _CMP_NLT_UQ) != 0;
        const __m512 c = _mm512_min_ps(_mm512_roundscale_ps(p, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC), cap);
        const __m512 f = _mm512_sub_ps(p, c);
        s[i] = lv.smoothstep ? _mm512_mul_ps(_mm512_mul_ps(f, f), _mm512_sub_ps(three, _mm512_mul_ps(two, f))) : f;
        const __m512i v = _mm512_cvttps_epi32(c);
        if (hashed) {
          const __m512i prime = _mm512_set1_epi32(static_cast<int32_t>(primes[i]));
          lo[i] = _mm512_mullo_epi32(v, prime);
          hi[i] = _mm512_mullo_epi32(_mm512_add_epi32(v, ione), prime);
        } else {
          const __m512i st = _mm512_set1_epi32(static_cast<int32_t>(stride[i]));
          lo[i] = _mm512_mullo_epi32(v, st);
          hi[i] = _mm512_mullo_epi32(_mm512_add_epi32(v, ione), st);
        }
      }
      __m512 w[8];
      w[0] = _mm512_sub_ps(one, s[0]);
      w[1] = s[0];
      for (int i = 1; i < 3; ++i) {
        const int m = 1 << i;
        const __m512 t = _mm512_sub_ps(one, s[i]);
        for (int c = 0; c < m; ++c) {
          w[c + m] = _mm512_mul_ps(w[c], s[i]);
          w[c] = _mm512_mul_ps(w[c], t);
        }
      }
      __m512i row[8];
      for (int c = 0; c < 8; ++c) {
        const __m512i a = c & 1 ? hi[0] : lo[0], b = c & 2 ? hi[1] : lo[1], d = c & 4 ? hi[2] : lo[2];
        if (hashed) {
          row[c] = _mm512_add_epi32(_mm512_and_si512(_mm512_xor_si512(_mm512_xor_si512(a, b), d), mask), voffset);
        } else {
          __m512i r = _mm512_add_epi32(_mm512_add_epi32(a, b), d);
          r = _mm512_mask_sub_epi32(r, _mm512_cmpge_epi32_mask(r, vsize), r, vsize);
          outside = outside || (_mm512_cmplt_epi32_mask(r, _mm512_setzero_si512()) | _mm512_cmpge_epi32_mask(r, vsize)) != 0;
          row[c] = _mm512_add_epi32(r, voffset);
        }
      }
      if (outside) {  // the scalar path's general modulo (and NaN handling) for this block
        for (int k = 0; k < kLanes; ++k) scalar(begin + j + k, l);
        continue;
      }
      __m512 acc_lo = _mm512_setzero_ps(), acc_hi = _mm512_setzero_ps();
      for (int c = 0; c < 8; ++c) {
        const __m512 g_lo = _mm512_castsi512_ps(_mm512_i32gather_epi64(_mm512_castsi512_si256(row[c]), table, 8));
        const __m512 g_hi = _mm512_castsi512_ps(
            _mm512_i32gather_epi64(_mm512_extracti64x4_epi64(row[c], 1), table, 8));
        acc_lo = _mm512_add_ps(acc_lo, _mm512_mul_ps(_mm512_permutexvar_ps(pair_lo, w[c]), g_lo));
        acc_hi = _mm512_add_ps(acc_hi, _mm512_mul_ps(_mm512_permutexvar_ps(pair_hi, w[c]), g_hi));
      }
      store_pairs(out, begin + j, L, l, acc_lo, acc_hi);
    }
    for (int64_t k = begin + full; k < end; ++k) scalar(k, l);
  }
}

}  // namespace fields_grid_simd
#endif
