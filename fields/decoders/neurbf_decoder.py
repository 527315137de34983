"""NeuRBF's decoder: an MLP whose first layer is followed by ``h + sin(h * m')`` instead of a ReLU.

``m'`` holds ``n_neurons`` frequencies log-spaced over ``sin_frequency_range`` (one per channel, no
parameters; [10, 100] for single images, [1, 1000] DIV2K, [30, 300] SDFs). The remaining hidden layers
use ``activation`` (ReLU). With the default 2 hidden layers of 64 this is the paper's 3 linear layers.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fields.config.decoders import NeuRBFDecoderConfig
from fields.decoders.activations import make_activation
from fields.decoders.base import DECODERS, Decoder


@DECODERS.register("neurbf_mlp", aliases=("neurbf_decoder",))
class NeuRBFDecoder(Decoder):
    Config = NeuRBFDecoderConfig

    def __init__(self, config: "NeuRBFDecoder.Config", in_dim: int, out_dim: int):
        super().__init__()
        self.config = config
        self.in_dim, self.out_dim = in_dim, out_dim
        widths = [in_dim] + [config.n_neurons] * config.n_hidden_layers + [out_dim]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        low, high = config.sin_frequency_range
        freqs = torch.logspace(math.log2(low), math.log2(high), config.n_neurons, base=2.0)
        self.register_buffer("sin_frequencies", freqs, persistent=False)
        self.act = make_activation(config.activation)
        self.out_act = make_activation(config.output_activation)

    def forward(self, features: torch.Tensor, coords: torch.Tensor | None = None) -> torch.Tensor:
        """``(..., in_dim)`` -> ``(..., out_dim)``."""
        h = self.linears[0](features)
        h = h + torch.sin(h * self.sin_frequencies.to(h.dtype))
        for layer in self.linears[1:-1]:
            h = self.act(layer(h))
        return self.out_act(self.linears[-1](h))
