"""Plain MLP over all tokens ("Scaling MLPs: A Tale of Inductive Bias", Bachmann et al. 2023).

The paper's models flatten the whole image and apply MLP blocks to the flat vector: no locality, no
weight sharing, no notion of tokens. As a mixer: flatten ``(H, W, C)`` to one vector of ``H*W*C`` values,
``Linear(HWC, hidden) -> GELU -> Linear(hidden, HWC)`` (the paper's inverted bottleneck turned into a
bottleneck, ``hidden_dim``, because ``HWC`` is already wide). Parameters grow with the resolution, which
is therefore fixed. It is the no-inductive-bias baseline among the mixers.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fields.config.mixers import ScalingMLPConfig
from fields.heads.registry import TokenMixer, register_mixer


@register_mixer("scaling_mlp", aliases=("plain_mlp",))
class ScalingMLP(TokenMixer):
    """``(B, H, W, C) -> (B, H, W, C)`` through one MLP over the flattened map."""

    needs_fixed_resolution = True

    Config = ScalingMLPConfig

    def __init__(self, dim: int, resolution=None, **options: Any):
        super().__init__(dim, resolution, **options)
        n = self.resolution[0] * self.resolution[1] * dim
        self.fc1, self.act, self.fc2 = (
            nn.Linear(n, self.config.hidden_dim),
            nn.GELU(),
            nn.Linear(self.config.hidden_dim, n),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        return self.fc2(self.act(self.fc1(x.flatten(1)))).reshape(x.shape)
