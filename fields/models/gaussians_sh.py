"""View-dependent colour of 3D Gaussians: real spherical harmonics in the 3DGS convention.

The constants and signs are those of the 3DGS reference code (and of every splat viewer that reads its
``.ply``): ``colour = sum_k c_k Y_k(d) + 0.5``, clamped at 0, with ``d`` the unit direction from the camera
centre to the Gaussian's mean. Coefficients are stored ``(N, (degree + 1)**2, 3)``, band-major.
"""

from __future__ import annotations

import torch

C0 = 0.28209479177387814
C1 = 0.4886025119029199
C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
C3 = (
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435,
)


def sh_basis(d: torch.Tensor, degree: int) -> torch.Tensor:
    """``d (..., 3)`` unit directions -> ``(..., (degree + 1)**2)`` basis values, degree 0 to 3."""
    if not 0 <= degree <= 3:
        raise ValueError(f"spherical-harmonics degree must be 0 to 3, got {degree}")
    x, y, z = d.unbind(-1)
    out = [torch.full_like(x, C0)]
    if degree >= 1:
        out += [-C1 * y, C1 * z, -C1 * x]
    if degree >= 2:
        xx, yy, zz, xy, yz, xz = x * x, y * y, z * z, x * y, y * z, x * z
        out += [C2[0] * xy, C2[1] * yz, C2[2] * (2.0 * zz - xx - yy), C2[3] * xz, C2[4] * (xx - yy)]
    if degree >= 3:
        out += [
            C3[0] * y * (3.0 * xx - yy),
            C3[1] * xy * z,
            C3[2] * y * (4.0 * zz - xx - yy),
            C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy),
            C3[4] * x * (4.0 * zz - xx - yy),
            C3[5] * z * (xx - yy),
            C3[6] * x * (xx - 3.0 * yy),
        ]
    return torch.stack(out, -1)


def eval_sh(coeffs: torch.Tensor, dirs: torch.Tensor, degree: int) -> torch.Tensor:
    """``coeffs (N, K, 3)`` with ``K >= (degree + 1)**2``, ``dirs (N, 3)`` (any length) -> RGB ``(N, 3)``
    in ``[0, inf)``: bands above ``degree`` are ignored."""
    d = dirs / dirs.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    basis = sh_basis(d, degree)
    k = basis.shape[-1]
    return ((basis[:, :, None] * coeffs[:, :k]).sum(1) + 0.5).clamp_min(0.0)


def rgb_to_sh(rgb: torch.Tensor) -> torch.Tensor:
    """The degree-0 coefficient that evaluates to ``rgb``."""
    return (rgb - 0.5) / C0


def sh_to_rgb(dc: torch.Tensor) -> torch.Tensor:
    return dc * C0 + 0.5
