"""Projection of 3D Gaussians to the image (EWA splatting, as in 3DGS and gsplat's ``fully_fused_projection``).

Camera frame: OpenCV (x right, y down, z forward); ``viewmat`` maps world to camera, ``K`` is the pinhole
matrix, pixel ``(i, j)`` has its centre at ``(i + 0.5, j + 0.5)`` (the convention of
``fields.render.cameras``). Quaternions are ``(w, x, y, z)`` and need not be normalised; scales are linear
(not log). Plain vectorised torch, differentiable by autograd; culled Gaussians get ``radii == 0`` and zero
``means2d`` / ``conics`` computed from safe stand-in values, so no NaN reaches a gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

ALPHA_MIN = 1.0 / 255.0


@dataclass
class Projection:
    """Per-Gaussian screen-space quantities of ``N`` Gaussians.

    means2d ``(N, 2)`` pixels; conics ``(N, 3)`` the inverse 2D covariance ``(xx, xy, yy)``; depths ``(N,)``
    camera z; radii ``(N,)`` int32 pixels (0: culled); opacity_compensation ``(N,)`` the Mip-Splatting factor
    ``sqrt(det(cov2d) / det(cov2d + eps2d I))`` (ones when not antialiased)."""

    means2d: torch.Tensor
    conics: torch.Tensor
    depths: torch.Tensor
    radii: torch.Tensor
    opacity_compensation: torch.Tensor


def quat_to_rotmat(quats: torch.Tensor) -> torch.Tensor:
    """``(N, 4)`` quaternions ``(w, x, y, z)``, any norm -> ``(N, 3, 3)`` rotation matrices."""
    w, x, y, z = torch.nn.functional.normalize(quats, dim=-1).unbind(-1)
    return torch.stack(
        (
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ),
        dim=-1,
    ).reshape(-1, 3, 3)  # fmt: skip


def covariance_3d(quats: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """``R S S^T R^T``: ``(N, 4)``, ``(N, 3)`` -> ``(N, 3, 3)``."""
    m = quat_to_rotmat(quats) * scales[:, None, :]
    return m @ m.transpose(1, 2)


def project_gaussians(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    viewmat: torch.Tensor,
    K: torch.Tensor,
    width: int,
    height: int,
    near: float = 0.01,
    far: float = 1e10,
    eps2d: float = 0.3,
    antialiased: bool = False,
) -> Projection:
    """Project ``N`` Gaussians: means ``(N, 3)``, quats ``(N, 4)``, scales ``(N, 3)`` (world), viewmat ``(4, 4)``
    world-to-camera (OpenCV frame), K ``(3, 3)``. The 2D covariance is ``J W Sigma W^T J^T + eps2d I`` (the
    0.3-pixel low-pass) with the EWA Jacobian ``J`` evaluated at the centre, clamped to 1.3x the field of view
    as in 3DGS; Gaussians in front of ``near`` or beyond ``far`` or whose 3-sigma square misses the image are
    culled. ``antialiased``: Mip-Splatting's opacity compensation (multiply it into the opacities)."""
    R, t = viewmat[:3, :3], viewmat[:3, 3]
    p = means @ R.T + t
    z = p[:, 2]
    in_depth = (z > near) & (z < far)
    z_safe = torch.where(in_depth, z, torch.ones_like(z))
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    # clamp the point used by the Jacobian to 1.3x the view (3DGS): huge off-axis Gaussians stay finite
    lim_x_pos, lim_x_neg = (width - cx) / fx + 0.3 * width / fx, cx / fx + 0.3 * width / fx
    lim_y_pos, lim_y_neg = (height - cy) / fy + 0.3 * height / fy, cy / fy + 0.3 * height / fy
    tx = z_safe * torch.minimum(torch.maximum(p[:, 0] / z_safe, -lim_x_neg), lim_x_pos)
    ty = z_safe * torch.minimum(torch.maximum(p[:, 1] / z_safe, -lim_y_neg), lim_y_pos)
    zero = torch.zeros_like(z)
    rz = 1.0 / z_safe
    J = torch.stack((fx * rz, zero, -fx * tx * rz * rz, zero, fy * rz, -fy * ty * rz * rz), dim=-1).reshape(-1, 2, 3)
    M = J @ R
    cov2d = M @ covariance_3d(quats, scales) @ M.transpose(1, 2)
    a, b, c = cov2d[:, 0, 0], cov2d[:, 0, 1], cov2d[:, 1, 1]
    det_orig = a * c - b * b
    a, c = a + eps2d, c + eps2d
    det = a * c - b * b
    valid = in_depth & (det > 0)
    det_safe = torch.where(valid, det, torch.ones_like(det))
    if antialiased:
        compensation = torch.sqrt(torch.clamp(det_orig / det_safe, min=0.0))
    else:
        compensation = torch.ones_like(det)
    conics = torch.stack((c, -b, a), dim=-1) / det_safe[:, None]
    means2d = torch.stack((fx * p[:, 0] * rz + cx, fy * p[:, 1] * rz + cy), dim=-1)
    with torch.no_grad():
        mid = 0.5 * (a + c)
        lambda_max = mid + torch.sqrt(torch.clamp(mid * mid - det, min=0.01))
        radius = torch.ceil(3.0 * torch.sqrt(lambda_max))
        mx, my = means2d[:, 0], means2d[:, 1]
        on_screen = (mx + radius > 0) & (mx - radius < width) & (my + radius > 0) & (my - radius < height)
        valid = valid & on_screen & torch.isfinite(radius)
        radii = torch.where(valid, radius, torch.zeros_like(radius)).to(torch.int32)
    keep = valid[:, None]
    return Projection(
        means2d=torch.where(keep, means2d, torch.zeros_like(means2d)),
        conics=torch.where(keep, conics, torch.zeros_like(conics)),
        depths=z,
        radii=radii,
        opacity_compensation=torch.where(valid, compensation, torch.zeros_like(compensation)),
    )
