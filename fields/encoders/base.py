"""Encoder contract: ``(..., in_dim)`` coordinates in [0, 1] -> ``(..., out_dim)`` features."""

from __future__ import annotations

import logging

import torch
from torch import nn

from fields.config.base import ComponentConfig
from fields.config.encoders import ENCODERS  # noqa: F401  (the registry, declared with the configs)
from fields.modules import n_params
log = logging.getLogger("fields")


class Encoder(nn.Module):
    """Base of every encoder. Subclasses set ``in_dim`` and ``out_dim`` and define ``Config``.

    ``forward(x)`` must be differentiable in the parameters and in ``x``, twice (the eikonal loss of
    SDF training differentiates ``d field / dx`` again).
    """

    Config: type[ComponentConfig]
    in_dim: int
    out_dim: int

    def n_params(self) -> int:
        return n_params(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, out_dim={self.out_dim}, params={self.n_params()}"


def flatten_batch(x: torch.Tensor, in_dim: int) -> tuple[torch.Tensor, tuple[int, ...]]:
    """``(..., in_dim)`` -> ``(N, in_dim)`` plus the leading shape to restore."""
    if x.shape[-1] != in_dim:
        raise ValueError(f"expected coordinates with last dimension {in_dim}, got shape {tuple(x.shape)}")
    return x.reshape(-1, in_dim), tuple(x.shape[:-1])
