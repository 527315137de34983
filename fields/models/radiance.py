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

from typing import Optional

import torch

from fields.decoders import DECODERS
from fields.decoders.activations import TruncExp, make_activation
from fields.decoders.mlp import MLP
from fields.encoders import ENCODERS
from fields.models.base import FieldBase
from fields.config.models import MODELS, RadianceModelConfig
from fields.models.contraction import SceneContraction


@MODELS.register("radiance")
class RadianceField(FieldBase):
    """``model.type: radiance``: ``encoder`` (positions), ``density_decoder``, ``direction_encoder``,
    ``decoder`` (colour)."""

    Config = RadianceModelConfig

    def __init__(self, config: RadianceModelConfig, box: tuple[float, float] = (0.0, 1.0),
                 contraction: Optional[SceneContraction] = None, appearance_dim: int = 0):
        super().__init__()
        geo = config.geo_feat_dim
        self.encoder = ENCODERS.build(config.encoder, 3)
        if config.density_decoder is None:
            mlp = MLP.Config(n_neurons=config.density_neurons, n_hidden_layers=config.density_hidden_layers)
            self.density_decoder = MLP(mlp, self.encoder.out_dim, 1 + geo)
        else:
            self.density_decoder = DECODERS.build(config.density_decoder, self.encoder.out_dim, 1 + geo)
        self.direction_encoder = ENCODERS.build(config.direction_encoder, 3)
        self.appearance_dim = appearance_dim
        self.decoder = DECODERS.build(config.decoder, self.direction_encoder.out_dim + geo + appearance_dim, 3)
        self.rgb_activation = make_activation(config.output_activation)
        self.box_lo, self.box_size = box
        self.contraction = contraction

    def to_field(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., 3)`` unit-frame points -> the encoder's ``[0, 1]^3``."""
        if self.contraction is not None:
            return self.contraction.to_field(x)
        return ((x - self.box_lo) / self.box_size).clamp(0.0, 1.0)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(..., 3)`` unit-frame points -> ``sigma (...)`` and the colour decoder's geometry features."""
        u = self.to_field(x)
        h = self.density_decoder(self.encoder(u))
        return TruncExp.apply(h[..., 0] - 1.0), h[..., 1:]

    def get_density(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., 3)`` unit-frame points -> ``(...)`` density."""
        return self.features(x)[0]

    density = get_density

    def forward(self, x: torch.Tensor, d: torch.Tensor, codes: Optional[torch.Tensor] = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """points ``(..., 3)``, unit directions ``(..., 3)``, appearance codes ``(..., appearance_dim)`` ->
        ``rgb (..., 3)``, ``sigma (...)``."""
        sigma, geo = self.features(x)
        return self.colour(geo, d, codes), sigma

    def colour(self, geo: torch.Tensor, d: torch.Tensor, codes: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Geometry features ``(..., geo_feat_dim)`` (``features``), unit directions ``(..., 3)``, codes ->
        ``rgb (..., 3)`` (inference evaluates it only where a sample shows)."""
        u = (d + 1.0) / 2.0
        parts = [self.direction_encoder(u), geo]
        if self.appearance_dim:
            parts.append(codes if codes is not None else geo.new_zeros(*geo.shape[:-1], self.appearance_dim))
        h = torch.cat(parts, dim=-1)
        return self.rgb_activation(self.decoder(h, u))
