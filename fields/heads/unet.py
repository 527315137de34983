"""UNet of MetaFormer blocks for image restoration: ``(B, C_in, H, W) -> (B, C_out, H, W)``.

Encoder levels (blocks, then a 2x2 stride-2 conv down), a bottleneck, decoder levels (2x2 transposed conv
up, fusion with the encoder's skip, blocks), a 3x3 conv out. The skip fusion is ``concat`` (concatenate,
``Linear(2C, C)``), ``add``, or MAXIM's ``cross_gating`` block (each input gated by the other's gate,
both outputs concatenated and projected). With ``global_residual`` (MAXIM, and every restoration net
since DnCNN), the network predicts a correction added to its input, so it starts as the identity.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fields.heads.mixers.maxim import CrossGatingBlock
from fields.config.heads import MetaFormerUNetConfig
from fields.heads.pyramid import make_stage
from fields.heads.registry import BACKBONES, as_resolution


class SkipFusion(nn.Module):
    """Fuse the decoder's upsampled ``y`` with the encoder's skip ``s``, both ``(B, H, W, C)``."""

    def __init__(self, kind: str, dim: int, resolution):
        super().__init__()
        self.kind = kind
        if kind == "cross_gating":
            self.gate = CrossGatingBlock(dim, resolution)
        if kind in ("concat", "cross_gating"):
            self.proj = nn.Linear(2 * dim, dim)

    def forward(self, y: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        if self.kind == "add":
            return y + s
        if self.kind == "cross_gating":
            y, s = self.gate(y, s)
        return self.proj(torch.cat([y, s], dim=-1))


@BACKBONES.register("unet")
class MetaFormerUNet(nn.Module):
    Config = MetaFormerUNetConfig

    def __init__(self, config: "MetaFormerUNet.Config", in_channels: int, out_channels: int, image_size: Any):
        super().__init__()
        self.config = config
        h, w = as_resolution(image_size)
        levels = len(config.dims)
        f = 2 ** (levels - 1)
        if h % f or w % f:
            raise ValueError(f"unet: image size {h}x{w} must be divisible by {f} for {levels} levels")
        if config.global_residual and in_channels != out_channels:
            raise ValueError(
                f"unet: global_residual needs in_channels == out_channels, got {in_channels} and {out_channels}"
            )
        res = [(h // 2**i, w // 2**i) for i in range(levels)]
        d, mixers = config.dims, config.mixer
        self.stem = nn.Conv2d(in_channels, d[0], 3, padding=1)
        rates = [config.drop_path] * max(config.depths)
        self.encoders = nn.ModuleList(make_stage(d[i], config.depths[i], mixers[i], res[i], config, rates)
                                      for i in range(levels - 1))
        self.downs = nn.ModuleList(nn.Conv2d(d[i], d[i + 1], 2, stride=2) for i in range(levels - 1))
        self.bottleneck = make_stage(d[-1], config.depths[-1], mixers[-1], res[-1], config, rates)
        self.ups = nn.ModuleList(nn.ConvTranspose2d(d[i + 1], d[i], 2, stride=2) for i in range(levels - 1))
        self.fusions = nn.ModuleList(SkipFusion(config.skip, d[i], res[i]) for i in range(levels - 1))
        self.decoders = nn.ModuleList(make_stage(d[i], config.depths[i], mixers[i], res[i], config, rates)
                                      for i in range(levels - 1))
        self.norm = nn.LayerNorm(d[0])
        self.out = nn.Conv2d(d[0], out_channels, 3, padding=1)

    @staticmethod
    def _conv(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.stem(image).permute(0, 2, 3, 1)
        skips = []
        for stage, down in zip(self.encoders, self.downs):
            x = stage(x)
            skips.append(x)
            x = self._conv(down, x)
        x = self.bottleneck(x)
        for i in reversed(range(len(self.decoders))):
            x = self.fusions[i](self._conv(self.ups[i], x), skips[i])
            x = self.decoders[i](x)
        y = self.out(self.norm(x).permute(0, 3, 1, 2))
        return image + y if self.config.global_residual else y


__all__ = ["MetaFormerUNet", "SkipFusion"]
