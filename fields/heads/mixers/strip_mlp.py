"""Strip-MLP ("Strip-MLP: Efficient Token Interaction for Vision MLP", Cao et al. 2023).

Half of the channels go through the Cascade Group Strip Mixing Module: a row MLP, then (cascaded on its
output) a column MLP, each reading a strip of 3 adjacent rows (columns), i.e. a row token is mixed from
the ``3W`` tokens of its row and the two neighbouring rows (zero padded at the border); the weights
``(W, 3W)`` are shared within each of ``groups`` channel groups, and a learned position table is added
before mixing. The other half goes through the Local Strip Mixing Module: depthwise ``3x7`` and ``7x3``
convs, summed with per-channel weights from a softmax over the two, computed from the pooled features.
The halves are concatenated and fused by a depthwise 7x7 conv, GRN (ConvNeXt V2's global response
normalisation) and ``Linear(C, C)``. Strip weights depend on ``H = W``: fixed square resolution.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fields.config.mixers import StripMLPConfig
from fields.heads.registry import TokenMixer, register_mixer


class GRN(nn.Module):
    """Global response normalisation on ``(B, H, W, C)``: ``gamma * (x * N(x)) + beta + x``."""

    def __init__(self, dim: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(dim))
        self.beta = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx = torch.linalg.vector_norm(x, dim=(1, 2), keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x


def strip_mix(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, groups: int) -> torch.Tensor:
    """Mix along W from strips of 3 rows. ``x (B, H, W, C)``, ``weight (G, W, 3W)``, ``bias (G, W)``."""
    b, h, w, c = x.shape
    padded = F.pad(x, (0, 0, 0, 0, 1, 1))  # one zero row above and below
    strip = torch.cat([padded[:, :-2], padded[:, 1:-1], padded[:, 2:]], dim=2)  # (B, H, 3W, C)
    strip = strip.reshape(b, h, 3 * w, groups, c // groups)
    out = torch.einsum("gwj,bhjgc->bhwgc", weight, strip) + bias.t()[None, None, :, :, None]
    return out.reshape(b, h, w, c)


@register_mixer("strip_mlp", aliases=("stripmlp",))
class StripMLP(TokenMixer):
    """``(B, N, N, C) -> (B, N, N, C)``."""

    needs_fixed_resolution = True

    Config = StripMLPConfig

    def check_resolution(self, resolution) -> None:
        super().check_resolution(resolution)
        if resolution is not None and resolution[0] != resolution[1]:
            raise ValueError(f"mixer 'strip_mlp' needs a square resolution, got {resolution[0]}x{resolution[1]}")

    def __init__(self, dim: int, resolution=None, **options: Any):
        super().__init__(dim, resolution, **options)
        g, n = self.config.groups, self.resolution[0]
        self.c1 = dim // 2
        self.c2 = dim - self.c1
        if self.c1 < 1 or self.c1 % g:
            raise ValueError(f"mixer 'strip_mlp' needs dim // 2 divisible by groups {g}, got dim {dim}")
        self.pos = nn.Parameter(torch.zeros(n, n, self.c1))
        self.row_w = nn.Parameter(torch.randn(g, n, 3 * n) / (3 * n) ** 0.5)
        self.col_w = nn.Parameter(torch.randn(g, n, 3 * n) / (3 * n) ** 0.5)
        self.row_b, self.col_b = nn.Parameter(torch.zeros(g, n)), nn.Parameter(torch.zeros(g, n))
        self.conv37 = nn.Conv2d(self.c2, self.c2, (3, 7), padding=(1, 3), groups=self.c2)
        self.conv73 = nn.Conv2d(self.c2, self.c2, (7, 3), padding=(3, 1), groups=self.c2)
        self.reweight = nn.Linear(self.c2, 2 * self.c2)
        self.fuse = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.grn = GRN(dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        x1, x2 = torch.split(x, (self.c1, self.c2), dim=-1)
        g = self.config.groups
        y1 = strip_mix(x1 + self.pos, self.row_w, self.row_b, g)
        y1 = strip_mix(y1.transpose(1, 2), self.col_w, self.col_b, g).transpose(1, 2)  # cascade: columns
        t = x2.permute(0, 3, 1, 2)
        a = self.reweight(x2.mean(dim=(1, 2))).reshape(-1, 2, self.c2).softmax(dim=1)  # (B, 2, C2)
        y2 = self.conv37(t) * a[:, 0, :, None, None] + self.conv73(t) * a[:, 1, :, None, None]
        y = torch.cat([y1.permute(0, 3, 1, 2), y2], dim=1)
        y = self.fuse(y).permute(0, 2, 3, 1)
        return self.proj(self.grn(y))
