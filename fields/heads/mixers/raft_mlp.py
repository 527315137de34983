"""RaftMLP vertical and horizontal raft token mixing ("RaftMLP: How Much Can Be Done Without Attention
and with Less Spatial Locality?", Tatsunami & Taki 2022).

Channels are cut into rafts of ``r`` channels. The vertical mixer reads, for one column and one raft,
the ``r * H`` values (``r`` channels x ``H`` rows) as one vector and mixes them with an MLP
``r*H -> e*r*H -> r*H`` shared by all columns and rafts; the horizontal mixer does the same over ``r * W``.
Each has its own pre-LayerNorm and residual, vertical then horizontal; the block's channel MLP follows.
The MLPs' sizes depend on ``H`` and ``W``: fixed resolution (resize inputs otherwise).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fields.config.mixers import RaftTokenMixerConfig
from fields.heads.channel_mlp import ChannelMLP
from fields.heads.registry import TokenMixer, register_mixer


@register_mixer("raft_mlp", aliases=("raftmlp",))
class RaftTokenMixer(TokenMixer):
    """``(B, H, W, C) -> (B, H, W, C)``: returns the sum of the two residual branches."""

    needs_fixed_resolution = True

    Config = RaftTokenMixerConfig

    def __init__(self, dim: int, resolution=None, **options: Any):
        super().__init__(dim, resolution, **options)
        r, e = self.config.raft_size, self.config.expansion
        if dim % r:
            raise ValueError(f"mixer 'raft_mlp' needs dim divisible by raft_size {r}, got {dim}")
        h, w = self.resolution
        self.norm_v, self.norm_h = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.vertical = ChannelMLP(r * h, max(1, round(e * r * h)))
        self.horizontal = ChannelMLP(r * w, max(1, round(e * r * w)))

    def _vertical(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        r = self.config.raft_size
        v = x.reshape(b, h, w, c // r, r).permute(0, 2, 3, 4, 1).reshape(b, w, c // r, r * h)
        v = self.vertical(v).reshape(b, w, c // r, r, h).permute(0, 4, 1, 2, 3)
        return v.reshape(b, h, w, c)

    def _horizontal(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        r = self.config.raft_size
        v = x.reshape(b, h, w, c // r, r).permute(0, 1, 3, 4, 2).reshape(b, h, c // r, r * w)
        v = self.horizontal(v).reshape(b, h, c // r, r, w).permute(0, 1, 4, 2, 3)
        return v.reshape(b, h, w, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        dv = self._vertical(self.norm_v(x))
        dh = self._horizontal(self.norm_h(x + dv))
        return dv + dh
