"""Empty-space skipping for sphere tracing: a coarse grid of the cells a surface may pass through.

The field is sampled once on a ``(G+1)^3`` lattice of the unit cube. A cell is a *candidate* when the
surface may pass through it: for an SDF with slope bound ``L``, ``min |f(corner)| <= 1.5 L h sqrt(3) / 2``
(a zero inside the cell lies within ``h sqrt(3) / 2`` of some corner; 1.5 is slack for neural SDFs whose
slope exceeds ``L``); for occupancy logits (no distance), a sign change among the corners, dilated by one
cell. Each cell also stores its Chebyshev distance ``k`` (in cells) to the nearest candidate, so a ray in
a non-candidate cell jumps ``max((k - 1) h, distance to the cell's exit)`` with no field query.

Missed by construction: features thinner than what the grid resolves in occupancy mode (a sign change
between two lattice points) and SDF surfaces whose slope exceeds ``1.5 L``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F


@dataclass
class CoarseGrid:
    resolution: int  # G cells per side of the unit cube
    candidate: torch.Tensor  # (G^3,) bool, flat index (i * G + j) * G + k for cell (x_i, y_j, z_k)
    skip: torch.Tensor  # (G^3,) float: Chebyshev distance in cells to the nearest candidate (capped)

    def cells(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Cells of unit-cube points ``x (N, 3)``: integer coordinates ``(N, 3)`` and flat indices ``(N,)``."""
        g = self.resolution
        cell = (x * g).floor().long().clamp_(0, g - 1)
        return cell, (cell[:, 0] * g + cell[:, 1]) * g + cell[:, 2]

    def jump(self, x: torch.Tensor, d: torch.Tensor, cell: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
        """How far rays at ``x`` along ``d (N, 3)`` in non-candidate ``cell``/``flat`` may move with no field
        query: past their cell, and past every cell closer than the nearest candidate, ``(N,)``."""
        h = 1.0 / self.resolution
        bound = torch.where(d > 0, (cell + 1) * h, cell * h)
        exit = ((bound - x) / torch.where(d.abs() < 1e-12, torch.full_like(d, 1e-12), d)).abs().amin(-1)
        return torch.maximum((self.skip[flat] - 1.0) * h, exit) + 1e-4 * h


def lattice_points(resolution: int) -> torch.Tensor:
    """The ``(G+1)^3`` lattice of the unit cube, ``((G+1)^3, 3)``, x slowest."""
    axis = torch.linspace(0.0, 1.0, resolution + 1)
    return torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)


def coarse_grid(values: torch.Tensor, lipschitz: Optional[float], max_skip: int = 16) -> CoarseGrid:
    """Candidate cells and skip distances from lattice values ``(G+1, G+1, G+1)`` of a field that is
    negative inside: an SDF with slope bound ``lipschitz``, or logits (``lipschitz=None``)."""
    g = values.shape[0] - 1
    corners = torch.stack([values[a : a + g, b : b + g, c : c + g] for a in (0, 1) for b in (0, 1) for c in (0, 1)])
    if lipschitz is not None:
        candidate = corners.abs().amin(0) <= 1.5 * lipschitz * math.sqrt(3.0) / 2.0 / g
    else:
        candidate = (corners.amin(0) <= 0) & (corners.amax(0) >= 0)
        candidate = F.max_pool3d(candidate[None, None].float(), 3, 1, 1)[0, 0] > 0
    skip = torch.full(candidate.shape, float(max_skip + 1))
    skip[candidate] = 0.0
    reached = candidate[None, None].float()
    for k in range(1, max_skip + 1):
        reached = F.max_pool3d(reached, 3, 1, 1)
        skip[(reached[0, 0] > 0) & (skip > k)] = float(k)
    return CoarseGrid(g, candidate.reshape(-1), skip.reshape(-1))


@torch.no_grad()
def field_grid(fn: Callable[[torch.Tensor], torch.Tensor], resolution: int, lipschitz: Optional[float]) -> CoarseGrid:
    """The coarse grid of ``fn`` (``(N, 3)`` unit coordinates -> ``(N,)``, negative inside), queried at once."""
    values = fn(lattice_points(resolution)).reshape(-1).float().cpu()
    return coarse_grid(values.reshape((resolution + 1,) * 3), lipschitz)
