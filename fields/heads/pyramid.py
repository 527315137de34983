"""Pyramid classifier (MetaFormer / Swin layout): stem, stages of blocks, patch merging, classifier head.

``forward(x (B, C_in, H, W)) -> logits (B, n_classes)``. Inside, tensors are channels-last
``(B, h, w, C)``. The stem is a strided conv (stride 2 for 32x32 inputs, 4 for ImageNet-sized ones)
followed by LayerNorm; between stages, Swin's patch merging (``downsample: merge``): 2x2 neighbours
concatenated, ``LN(4C) -> Linear(4C, C_next)``, or MetaFormer's overlapping downsampling
(``downsample: conv``): ``LN(C) -> Conv3x3(C, C_next, stride 2)``. The head is LayerNorm of the mean
token, then a linear classifier.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fields.config.heads import PyramidClassifierConfig
from fields.heads.block import MetaFormerBlock
from fields.config.heads import StageOptions
from fields.heads.registry import BACKBONES, as_resolution


class PatchMerging(nn.Module):
    """``(B, H, W, C) -> (B, H/2, W/2, C_out)``: 2x2 neighbours -> ``LN(4C) -> Linear(4C, C_out)``."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, out_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        if h % 2 or w % 2:
            raise ValueError(f"patch merging needs an even number of tokens per side, got {h}x{w}")
        x = x.reshape(b, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 4, 2, 5).reshape(b, h // 2, w // 2, 4 * c)
        return self.reduction(self.norm(x))


class ConvDownsample(nn.Module):
    """``(B, H, W, C) -> (B, ceil(H/2), ceil(W/2), C_out)``: ``LN(C) -> Conv3x3(stride 2, padding 1)``."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.conv = nn.Conv2d(dim, out_dim, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.norm(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class ConvStem(nn.Module):
    """``(B, C_in, H, W) -> (B, ceil(H/s), ceil(W/s), C)``: conv with kernel ``k``, stride ``s``, then LN."""

    def __init__(self, in_channels: int, dim: int, kernel: int, stride: int):
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(in_channels, dim, kernel, stride=stride, padding=kernel // 2)
        self.norm = nn.LayerNorm(dim)
        self.kernel = kernel

    def out_resolution(self, resolution: tuple[int, int]) -> tuple[int, int]:
        pad = self.kernel // 2
        return tuple((n + 2 * pad - self.kernel) // self.stride + 1 for n in resolution)  # type: ignore[return-value]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x).permute(0, 2, 3, 1))


def make_stage(
    dim: int, depth: int, mixer: dict[str, Any], resolution, config, drop_paths: list[float]
) -> nn.Sequential:
    """``depth`` MetaFormer blocks at one resolution (shared by the three skeletons)."""
    return nn.Sequential(*(
        MetaFormerBlock(dim, mixer, resolution, channel_mlp=config.channel_mlp, mlp_ratio=config.mlp_ratio,
                        layer_scale=config.layer_scale, drop_path=drop_paths[i], index=i)
        for i in range(depth)
    ))




@BACKBONES.register("pyramid")
class PyramidClassifier(nn.Module):
    """Hierarchical classifier: ``(B, C_in, H, W) -> (B, n_classes)``."""

    Config = PyramidClassifierConfig

    def __init__(self, config: "PyramidClassifier.Config", in_channels: int, n_classes: int, image_size: Any):
        super().__init__()
        self.config = config
        self.stem = ConvStem(in_channels, config.dims[0], config.stem_kernel, config.stem_stride)
        resolution = self.stem.out_resolution(as_resolution(image_size))
        n_blocks = sum(config.depths)
        rates = [config.drop_path * i / max(n_blocks - 1, 1) for i in range(n_blocks)]
        self.stages, self.merges = nn.ModuleList(), nn.ModuleList()
        self.resolutions = []
        for i, (dim, depth) in enumerate(zip(config.dims, config.depths)):
            if i > 0 and config.downsample == "conv":
                self.merges.append(ConvDownsample(config.dims[i - 1], dim))
                resolution = ((resolution[0] + 1) // 2, (resolution[1] + 1) // 2)
            elif i > 0:
                if resolution[0] % 2 or resolution[1] % 2:
                    raise ValueError(
                        f"stage {i}: patch merging needs even token counts, got {resolution[0]}x{resolution[1]}"
                    )
                self.merges.append(PatchMerging(config.dims[i - 1], dim))
                resolution = (resolution[0] // 2, resolution[1] // 2)
            self.resolutions.append(resolution)
            start = sum(config.depths[:i])
            self.stages.append(make_stage(dim, depth, config.mixer[i], resolution, config, rates[start:start + depth]))
        self.norm = nn.LayerNorm(config.dims[-1])
        self.head = nn.Linear(config.dims[-1], n_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, H, W) -> (B, C_last)`` pooled features."""
        x = self.stem(x)
        for i, stage in enumerate(self.stages):
            if i > 0:
                x = self.merges[i - 1](x)
            x = stage(x)
        return self.norm(x.mean(dim=(1, 2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


__all__ = ["PyramidClassifier", "PatchMerging", "ConvDownsample", "ConvStem", "make_stage", "StageOptions"]
