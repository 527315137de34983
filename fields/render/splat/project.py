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
    return torch.stack(_rotation_entries(quats), dim=-1).reshape(-1, 3, 3)


def _rotation_entries(quats: torch.Tensor) -> list[torch.Tensor]:
    """The 9 entries ``(N,)`` of each rotation, row-major, elementwise (the C++ kernel repeats these operations)."""
    qw, qx, qy, qz = quats.unbind(-1)
    n = torch.clamp(torch.sqrt(qw * qw + qx * qx + qy * qy + qz * qz), min=1e-12)
    w, x, y, z = qw / n, qx / n, qy / n, qz / n
    return [
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ]  # fmt: skip


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
    eps2d: float = 0.3,
    antialiased: bool = False,
    far: float = 1e10,
) -> Projection:
    """Project ``N`` Gaussians: means ``(N, 3)``, quats ``(N, 4)``, scales ``(N, 3)`` (world), viewmat ``(4, 4)``
    world-to-camera (OpenCV frame), K ``(3, 3)``. The 2D covariance is ``J W Sigma W^T J^T + eps2d I`` (the
    0.3-pixel low-pass) with the EWA Jacobian ``J`` evaluated at the centre, clamped to 1.3x the field of view
    as in 3DGS; Gaussians in front of ``near`` or beyond ``far`` or whose 3-sigma square misses the image are
    culled. ``antialiased``: Mip-Splatting's opacity compensation (multiply it into the opacities). No gradient
    flows to ``viewmat`` or ``K``."""
    V = viewmat.detach().double().cpu().tolist()
    fx, fy, cx, cy = (float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]))
    # written out elementwise (no matmuls), so the C++ kernel can repeat every rounding: same radii and tiles
    mx, my, mz = means.unbind(-1)
    px, py, z = ((V[i][0] * mx + V[i][1] * my) + V[i][2] * mz + V[i][3] for i in range(3))
    in_depth = (z > near) & (z < far)
    z_safe = torch.where(in_depth, z, torch.ones_like(z))
    # clamp the point used by the Jacobian to 1.3x the view (3DGS): huge off-axis Gaussians stay finite
    lim_x_pos, lim_x_neg = (width - cx) / fx + 0.3 * width / fx, cx / fx + 0.3 * width / fx
    lim_y_pos, lim_y_neg = (height - cy) / fy + 0.3 * height / fy, cy / fy + 0.3 * height / fy
    tx = z_safe * torch.clamp(px / z_safe, -lim_x_neg, lim_x_pos)
    ty = z_safe * torch.clamp(py / z_safe, -lim_y_neg, lim_y_pos)
    rz = 1.0 / z_safe
    j00, j02, j11, j12 = fx * rz, -fx * tx * rz * rz, fy * rz, -fy * ty * rz * rz
    t0 = [j00 * V[0][k] + j02 * V[2][k] for k in range(3)]  # rows of J W (2 x 3)
    t1 = [j11 * V[1][k] + j12 * V[2][k] for k in range(3)]
    r = _rotation_entries(quats)
    m = [r[3 * i + k] * scales[:, k] for i in range(3) for k in range(3)]  # R S, row-major
    sig = [[(m[3 * i] * m[3 * j] + m[3 * i + 1] * m[3 * j + 1]) + m[3 * i + 2] * m[3 * j + 2] for j in range(3)]
           for i in range(3)]  # fmt: skip
    u = [(sig[k][0] * t0[0] + sig[k][1] * t0[1]) + sig[k][2] * t0[2] for k in range(3)]
    v = [(sig[k][0] * t1[0] + sig[k][1] * t1[1]) + sig[k][2] * t1[2] for k in range(3)]
    a = (t0[0] * u[0] + t0[1] * u[1]) + t0[2] * u[2]
    b = (t1[0] * u[0] + t1[1] * u[1]) + t1[2] * u[2]
    c = (t1[0] * v[0] + t1[1] * v[1]) + t1[2] * v[2]
    det_orig = a * c - b * b
    a, c = a + eps2d, c + eps2d
    det = a * c - b * b
    valid = in_depth & (det > 0)
    det_safe = torch.where(valid, det, torch.ones_like(det))
    if antialiased:
        compensation = torch.sqrt(torch.clamp(det_orig / det_safe, min=0.0))
    else:
        compensation = torch.ones_like(det)
    conics = torch.stack((c / det_safe, -b / det_safe, a / det_safe), dim=-1)
    means2d = torch.stack((fx * px * rz + cx, fy * py * rz + cy), dim=-1)
    with torch.no_grad():
        mid = 0.5 * (a + c)
        lambda_max = mid + torch.sqrt(torch.clamp(mid * mid - det, min=0.01))
        radius = torch.ceil(3.0 * torch.sqrt(lambda_max))
        u2, v2 = means2d[:, 0], means2d[:, 1]
        on_screen = (u2 + radius > 0) & (u2 - radius < width) & (v2 + radius > 0) & (v2 - radius < height)
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
