"""Multiresolution hash encoding (Instant-NGP), with tiny-cuda-nn's ``HashGrid`` semantics.

Level ``l`` of ``L``: ``scale_l = base_resolution * per_level_scale**l - 1``, resolution
``res_l = ceil(scale_l) + 1``, grid position ``x * scale_l + 0.5``. A level stores
``min(next_multiple(res_l**d, 8), 2**log2_hashmap_size)`` feature vectors; it is indexed densely
(``sum_i v_i * res_l**i``) where ``res_l**d`` fits, otherwise by the XOR-of-primes hash; either index
is taken modulo the level size, exactly as tiny-cuda-nn's ``grid_index``. Tables start at
U(-1e-4, 1e-4). Output: ``(..., n_levels * n_features_per_level)``, level-major.

Deliberate difference from tiny-cuda-nn: inputs are clamped to [0, 1] (tiny-cuda-nn lets negative
positions wrap through unsigned casts). Backends: ``torch`` (reference, CPU and GPU), ``cpp`` (a fused
C++ kernel for CPU inputs, ``fields.kernels.grid_cpu``, compiled on first use), ``triton`` (fused
Triton kernels for CUDA inputs, ``fields.kernels.triton_grid``) and ``tcnn`` when ``tinycudann`` imports
and the input is on CUDA. ``auto`` picks ``cpp`` on CPU and ``triton``, else ``tcnn``, on CUDA where they
work (logging the choice), ``torch`` otherwise.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

from fields.config.encoders import HashGridConfig
from fields.encoders.base import ENCODERS, Encoder, flatten_batch
from fields.encoders.gather import weighted_gather
from fields.kernels.grid_math import corner_weights, inverse_permutation, spatial_order
from fields.kernels.grid_backend import GridBackend
from fields.kernels.grid_layout import GridLayout
from fields.kernels.tcnn import tcnn_hashgrid

PRIMES = (1, 2654435761, 805459861, 3674653429, 2097192037, 1434869437, 2165219737)


def next_multiple(value: int, multiple: int) -> int:
    return (value + multiple - 1) // multiple * multiple


@ENCODERS.register("hashgrid", aliases=("HashGrid", "hash", "ngp"))
class HashGrid(Encoder):
    Config = HashGridConfig

    def __init__(self, config: "HashGrid.Config", in_dim: int):
        super().__init__()
        if not 1 <= in_dim <= len(PRIMES):
            raise ValueError(f"hashgrid supports 1 to {len(PRIMES)} input dimensions, got {in_dim}")
        self.config = config
        self.in_dim = in_dim
        self.out_dim = config.n_levels * config.n_features_per_level
        # (n_levels,) factors on each level's features while a trainer fades the finer levels in; not saved
        self.level_weights: torch.Tensor | None = None
        b = config.level_scale_factor()
        scales, resolutions, sizes = [], [], []
        for level in range(config.n_levels):
            # float32 arithmetic as in tiny-cuda-nn, so resolutions agree at the rounding edges
            scale = float(
                torch.tensor(2.0 ** (level * math.log2(b)), dtype=torch.float32) * config.base_resolution - 1.0
            )
            res = math.ceil(scale) + 1
            size = min(next_multiple(min(res**in_dim, 2**31 - 1), 8), 2**config.log2_hashmap_size)
            scales.append(scale)
            resolutions.append(res)
            sizes.append(size)
        self.level_sizes = sizes
        self.level_resolutions = resolutions
        self.level_scales = scales
        # dense levels come first because the resolution grows with the level
        self.n_dense_levels = sum(1 for r, s in zip(resolutions, sizes) if r**in_dim <= s)
        offsets = [0]
        for size in sizes:
            offsets.append(offsets[-1] + size)
        self.params = nn.Parameter(torch.empty(offsets[-1], config.n_features_per_level).uniform_(-1e-4, 1e-4))
        self.register_buffer("_scale", torch.tensor(scales, dtype=torch.float32), persistent=False)
        self.register_buffer("_size", torch.tensor(sizes, dtype=torch.int64), persistent=False)
        self.register_buffer("_offset", torch.tensor(offsets[:-1], dtype=torch.int64), persistent=False)
        # hashed levels never read a stride; res**i would overflow int64 there (7D, fine levels)
        strides = [
            [res**i if level < self.n_dense_levels else 0 for i in range(in_dim)]
            for level, res in enumerate(resolutions)
        ]
        self.register_buffer("_stride", torch.tensor(strides, dtype=torch.int64), persistent=False)
        self.register_buffer("_prime", torch.tensor(PRIMES[:in_dim], dtype=torch.int64), persistent=False)
        bits = torch.tensor([[(c >> i) & 1 for i in range(in_dim)] for c in range(2**in_dim)], dtype=torch.int64)
        self.register_buffer("_corner_step", self._stride @ bits.T, persistent=False)  # (L, 2**d)
        self._layout: GridLayout | None = None
        self.lookup_backend = GridBackend("hashgrid", config.backend, tcnn=self._make_tcnn)

    @staticmethod
    def expected_params(config: "HashGrid.Config", in_dim: int) -> int:
        """Closed-form parameter count (same as tiny-cuda-nn's)."""
        b = config.level_scale_factor()
        total = 0
        for level in range(config.n_levels):
            scale = float(
                torch.tensor(2.0 ** (level * math.log2(b)), dtype=torch.float32) * config.base_resolution - 1.0
            )
            res = math.ceil(scale) + 1
            total += min(next_multiple(res**in_dim, 8), 2**config.log2_hashmap_size)
        return total * config.n_features_per_level

    def level_table(self, level: int) -> torch.Tensor:
        """The feature table of one level: ``(level_size, n_features_per_level)`` (a view)."""
        start = int(self._offset[level])
        return self.params[start : start + self.level_sizes[level]]

    def corner_indices(self, cell: torch.Tensor) -> torch.Tensor:
        """Table rows of every cell corner.

        cell: ``(N, L, d)`` int64 lower corners. Returns ``(N, L, 2**d)`` int64 rows into ``params``.
        Corner ``c`` has offset bit ``i`` = ``(c >> i) & 1`` along dimension ``i``.
        """
        n_dense = self.n_dense_levels
        parts = []
        if n_dense > 0:
            # dense: sum_i v_i * res**i; corners differ by a fixed offset per level
            base = (cell[:, :n_dense] * self._stride[:n_dense]).sum(-1, keepdim=True)
            index = base + self._corner_step[:n_dense]
            size = self._size[:n_dense, None]
            # tiny-cuda-nn takes the index modulo the level size; a dense index is below twice the
            # size, so one conditional subtraction is that modulo, at a fraction of its cost
            index = torch.where(index >= size, index - size, index)
            parts.append(index + self._offset[:n_dense, None])
        if n_dense < self.config.n_levels:
            # hashed: XOR_i v_i * prime_i. Products stay below 2**63 and XOR is bitwise, so the low
            # bits equal tiny-cuda-nn's uint32 arithmetic; the level size is a power of two.
            low = cell[:, n_dense:] * self._prime
            index = _combine(low, low + self._prime, torch.bitwise_xor)
            mask = self._size[n_dense:, None] - 1
            parts.append((index & mask) + self._offset[n_dense:, None])
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat, lead = flatten_batch(x, self.in_dim)
        out = self.lookup_backend.lookup(self.params, flat.clamp(0.0, 1.0), self.layout(), self.torch_lookup)
        if self.level_weights is not None:  # a coarse-to-fine window (BARF): levels x features, level-major
            out = out * self.level_weights.to(out).repeat_interleave(self.config.n_features_per_level)
        return out.reshape(*lead, self.out_dim)

    def lookup_into(self, x: torch.Tensor, out: torch.Tensor, box: Optional[torch.Tensor] = None) -> bool:
        """Inference: ``forward`` of ``x (n, 3)`` (through ``box``, see ``grid_cpu.lookup_into``) written into
        the first ``n`` rows of ``out``, float32 or bfloat16, where the CPU kernel serves it; else ``False``."""
        if self.level_weights is not None or torch.is_grad_enabled():
            return False
        return self.lookup_backend.lookup_into(self.params, x, self.layout(), out, box)

    @property
    def backend_in_use(self) -> str:
        return self.lookup_backend.in_use

    def torch_lookup(self, table: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
        """The torch backend, also the reference of the others: ``table`` (``params``) and clamped
        ``flat (N, d)`` -> ``(N, out_dim)``. Differentiable twice in ``table`` and ``flat``."""
        order = spatial_order(flat) if flat.shape[0] >= 4096 and not flat.is_cuda else None
        if order is not None:
            flat = flat[order]
        n, levels = flat.shape[0], self.config.n_levels
        pos = flat[:, None, :] * self._scale.to(flat.dtype)[None, :, None] + 0.5  # (N, L, d)
        cell = pos.detach().floor()
        frac = pos - cell
        index = self.corner_indices(cell.long())  # (N, L, C)
        weights = corner_weights(frac, self.config.interpolation)  # (N, L, C)
        corners = index.shape[-1]  # explicit: an empty batch cannot infer it
        out = weighted_gather(table, index.reshape(n * levels, corners), weights.reshape(n * levels, corners))
        out = out.reshape(n, self.out_dim)
        if order is not None:
            out = out[inverse_permutation(order)]
        return out

    def _make_tcnn(self, required: bool):
        return tcnn_hashgrid(self, required=required)

    def layout(self) -> GridLayout:
        """The level layout the kernels take (built once)."""
        if self._layout is None:
            self._layout = GridLayout(scale=self._scale, stride=self._stride, size=self._size, offset=self._offset,
                                      hashed=torch.arange(self.config.n_levels) >= self.n_dense_levels, shift=0.5,
                                      smoothstep=self.config.interpolation == "smoothstep")
        return self._layout


def _combine(low: torch.Tensor, high: torch.Tensor, op) -> torch.Tensor:
    """Per-dimension values ``(N, L, d)`` at offset 0 and 1 -> ``(N, L, 2**d)`` combined with ``op``,
    corner ``c`` taking ``high`` along dimension ``i`` where bit ``i`` of ``c`` is set."""
    out = torch.stack((low[..., 0], high[..., 0]), dim=-1)
    for i in range(1, low.shape[-1]):
        out = torch.cat((op(out, low[..., i : i + 1]), op(out, high[..., i : i + 1])), dim=-1)
    return out
