"""The hyper-kernel operator of "HyperZ.Z.W Operator Connects Slow-Fast Networks for Full Context
Interaction" (Zhang 2024).

A slow network, a small coordinate MLP (a neural field over kernel offsets, SIREN-style sine layers),
maps each offset ``(dy, dx) in [-1, 1]^2`` of a large ``k x k`` window to one kernel value per channel:
the hyper-kernel ``K``. The fast weights are context-dependent: ``W = DWConv(Z, K)``, the hidden
activations ``Z = Linear(x)`` convolved with the hyper-kernel; the output is the elementwise product
``Z * W`` (the Z.W interaction), projected ``Linear(C, C)``. The kernel is generated, not stored, so its
parameter count does not grow with ``k``; ``k`` defaults to 9 (the paper uses kernels as large as the map).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fields.config.mixers import HyperZZWConfig
from fields.heads.registry import TokenMixer, register_mixer


class KernelField(nn.Module):
    """Coordinate MLP: ``(k*k, 2)`` offsets -> ``(C, 1, k, k)`` depthwise kernel."""

    def __init__(self, dim: int, kernel_size: int, hidden: int, omega: float):
        super().__init__()
        k = kernel_size
        r = torch.linspace(-1.0, 1.0, k)
        grid = torch.stack(torch.meshgrid(r, r, indexing="ij"), dim=-1).reshape(k * k, 2)
        self.register_buffer("coords", grid, persistent=False)
        self.fc1, self.fc2, self.fc3 = nn.Linear(2, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, dim)
        self.omega, self.k = omega, k
        with torch.no_grad():
            self.fc1.weight.uniform_(-1.0 / 2, 1.0 / 2)
            bound = (6.0 / hidden) ** 0.5
            self.fc2.weight.uniform_(-bound, bound)

    def forward(self) -> torch.Tensor:
        h = torch.sin(self.omega * self.fc1(self.coords))
        h = torch.sin(self.fc2(h))
        kernel = self.fc3(h) / self.k  # (k*k, C); 1/k keeps the conv output's scale
        return kernel.t().reshape(-1, 1, self.k, self.k)


@register_mixer("hyperzzw", aliases=("hyper_kernel", "hyperz"))
class HyperZZW(TokenMixer):
    """``(B, H, W, C) -> (B, H, W, C)``: ``Z * DWConv(Z, K_field)``."""

    Config = HyperZZWConfig

    def __init__(self, dim: int, resolution=None, **options: Any):
        super().__init__(dim, resolution, **options)
        c = self.config
        self.in_proj = nn.Linear(dim, dim)
        self.kernel = KernelField(dim, c.kernel_size, c.hidden, c.omega)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        z = self.in_proj(x)
        k = self.config.kernel_size
        fast = F.conv2d(z.permute(0, 3, 1, 2), self.kernel().to(z.dtype), padding=k // 2, groups=self.dim)
        return self.out_proj(z * fast.permute(0, 2, 3, 1))
