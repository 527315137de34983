"""Mix-and-shift (MS-MLP, "Mixing and Shifting: Exploiting Global and Local Dependencies in Vision MLPs",
Zheng et al. 2022).

Channels are split into ``groups`` groups; group ``g`` is shifted circularly by ``g - groups//2`` tokens
(-2..2 for 5 groups) along W in one branch and along H in the other, so each channel group reads a
different neighbour; each branch then mixes neighbouring tokens with its own depthwise ``k x k`` conv
(the "mixing" that lets a shift of s reach a window instead of one token). The branches are summed,
``GELU``, ``Linear(C, C)``; a ``Linear(C, C)`` before the split mixes the channels (the official block is
``x + proj(GELU(mix_shift_w(h) + mix_shift_h(h)))``, ``h = fc(LN(x))``, with one residual).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fields.config.mixers import MixShiftConfig
from fields.heads.registry import TokenMixer, register_mixer


def group_shift(x: torch.Tensor, groups: int, dim: int) -> torch.Tensor:
    """Roll channel group ``g`` of ``(B, H, W, C)`` by ``g - groups//2`` along ``dim`` (1: H, 2: W)."""
    chunks = torch.tensor_split(x, groups, dim=-1)
    return torch.cat([torch.roll(c, g - groups // 2, dims=dim) for g, c in enumerate(chunks)], dim=-1)


@register_mixer("ms_mlp", aliases=("mix_shift",))
class MixShift(TokenMixer):
    """``(B, H, W, C) -> (B, H, W, C)``."""

    Config = MixShiftConfig

    def __init__(self, dim: int, resolution=None, **options: Any):
        super().__init__(dim, resolution, **options)
        k = self.config.kernel_size
        self.fc = nn.Linear(dim, dim)
        self.mix_w = nn.Conv2d(dim, dim, k, padding=k // 2, groups=dim)
        self.mix_h = nn.Conv2d(dim, dim, k, padding=k // 2, groups=dim)
        self.act, self.proj = nn.GELU(), nn.Linear(dim, dim)

    def _mix(self, conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
        return conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        h = self.fc(x)
        g = self.config.groups
        y = group_shift(self._mix(self.mix_w, h), g, dim=2) + group_shift(self._mix(self.mix_h, h), g, dim=1)
        return self.proj(self.act(y))
