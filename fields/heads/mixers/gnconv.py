"""Recursive gated convolution gnConv (HorNet, Rao et al. 2022).

Order ``n``: widths ``C_k = C / 2^(n-1-k)`` (``k = 0..n-1``, so the last is ``C``). A 1x1 conv lifts
``C -> C_0 + sum_k C_k`` = ``2C``, split into ``p_0`` (``C_0``) and ``q``; a depthwise 7x7 conv on ``q``,
scaled by ``1/3`` (the official ``s``), split into ``q_0..q_{n-1}``; ``p_1 = p_0 * q_0``,
``p_{k+1} = Conv1x1(p_k) * q_k`` (``C_{k-1} -> C_k``): the interaction order grows by one per step.
A 1x1 conv out. ``C`` must be divisible by ``2^(n-1)``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fields.config.mixers import GnConvConfig
from fields.heads.registry import TokenMixer, register_mixer


@register_mixer("gnconv", aliases=("hornet",))
class GnConv(TokenMixer):
    """``(B, H, W, C) -> (B, H, W, C)``: ``n``-th order spatial interactions through gated convolutions."""

    Config = GnConvConfig

    def __init__(self, dim: int, resolution=None, **options: Any):
        super().__init__(dim, resolution, **options)
        n, k = self.config.order, self.config.kernel_size
        if dim % 2 ** (n - 1):
            raise ValueError(f"mixer 'gnconv' of order {n} needs dim divisible by {2 ** (n - 1)}, got {dim}")
        self.dims = [dim // 2 ** i for i in range(n)][::-1]
        self.proj_in = nn.Conv2d(dim, 2 * dim, 1)
        self.dwconv = nn.Conv2d(sum(self.dims), sum(self.dims), k, padding=k // 2, groups=sum(self.dims))
        self.pws = nn.ModuleList(nn.Conv2d(self.dims[i], self.dims[i + 1], 1) for i in range(n - 1))
        self.proj_out = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        y = self.proj_in(x.permute(0, 3, 1, 2))
        p, q = torch.split(y, (self.dims[0], sum(self.dims)), dim=1)
        qs = torch.split(self.dwconv(q) * self.config.scale, self.dims, dim=1)
        p = p * qs[0]
        for pw, qk in zip(self.pws, qs[1:]):
            p = pw(p) * qk
        return self.proj_out(p).permute(0, 2, 3, 1)
