"""Gated associative memory ("Gated Associative Memory: A Parallel O(N) Architecture for Efficient
Sequence Modeling", Acharya 2025), on the raster scan of the map.

Two parallel paths over the token sequence, both O(N): a local path, a causal depthwise 1D convolution
(kernel ``k``, left padding, as for text; ``causal: false`` centres it), and a global path that retrieves
from a learned associative memory bank ``M`` (``n_slots x C``): ``softmax(x M^T / sqrt(C)) M``. Learned
gates ``sigmoid(Linear(x))`` weigh each path per channel, ``y = g_l * local + g_g * retrieved``,
then ``Linear(C, C)``. Only the local path mixes tokens.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fields.config.mixers import GatedAssociativeMemoryConfig
from fields.heads.registry import TokenMixer, register_mixer


@register_mixer("gam", aliases=("gated_associative_memory",))
class GatedAssociativeMemory(TokenMixer):
    """``(B, H, W, C) -> (B, H, W, C)``."""

    Config = GatedAssociativeMemoryConfig

    def __init__(self, dim: int, resolution=None, **options: Any):
        super().__init__(dim, resolution, **options)
        c = self.config
        self.conv = nn.Conv1d(dim, dim, c.kernel_size, groups=dim)
        self.memory = nn.Parameter(torch.randn(c.n_slots, dim) * dim ** -0.5)
        self.gates = nn.Linear(dim, 2 * dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        b, h, w, c = x.shape
        seq = x.reshape(b, h * w, c)
        k = self.config.kernel_size
        left = k - 1 if self.config.causal else k // 2
        local = self.conv(F.pad(seq.transpose(1, 2), (left, k - 1 - left))).transpose(1, 2)
        retrieved = (seq @ self.memory.t() * c ** -0.5).softmax(dim=-1) @ self.memory
        g_local, g_global = torch.sigmoid(self.gates(seq)).chunk(2, dim=-1)
        return self.out_proj(g_local * local + g_global * retrieved).reshape(b, h, w, c)
