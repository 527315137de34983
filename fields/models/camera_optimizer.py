"""Camera pose refinement (nerfstudio's ``CameraOptimizer``, mode SO3xR3; BARF without the annealing).

Each camera gets a correction ``(omega, tau)``: a rotation vector and a translation, zero at the start.
A ray of camera ``i`` becomes ``o' = o + tau_i``, ``d' = exp(omega_i) d``: the camera turns about its own
centre and moves. Both live in the unit frame, so learning rates and penalties do not depend on the
scene's scale. The corrections of the trained cameras are applied less their mean: a common motion of
all cameras is (nearly) a motion of the whole scene, which the images cannot tell apart and which would
leave the held-out views misaligned (a gauge freedom); it is projected out. Penalties
``rot_l2 |omega|^2 + trans_l2 |tau|^2`` keep the corrections small where the images do not ask for them;
held-out views are never corrected.
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


class CameraOptimizer(nn.Module):
    """``n_cameras`` SO3xR3 corrections: ``pose_adjustment (n, 6)`` = (rotation vector, translation)."""

    def __init__(self, n_cameras: int, rot_l2: float = 1e-3, trans_l2: float = 1e-2,
                 train_indices: Optional[list[int]] = None):
        super().__init__()
        self.pose_adjustment = nn.Parameter(torch.zeros(n_cameras, 6))
        self.rot_l2, self.trans_l2 = rot_l2, trans_l2
        mask = torch.zeros(n_cameras, dtype=torch.bool)
        mask[list(range(n_cameras)) if train_indices is None else train_indices] = True
        self.register_buffer("trained", mask, persistent=False)

    def corrections(self) -> torch.Tensor:
        """``(n, 6)``: the trained cameras' adjustments less their mean; zero for the others."""
        adj = self.pose_adjustment
        centred = adj - adj[self.trained].mean(0)
        return torch.where(self.trained[:, None], centred, torch.zeros_like(adj))

    def apply(self, origins: torch.Tensor, directions: torch.Tensor, cameras: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rays ``(B, 3)`` of cameras ``(B,)`` -> corrected origins and unit directions ``(B, 3)``."""
        adj = self.corrections()[cameras.to(self.pose_adjustment.device)]
        rotation = so3_exp(adj[:, :3]).to(directions)
        d = (rotation @ directions[:, :, None])[:, :, 0]
        return origins + adj[:, 3:].to(origins), d / d.norm(dim=-1, keepdim=True)

    def penalty(self) -> torch.Tensor:
        adj = self.corrections()
        return self.rot_l2 * (adj[:, :3] ** 2).sum(-1).mean() + self.trans_l2 * (adj[:, 3:] ** 2).sum(-1).mean()

    def errors(self) -> tuple[float, float]:
        """Mean rotation (degrees) and translation (unit frame) of the corrections."""
        adj = self.corrections().detach()[self.trained]
        return float(adj[:, :3].norm(dim=-1).mean() * 57.29577951308232), float(adj[:, 3:].norm(dim=-1).mean())
