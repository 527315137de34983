"""Decoder contract: ``forward(features (..., in_dim), coords (..., c) | None) -> (..., out_dim)``."""

from __future__ import annotations

import torch
from torch import nn

from fields.config.base import ComponentConfig
from fields.config.decoders import DECODERS  # noqa: F401  (the registry, declared with the configs)
from fields.modules import n_params


class Decoder(nn.Module):
    """Base of every decoder. ``coords`` are the field's input coordinates (CAM reads them)."""

    Config: type[ComponentConfig]
    in_dim: int
    out_dim: int

    def n_params(self) -> int:
        return n_params(self)

    def forward(self, features: torch.Tensor, coords: torch.Tensor | None = None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError
