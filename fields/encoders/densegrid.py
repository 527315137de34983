"""Dense multiresolution grid: one full feature grid per level, d-linear interpolation, 1 to 4 dimensions.

Level ``l`` of ``L`` has ``res_l = max(2, round(base_resolution * b**l))`` vertices per axis, where ``b``
is ``per_level_scale`` (default 2.0) or ``(max_resolution / base_resolution) ** (1 / (L - 1))``. The
vertices sit *on* the unit cube's corners (``align_corners=True`` in ``grid_sample`` terms): grid position
``x * (res_l - 1)``, so a vertex value is reproduced exactly at its vertex and nothing is hashed or aliased.
A level stores ``res_l**d`` feature vectors, so the parameter count is
``n_features_per_level * sum_l res_l**d`` (no padding). Tables start at U(-init_scale, init_scale).
Output: ``(..., n_levels * n_features_per_level)``, level-major, like the hash grid.

Out-of-range inputs are clamped to [0, 1] (so the field is constant outside the unit cube, and its
derivative there is zero); indices never leave the table.

Backends: ``torch`` (the reference) and ``triton`` (fused Triton kernels for CUDA inputs,
``fields.kernels.triton_grid``); ``auto`` picks ``triton`` on CUDA where it works, ``torch`` otherwise.

Difference from tiny-cuda-nn's ``DenseGrid``: that one is the hash grid with every level dense (position
``x * scale + 0.5``, tables padded to a multiple of 8, top-boundary aliasing); use ``hashgrid`` with a
large ``log2_hashmap_size`` for it. This grid is the plain vertex-aligned one, as in Plenoxels/K-Planes.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from fields.config.encoders import DenseGridConfig, level_resolutions
from fields.encoders.base import ENCODERS, Encoder, flatten_batch
from fields.encoders.gather import weighted_gather
from fields.kernels.grid_math import corner_weights, inverse_permutation, spatial_order
from fields.kernels.grid_backend import GridBackend
from fields.kernels.grid_layout import GridLayout

MAX_DIM = 4


@ENCODERS.register("densegrid", aliases=("DenseGrid", "dense"))
class DenseGrid(Encoder):
    Config = DenseGridConfig

    def __init__(self, config: "DenseGrid.Config", in_dim: int):
        super().__init__()
        if not 1 <= in_dim <= MAX_DIM:
            raise ValueError(f"densegrid supports 1 to {MAX_DIM} input dimensions, got {in_dim}")
        self.config = config
        self.in_dim = in_dim
        self.out_dim = config.n_levels * config.n_features_per_level
        self.level_resolutions = config.resolutions()
        sizes = [res**in_dim for res in self.level_resolutions]
        if sum(sizes) * config.n_features_per_level > 2**31:
            raise ValueError(
                f"densegrid would hold {sum(sizes) * config.n_features_per_level} values; lower the resolution"
            )
        self.level_sizes = sizes
        offsets = [0]
        for size in sizes:
            offsets.append(offsets[-1] + size)
        s = config.init_scale
        self.params = nn.Parameter(torch.empty(offsets[-1], config.n_features_per_level).uniform_(-s, s))
        res = torch.tensor(self.level_resolutions, dtype=torch.int64)
        self.register_buffer("_res", res, persistent=False)  # (L,)
        self.register_buffer("_offset", torch.tensor(offsets[:-1], dtype=torch.int64), persistent=False)
        stride = res[:, None] ** torch.arange(in_dim)  # (L, d)
        self.register_buffer("_stride", stride, persistent=False)
        bits = torch.tensor([[(c >> i) & 1 for i in range(in_dim)] for c in range(2**in_dim)], dtype=torch.int64)
        self.register_buffer("_corner_step", stride @ bits.T, persistent=False)  # (L, 2**d)
        self._layout: Optional[GridLayout] = None
        self.lookup_backend = GridBackend("densegrid", config.backend, cpp=False)  # the cpp kernel: hash grids only

    @staticmethod
    def expected_params(config: "DenseGrid.Config", in_dim: int) -> int:
        """Closed form: ``n_features_per_level * sum_l res_l**in_dim``."""
        return config.n_features_per_level * sum(res**in_dim for res in config.resolutions())

    def level_table(self, level: int) -> torch.Tensor:
        """Level ``level`` as a grid ``(res,) * in_dim + (n_features,)``, indexed ``[v_{d-1}, ..., v_0]``
        (the first coordinate varies fastest, as in an image ``[y, x]``). A view of ``params``."""
        start, res = int(self._offset[level]), self.level_resolutions[level]
        table = self.params[start : start + self.level_sizes[level]]
        return table.reshape(*(res,) * self.in_dim, self.config.n_features_per_level)

    def corner_indices(self, cell: torch.Tensor) -> torch.Tensor:
        """``cell (N, L, d)`` int64 lower corners -> ``(N, L, 2**d)`` rows of ``params``; corner ``c``
        has offset bit ``i`` = ``(c >> i) & 1`` along dimension ``i``."""
        base = (cell * self._stride).sum(-1, keepdim=True)
        return base + self._corner_step + self._offset[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (..., in_dim)`` -> ``(..., n_levels * n_features_per_level)``."""
        flat, lead = flatten_batch(x, self.in_dim)
        out = self.lookup_backend.lookup(self.params, flat.clamp(0.0, 1.0), self.layout(), self.torch_lookup)
        return out.reshape(*lead, self.out_dim)

    @property
    def backend_in_use(self) -> str:
        return self.lookup_backend.in_use

    def layout(self) -> GridLayout:
        """The level layout the kernels take (built once): vertex-aligned, ``x * (res - 1)``, the last
        cell closed on both sides."""
        if self._layout is None:
            res = self._res
            self._layout = GridLayout(scale=(res - 1).float(), stride=self._stride, size=res**self.in_dim,
                                      offset=self._offset, hashed=torch.zeros(len(res), dtype=torch.bool), shift=0.0,
                                      smoothstep=self.config.interpolation == "smoothstep", max_cell=res - 2)
        return self._layout

    def torch_lookup(self, table: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
        """The torch backend, also the reference of ``triton``: ``table`` (``params``) and clamped
        ``flat (N, d)`` -> ``(N, out_dim)``. Differentiable twice in ``table`` and ``flat``."""
        order = spatial_order(flat) if flat.shape[0] >= 4096 and not flat.is_cuda else None
        if order is not None:
            flat = flat[order]
        n, levels = flat.shape[0], self.config.n_levels
        top = (self._res - 1).to(flat.dtype)  # (L,)
        pos = flat[:, None, :] * top[None, :, None]  # (N, L, d)
        # the last cell is closed on both sides, so x = 1 lands in it at fraction 1
        cell = torch.minimum(pos.detach().floor(), (top - 1)[None, :, None])
        frac = pos - cell
        index = self.corner_indices(cell.long())
        weights = corner_weights(frac, self.config.interpolation)
        corners = index.shape[-1]
        out = weighted_gather(table, index.reshape(n * levels, corners), weights.reshape(n * levels, corners))
        out = out.reshape(n, self.out_dim)
        if order is not None:
            out = out[inverse_permutation(order)]
        return out


__all__ = ["DenseGrid", "level_resolutions"]
