"""Gated attention ("Gated Attention for Large Language Models", Qiu et al. 2025).

Multi-head scaled dot-product attention over all ``H*W`` tokens, its output multiplied by a sigmoid gate
computed from the same input, ``SDPA(q, k, v) * sigmoid(X W_g)``, before the output projection (the
paper's best position, G1, elementwise per head channel; ``gate: headwise`` uses one scalar per head).
No positional encoding is added here (the paper uses RoPE for text; a 2D image has its stem's conv
positions), so the mixer is order invariant.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fields.config.mixers import GatedAttentionConfig
from fields.heads.registry import TokenMixer, register_mixer


@register_mixer("gated_attention", aliases=("gated_sdpa",))
class GatedAttention(TokenMixer):
    """``(B, H, W, C) -> (B, H, W, C)``: global attention with a sigmoid output gate."""

    order_invariant = True

    Config = GatedAttentionConfig

    def __init__(self, dim: int, resolution=None, **options: Any):
        super().__init__(dim, resolution, **options)
        self.heads = max(1, dim // self.config.head_dim)
        if dim % self.heads:
            raise ValueError(f"mixer 'gated_attention': dim {dim} is not divisible into {self.heads} heads")
        self.qkv = nn.Linear(dim, 3 * dim, bias=self.config.qkv_bias)
        self.gate = nn.Linear(dim, dim if self.config.gate == "elementwise" else self.heads)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        b, h, w, c = x.shape
        tokens = x.reshape(b, h * w, c)
        q, k, v = self.qkv(tokens).reshape(b, h * w, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2)  # (B, N, heads, hd)
        g = torch.sigmoid(self.gate(tokens))
        g = g.reshape(b, h * w, self.heads, -1)  # (.., hd) elementwise or (.., 1) headwise
        return self.proj((out * g).reshape(b, h * w, c)).reshape(b, h, w, c)
