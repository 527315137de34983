"""The Instant-NGP-like radiance field: position encoding -> density decoder -> (trunc-exp density, geometry
features); view-direction encoding + features -> colour decoder -> sigmoid colour.

The density decoder is an MLP unless ``density_decoder`` names another decoder (Gaussian RBFNet's
``gaussian_rbf`` after a ``gnf_grid``). The colour decoder gets the encoded direction ``(d + 1) / 2``
as its ``coords``, so ``cam_mlp`` with ``cam_coords: [0, 1, 2]`` modulates by the view direction
(CAM's static-NeRF setting); other decoders ignore it.

Positions are unit-frame points; the field reads them in the box ``[lo, lo + size]^3`` (the occupancy
grid's outermost level, ``[0, 1]^3`` for one level) mapped to [0, 1], or, with a ``contraction``
(unbounded scenes), through it. ``appearance_dim`` values of a per-image code join the colour
decoder's input (``forward(x, d, codes)``). Directions ``d`` are unit vectors,
encoded as ``(d + 1) / 2`` (tiny-cuda-nn's convention for spherical harmonics).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from fields.decoders import DECODERS
from fields.decoders.activations import TruncExp, make_activation
from fields.decoders.mlp import MLP
from fields.encoders import ENCODERS
from fields.models.contraction import SceneContraction
from fields.modules import n_params


class RadianceField(nn.Module):
    """``encoder`` (positions), ``density_decoder``, ``direction_encoder``, ``decoder`` (colour)."""

    def __init__(self, model: Any, direction_encoder: Any, density_neurons: int = 64, density_hidden_layers: int = 1,
                 geo_feat_dim: int = 15, box: tuple[float, float] = (0.0, 1.0), density_decoder: Any = None,
                 contraction: Optional[SceneContraction] = None, appearance_dim: int = 0):
        super().__init__()
        self.encoder = ENCODERS.build(model.encoder, 3)
        if density_decoder is None:
            self.density_decoder = MLP(MLP.Config(n_neurons=density_neurons, n_hidden_layers=density_hidden_layers),
                                       self.encoder.out_dim, 1 + geo_feat_dim)
        else:
            self.density_decoder = DECODERS.build(density_decoder, self.encoder.out_dim, 1 + geo_feat_dim)
        self.direction_encoder = ENCODERS.build(direction_encoder, 3)
        self.appearance_dim = appearance_dim
        self.decoder = DECODERS.build(model.decoder, self.direction_encoder.out_dim + geo_feat_dim + appearance_dim, 3)
        self.rgb_activation = make_activation(model.output_activation)
        self.box_lo, self.box_size = box
        self.contraction = contraction

    def to_field(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., 3)`` unit-frame points -> the encoder's ``[0, 1]^3``."""
        if self.contraction is not None:
            return self.contraction.to_field(x)
        return ((x - self.box_lo) / self.box_size).clamp(0.0, 1.0)

    def _features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u = self.to_field(x)
        h = self.density_decoder(self.encoder(u))
        return TruncExp.apply(h[..., 0] - 1.0), h[..., 1:]

    def density(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., 3)`` unit-frame points -> ``(...)`` density."""
        return self._features(x)[0]

    def forward(self, x: torch.Tensor, d: torch.Tensor, codes: Optional[torch.Tensor] = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """points ``(..., 3)``, unit directions ``(..., 3)``, appearance codes ``(..., appearance_dim)`` ->
        ``rgb (..., 3)``, ``sigma (...)``."""
        sigma, geo = self._features(x)
        u = (d + 1.0) / 2.0
        parts = [self.direction_encoder(u), geo]
        if self.appearance_dim:
            parts.append(codes if codes is not None else geo.new_zeros(*geo.shape[:-1], self.appearance_dim))
        h = torch.cat(parts, dim=-1)
        return self.rgb_activation(self.decoder(h, u)), sigma

    def n_params(self) -> int:
        return n_params(self)

    def param_groups(self, optimizer: Any) -> list[dict[str, Any]]:
        """The position encoder at ``encoder_lr``, the decoders at ``decoder_lr`` (both default ``lr``); a
        colour decoder with its own ``param_groups(lr)`` (CAM's grids at a multiple) sets its groups."""
        dec_lr = optimizer.decoder_lr or optimizer.lr
        enc = [p for p in self.encoder.parameters() if p.requires_grad]
        taken = {id(p) for p in enc}
        groups = []
        if enc:
            groups.append({"name": "encoder", "params": enc, "lr": optimizer.encoder_lr or optimizer.lr})
        if hasattr(self.decoder, "param_groups"):
            for group in self.decoder.param_groups(dec_lr):
                params = [p for p in group["params"] if p.requires_grad]
                taken.update(id(p) for p in params)
                groups.append({**group, "name": f"decoder.{group.get('name', 'params')}", "params": params})
        rest = [p for p in self.parameters() if p.requires_grad and id(p) not in taken]
        if rest:
            groups.append({"name": "decoder", "params": rest, "lr": dec_lr})
        return groups
