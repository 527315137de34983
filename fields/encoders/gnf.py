"""Low-resolution multi-level feature grids for Gaussian RBFNet (released as GNF).

Level ``l`` is a dense grid of ``resolutions[l]^D`` points with ``channels[l]`` features (default: 6
levels, channels ``[4, 4, 4, 2, 2, 2]``, resolutions log-spaced from 32 to 128, DiF-grid style),
read by d-linear interpolation with corners aligned (``x * (res - 1)``). With ``frequencies`` a level
reads its grid at the periodic "sawtooth" coordinate ``frac(x * f_l)`` (the DiF-grid basis mapping), so a
coarse grid repeats ``f_l`` times across the domain; the default, all 1, is the plain grid. Output
``(..., sum(channels))``, level-major. Features start at U(-init, init): the Gaussian units of the
decoder have zero gradient at features equal to their centres, so the default (0.1) is not tiny.
"""

from __future__ import annotations


import torch
from torch import nn

from fields.config.encoders import GNFGridConfig
from fields.encoders.base import ENCODERS, Encoder, flatten_batch
from fields.encoders.gather import weighted_gather
from fields.kernels.grid_math import corner_weights


@ENCODERS.register("gnf_grid", aliases=("dif_grid",))
class GNFGrid(Encoder):
    Config = GNFGridConfig

    def __init__(self, config: "GNFGrid.Config", in_dim: int):
        super().__init__()
        self.config = config
        self.in_dim = in_dim
        self.out_dim = sum(config.channels)
        self.resolutions = config.level_resolutions()
        self.frequencies = config.frequencies or [1.0] * len(config.channels)
        self.tables = nn.ParameterList(
            nn.Parameter(torch.empty(r**in_dim, c).uniform_(-config.init, config.init))
            for r, c in zip(self.resolutions, config.channels)
        )
        bits = torch.tensor([[(k >> i) & 1 for i in range(in_dim)] for k in range(2**in_dim)], dtype=torch.int64)
        self.register_buffer("_bits", bits, persistent=False)

    def level(self, l: int, x: torch.Tensor) -> torch.Tensor:
        """Features of level ``l``: ``(N, D)`` -> ``(N, channels[l])``."""
        res, f = self.resolutions[l], self.frequencies[l]
        if f != 1.0:
            x = torch.frac(x * f)  # sawtooth; d/dx = f almost everywhere
        pos = x * (res - 1)
        cell = pos.detach().floor().clamp(0, res - 2)
        frac = pos - cell
        stride = torch.tensor([res**i for i in range(self.in_dim)], device=x.device)
        index = (cell.long() * stride).sum(-1, keepdim=True) + self._bits @ stride
        return weighted_gather(self.tables[l], index, corner_weights(frac))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat, lead = flatten_batch(x, self.in_dim)
        flat = flat.clamp(0.0, 1.0)
        out = torch.cat([self.level(l, flat) for l in range(len(self.resolutions))], dim=-1)
        return out.reshape(*lead, self.out_dim)
