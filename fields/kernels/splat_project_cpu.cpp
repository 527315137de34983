// Projection of 3D Gaussians on CPU (EWA splatting), forward and analytic backward, one Gaussian per iteration.
// Compiled into the same library as splat_cpu.cpp (see fields/kernels/splat_cpu.py). The forward pass repeats
// fields/render/splat/project.py operation by operation (with -ffp-contract=off), so radii, centres and conics
// round as in the torch reference and both give the same tiles; the backward pass is the chain rule written
// out (as gsplat's fully fused projection): conic -> 2D covariance -> J W, Sigma -> (R, s) -> quaternion,
// centre and depth -> camera point -> mean. Culled Gaussians pass only their depth gradient on.

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace {

struct Camera {
  double V[12];  // world -> camera rows [R | t]
  double fx, fy, cx, cy, width, height, near, far, eps2d;
  double lim_x_pos, lim_x_neg, lim_y_pos, lim_y_neg;
};

template <typename T>
struct Forward {
  T q[4], n;             // normalised quaternion, its norm
  T r[9], m[9], sig[9];  // rotation, R S, Sigma (row-major)
  T px, py, z, rz, tx, ty;
  bool clamp_x, clamp_y, in_depth, valid;
  T t0[3], t1[3];        // rows of J W
  T a0, b, c0, a, c, det, det_orig;
};

template <typename T>
inline void forward_one(const T* mean, const T* quat, const T* scale, const Camera& cam, Forward<T>& f) {
  const double* V = cam.V;
  f.px = ((T(V[0]) * mean[0] + T(V[1]) * mean[1]) + T(V[2]) * mean[2]) + T(V[3]);
  f.py = ((T(V[4]) * mean[0] + T(V[5]) * mean[1]) + T(V[6]) * mean[2]) + T(V[7]);
  f.z = ((T(V[8]) * mean[0] + T(V[9]) * mean[1]) + T(V[10]) * mean[2]) + T(V[11]);
  f.in_depth = f.z > T(cam.near) && f.z < T(cam.far);
  f.valid = false;
  if (!f.in_depth) return;
  const T zs = f.z;
  const T xz = f.px / zs, yz = f.py / zs;
  const T xc = std::min(std::max(xz, T(-cam.lim_x_neg)), T(cam.lim_x_pos));
  const T yc = std::min(std::max(yz, T(-cam.lim_y_neg)), T(cam.lim_y_pos));
  f.clamp_x = xc != xz;
  f.clamp_y = yc != yz;
  f.tx = zs * xc;
  f.ty = zs * yc;
  f.rz = T(1) / zs;
  const T j00 = T(cam.fx) * f.rz, j02 = T(-cam.fx) * f.tx * f.rz * f.rz;
  const T j11 = T(cam.fy) * f.rz, j12 = T(-cam.fy) * f.ty * f.rz * f.rz;
  for (int k = 0; k < 3; ++k) {
    f.t0[k] = j00 * T(V[k]) + j02 * T(V[8 + k]);
    f.t1[k] = j11 * T(V[4 + k]) + j12 * T(V[8 + k]);
  }
  const T qw = quat[0], qx = quat[1], qy = quat[2], qz = quat[3];
  f.n = std::max(std::sqrt(((qw * qw + qx * qx) + qy * qy) + qz * qz), T(1e-12));
  const T w = qw / f.n, x = qx / f.n, y = qy / f.n, z = qz / f.n;
  f.q[0] = w, f.q[1] = x, f.q[2] = y, f.q[3] = z;
  T* r = f.r;
  r[0] = T(1) - T(2) * (y * y + z * z), r[1] = T(2) * (x * y - w * z), r[2] = T(2) * (x * z + w * y);
  r[3] = T(2) * (x * y + w * z), r[4] = T(1) - T(2) * (x * x + z * z), r[5] = T(2) * (y * z - w * x);
  r[6] = T(2) * (x * z - w * y), r[7] = T(2) * (y * z + w * x), r[8] = T(1) - T(2) * (x * x + y * y);
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 3; ++k) f.m[3 * i + k] = r[3 * i + k] * scale[k];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      f.sig[3 * i + j] = (f.m[3 * i] * f.m[3 * j] + f.m[3 * i + 1] * f.m[3 * j + 1]) + f.m[3 * i + 2] * f.m[3 * j + 2];
  T u[3], v[3];
  for (int k = 0; k < 3; ++k) {
    u[k] = (f.sig[3 * k] * f.t0[0] + f.sig[3 * k + 1] * f.t0[1]) + f.sig[3 * k + 2] * f.t0[2];
    v[k] = (f.sig[3 * k] * f.t1[0] + f.sig[3 * k + 1] * f.t1[1]) + f.sig[3 * k + 2] * f.t1[2];
  }
  f.a0 = (f.t0[0] * u[0] + f.t0[1] * u[1]) + f.t0[2] * u[2];
  f.b = (f.t1[0] * u[0] + f.t1[1] * u[1]) + f.t1[2] * u[2];
  f.c0 = (f.t1[0] * v[0] + f.t1[1] * v[1]) + f.t1[2] * v[2];
  f.det_orig = f.a0 * f.c0 - f.b * f.b;
  f.a = f.a0 + T(cam.eps2d);
  f.c = f.c0 + T(cam.eps2d);
  f.det = f.a * f.c - f.b * f.b;
  f.valid = f.det > T(0);
}

// outputs: means2d (N, 2), conics (N, 3), depths (N,), radii (N,), compensation (N,)
template <typename T>
void project_forward(const T* means, const T* quats, const T* scales, int64_t N, const Camera& cam, bool aa,
                     T* means2d, T* conics, T* depths, int32_t* radii, T* comp) {
  at::parallel_for(0, N, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      Forward<T> f;
      forward_one(means + 3 * i, quats + 4 * i, scales + 3 * i, cam, f);
      depths[i] = f.z;
      T u = 0, v = 0, ca = 0, cb = 0, cc = 0, cp = 0;
      int32_t radius = 0;
      if (f.valid) {
        u = T(cam.fx) * f.px * f.rz + T(cam.cx);
        v = T(cam.fy) * f.py * f.rz + T(cam.cy);
        const T mid = T(0.5) * (f.a + f.c);
        const T lambda = mid + std::sqrt(std::max(mid * mid - f.det, T(0.01)));
        const T r = std::ceil(T(3) * std::sqrt(lambda));
        const bool on = (u + r > T(0)) && (u - r < T(cam.width)) && (v + r > T(0)) && (v - r < T(cam.height));
        if (on && std::isfinite(r)) {
          radius = static_cast<int32_t>(r);
          ca = f.c / f.det, cb = -f.b / f.det, cc = f.a / f.det;
          cp = aa ? std::sqrt(std::max(f.det_orig / f.det, T(0))) : T(1);
        } else {
          u = v = 0;
        }
      }
      means2d[2 * i] = u, means2d[2 * i + 1] = v;
      conics[3 * i] = ca, conics[3 * i + 1] = cb, conics[3 * i + 2] = cc;
      radii[i] = radius;
      comp[i] = cp;
    }
  });
}

// Gradients of means (N, 3), quats (N, 4), scales (N, 3) from those of means2d, conics, depths, compensation.
template <typename T>
void project_backward(const T* means, const T* quats, const T* scales, int64_t N, const Camera& cam, bool aa,
                      const int32_t* radii, const T* v_means2d, const T* v_conics, const T* v_depths, const T* v_comp,
                      T* g_means, T* g_quats, T* g_scales) {
  at::parallel_for(0, N, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      double vp[3] = {0, 0, static_cast<double>(v_depths[i])};
      double vq[4] = {0, 0, 0, 0}, vs[3] = {0, 0, 0};
      if (radii[i] > 0) {
        Forward<T> f;
        forward_one(means + 3 * i, quats + 4 * i, scales + 3 * i, cam, f);
        const double det = f.det, a = f.a, b = f.b, c = f.c;
        // conic = inverse of [[a, b], [b, c]]: d inv = -inv dC inv
        const double ia = c / det, ib = -b / det, ic = a / det;
        const double VA = v_conics[3 * i], VB = 0.5 * v_conics[3 * i + 1], VC = v_conics[3 * i + 2];
        // G = -inv V inv (V symmetric with VB off the diagonal)
        const double p00 = ia * VA + ib * VB, p01 = ia * VB + ib * VC, p10 = ib * VA + ic * VB, p11 = ib * VB + ic * VC;
        double va = -(p00 * ia + p01 * ib), vc = -(p10 * ib + p11 * ic);
        double vb = -(p00 * ib + p01 * ic) - (p10 * ia + p11 * ib);  // b sits in both off-diagonal entries
        if (aa) {
          const double ratio = f.det_orig / det;
          if (ratio > 0) {
            const double vr = v_comp[i] * 0.5 / std::sqrt(ratio);
            va += vr * (f.c0 - ratio * c) / det;
            vc += vr * (f.a0 - ratio * a) / det;
            vb += vr * (-2.0 * b + 2.0 * ratio * b) / det;
          }
        }
        // cov2d = Tm Sigma Tm^T with Tm rows t0, t1; S2 = dL/dcov2d symmetrised: [[va, vb/2], [vb/2, vc]]
        const double S00 = va, S01 = 0.5 * vb, S11 = vc;
        double t0[3], t1[3], sig[9];
        for (int k = 0; k < 3; ++k) t0[k] = f.t0[k], t1[k] = f.t1[k];
        for (int k = 0; k < 9; ++k) sig[k] = f.sig[k];
        // v_Sigma = Tm^T S2 Tm (symmetric)
        double vsig[9];
        for (int j = 0; j < 3; ++j)
          for (int k = 0; k < 3; ++k)
            vsig[3 * j + k] = S00 * t0[j] * t0[k] + S01 * (t0[j] * t1[k] + t1[j] * t0[k]) + S11 * t1[j] * t1[k];
        // v_Tm = 2 S2 Tm Sigma
        double ts0[3], ts1[3];
        for (int k = 0; k < 3; ++k) {
          ts0[k] = t0[0] * sig[k] + t0[1] * sig[3 + k] + t0[2] * sig[6 + k];
          ts1[k] = t1[0] * sig[k] + t1[1] * sig[3 + k] + t1[2] * sig[6 + k];
        }
        double vt0[3], vt1[3];
        for (int k = 0; k < 3; ++k) {
          vt0[k] = 2.0 * (S00 * ts0[k] + S01 * ts1[k]);
          vt1[k] = 2.0 * (S01 * ts0[k] + S11 * ts1[k]);
        }
        // Tm = J W: t0 = j00 W0 + j02 W2, t1 = j11 W1 + j12 W2
        const double* V = cam.V;
        double vj00 = 0, vj02 = 0, vj11 = 0, vj12 = 0;
        for (int k = 0; k < 3; ++k) {
          vj00 += vt0[k] * V[k], vj02 += vt0[k] * V[8 + k];
          vj11 += vt1[k] * V[4 + k], vj12 += vt1[k] * V[8 + k];
        }
        const double rz = f.rz, tx = f.tx, ty = f.ty, fx = cam.fx, fy = cam.fy;
        double vrz = fx * vj00 + fy * vj11 - 2.0 * fx * tx * rz * vj02 - 2.0 * fy * ty * rz * vj12;
        const double vtx = -fx * rz * rz * vj02, vty = -fy * rz * rz * vj12;
        // centre: u = fx px rz + cx, v = fy py rz + cy
        const double vu = v_means2d[2 * i], vv = v_means2d[2 * i + 1];
        vp[0] += fx * rz * vu;
        vp[1] += fy * rz * vv;
        vrz += fx * f.px * vu + fy * f.py * vv;
        // tx = z clamp(px / z): d/dpx = 1, d/dz = 0 inside; d/dz = the limit when clamped
        if (f.clamp_x) vp[2] += vtx * (tx * rz); else vp[0] += vtx;
        if (f.clamp_y) vp[2] += vty * (ty * rz); else vp[1] += vty;
        vp[2] += -rz * rz * vrz;
        // Sigma = M M^T, M = R diag(s)
        double vm[9];
        for (int r = 0; r < 3; ++r)
          for (int k = 0; k < 3; ++k)
            vm[3 * r + k] = 2.0 * (vsig[3 * r] * f.m[k] + vsig[3 * r + 1] * f.m[3 + k] + vsig[3 * r + 2] * f.m[6 + k]);
        double vr[9];
        for (int r = 0; r < 3; ++r)
          for (int k = 0; k < 3; ++k) {
            vr[3 * r + k] = vm[3 * r + k] * scales[3 * i + k];
            vs[k] += vm[3 * r + k] * f.r[3 * r + k];
          }
        const double w = f.q[0], x = f.q[1], y = f.q[2], z = f.q[3];
        const double vw = 2 * (-z * vr[1] + y * vr[2] + z * vr[3] - x * vr[5] - y * vr[6] + x * vr[7]);
        const double vx = 2 * (y * vr[1] + z * vr[2] + y * vr[3] - 2 * x * vr[4] - w * vr[5] + z * vr[6] + w * vr[7] -
                               2 * x * vr[8]);
        const double vy = 2 * (-2 * y * vr[0] + x * vr[1] + w * vr[2] + x * vr[3] + z * vr[5] - w * vr[6] + z * vr[7] -
                               2 * y * vr[8]);
        const double vz = 2 * (-2 * z * vr[0] - w * vr[1] + x * vr[2] + w * vr[3] - 2 * z * vr[4] + y * vr[5] +
                               x * vr[6] + y * vr[7]);
        // q = raw / |raw|
        const double dot = w * vw + x * vx + y * vy + z * vz, n = f.n;
        vq[0] = (vw - w * dot) / n, vq[1] = (vx - x * dot) / n, vq[2] = (vy - y * dot) / n, vq[3] = (vz - z * dot) / n;
      }
      const double* V = cam.V;
      for (int k = 0; k < 3; ++k) g_means[3 * i + k] = T(V[k] * vp[0] + V[4 + k] * vp[1] + V[8 + k] * vp[2]);
      for (int k = 0; k < 4; ++k) g_quats[4 * i + k] = T(vq[k]);
      for (int k = 0; k < 3; ++k) g_scales[3 * i + k] = T(vs[k]);
    }
  });
}

template <typename T>
int project_entry(int mode, const T* means, const T* quats, const T* scales, int64_t N, const double* camera,
                  int antialiased, T* means2d, T* conics, T* depths, int32_t* radii, T* comp, const T* v_means2d,
                  const T* v_conics, const T* v_depths, const T* v_comp, T* g_means, T* g_quats, T* g_scales) {
  Camera cam;
  for (int k = 0; k < 12; ++k) cam.V[k] = camera[k];
  cam.fx = camera[12], cam.fy = camera[13], cam.cx = camera[14], cam.cy = camera[15];
  cam.width = camera[16], cam.height = camera[17], cam.near = camera[18], cam.far = camera[19], cam.eps2d = camera[20];
  cam.lim_x_pos = camera[21], cam.lim_x_neg = camera[22], cam.lim_y_pos = camera[23], cam.lim_y_neg = camera[24];
  try {
    if (mode == 0)
      project_forward(means, quats, scales, N, cam, antialiased != 0, means2d, conics, depths, radii, comp);
    else
      project_backward(means, quats, scales, N, cam, antialiased != 0, radii, v_means2d, v_conics, v_depths, v_comp,
                       g_means, g_quats, g_scales);
  } catch (...) {
    return -2;
  }
  return 0;
}

}  // namespace

#define FIELDS_PROJECT_ENTRY(NAME, T)                                                                             \
  extern "C" int NAME(int mode, const T* means, const T* quats, const T* scales, int64_t N, const double* camera, \
                      int antialiased, T* means2d, T* conics, T* depths, int32_t* radii, T* comp,                 \
                      const T* v_means2d, const T* v_conics, const T* v_depths, const T* v_comp, T* g_means,      \
                      T* g_quats, T* g_scales) {                                                                  \
    return project_entry<T>(mode, means, quats, scales, N, camera, antialiased, means2d, conics, depths, radii,   \
                            comp, v_means2d, v_conics, v_depths, v_comp, g_means, g_quats, g_scales);             \
  }

FIELDS_PROJECT_ENTRY(fields_splat_project_f32, float)
FIELDS_PROJECT_ENTRY(fields_splat_project_f64, double)
