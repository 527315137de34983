"""Tile binning: which Gaussians touch which 16x16 tile, front to back.

Every visible Gaussian (``radii > 0``) is duplicated once per tile its 3-sigma square overlaps; each copy gets
the key ``tile_id * N + depth_rank`` and one ``torch.sort`` orders the copies by tile, then by depth (ties
in depth broken by index, so every backend sees the same order).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class TileBins:
    """Sorted tile lists of one image. ``gaussian_ids (M,)`` int64: the Gaussians of tile ``t`` front to back
    are ``gaussian_ids[tile_offsets[t]:tile_offsets[t + 1]]``; ``tile_offsets (tiles_y * tiles_x + 1,)``
    int64, tiles row-major; ``tile_size`` pixels; the image is ``width x height`` pixels (the last row and
    column of tiles may be partial)."""

    gaussian_ids: torch.Tensor
    tile_offsets: torch.Tensor
    tiles_x: int
    tiles_y: int
    tile_size: int
    width: int
    height: int

    @property
    def n_tiles(self) -> int:
        return self.tiles_x * self.tiles_y


def tile_ranges(means2d: torch.Tensor, radii: torch.Tensor, tiles_x: int, tiles_y: int, tile_size: int):
    """Per-Gaussian half-open tile rectangles ``(x0, y0, x1, y1)``, each ``(N,)`` int64, empty where culled."""
    r = radii.to(means2d.dtype)
    x0 = torch.floor((means2d[:, 0] - r) / tile_size).clamp(0, tiles_x).long()
    x1 = torch.ceil((means2d[:, 0] + r) / tile_size).clamp(0, tiles_x).long()
    y0 = torch.floor((means2d[:, 1] - r) / tile_size).clamp(0, tiles_y).long()
    y1 = torch.ceil((means2d[:, 1] + r) / tile_size).clamp(0, tiles_y).long()
    visible = radii > 0
    x1, y1 = torch.where(visible, x1, x0), torch.where(visible, y1, y0)
    return x0, y0, x1, y1


@torch.no_grad()
def bin_gaussians(means2d: torch.Tensor, radii: torch.Tensor, depths: torch.Tensor, width: int, height: int,
                  tile_size: int = 16) -> TileBins:
    """Bin ``N`` projected Gaussians (means2d ``(N, 2)``, radii ``(N,)``, depths ``(N,)``) into tiles."""
    device, n = means2d.device, means2d.shape[0]
    tiles_x, tiles_y = -(-width // tile_size), -(-height // tile_size)
    x0, y0, x1, y1 = tile_ranges(means2d.detach(), radii, tiles_x, tiles_y, tile_size)
    span_x = x1 - x0
    counts = span_x * (y1 - y0)
    gauss = torch.repeat_interleave(torch.arange(n, device=device), counts)
    starts = torch.cumsum(counts, 0) - counts
    local = torch.arange(gauss.shape[0], device=device) - starts[gauss]
    span = span_x[gauss]
    tile = (y0[gauss] + local // span) * tiles_x + x0[gauss] + local % span
    rank = torch.empty(n, dtype=torch.long, device=device)
    rank[torch.sort(depths.detach(), stable=True).indices] = torch.arange(n, device=device)
    order = torch.sort(tile * max(n, 1) + rank[gauss]).indices
    tile_counts = torch.bincount(tile, minlength=tiles_x * tiles_y)
    offsets = torch.zeros(tiles_x * tiles_y + 1, dtype=torch.long, device=device)
    torch.cumsum(tile_counts, 0, out=offsets[1:])
    return TileBins(gauss[order], offsets, tiles_x, tiles_y, tile_size, width, height)
