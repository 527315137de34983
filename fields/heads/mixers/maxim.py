"""MAXIM multi-axis gated MLP and cross-gating block ("MAXIM: Multi-Axis MLP for Image Processing",
Tu et al. 2022).

Multi-axis gMLP: ``Linear(C, 2C) -> GELU``, split into a global and a local half. The global half is
cut into a fixed ``g x g`` grid (token ``(i, j)`` belongs to cell ``(i mod H/g, j mod W/g)``: dilated,
image-wide mixing), the local half into ``b x b`` blocks; each half applies a spatial gating unit
``u * (Dense_along_axis(LN(v)) + 1)`` with a dense layer over the ``g*g`` (or ``b*b``) tokens of its
partition axis; the halves are concatenated and projected ``Linear(C, C)``. The dense sizes depend
only on ``g`` and ``b``, so any ``H, W`` divisible by both works.

Cross-gating block (the UNet's skip fusion): two inputs ``x, y`` are each projected (``LN, Linear, GELU``),
each computes multi-axis spatial gating weights, and each is multiplied by the *other's* weights, then
projected and added to its input: ``x' = x + P_x(x_h * G(y_h))``, ``y' = y + P_y(y_h * G(x_h))``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from fields.config.base import ComponentConfig
from fields.config.mixers import MultiAxisGatedMLPConfig
from fields.heads.registry import TokenMixer, register_mixer


def to_grid(x: torch.Tensor, g: int) -> torch.Tensor:
    """``(B, H, W, C) -> (B, H/g, W/g, g*g, C)``: the last token axis runs over a ``g x g`` dilated grid."""
    b, h, w, c = x.shape
    return x.reshape(b, g, h // g, g, w // g, c).permute(0, 2, 4, 1, 3, 5).reshape(b, h // g, w // g, g * g, c)


def from_grid(x: torch.Tensor, g: int, h: int, w: int) -> torch.Tensor:
    b, c = x.shape[0], x.shape[-1]
    return x.reshape(b, h // g, w // g, g, g, c).permute(0, 3, 1, 4, 2, 5).reshape(b, h, w, c)


def to_blocks(x: torch.Tensor, s: int) -> torch.Tensor:
    """``(B, H, W, C) -> (B, H/s, W/s, s*s, C)``: the last token axis runs inside an ``s x s`` block."""
    b, h, w, c = x.shape
    return x.reshape(b, h // s, s, w // s, s, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h // s, w // s, s * s, c)


def from_blocks(x: torch.Tensor, s: int, h: int, w: int) -> torch.Tensor:
    b, c = x.shape[0], x.shape[-1]
    return x.reshape(b, h // s, w // s, s, s, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)


class AxisDense(nn.Module):
    """Dense layer over a token axis: ``(..., n, C) -> (..., n, C)``, ``y_i = sum_j W_ij x_j + b_i``."""

    def __init__(self, n: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n, n) * 0.02)
        self.bias = nn.Parameter(torch.zeros(n, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("ij,...jc->...ic", self.weight, x) + self.bias


class MultiAxisWeights(nn.Module):
    """Spatial mixing of one half along a grid axis and of the other within blocks: ``(B, H, W, C)``."""

    def __init__(self, dim: int, grid: int, block: int):
        super().__init__()
        self.grid, self.block = grid, block
        self.c1 = dim // 2
        self.norm = nn.LayerNorm(dim)
        self.dense_grid, self.dense_block = AxisDense(grid * grid), AxisDense(block * block)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        _, h, w, c = v.shape
        v = self.norm(v)
        vg, vb = v[..., : self.c1], v[..., self.c1:]
        vg = from_grid(self.dense_grid(to_grid(vg, self.grid)), self.grid, h, w)
        vb = from_blocks(self.dense_block(to_blocks(vb, self.block)), self.block, h, w)
        return torch.cat([vg, vb], dim=-1)


def check_partition(name: str, resolution, grid: int, block: int) -> None:
    if resolution is None:
        return
    d = math.lcm(grid, block)
    if resolution[0] % d or resolution[1] % d:
        raise ValueError(f"{name} needs H and W divisible by {d} (grid {grid}, block {block}), "
                         f"got {resolution[0]}x{resolution[1]}")


@register_mixer("maxim", aliases=("multi_axis_gmlp",))
class MultiAxisGatedMLP(TokenMixer):
    """``(B, H, W, C) -> (B, H, W, C)``: global (grid) and local (block) spatial gating units."""

    Config = MultiAxisGatedMLPConfig

    @classmethod
    def divisor(cls, config: ComponentConfig) -> int:
        return math.lcm(config.grid_size, config.block_size)  # type: ignore[attr-defined]

    def __init__(self, dim: int, resolution=None, **options: Any):
        super().__init__(dim, resolution, **options)
        if dim % 2:
            raise ValueError(f"mixer 'maxim' needs an even dim to split global and local halves, got {dim}")
        self.in_proj, self.act = nn.Linear(dim, 2 * dim), nn.GELU()
        self.weights = MultiAxisWeights(dim, self.config.grid_size, self.config.block_size)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        u, v = self.act(self.in_proj(x)).chunk(2, dim=-1)
        return self.out_proj(u * (self.weights(v) + 1.0))


class CrossGatingBlock(nn.Module):
    """MAXIM's cross-gating block: ``(x, y)`` both ``(B, H, W, C)`` -> ``(x', y')`` of the same shape."""

    def __init__(self, dim: int, resolution=None, grid_size: int = 4, block_size: int = 4):
        super().__init__()
        if dim % 2:
            raise ValueError(f"cross-gating block needs an even dim, got {dim}")
        check_partition("cross-gating block", resolution, grid_size, block_size)
        self.grid, self.block = grid_size, block_size
        self.norm_x, self.norm_y = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.in_x, self.in_y = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.gate_x = MultiAxisWeights(dim, grid_size, block_size)
        self.gate_y = MultiAxisWeights(dim, grid_size, block_size)
        self.out_x, self.out_y = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_partition("cross-gating block", x.shape[1:3], self.grid, self.block)
        hx = self.act(self.in_x(self.norm_x(x)))
        hy = self.act(self.in_y(self.norm_y(y)))
        gx, gy = self.gate_x(hx), self.gate_y(hy)
        return x + self.out_x(hx * gy), y + self.out_y(hy * gx)


__all__ = ["MultiAxisGatedMLP", "CrossGatingBlock", "to_grid", "from_grid", "to_blocks", "from_blocks"]
