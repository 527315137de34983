"""Gaussian RBFNet's decoder: one layer of ``N`` Gaussian RBF units in feature space, then a linear readout.

    phi_j(f) = exp(-1/2 sum_d beta_jd (f_d - mu_jd)^2),   beta = exp(log_beta),   y = W phi + b

``mu`` starts at U(-1e-4, 1e-4) and ``log_beta`` at 0 (beta = 1). The squared distances are computed by
expanding the square, ``f^2 . beta - 2 f . (beta mu) + mu^2 . beta``, as two ``(B, F) x (F, N)``
products, so no ``(B, N, F)`` tensor is built; rounding can make the expansion slightly negative, so it
is clamped at 0.
"""

from __future__ import annotations


import torch
from torch import nn

from fields.config.decoders import GaussianRBFConfig
from fields.decoders.activations import make_activation
from fields.decoders.base import DECODERS, Decoder


@DECODERS.register("gaussian_rbf", aliases=("gnf", "rbf_layer"))
class GaussianRBF(Decoder):
    Config = GaussianRBFConfig

    def __init__(self, config: "GaussianRBF.Config", in_dim: int, out_dim: int):
        super().__init__()
        self.config = config
        self.in_dim, self.out_dim = in_dim, out_dim
        self.mu = nn.Parameter(torch.empty(config.n_units, in_dim).uniform_(-config.mu_init, config.mu_init))
        self.log_beta = nn.Parameter(torch.full((config.n_units, in_dim), float(config.log_beta_init)))
        self.readout = nn.Linear(config.n_units, out_dim)
        self.out_act = make_activation(config.output_activation)

    def squared_distances(self, features: torch.Tensor) -> torch.Tensor:
        """``sum_d beta_jd (f_d - mu_jd)^2``: ``(B, F)`` -> ``(B, N)``."""
        beta = self.log_beta.exp().to(features.dtype)
        mu = self.mu.to(features.dtype)
        dist = features.square() @ beta.T - 2.0 * features @ (beta * mu).T + (beta * mu.square()).sum(-1)
        return dist.clamp_min(0.0)

    def activations(self, features: torch.Tensor) -> torch.Tensor:
        """The Gaussian units ``phi``: ``(..., F)`` -> ``(..., N)``."""
        flat = features.reshape(-1, self.in_dim)
        return torch.exp(-0.5 * self.squared_distances(flat)).reshape(*features.shape[:-1], self.mu.shape[0])

    def forward(self, features: torch.Tensor, coords: torch.Tensor | None = None) -> torch.Tensor:
        """``(..., in_dim)`` -> ``(..., out_dim)``."""
        return self.out_act(self.readout(self.activations(features)))
