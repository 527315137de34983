"""Activator's GLU in place of attention ("Activator: GLU Activation Function as the Core Component of a
Vision Transformer", Abdullah & Kaya 2024).

``W3(LN(GELU(W1 x)) * LN(W2 x))`` per token: the paper replaces attention (and the MLP) by this gated unit,
so it mixes no tokens at all (``mixes_tokens = False``, ``order_invariant = True``). Use it in the
channel-MLP slot (``channel_mlp: glu``) or pair it with a spatial mixer (a per-stage ``mixer`` list).
"""

from __future__ import annotations

from typing import Any

import torch

from fields.config.mixers import ActivatorGLUConfig
from fields.heads.channel_mlp import GLU
from fields.heads.registry import TokenMixer, register_mixer


@register_mixer("activator", aliases=("glu",))
class ActivatorGLU(TokenMixer):
    """``(B, H, W, C) -> (B, H, W, C)``, each token on its own."""

    mixes_tokens = False
    order_invariant = True

    Config = ActivatorGLUConfig

    def __init__(self, dim: int, resolution=None, **options: Any):
        super().__init__(dim, resolution, **options)
        self.glu = GLU(dim, max(1, round(dim * self.config.hidden_ratio)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        return self.glu(x)
