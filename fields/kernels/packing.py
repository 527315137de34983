"""The packed layout: samples of many rays in one tensor, sorted by ray.

``ray_indices (N,)`` int64 names each sample's ray (non-decreasing); ``packed_info (n_rays, 2)`` holds each
ray's ``(start, count)`` in the packed tensor. Scans along rays are global prefix sums minus each ray's
offset, computed in float64 so that long packs keep float32 accuracy.
"""

from __future__ import annotations

from typing import Optional

import torch


def packed_info_from_ray_indices(ray_indices: torch.Tensor, n_rays: int) -> torch.Tensor:
    """``(N,)`` sorted ray indices -> ``(n_rays, 2)`` int64 ``(start, count)``."""
    counts = torch.bincount(ray_indices, minlength=n_rays)
    starts = torch.cumsum(counts, 0) - counts
    return torch.stack((starts, counts), dim=-1)


def ray_indices_from_packed_info(packed_info: torch.Tensor) -> torch.Tensor:
    """``(n_rays, 2)`` -> ``(N,)`` ray index of each sample."""
    counts = packed_info[:, 1]
    return torch.repeat_interleave(torch.arange(len(counts), device=counts.device), counts)


def exclusive_sum(x: torch.Tensor, ray_indices: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Per-ray exclusive prefix sum. Batched: ``x (..., S)`` along the last dimension. Packed: ``x (N,)``
    with sorted ``ray_indices (N,)``. Differentiable."""
    if ray_indices is None:
        return torch.cumsum(x, dim=-1) - x
    if x.numel() == 0:
        return x
    inclusive = torch.cumsum(x.double(), dim=0)
    exclusive = inclusive - x.double()
    # a sample whose ray differs from its predecessor's starts a ray: subtract that sample's offset
    first = torch.ones_like(ray_indices, dtype=torch.bool)
    first[1:] = ray_indices[1:] != ray_indices[:-1]
    start_of = torch.cummax(torch.where(first, torch.arange(len(x), device=x.device), 0), dim=0).values
    return (exclusive - exclusive[start_of]).to(x.dtype)


def segment_sum(values: torch.Tensor, ray_indices: torch.Tensor, n_rays: int) -> torch.Tensor:
    """Sum packed ``values (N, ...)`` per ray -> ``(n_rays, ...)``."""
    out = values.new_zeros((n_rays,) + tuple(values.shape[1:]))
    return out.index_add(0, ray_indices, values)
