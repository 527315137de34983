"""Isotropic MetaFormer (ViT / MLP-Mixer layout): patch embedding, ``depth`` blocks at one width and
resolution, LayerNorm of the mean token, linear classifier. ``(B, C_in, H, W) -> (B, n_classes)``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fields.heads.pyramid import make_stage
from fields.config.heads import IsotropicClassifierConfig
from fields.heads.registry import BACKBONES, as_resolution


@BACKBONES.register("isotropic")
class IsotropicClassifier(nn.Module):
    Config = IsotropicClassifierConfig

    def __init__(self, config: "IsotropicClassifier.Config", in_channels: int, n_classes: int, image_size: Any):
        super().__init__()
        self.config = config
        h, w = as_resolution(image_size)
        p = config.patch_size
        if h % p or w % p:
            raise ValueError(f"isotropic: image size {h}x{w} is not divisible by patch_size {p}")
        self.resolution = (h // p, w // p)
        self.embed = nn.Conv2d(in_channels, config.dim, p, stride=p)
        rates = [config.drop_path * i / max(config.depth - 1, 1) for i in range(config.depth)]
        self.blocks = make_stage(config.dim, config.depth, config.mixer, self.resolution, config, rates)
        self.norm = nn.LayerNorm(config.dim)
        self.head = nn.Linear(config.dim, n_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, H, W) -> (B, dim)``."""
        x = self.blocks(self.embed(x).permute(0, 2, 3, 1))
        return self.norm(x.mean(dim=(1, 2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


__all__ = ["IsotropicClassifier"]
