"""Dynamic Spectrum Mixer (DSM, "Dynamic Spectrum Mixer for Visual Recognition", Hu et al. 2023).

No public code: this is our reading of the paper, labelled as such. The map is taken to the frequency
domain with an orthonormal 2D DCT-II (along H and along W, as matrix products), multiplied channel-wise
by a per-sample mixture of ``K`` learned spectral filters, ``F = sum_k w_k F_k`` with
``w = softmax(Linear(mean over tokens of x))`` (the "dynamic spectrum weights"), and taken back with the
inverse DCT; a ``Linear(C, C)`` projection follows. Filters are ``(K, H, W, C)``, so the resolution is
fixed; they start at ``1 + N(0, 0.02)`` (close to the identity).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from fields.config.mixers import DynamicSpectrumMixerConfig
from fields.heads.registry import TokenMixer, register_mixer


def dct_matrix(n: int) -> torch.Tensor:
    """Orthonormal DCT-II matrix ``D`` (``n x n``): ``X = D x``, ``x = D^T X``."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    d = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    d[0] /= math.sqrt(2.0)
    return d.float()


@register_mixer("spectrum", aliases=("dsm", "dynamic_spectrum"))
class DynamicSpectrumMixer(TokenMixer):
    """``(B, H, W, C) -> (B, H, W, C)``: DCT, dynamic spectral filter, inverse DCT."""

    needs_fixed_resolution = True

    Config = DynamicSpectrumMixerConfig

    def __init__(self, dim: int, resolution=None, **options: Any):
        super().__init__(dim, resolution, **options)
        h, w = self.resolution
        self.register_buffer("dct_h", dct_matrix(h), persistent=False)
        self.register_buffer("dct_w", dct_matrix(w), persistent=False)
        k = self.config.n_filters
        self.filters = nn.Parameter(1.0 + 0.02 * torch.randn(k, h, w, dim))
        self.router = nn.Linear(dim, k)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        dh, dw = self.dct_h.to(x.dtype), self.dct_w.to(x.dtype)
        spec = torch.einsum("uh,bhwc,vw->buvc", dh, x, dw)
        weights = self.router(x.mean(dim=(1, 2))).softmax(dim=-1)  # (B, K)
        filt = torch.einsum("bk,khwc->bhwc", weights, self.filters)
        y = torch.einsum("uh,buvc,vw->bhwc", dh, spec * filt, dw)
        return self.proj(y)
