"""Camera pose refinement (nerfstudio's ``CameraOptimizer``, mode SO3xR3; BARF without the annealing).

Each camera gets a correction ``(omega, tau)``: a rotation vector and a translation, zero at the start.
A ray of camera ``i`` becomes ``o' = o + tau_i``, ``d' = exp(omega_i) d``: the camera turns about its own
centre and moves. Both live in the unit frame, so learning rates and penalties do not depend on the
scene's scale. Penalties ``rot_l2 |omega|^2 + trans_l2 |tau|^2`` keep the corrections small where the
images do not ask for them; held-out views are never corrected.

Gauge: moving every camera by one similarity transform and the scene with it leaves the images as they
were; the images cannot fix that motion, noise drives it, and the uncorrected held-out views end up
misaligned. The corrections of the trained cameras are applied with that motion projected out, to first
order: the mean rotation vector (a common turn; a turn of the scene about a point also moves each camera
by ``omega x (c_i - p)``, which the mean translation and the next term absorb), the mean translation, and
a common scaling about the cameras' centroid (``tau_i = s (c_i - c)``) when the camera centres are given.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn


def so3_exp(omega: torch.Tensor) -> torch.Tensor:
    """Rotation vectors ``(n, 3)`` -> rotation matrices ``(n, 3, 3)`` (Rodrigues; exact near zero)."""
    theta2 = (omega * omega).sum(-1)[:, None, None]
    theta = theta2.clamp_min(1e-12).sqrt()
    small = theta2 < 1e-8
    a = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(theta)) / theta2.clamp_min(1e-12))
    zero = torch.zeros_like(omega[:, 0])
    k = torch.stack((zero, -omega[:, 2], omega[:, 1], omega[:, 2], zero, -omega[:, 0],
                     -omega[:, 1], omega[:, 0], zero), -1).reshape(-1, 3, 3)
    eye = torch.eye(3, dtype=omega.dtype, device=omega.device).expand_as(k)
    return eye + a * k + b * (k @ k)


def so3_log(rotation: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``(n, 3, 3)`` -> rotation vectors ``(n, 3)`` (angles below pi)."""
    cos = ((rotation.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1.0, 1.0)
    theta = torch.arccos(cos)
    axis = torch.stack((rotation[:, 2, 1] - rotation[:, 1, 2], rotation[:, 0, 2] - rotation[:, 2, 0],
                        rotation[:, 1, 0] - rotation[:, 0, 1]), -1)
    scale = torch.where(theta < 1e-6, 0.5 + theta**2 / 12, theta / (2 * torch.sin(theta).clamp_min(1e-12)))
    return axis * scale[:, None]


def quat_from_rotvec(omega: torch.Tensor) -> torch.Tensor:
    """Rotation vectors ``(n, 3)`` -> unit quaternions ``(n, 4)`` ``(w, x, y, z)``."""
    half = 0.5 * omega.norm(dim=-1, keepdim=True)
    sinc = torch.where(half < 1e-6, 0.5 - half**2 / 12, torch.sin(half) / (2 * half).clamp_min(1e-12))
    return torch.cat((torch.cos(half), omega * sinc), -1)


def quat_multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton products ``a b`` of quaternions ``(..., 4)`` ``(w, x, y, z)`` (the rotation ``b`` then ``a``)."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack((aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                        aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw), -1)


def correct_rays(origins: torch.Tensor, directions: torch.Tensor, adj: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Rays ``(B, 3)`` and their cameras' corrections ``adj (B, 6)`` -> ``(o + tau, exp(omega) d)``."""
    d = (so3_exp(adj[:, :3]).to(directions) @ directions[:, :, None])[:, :, 0]
    return origins + adj[:, 3:].to(origins), d / d.norm(dim=-1, keepdim=True)


def correct_c2w(c2w: torch.Tensor, adj: torch.Tensor, scale: float) -> torch.Tensor:
    """Poses ``(m, 3, 4)`` and corrections ``(m, 6)`` -> ``R' = exp(omega) R``, ``t' = t + scale tau``."""
    adj = adj.to(c2w)
    return torch.cat((so3_exp(adj[:, :3]) @ c2w[:, :, :3], c2w[:, :, 3:] + scale * adj[:, 3:, None]), -1)


class CameraOptimizer(nn.Module):
    """``n_cameras`` SO3xR3 corrections: ``pose_adjustment (n, 6)`` = (rotation vector, translation).

    ``centres (n, 3)``: the cameras' centres in the unit frame, for the scale part of the gauge.
    """

    def __init__(self, n_cameras: int, rot_l2: float = 1e-3, trans_l2: float = 1e-2,
                 train_indices: Optional[list[int]] = None, centres: Optional[torch.Tensor] = None):
        super().__init__()
        self.pose_adjustment = nn.Parameter(torch.zeros(n_cameras, 6))
        self.rot_l2, self.trans_l2 = rot_l2, trans_l2
        mask = torch.zeros(n_cameras, dtype=torch.bool)
        mask[list(range(n_cameras)) if train_indices is None else train_indices] = True
        self.register_buffer("trained", mask, persistent=False)
        spread = torch.zeros(n_cameras, 3)
        if centres is not None:
            c = centres.detach().float().cpu()
            spread = c - c[mask].mean(0)
            spread = torch.where(mask[:, None], spread, torch.zeros_like(spread))
            spread = spread / spread.norm().clamp_min(1e-12)  # unit vector of the scale mode
        self.register_buffer("scale_mode", spread, persistent=False)

    def corrections(self) -> torch.Tensor:
        """``(n, 6)``: the trained cameras' adjustments with the gauge motion projected out; zero for the others."""
        adj = self.pose_adjustment
        centred = adj - adj[self.trained].mean(0)
        mode = self.scale_mode.to(adj)
        tau = centred[:, 3:] - (centred[:, 3:] * mode).sum() * mode
        centred = torch.cat((centred[:, :3], tau), -1)
        return torch.where(self.trained[:, None], centred, torch.zeros_like(adj))

    def apply(self, origins: torch.Tensor, directions: torch.Tensor, cameras: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rays ``(B, 3)`` of cameras ``(B,)`` -> corrected origins and unit directions ``(B, 3)``."""
        return correct_rays(origins, directions, self.corrections()[cameras.to(self.pose_adjustment.device)])

    def corrected_c2w(self, c2w: torch.Tensor, scale: float, index: Optional[torch.Tensor] = None) -> torch.Tensor:
        """World poses ``(m, 3, 4)`` of cameras ``index`` (default all) -> corrected poses ``(m, 3, 4)``:
        ``R' = exp(omega) R``, ``t' = t + scale tau`` (``scale``: world units per unit-frame unit).
        Differentiable in the corrections; the convention of the camera axes is kept."""
        adj = self.corrections()
        if index is not None:
            adj = adj[index.to(adj.device)]
        return correct_c2w(c2w, adj, scale)

    def penalty(self) -> torch.Tensor:
        adj = self.corrections()
        return self.rot_l2 * (adj[:, :3] ** 2).sum(-1).mean() + self.trans_l2 * (adj[:, 3:] ** 2).sum(-1).mean()

    def errors(self) -> tuple[float, float]:
        """Mean rotation (degrees) and translation (unit frame) of the corrections."""
        adj = self.corrections().detach()[self.trained]
        return float(adj[:, :3].norm(dim=-1).mean() * 57.29577951308232), float(adj[:, 3:].norm(dim=-1).mean())


def transform_gaussians(means: torch.Tensor, quats: torch.Tensor, rotation: torch.Tensor, omega: torch.Tensor,
                        origin: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The rigid motion ``x -> rotation (x - origin) + target`` of Gaussians: means ``(N, 3)``, unit quats
    ``(N, 4)``; ``rotation (3, 3)`` = ``exp(omega)``, ``omega (3,)``. Returns the moved means and quats.

    A corrected camera draws the Gaussians as the uncorrected one draws them moved by the inverse
    correction: the rasterizers take no gradient for the view matrix, every one of them for the means."""
    moved = (means - origin) @ rotation.T + target
    turned = quat_multiply(quat_from_rotvec(omega[None]).to(quats), quats)
    return moved, turned
