"""The straightforward hash grids, kept as the baselines of the encoder benchmarks (``naive_hashgrid_forward``
per level, ``vectorised_hashgrid_forward`` all levels at once).

It materialises the ``(N, L, 2**d)`` index tensor, gathers ``table[index]`` into an ``(N, L, 2**d, F)``
tensor and lets autograd differentiate the gather (a scatter through ``index_put_``). Same semantics as
``fields.encoders.HashGrid``, so outputs match.
"""

from __future__ import annotations

import torch

from fields.kernels.grid_math import corner_weights
from fields.encoders.hashgrid import PRIMES, HashGrid


def naive_hashgrid_forward(grid: HashGrid, x: torch.Tensor) -> torch.Tensor:
    """``x (N, d)`` -> ``(N, L * F)`` using ``grid``'s tables and level layout."""
    d = grid.in_dim
    x = x.clamp(0, 1)
    outs = []
    corners = torch.tensor([[(c >> i) & 1 for i in range(d)] for c in range(2**d)], device=x.device)
    for level in range(grid.config.n_levels):
        pos = x * grid.level_scales[level] + 0.5
        cell = pos.floor()
        frac = pos - cell
        v = cell.long()[:, None, :] + corners  # (N, C, d)
        res, size = grid.level_resolutions[level], grid.level_sizes[level]
        if res**d <= size:
            index = (v * torch.tensor([res**i for i in range(d)], device=x.device)).sum(-1)
        else:
            index = torch.zeros_like(v[..., 0])
            for i in range(d):
                index ^= v[..., i] * PRIMES[i]
        index = index % size + int(grid._offset[level])
        w = corner_weights(frac, grid.config.interpolation)  # (N, C)
        outs.append((grid.params[index] * w[..., None]).sum(1))
    return torch.cat(outs, dim=-1)


def vectorised_hashgrid_forward(grid: HashGrid, x: torch.Tensor) -> torch.Tensor:
    """The issue's baseline: all levels at once through an ``(N, L, 2**d)`` index tensor,
    ``table[index]`` gathered into ``(N, L, 2**d, F)`` and weighted; autograd scatters in backward."""
    x = x.clamp(0, 1)
    pos = x[:, None, :] * grid._scale.to(x.dtype)[None, :, None] + 0.5  # (N, L, d)
    cell = pos.detach().floor()
    index = grid.corner_indices(cell.long())  # (N, L, C)
    w = corner_weights(pos - cell, grid.config.interpolation)  # (N, L, C)
    return (grid.params[index] * w[..., None]).sum(2).reshape(x.shape[0], grid.out_dim)
