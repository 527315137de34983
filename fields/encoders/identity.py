"""Identity encoding (tiny-cuda-nn's ``Identity``): ``x * scale + offset``, no parameters.

With ``scale: 2, offset: -1`` the coordinates become [-1, 1]^d, centred on the cube's middle: what the
geometric (sphere) initialisation of an SDF MLP expects. Inputs outside [0, 1] pass through unchanged.
"""

from __future__ import annotations


import torch

from fields.config.encoders import IdentityEncodingConfig
from fields.encoders.base import ENCODERS, Encoder


@ENCODERS.register("identity", aliases=("Identity",))
class IdentityEncoding(Encoder):
    """``(..., in_dim)`` -> ``(..., in_dim)``."""

    Config = IdentityEncodingConfig

    def __init__(self, config: "IdentityEncoding.Config", in_dim: int):
        super().__init__()
        self.config = config
        self.in_dim = self.out_dim = in_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.scale == 1.0 and self.config.offset == 0.0:
            return x
        return x * self.config.scale + self.config.offset


__all__ = ["IdentityEncoding"]
