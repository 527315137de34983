"""Partial convolution with visual attention (PATNet, "Partial Convolution Meets Visual Attention",
Fu et al. 2025).

FasterNet's partial convolution: a 3x3 conv on a fraction (``partial_ratio``, 1/4) of the channels, the
rest left to an attention branch: ``attention: channel`` (PAT_ch) gates them per channel by a sigmoid of
their Gaussian statistics (mean and standard deviation over tokens), ``attention: self`` (PAT_sf) runs
single-head self-attention over all tokens on them. ``spatial_gate`` (PAT_sp, a spatial gate the paper
puts in the MLP) multiplies the result by ``sigmoid(conv7x7([mean_c, max_c]))``: here it sits at the
mixer's output, since the channel-MLP slot is shared by all mixers. BatchNorm instead of the block's
pre-norm (``prenorm = False``, as in FasterNet/PATNet).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fields.config.mixers import PartialConvAttentionConfig
from fields.heads.registry import TokenMixer, register_mixer


@register_mixer("pat", aliases=("patnet", "partial_conv"))
class PartialConvAttention(TokenMixer):
    """``(B, H, W, C) -> (B, H, W, C)``."""

    prenorm = False

    Config = PartialConvAttentionConfig

    def __init__(self, dim: int, resolution=None, **options: Any):
        super().__init__(dim, resolution, **options)
        c = self.config
        self.c1 = max(1, round(dim * c.partial_ratio))
        self.c2 = dim - self.c1
        if self.c2 < 1:
            raise ValueError(f"mixer 'pat' needs dim >= 2 to split channels, got {dim}")
        self.conv = nn.Conv2d(self.c1, self.c1, 3, padding=1, bias=False)
        if c.attention == "channel":
            self.channel_gate = nn.Linear(2 * self.c2, self.c2)
        else:
            self.qkv = nn.Linear(self.c2, 3 * self.c2)
        self.norm = nn.BatchNorm2d(dim)
        if c.spatial_gate:
            self.spatial = nn.Conv2d(2, 1, 7, padding=3)
        self.proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        b, h, w, _ = x.shape
        t = x.permute(0, 3, 1, 2)
        t1, t2 = torch.split(t, (self.c1, self.c2), dim=1)
        y1 = self.conv(t1)
        if self.config.attention == "channel":
            stats = torch.cat([t2.mean(dim=(2, 3)), t2.std(dim=(2, 3))], dim=1)
            y2 = t2 * torch.sigmoid(self.channel_gate(stats))[:, :, None, None]
        else:
            tokens = t2.flatten(2).transpose(1, 2)  # (B, N, C2)
            q, k, v = self.qkv(tokens).chunk(3, dim=-1)
            y2 = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, self.c2, h, w)
        y = self.norm(torch.cat([y1, y2], dim=1))
        if self.config.spatial_gate:
            pooled = torch.cat([y.mean(dim=1, keepdim=True), y.amax(dim=1, keepdim=True)], dim=1)
            y = y * torch.sigmoid(self.spatial(pooled))
        return self.proj(y).permute(0, 2, 3, 1)
