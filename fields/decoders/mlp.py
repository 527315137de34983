"""Fully connected decoder (tiny-cuda-nn vocabulary: ``n_neurons``, ``n_hidden_layers``, ``activation``).

Initialisations: ``default`` (PyTorch's), ``siren`` (Sitzmann et al.: sine activations, first layer
``omega_0 = 30``, uniform(+-sqrt(6/n)/omega_0) after), ``geometric`` (Atzmon & Lipman, SAL: the field starts
as the SDF of a sphere of radius ``geometric_radius``; use with ``softplus100`` or ``relu``).
Geometric init reads the first ``geometric_inputs`` features as the coordinates (all features when
unset) and starts the first layer's weights on the other features at zero, as NeuS does with a
positional encoding (``frequency`` with ``include_input`` puts the coordinates first); the sphere is
centred at ``geometric_center`` in every coordinate (0.5: the middle of the unit cube when the features
are the raw [0, 1] coordinates). With ``softplus100`` each unit adds ``ln 2 / 100`` at zero, so wide
layers raise the start value (the last hidden layer alone adds about ``0.012 * sqrt(width)``); ``relu`` does not.
Optional weight normalisation. Supports double backward.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrize

from fields.config.decoders import MLPConfig
from fields.decoders.activations import Sine, make_activation
from fields.decoders.base import DECODERS, Decoder


class WeightNorm(nn.Module):
    """Weight normalisation ``w = g * v / |v|`` per output row (Salimans & Kingma), from plain ops:
    PyTorch's fused ``_weight_norm`` (behind ``nn.utils.parametrizations.weight_norm``) gets the second
    derivative in ``v`` wrong (gradgradcheck fails, torch 2.13 CPU). Same parameter names and layout
    (``original0 = g (out, 1)``, ``original1 = v``)."""

    def forward(self, g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return g * v / v.norm(dim=1, keepdim=True)

    def right_inverse(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return weight.norm(dim=1, keepdim=True), weight


@DECODERS.register("mlp", aliases=("FullyFusedMLP", "CutlassMLP", "MLP"))
class MLP(Decoder):
    Config = MLPConfig

    def __init__(self, config: "MLP.Config", in_dim: int, out_dim: int):
        super().__init__()
        self.config = config
        self.in_dim, self.out_dim = in_dim, out_dim
        widths = [in_dim] + [config.n_neurons] * config.n_hidden_layers + [out_dim]
        self.linears = nn.ModuleList(nn.Linear(a, b, bias=config.bias) for a, b in zip(widths[:-1], widths[1:]))
        if config.init == "siren":
            self.acts = nn.ModuleList(
                Sine(config.siren_omega_0 if i == 0 else 1.0) for i in range(len(self.linears) - 1)
            )
        else:
            self.acts = nn.ModuleList(make_activation(config.activation) for _ in range(len(self.linears) - 1))
        self.out_act = make_activation(config.output_activation)
        self._initialise()
        if config.weight_norm:
            for layer in self.linears:
                parametrize.register_parametrization(layer, "weight", WeightNorm(), unsafe=True)

    @torch.no_grad()
    def _initialise(self) -> None:
        c = self.config
        n = len(self.linears)
        for i, layer in enumerate(self.linears):
            fan_in, fan_out = layer.in_features, layer.out_features
            if c.init == "siren":
                # hidden layers use sin(x) with weights U(+-sqrt(6/n)), the same as SIREN's
                # sin(omega_0 x) with weights U(+-sqrt(6/n)/omega_0)
                bound = 1.0 / fan_in if i == 0 else math.sqrt(6.0 / fan_in)
                layer.weight.uniform_(-bound, bound)
            elif c.init == "geometric":
                if i == n - 1:
                    layer.weight.normal_(math.sqrt(math.pi) / math.sqrt(fan_in), 1e-4)
                    if layer.bias is not None:
                        layer.bias.fill_(-c.geometric_radius)
                    continue
                layer.weight.normal_(0.0, math.sqrt(2.0) / math.sqrt(fan_out))
            if c.init == "geometric" and layer.bias is not None:
                layer.bias.zero_()
            if c.init == "geometric" and i == 0:
                k = min(c.geometric_inputs or fan_in, fan_in)
                layer.weight[:, k:] = 0.0
                if layer.bias is not None:  # h = W (x - centre)
                    layer.bias.copy_(-c.geometric_center * layer.weight[:, :k].sum(1))

    def forward(self, features: torch.Tensor, coords: torch.Tensor | None = None) -> torch.Tensor:
        h = features
        inplace = not torch.is_grad_enabled()  # inference: ReLU in place, no second buffer per layer
        for layer, act in zip(self.linears[:-1], self.acts):
            h = layer(h)
            h = h.relu_() if inplace and type(act) is nn.ReLU else act(h)
        return self.out_act(self.linears[-1](h))
