"""Plane factorisations: tri-plane (EG3D; "Neural processing of tri-plane hybrid fields") and K-Planes.

A point ``x`` is projected onto axis-aligned 2D feature planes (one per coordinate pair), each plane is
read by bilinear interpolation, and the per-plane features are aggregated. With several levels (a
resolution pyramid, ``res_l = round(base_resolution * per_level_scale**l)`` vertices per axis) the
levels' aggregated features are concatenated, level-major, as in K-Planes' multiscale planes.

Planes are vertex-aligned (``grid_sample``'s ``align_corners=True``): position ``x * (res - 1)``.
Inputs are clamped to [0, 1] (constant field outside the cube, zero derivative there).

Two samplers give the same numbers: ``gather`` (default) builds the bilinear weights with
``corner_weights`` and reads all planes of all levels in one fused ``weighted_gather``; ``grid_sample``
calls ``torch.nn.functional.grid_sample`` once per plane. Both support second derivatives in the input
(``grid_sample``'s double backward exists in recent PyTorch, checked with 2.13; older versions lack it,
so the gather path is the default and the safe choice for eikonal losses).
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from fields.config.encoders import KPlanesConfig, TriPlaneConfig
from fields.encoders.base import ENCODERS, Encoder, flatten_batch
from fields.encoders.gather import weighted_gather
from fields.kernels.grid_math import corner_weights


class PlaneEncoder(Encoder):
    """Shared machinery: a bank of ``Q = n_levels * n_planes`` planes stored in one table ``params``
    ``(rows, n_features)``; plane ``q`` over coordinates ``(a, b)`` with ``(r_a, r_b)`` vertices holds
    rows ``offset_q + u_a + r_a * u_b``. Subclasses call ``_build`` and set the initial values."""

    def _build(self, in_dim: int, pairs: list[tuple[int, int]], level_res: list[list[int]], n_features: int,
               aggregation: str, sampler: str) -> None:
        self.in_dim = in_dim
        self.pairs = pairs
        self.n_levels = len(level_res)
        self.n_features = n_features
        self.aggregation = aggregation
        self.sampler = sampler
        per_level = n_features * (len(pairs) if aggregation == "concat" else 1)
        self.out_dim = self.n_levels * per_level
        dims, shapes, offsets = [], [], [0]
        for res in level_res:  # res: vertices per input dimension at this level
            for a, b in pairs:
                dims.append((a, b))
                shapes.append((res[a], res[b]))
                offsets.append(offsets[-1] + res[a] * res[b])
        self.plane_shapes = shapes  # (r_a, r_b) per plane, level-major
        self.params = nn.Parameter(torch.empty(offsets[-1], n_features))
        shape = torch.tensor(shapes, dtype=torch.int64)
        self.register_buffer("_dims", torch.tensor(dims, dtype=torch.int64), persistent=False)  # (Q, 2)
        self.register_buffer("_top", shape - 1, persistent=False)  # (Q, 2)
        self.register_buffer("_offset", torch.tensor(offsets[:-1], dtype=torch.int64), persistent=False)
        step = torch.stack(
            (torch.zeros_like(shape[:, 0]), torch.ones_like(shape[:, 0]), shape[:, 0], shape[:, 0] + 1), -1
        )
        self.register_buffer("_corner_step", step, persistent=False)  # (Q, 4): corners (0,0) (1,0) (0,1) (1,1)

    def plane(self, level: int, index: int) -> torch.Tensor:
        """Plane ``index`` (into ``pairs``) of ``level`` as an image ``(r_b, r_a, n_features)`` (a view):
        rows follow the pair's second coordinate, columns its first."""
        q = level * len(self.pairs) + index
        ra, rb = self.plane_shapes[q]
        start = int(self._offset[q])
        return self.params[start : start + ra * rb].reshape(rb, ra, self.n_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (..., in_dim)`` -> ``(..., out_dim)``."""
        flat, lead = flatten_batch(x, self.in_dim)
        flat = flat.clamp(0.0, 1.0)
        n = flat.shape[0]
        coords = flat[:, self._dims]  # (N, Q, 2)
        if self.sampler == "grid_sample":
            feats = self._grid_sample(coords)
        else:
            feats = self._gather(coords)  # (N, Q, F)
        feats = feats.reshape(n, self.n_levels, len(self.pairs), self.n_features)
        if self.aggregation == "sum":
            out = feats.sum(2)
        elif self.aggregation == "product":
            out = feats.prod(2)
        else:
            out = feats
        return out.reshape(*lead, self.out_dim)

    def _gather(self, coords: torch.Tensor) -> torch.Tensor:
        n, q = coords.shape[:2]
        top = self._top.to(coords.dtype)
        pos = coords * top  # (N, Q, 2)
        cell = torch.minimum(pos.detach().floor(), top - 1)
        frac = pos - cell
        cell = cell.long()
        index = self._offset + cell[..., 0] + cell[..., 1] * (self._top[:, 0] + 1)  # (N, Q)
        index = index[..., None] + self._corner_step
        weights = corner_weights(frac)  # (N, Q, 4)
        out = weighted_gather(self.params, index.reshape(n * q, 4), weights.reshape(n * q, 4))
        return out.reshape(n, q, self.n_features)

    def _grid_sample(self, coords: torch.Tensor) -> torch.Tensor:
        n = coords.shape[0]
        grid = (coords * 2.0 - 1.0).to(self.params.dtype)
        outs = []
        for q, (ra, rb) in enumerate(self.plane_shapes):  # a fixed, small number of planes
            start = int(self._offset[q])
            image = self.params[start : start + ra * rb].reshape(rb, ra, self.n_features).permute(2, 0, 1)[None]
            sampled = F.grid_sample(
                image, grid[None, :, q : q + 1, :], mode="bilinear", padding_mode="border", align_corners=True
            )
            outs.append(sampled.reshape(self.n_features, n).T)
        return torch.stack(outs, dim=1).to(coords.dtype)


@ENCODERS.register("triplane", aliases=("TriPlane", "tri_plane"))
class TriPlane(PlaneEncoder):
    """Three axis-aligned planes over ``(x, y)``, ``(x, z)``, ``(y, z)`` of a 3D input.

    Output per level: ``n_features`` (``sum``, ``product``) or ``3 * n_features`` (``concat``, in plane
    order xy, xz, yz). Parameters: ``3 * n_features * sum_l res_l**2``. Initial values: N(0, init_std)
    for ``sum`` and ``concat`` (the tri-plane processing paper uses small normal noise); U(0.1, 0.5) for
    ``product`` so that products start away from zero (K-Planes' choice).
    """

    Config = TriPlaneConfig

    PAIRS = [(0, 1), (0, 2), (1, 2)]

    def __init__(self, config: "TriPlane.Config", in_dim: int):
        super().__init__()
        if in_dim != 3:
            raise ValueError(f"triplane needs 3D input, got in_dim={in_dim} (kplanes takes 2 to 4)")
        self.config = config
        levels = [[res] * 3 for res in config.resolutions()]
        self._build(in_dim, self.PAIRS, levels, config.n_features, config.aggregation, config.sampler)
        with torch.no_grad():
            if config.aggregation == "product":
                self.params.uniform_(0.1, 0.5)
            else:
                self.params.normal_(0.0, config.init_std)

    @staticmethod
    def expected_params(config: "TriPlane.Config", in_dim: int = 3) -> int:
        return 3 * config.n_features * sum(res**2 for res in config.resolutions())


@ENCODERS.register("kplanes", aliases=("KPlanes", "k_planes", "hexplane"))
class KPlanes(PlaneEncoder):
    """K-Planes (Fridovich-Keil et al. 2023): one plane per coordinate pair of a 2D to 4D input
    (``itertools.combinations``: 4D gives xy, xz, xt, yz, yt, zt), multiplied together (Hadamard
    product) within a level, levels concatenated. Output ``(..., n_levels * n_features)``.

    The last coordinate of a 4D input is time: its resolution is ``time_resolution`` at every level
    (K-Planes scales only space), and the planes that involve it start at 1 so that the initial field
    is static; the space-only planes start at U(0.1, 0.5), as in the authors' code. Parameters:
    ``n_features * sum_l sum_{(a, b)} r_{l,a} * r_{l,b}``.
    """

    Config = KPlanesConfig

    def __init__(self, config: "KPlanes.Config", in_dim: int):
        super().__init__()
        if not 2 <= in_dim <= 4:
            raise ValueError(f"kplanes takes 2 to 4 input dimensions, got {in_dim}")
        self.config = config
        pairs = list(itertools.combinations(range(in_dim), 2))
        self._build(
            in_dim, pairs, config.level_resolutions(in_dim), config.n_features, config.aggregation, config.sampler
        )
        with torch.no_grad():
            self.params.uniform_(0.1, 0.5)
            if in_dim == 4:
                for q, (a, b) in enumerate(self._dims.tolist()):
                    if b == 3:
                        ra, rb = self.plane_shapes[q]
                        start = int(self._offset[q])
                        self.params[start : start + ra * rb] = 1.0

    @staticmethod
    def expected_params(config: "KPlanes.Config", in_dim: int) -> int:
        pairs = list(itertools.combinations(range(in_dim), 2))
        return config.n_features * sum(res[a] * res[b] for res in config.level_resolutions(in_dim) for a, b in pairs)


__all__ = ["PlaneEncoder", "TriPlane", "KPlanes"]
