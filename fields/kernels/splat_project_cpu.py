"""The ``cpp`` projection of 3D Gaussians: ``fields.render.splat.project.project_gaussians`` in C++
(``splat_project_cpu.cpp``, parallel over Gaussians), with the analytic backward pass to means, quaternions and
scales. Its forward pass rounds as the torch function does (same radii, same tiles). Call ``splat_cpu.load()``
first. Second derivatives are not provided.
"""

from __future__ import annotations

import ctypes

import torch

from fields.kernels import splat_cpu


def _camera(viewmat: torch.Tensor, K: torch.Tensor, width: int, height: int, near: float, far: float,
            eps2d: float) -> torch.Tensor:
    """The 25 doubles the kernel reads: ``[R | t]`` rows, fx, fy, cx, cy, width, height, near, far, eps2d and
    the Jacobian's clamp limits (computed as ``project.py`` computes them)."""
    V = viewmat.detach().double().cpu()[:3].reshape(-1).tolist()
    fx, fy, cx, cy = (float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]))
    limits = [(width - cx) / fx + 0.3 * width / fx, cx / fx + 0.3 * width / fx,
              (height - cy) / fy + 0.3 * height / fy, cy / fy + 0.3 * height / fy]  # fmt: skip
    return torch.tensor(V + [fx, fy, cx, cy, width, height, near, far, eps2d] + limits, dtype=torch.float64)


def _p(t):
    return ctypes.c_void_p(None if t is None else t.data_ptr())


def _run(dtype, mode, means, quats, scales, camera, antialiased, outs=(None,) * 5, grads_in=(None,) * 4,
         grads_out=(None,) * 3, radii=None) -> None:
    means2d, conics, depths, radii_out, comp = outs
    rc = splat_cpu._Build.project[dtype](
        ctypes.c_int(mode), _p(means), _p(quats), _p(scales), ctypes.c_int64(means.shape[0]), _p(camera),
        ctypes.c_int(int(antialiased)), _p(means2d), _p(conics), _p(depths), _p(radii_out if mode == 0 else radii),
        _p(comp), *(_p(t) for t in grads_in), *(_p(t) for t in grads_out),
    )  # fmt: skip
    if rc != 0:
        raise RuntimeError(f"cpp splat projection failed (code {rc}, mode {mode})")


class _Project(torch.autograd.Function):
    @staticmethod
    def forward(ctx, means, quats, scales, camera, antialiased):
        dtype, n = means.dtype, means.shape[0]
        tensors = [t.detach().to(dtype).contiguous() for t in (means, quats, scales)]
        outs = (torch.empty(n, 2, dtype=dtype), torch.empty(n, 3, dtype=dtype), torch.empty(n, dtype=dtype),
                torch.empty(n, dtype=torch.int32), torch.empty(n, dtype=dtype))  # fmt: skip
        _run(dtype, 0, *tensors, camera, antialiased, outs=outs)
        ctx.save_for_backward(*tensors, outs[3], camera)
        ctx.antialiased = antialiased
        ctx.mark_non_differentiable(outs[3])
        return outs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, v_means2d, v_conics, v_depths, _v_radii, v_comp):
        means, quats, scales, radii, camera = ctx.saved_tensors
        dtype, n = means.dtype, means.shape[0]
        shapes = ((n, 2), (n, 3), (n,), (n,))
        grads_in = [torch.zeros(s, dtype=dtype) if g is None else g.to(dtype).contiguous()
                    for g, s in zip((v_means2d, v_conics, v_depths, v_comp), shapes)]  # fmt: skip
        grads_out = (torch.empty_like(means), torch.empty_like(quats), torch.empty_like(scales))
        _run(dtype, 1, means, quats, scales, camera, ctx.antialiased, grads_in=grads_in, grads_out=grads_out,
             radii=radii)
        return (*grads_out, None, None)


def project_cpp(means: torch.Tensor, quats: torch.Tensor, scales: torch.Tensor, viewmat: torch.Tensor, K: torch.Tensor,
                width: int, height: int, near: float = 0.01, far: float = 1e10, eps2d: float = 0.3,
                antialiased: bool = False) -> tuple[torch.Tensor, ...]:
    """As ``fields.render.splat.project.project_gaussians`` on CPU float32/float64 tensors: the fields of its
    ``Projection`` as a tuple ``(means2d, conics, depths, radii, opacity_compensation)``."""
    if splat_cpu._Build.project is None:
        raise RuntimeError("project_cpp called before a successful splat_cpu.load()")
    camera = _camera(viewmat, K, width, height, near, far, eps2d)
    return _Project.apply(means, quats, scales, camera, antialiased)
