"""Hourglass MLP ("Rethinking the shape convention of an MLP"): wide skips, narrow residual branches.

The input is lifted once to a wide ``skip_width`` by a fixed random projection ``z0 = W_in x`` (a
buffer, not trained, unless ``train_input_projection``); then ``n_blocks`` residual blocks
``z <- z + W_up act(W_down norm(z))`` with ``W_down: skip_width -> bottleneck_width`` narrow; the output
is ``y = W_out z``. ``norm`` is LayerNorm (per point) or none: batch statistics do not suit fields,
whose batches are random points.

Initialisation: ``W_in ~ N(0, 1/in_dim)`` (keeps the feature scale), ``W_down`` PyTorch's default,
``W_up`` scaled by ``1/sqrt(n_blocks)`` so the residual stream's variance stays bounded with depth.
Shapes: ``features (..., in_dim) -> (..., out_dim)``. Supports double backward.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fields.config.decoders import HourglassMLPConfig
from fields.decoders.activations import make_activation
from fields.decoders.base import DECODERS, Decoder


class HourglassBlock(nn.Module):
    """``z (..., width) -> z + W_up act(W_down norm(z))``."""

    def __init__(
        self, width: int, bottleneck: int, activation: str = "relu", norm: str = "layernorm", up_scale: float = 1.0
    ):
        super().__init__()
        self.norm = nn.LayerNorm(width) if norm == "layernorm" else nn.Identity()
        self.down = nn.Linear(width, bottleneck)
        self.act = make_activation(activation)
        self.up = nn.Linear(bottleneck, width)
        with torch.no_grad():
            self.up.weight.mul_(up_scale)
            self.up.bias.zero_()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.up(self.act(self.down(self.norm(z))))


@DECODERS.register("hourglass", aliases=("hourglass_mlp",))
class HourglassMLP(Decoder):
    Config = HourglassMLPConfig

    def __init__(self, config: "HourglassMLP.Config", in_dim: int, out_dim: int):
        super().__init__()
        self.config = config
        self.in_dim, self.out_dim = in_dim, out_dim
        generator = torch.Generator().manual_seed(config.seed)
        w_in = torch.randn(config.skip_width, in_dim, generator=generator) / math.sqrt(in_dim)
        if config.train_input_projection:
            self.w_in = nn.Parameter(w_in)
        else:
            self.register_buffer("w_in", w_in)  # saved with the model, so a reload rebuilds the same field
        up_scale = 1.0 / math.sqrt(max(config.n_blocks, 1))
        self.blocks = nn.ModuleList(
            HourglassBlock(config.skip_width, config.bottleneck_width, config.activation, config.norm, up_scale)
            for _ in range(config.n_blocks)
        )
        self.out = nn.Linear(config.skip_width, out_dim)
        self.out_act = make_activation(config.output_activation)

    def forward(self, features: torch.Tensor, coords: torch.Tensor | None = None) -> torch.Tensor:
        z = features @ self.w_in.to(features.dtype).T
        for block in self.blocks:
            z = block(z)
        return self.out_act(self.out(z))


__all__ = ["HourglassMLP", "HourglassBlock"]
