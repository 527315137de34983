"""PfLayer max-pool mixing ("Learning Features with Parameter-Free Layers", Han et al. 2022).

``Linear(C, eC) -> GELU -> maxpool k x k (stride 1) -> GELU -> Linear(eC, C)``: the spatial operation is a
parameter-free max-pool in place of a depthwise conv or attention; the learned part is per token.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fields.config.mixers import PfLayerConfig
from fields.heads.registry import TokenMixer, register_mixer


@register_mixer("pflayer", aliases=("maxpool", "parameter_free"))
class PfLayer(TokenMixer):
    """``(B, H, W, C) -> (B, H, W, C)``."""

    Config = PfLayerConfig

    def __init__(self, dim: int, resolution=None, **options: Any):
        super().__init__(dim, resolution, **options)
        hidden = dim * self.config.expansion
        self.fc1, self.fc2, self.act = nn.Linear(dim, hidden), nn.Linear(hidden, dim), nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        k = self.config.pool_size
        h = self.act(self.fc1(x)).permute(0, 3, 1, 2)
        h = F.max_pool2d(h, k, stride=1, padding=k // 2).permute(0, 2, 3, 1)
        return self.fc2(self.act(h))
