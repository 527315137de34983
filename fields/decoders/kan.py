"""Kolmogorov-Arnold decoders: GR-KAN (Kolmogorov-Arnold Transformer) and selectable-activation KAN (S-KAN).

Reusable layers, usable anywhere an MLP is (heads use them as channel MLPs):

- ``GRKANLayer(in, out)``: ``y = W F(x) + c`` with ``F`` a group-wise rational (``rational.py``);
  variance-preserving init ``W ~ N(0, 1 / (in * E[F(x)^2]))`` for ``x ~ N(0, 1)``, ``c = 0``.
- ``GRKAN(dim, hidden)``: KAT's channel MLP ``fc2(F2(fc1(F1(x))))``, F1 identity, F2 swish: ``(..., C) -> (..., C)``.
- ``SelectableKANLayer(in, out)`` (``selectable.py``).

Registered decoders ``gr_kan`` and ``s_kan`` stack such layers with widths
``in_dim -> n_neurons (x n_hidden_layers) -> out_dim``; ``n_hidden_layers: 1`` is exactly KAT's block.
Both support double backward.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

from fields.config.decoders import GRKANDecoderConfig, SelectableKANDecoderConfig
from fields.decoders.activations import make_activation
from fields.decoders.base import DECODERS, Decoder
from fields.decoders.rational import GroupRational, QForm, RationalInit
from fields.decoders.selectable import SelectableKANLayer


class GRKANLayer(nn.Module):
    """``x (..., in_features) -> W F(x) + c (..., out_features)``, ``F`` group-wise rational."""

    def __init__(self, in_features: int, out_features: int, n_groups: int = 8, init: RationalInit = "identity",
                 q_form: QForm = "sum_abs", bias: bool = True):
        super().__init__()
        self.rational = GroupRational(in_features, n_groups, init, q_form)
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        with torch.no_grad():
            std = 1.0 / math.sqrt(in_features * self.rational.second_moment())
            self.linear.weight.normal_(0.0, std)
            if bias:
                self.linear.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.rational(x))


class GRKAN(nn.Module):
    """KAT's channel MLP: ``fc2(F2(fc1(F1(x))))``, ``(..., dim) -> (..., out_dim or dim)``."""

    def __init__(self, dim: int, hidden_dim: Optional[int] = None, out_dim: Optional[int] = None, n_groups: int = 8,
                 act_init: RationalInit = "swish", q_form: QForm = "sum_abs"):
        super().__init__()
        hidden_dim = hidden_dim or 4 * dim
        self.fc1 = GRKANLayer(dim, hidden_dim, n_groups, "identity", q_form)
        self.fc2 = GRKANLayer(hidden_dim, out_dim or dim, n_groups, act_init, q_form)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.fc1(x))


def _widths(in_dim: int, n_neurons: int, n_hidden_layers: int, out_dim: int) -> list[int]:
    return [in_dim] + [n_neurons] * n_hidden_layers + [out_dim]


@DECODERS.register("gr_kan", aliases=("grkan", "kat"))
class GRKANDecoder(Decoder):
    """Stack of GR-KAN layers; the first rational starts as the identity, the others as ``hidden_init``."""

    Config = GRKANDecoderConfig

    def __init__(self, config: "GRKANDecoder.Config", in_dim: int, out_dim: int):
        super().__init__()
        self.config = config
        self.in_dim, self.out_dim = in_dim, out_dim
        widths = _widths(in_dim, config.n_neurons, config.n_hidden_layers, out_dim)
        self.layers = nn.ModuleList(
            GRKANLayer(a, b, config.n_groups, "identity" if i == 0 else config.hidden_init, config.q_form)
            for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]))
        )
        self.out_act = make_activation(config.output_activation)

    def forward(self, features: torch.Tensor, coords: torch.Tensor | None = None) -> torch.Tensor:
        h = features
        for layer in self.layers:
            h = layer(h)
        return self.out_act(h)


@DECODERS.register("s_kan", aliases=("skan", "selectable_kan"))
class SelectableKANDecoder(Decoder):
    """Stack of selectable-activation KAN layers. ``harden()`` commits every node to its best family."""

    Config = SelectableKANDecoderConfig

    def __init__(self, config: "SelectableKANDecoder.Config", in_dim: int, out_dim: int):
        super().__init__()
        self.config = config
        self.in_dim, self.out_dim = in_dim, out_dim
        widths = _widths(in_dim, config.n_neurons, config.n_hidden_layers, out_dim)
        self.layers = nn.ModuleList(
            SelectableKANLayer(a, b, config.families, config.n_basis, config.selection, config.temperature)
            for a, b in zip(widths[:-1], widths[1:])
        )
        self.out_act = make_activation(config.output_activation)

    def harden(self) -> None:
        for layer in self.layers:
            layer.harden()

    def forward(self, features: torch.Tensor, coords: torch.Tensor | None = None) -> torch.Tensor:
        h = features
        for layer in self.layers:
            h = layer(h)
        return self.out_act(h)


__all__ = ["GRKANLayer", "GRKAN", "GRKANDecoder", "SelectableKANDecoder", "SelectableKANLayer"]
