"""Frequency encodings: NeRF positional encoding and random Fourier features (FFN)."""

from __future__ import annotations

import math

import torch
from torch import nn

from fields.config.encoders import FrequencyEncodingConfig, FourierFeaturesConfig
from fields.encoders.base import ENCODERS, Encoder


@ENCODERS.register("frequency", aliases=("Frequency", "positional", "nerf_pe"))
class FrequencyEncoding(Encoder):
    """NeRF positional encoding: ``[x, sin(2^k pi x), cos(2^k pi x)]`` for ``k < n_frequencies``.

    Output ``(..., in_dim * (2 * n_frequencies + include_input))``, ordered ``[x, sin, cos]`` with the
    frequency index fastest within each of sin and cos. No parameters.
    """

    Config = FrequencyEncodingConfig

    def __init__(self, config: "FrequencyEncoding.Config", in_dim: int):
        super().__init__()
        self.config = config
        self.in_dim = in_dim
        self.out_dim = in_dim * (2 * config.n_frequencies + int(config.include_input))
        self.register_buffer("_freq", math.pi * 2.0 ** torch.arange(config.n_frequencies), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        phase = (x[..., None] * self._freq.to(x.dtype)).flatten(-2)  # (..., d * K)
        parts = [x] if self.config.include_input else []
        return torch.cat(parts + [torch.sin(phase), torch.cos(phase)], dim=-1)


@ENCODERS.register("fourier", aliases=("ffn", "random_fourier"))
class FourierFeatures(Encoder):
    """Random Fourier features (Tancik et al., "Fourier Features Let Networks Learn High Frequency
    Functions"): ``[cos(2 pi B x), sin(2 pi B x)]`` with ``B`` of shape ``(n_features, in_dim)`` drawn from
    ``N(0, sigma^2)`` once (a buffer, saved with the model). Output ``(..., 2 * n_features)``."""

    Config = FourierFeaturesConfig

    def __init__(self, config: "FourierFeatures.Config", in_dim: int):
        super().__init__()
        self.config = config
        self.in_dim = in_dim
        self.out_dim = 2 * config.n_features
        generator = torch.Generator().manual_seed(config.seed)
        B = torch.randn(config.n_features, in_dim, generator=generator) * config.sigma
        if config.trainable:
            self.B = nn.Parameter(B)
        else:
            self.register_buffer("B", B)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        phase = 2.0 * math.pi * x @ self.B.to(x.dtype).T
        return torch.cat((torch.cos(phase), torch.sin(phase)), dim=-1)
