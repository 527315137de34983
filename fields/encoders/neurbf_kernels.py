"""Radial basis kernels of NeuRBF, and neighbour lists precomputed on a grid.

Kernels (``d = x - c_i``, one value per query and neighbour):

- ``inverse_quadric``: ``1 / (1 + d^T S_i d)``, ``S_i`` a full symmetric ``(D, D)`` shape matrix,
  stored as its ``D (D + 1) / 2`` upper-triangular entries (NeuRBF's ``ivq_a``, images and NeRF);
- ``gaussian``: ``exp(-d^T S_i d)`` with the same shape matrix;
- ``tent``: ``prod_k clamp(1 - |d_k| s_ik, 0, 1)``, one positive scale per dimension (SDFs).

Neighbour lists: each query uses its ``K`` nearest centres (Euclidean), found among the candidates
stored for the grid cell that holds it. A cell with centre ``p`` and half-diagonal ``h`` stores every
centre within ``r_K(p) + 2 h`` of ``p`` (``r_K`` the distance to the ``K``-th nearest): by the triangle
inequality that set holds the ``K`` nearest of every point of the cell, so the lists are exact unless a
cell has more than ``max_candidates`` candidates (then it keeps the nearest ones; ``stats`` counts
those cells). The cost per query is ``O(max_candidates)`` whatever the number of kernels.
"""

from __future__ import annotations

import math

import numpy as np
import torch

KERNELS = ("inverse_quadric", "gaussian", "tent")


def n_shape_params(kernel: str, dim: int) -> int:
    """Stored shape entries per kernel: upper triangle of ``S`` or one scale per dimension."""
    return dim if kernel == "tent" else dim * (dim + 1) // 2


def unpack_symmetric(packed: torch.Tensor, dim: int) -> torch.Tensor:
    """``(..., D (D + 1) / 2)`` upper-triangular entries (row-major) -> symmetric ``(..., D, D)``."""
    rows, cols = torch.triu_indices(dim, dim, device=packed.device)
    full = packed.new_zeros(*packed.shape[:-1], dim, dim)
    full[..., rows, cols] = packed
    full[..., cols, rows] = packed
    return full


def pack_symmetric(full: torch.Tensor) -> torch.Tensor:
    """Symmetric ``(..., D, D)`` -> its upper triangle ``(..., D (D + 1) / 2)``."""
    dim = full.shape[-1]
    rows, cols = torch.triu_indices(dim, dim, device=full.device)
    return full[..., rows, cols]


def quadratic_form(diff: torch.Tensor, packed: torch.Tensor) -> torch.Tensor:
    """``d^T S d`` from offsets ``(N, K, D)`` and packed shapes ``(N, K, D (D + 1) / 2)`` -> ``(N, K)``.

    Written as a sum over the upper triangle (off-diagonal terms doubled), so no ``(N, K, D, D)``
    tensor is built.
    """
    dim = diff.shape[-1]
    rows, cols = torch.triu_indices(dim, dim, device=diff.device)
    factor = torch.where(rows == cols, 1.0, 2.0).to(diff.dtype)
    return (diff[..., rows] * diff[..., cols] * packed * factor).sum(-1)


def kernel_values(kernel: str, diff: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
    """Kernel values ``(N, K)`` from offsets ``x - c`` ``(N, K, D)`` and the kernels' shape entries."""
    if kernel == "inverse_quadric":
        return 1.0 / (1.0 + quadratic_form(diff, shape))
    if kernel == "gaussian":
        return torch.exp(-quadratic_form(diff, shape))
    if kernel == "tent":
        return (1.0 - diff.abs() * shape).clamp(0.0, 1.0).prod(-1)
    raise ValueError(f"unknown kernel '{kernel}'; valid: {', '.join(KERNELS)}")


def auto_resolution(n_kernels: int, dim: int) -> int:
    """Neighbour-grid resolution: cells about a quarter (2D) or half (3D+) of the mean kernel spacing,
    with at most 2^20 (2D) or 2^18 cells."""
    per_side = n_kernels ** (1.0 / dim) * (4.0 if dim <= 2 else 2.0)
    limit = (2**20 if dim <= 2 else 2**18) ** (1.0 / dim)
    return int(max(2, min(math.ceil(per_side), math.floor(limit))))


class NeighbourGrid:
    """Candidate kernels per cell of a ``resolution^D`` grid over [0, 1]^D (see the module docstring).

    ``table``: ``(resolution^D, C)`` int64 kernel indices, ``-1`` where a cell has fewer than ``C``.
    """

    def __init__(self, centres: torch.Tensor, k: int, resolution: int, max_candidates: int = 32, chunk: int = 65536):
        from scipy.spatial import cKDTree  # scipy comes with scikit-image

        n, dim = centres.shape
        if k > n:
            raise ValueError(f"{k} neighbours requested but only {n} kernels")
        self.k, self.dim, self.resolution = k, dim, resolution
        points = centres.detach().double().cpu().numpy()
        tree = cKDTree(points)
        width = min(max(max_candidates, k), n)
        # cell index = sum_i v_i * res**i (first coordinate fastest)
        flat = np.arange(resolution**dim)
        cells = np.stack([(flat // resolution**i) % resolution for i in range(dim)], -1)
        cells = (cells + 0.5) / resolution
        half_diagonal = 0.5 * math.sqrt(dim) / resolution
        table = np.full((cells.shape[0], width), -1, dtype=np.int64)
        truncated = 0
        for start in range(0, cells.shape[0], chunk):
            part = cells[start : start + chunk]
            r_k = tree.query(part, k=k)[0].reshape(len(part), -1)[:, -1]
            bound = r_k + 2.0 * half_diagonal + 1e-12
            query_k = min(width + 1, n)
            dist, idx = tree.query(part, k=query_k)
            dist, idx = dist.reshape(len(part), -1), idx.reshape(len(part), -1)
            inside = dist <= bound[:, None]
            if query_k > width:
                truncated += int(inside[:, width].sum())
            dist, idx, inside = dist[:, :width], idx[:, :width], inside[:, :width]
            table[start : start + len(part)] = np.where(inside, idx, -1)
        used = int((table >= 0).sum(1).max())
        self.table = torch.from_numpy(table[:, :used].copy())
        self.stats = {"cells": int(cells.shape[0]), "candidates": used, "truncated_cells": truncated}
        self._stride = torch.tensor([resolution**i for i in range(dim)], dtype=torch.int64)

    def to(self, device: torch.device) -> "NeighbourGrid":
        self.table = self.table.to(device)
        self._stride = self._stride.to(device)
        return self

    @torch.no_grad()
    def query(self, x: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
        """The ``K`` nearest kernels of each point: ``x (N, D)`` in [0, 1] -> ``(N, K)`` int64, nearest first."""
        cell = (x * self.resolution).long().clamp_(0, self.resolution - 1)
        candidates = self.table[(cell * self._stride).sum(-1)]  # (N, C)
        valid = candidates >= 0
        pos = centres.detach()[candidates.clamp(min=0)]  # (N, C, D)
        dist = (x[:, None, :] - pos).square().sum(-1).masked_fill(~valid, float("inf"))
        order = dist.topk(self.k, dim=1, largest=False).indices
        return candidates.gather(1, order)


def brute_force_neighbours(x: torch.Tensor, centres: torch.Tensor, k: int) -> torch.Tensor:
    """Reference: ``(N, K)`` indices of the ``K`` nearest centres by exhaustive search."""
    return torch.cdist(x.double(), centres.double()).topk(k, dim=1, largest=False).indices
