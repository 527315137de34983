"""The result of ``rasterize_gaussians``."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class SplatRender:
    """rgb ``(H, W, 3)``, alpha ``(H, W, 1)``, depth ``(H, W, 1)`` (expected camera z of the visible Gaussians,
    0 where nothing is seen), means2d ``(N, 2)`` projected centres (after ``loss.backward()`` its ``.grad`` is
    the view-space positional gradient that densification uses; ``None`` when no gradient was asked for),
    radii ``(N,)`` int32 pixels (0: culled), backend: the compositing backend used."""

    rgb: torch.Tensor
    alpha: torch.Tensor
    depth: torch.Tensor
    means2d: torch.Tensor
    radii: torch.Tensor
    backend: str
