"""CAM: coordinate-aware modulation (Lee et al., "Coordinate-Aware Modulation for Neural Fields").

An MLP in which every hidden layer ``l`` is, before its activation,

    h <- gamma_l(c) * Norm(h) + beta_l(c)

``Norm`` has no learnable affine (``layer``: LayerNorm over each point's channels, the paper's image
setting; ``none``: no normalisation, its dynamic-NeRF setting). ``gamma_l``, ``beta_l`` are read by
(multi)linear interpolation, corners aligned, from small grids over a chosen subset ``c`` of the input
coordinates (``cam_coords``: image ``[0, 1]`` = (x, y) on 32x32; video ``[2]`` = t). Each grid point
holds one scalar shared by all channels (the paper's images) or one value per channel
(``per_channel``, its video setting). ``gamma`` starts at 1 and ``beta`` at 0, so an untrained CAM is
the plain normalised MLP. The grids train with their own learning rate, ``lr * lr_multiplier``
(``param_groups``; the paper's images use 10x).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
import torch.nn.functional as F

from fields.config.decoders import CAMMLPConfig
from fields.decoders.activations import make_activation
from fields.decoders.base import DECODERS, Decoder
from fields.kernels.grid_math import corner_weights


@DECODERS.register("cam_mlp", aliases=("cam",))
class CAMMLP(Decoder):
    Config = CAMMLPConfig

    def __init__(self, config: "CAMMLP.Config", in_dim: int, out_dim: int):
        super().__init__()
        self.config = config
        self.in_dim, self.out_dim = in_dim, out_dim
        widths = [in_dim] + [config.n_neurons] * config.n_hidden_layers + [out_dim]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.act = make_activation(config.activation)
        self.out_act = make_activation(config.output_activation)
        res = config.resolutions()
        points = 1
        for r in res:
            points *= r
        channels = config.n_neurons if config.per_channel else 1
        layers = config.n_hidden_layers
        self.gamma = nn.Parameter(torch.ones(layers, points, channels))
        self.beta = nn.Parameter(torch.zeros(layers, points, channels))
        self.register_buffer("_res", torch.tensor(res, dtype=torch.int64), persistent=False)
        strides = [1]
        for r in res[:-1]:
            strides.append(strides[-1] * r)
        self.register_buffer("_stride", torch.tensor(strides, dtype=torch.int64), persistent=False)
        bits = [[(k >> i) & 1 for i in range(len(res))] for k in range(2 ** len(res))]
        self.register_buffer("_bits", torch.tensor(bits, dtype=torch.int64), persistent=False)  # (2^k, k)

    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        return [
            {"name": "mlp", "params": list(self.linears.parameters()), "lr": lr},
            {"name": "cam_grids", "params": [self.gamma, self.beta], "lr": lr * self.config.lr_multiplier},
        ]

    def modulation(self, coords: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``coords (N, in_coords)`` -> ``gamma, beta``, each ``(layers, N, 1 or n_neurons)``."""
        dims = self.config.cam_coords
        if coords.shape[-1] <= max(dims):
            raise ValueError(f"CAM reads coordinates {dims} but the field's input has {coords.shape[-1]}")
        c = coords[:, dims].clamp(0.0, 1.0)
        scale = (self._res - 1).clamp_min(1).to(c.dtype)
        pos = c * scale
        cell = torch.minimum(pos.detach().floor(), (self._res - 2).clamp_min(0).to(c.dtype))
        frac = pos - cell
        # one-point axes: the "upper" corner repeats the lower one with weight 0
        frac = torch.where(self._res == 1, torch.zeros_like(frac), frac)
        step = torch.where(self._res == 1, 0, 1)
        base = (cell.long() * self._stride).sum(-1, keepdim=True)
        index = base + (self._bits * step * self._stride).sum(-1)  # (N, 2^k)
        weights = corner_weights(frac)  # (N, 2^k)
        gamma = (self.gamma[:, index] * weights[None, :, :, None]).sum(2)
        beta = (self.beta[:, index] * weights[None, :, :, None]).sum(2)
        return gamma.to(coords.dtype), beta.to(coords.dtype)

    def forward(self, features: torch.Tensor, coords: torch.Tensor | None = None) -> torch.Tensor:
        """``features (..., in_dim)``, ``coords (..., in_coords)`` -> ``(..., out_dim)``."""
        if coords is None:
            raise ValueError("cam_mlp needs the field's coordinates (decoder(features, coords))")
        lead = features.shape[:-1]
        h = features.reshape(-1, self.in_dim)
        gamma, beta = self.modulation(coords.reshape(-1, coords.shape[-1]))
        for i, layer in enumerate(self.linears[:-1]):
            h = layer(h)
            if self.config.norm == "layer":
                h = F.layer_norm(h, h.shape[-1:])
            h = self.act(gamma[i] * h + beta[i])
        return self.out_act(self.linears[-1](h)).reshape(*lead, self.out_dim)
