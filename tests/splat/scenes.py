"""Random Gaussian scenes for the splat tests: a camera looking down +z at the origin and Gaussians that include
the hard cases (behind the camera, off-screen, very large, very small, centred on tile borders)."""

from __future__ import annotations

import math

import torch


def camera(width: int, height: int, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """viewmat (4, 4): the world seen from z = -4 looking along +z; K (3, 3) with a 60-degree horizontal view."""
    viewmat = torch.eye(4, dtype=dtype)
    viewmat[2, 3] = 4.0
    f = 0.5 * width / math.tan(math.radians(30))
    K = torch.tensor([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], dtype=dtype)
    return viewmat, K


def random_scene(n: int, width: int, height: int, seed: int = 0, dtype=torch.float32, hard: bool = True) -> dict:
    """Tensors ``means, quats, scales, opacities, colors, viewmat, K`` of ``n`` Gaussians (leaf, requires_grad)."""
    g = torch.Generator().manual_seed(seed)
    viewmat, K = camera(width, height, dtype)
    means = (torch.rand(n, 3, generator=g, dtype=dtype) * 2 - 1) * torch.tensor([1.8, 1.8, 1.5], dtype=dtype)
    scales = torch.exp(torch.empty(n, 3, dtype=dtype).uniform_(-4.0, -1.5, generator=g))
    f, cx, cy = float(K[0, 0]), float(K[0, 2]), float(K[1, 2])
    if hard and n >= 12:
        means[0, 2] = -4.5  # behind the camera
        means[1, 2] = -3.995  # inside the near plane
        means[2] = torch.tensor([40.0, 0.0, 1.0])  # far off-screen
        means[3] = torch.tensor([0.54 * width / f * 4.0, 0.5, 0.0])  # centre off-screen, its square overlaps the image
        scales[3] = 0.1
        scales[4] = torch.tensor([2.0, 1.5, 1.0])  # very large
        scales[5] = torch.tensor([1e-4, 2e-4, 1e-4])  # very small
        borders = ((16, 16), (32, 40), (16.5, 8), (48, 16), (8, 32), (width - 0.5, height / 2))
        for i, (u, v) in zip(range(6, 12), borders):
            z = 4.0 + float(means[i, 2])  # centres on tile borders
            means[i, 0], means[i, 1] = (u - cx) * z / f, (v - cy) * z / f
    quats = torch.randn(n, 4, generator=g, dtype=dtype)
    opacities = torch.rand(n, generator=g, dtype=dtype) * 0.9 + 0.05
    colors = torch.rand(n, 3, generator=g, dtype=dtype)
    leaves = {"means": means, "quats": quats, "scales": scales, "opacities": opacities, "colors": colors}
    return {**{k: v.requires_grad_() for k, v in leaves.items()}, "viewmat": viewmat, "K": K}
