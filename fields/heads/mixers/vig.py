"""ViG: bidirectional gated linear attention with 2D locality gating ("ViG: Linear-complexity Visual
Sequence Learning with Gated Linear Attention", Liao et al. 2025).

A local branch ``l = SiLU(DWConv3x3(Linear(x)))`` gives the queries, keys and values. Gated linear
attention (``fields.heads.mixers.gla``) runs over the raster scan of the tokens forwards and backwards,
each direction with its own decay gate (direction-wise gating), ``log alpha = logsigmoid(g) / 16`` with
``g`` from a low-rank projection (rank 16, as in GLA); the two outputs are summed and normalised per head.
The 2D locality gate mixes the global result with the local branch:
``y = s * o + (1 - s) * l``, ``s = sigmoid(Linear(x))``, then ``Linear(C, C)``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fields.config.mixers import ViGMixerConfig
from fields.heads.mixers.gla import gla_chunked
from fields.heads.registry import TokenMixer, register_mixer


class DecayGate(nn.Module):
    """Low-rank ``x -> log alpha`` in ``(-inf, 0)``: ``logsigmoid(W2 W1 x + b) / normaliser``."""

    def __init__(self, dim: int, rank: int, normaliser: float):
        super().__init__()
        self.down, self.up = nn.Linear(dim, rank, bias=False), nn.Linear(rank, dim)
        self.normaliser = normaliser

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.logsigmoid(self.up(self.down(x))) / self.normaliser


@register_mixer("vig", aliases=("gla", "gated_linear_attention"))
class ViGMixer(TokenMixer):
    """``(B, H, W, C) -> (B, H, W, C)``: bidirectional GLA over the raster scan, gated with a local branch."""

    Config = ViGMixerConfig

    def __init__(self, dim: int, resolution=None, **options: Any):
        super().__init__(dim, resolution, **options)
        c = self.config
        self.heads = max(1, dim // c.head_dim)
        if dim % self.heads:
            raise ValueError(f"mixer 'vig': dim {dim} is not divisible into {self.heads} heads")
        self.in_proj = nn.Linear(dim, dim)
        self.dwconv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.decay_fwd = DecayGate(dim, c.gate_rank, c.gate_normaliser)
        self.decay_bwd = DecayGate(dim, c.gate_rank, c.gate_normaliser)
        self.head_norm = nn.LayerNorm(dim // self.heads)
        self.locality_gate = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        b, n, c = t.shape
        return t.reshape(b, n, self.heads, c // self.heads).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        b, h, w, c = x.shape
        local = self.in_proj(x).permute(0, 3, 1, 2)
        local = F.silu(self.dwconv(local)).permute(0, 2, 3, 1).reshape(b, h * w, c)
        q, k, v = (self._heads(t) for t in self.qkv(local).chunk(3, dim=-1))
        q = q * (c // self.heads) ** -0.5
        la_f, la_b = self._heads(self.decay_fwd(local)), self._heads(self.decay_bwd(local))
        # both scan directions in one call: the backward scan is the flipped sequence, stacked on the batch
        both = [torch.cat([t, t.flip(2)]) for t in (q, k, v)] + [torch.cat([la_f, la_b.flip(2)])]
        fwd, bwd = gla_chunked(*both, chunk=self.config.chunk_size).chunk(2)
        o = self.head_norm(fwd + bwd.flip(2)).transpose(1, 2).reshape(b, h * w, c)
        s = torch.sigmoid(self.locality_gate(x.reshape(b, h * w, c)))
        return self.out_proj(s * o + (1 - s) * local).reshape(b, h, w, c)
