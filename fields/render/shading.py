"""Normals of a traced surface (autograd, or finite differences on a tetrahedron) and the shaded, normal
and depth images made from them."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

TETRAHEDRON = torch.tensor([[1.0, -1.0, -1.0], [-1.0, -1.0, 1.0], [-1.0, 1.0, -1.0], [1.0, 1.0, 1.0]])


def sdf_normals(sdf: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
    """Unit gradients ``(N, 3)`` of ``sdf`` at ``points (N, 3)`` (autograd, in chunks)."""
    out = []
    for i in range(0, points.shape[0], chunk):
        with torch.enable_grad():
            x = points[i : i + chunk].detach().requires_grad_(True)
            (g,) = torch.autograd.grad(sdf(x).sum(), x)
        out.append(F.normalize(g.detach(), dim=-1))
    return torch.cat(out) if out else points.new_zeros(0, 3)


def tetrahedron_points(points: torch.Tensor, delta: float = 1e-3) -> torch.Tensor:
    """Where finite-difference normals query the field: ``x + delta e_k`` for the 4 tetrahedron
    directions ``e_k``, ``(4 N, 3)`` for ``points (N, 3)``."""
    return (points[:, None, :] + delta * TETRAHEDRON.to(points)[None]).reshape(-1, 3)


def tetrahedron_normals(values: torch.Tensor) -> torch.Tensor:
    """Unit gradients ``(N, 3)`` from the field's ``values (4 N,)`` at ``tetrahedron_points``:
    ``normalise(sum_k e_k f(x + delta e_k))``."""
    f = values.reshape(-1, 4, 1)
    return F.normalize((f * TETRAHEDRON.to(f)[None]).sum(1), dim=-1)


def shade(normals: torch.Tensor, directions: torch.Tensor, hit: torch.Tensor, light=(0.4, -0.5, 0.75),
          albedo=(0.8, 0.78, 0.74), background: float = 1.0) -> torch.Tensor:
    """Lambert + ambient + a head light: ``(R, 3)`` in [0, 1]; ``background`` where missed."""
    light_t = F.normalize(torch.as_tensor(light, dtype=normals.dtype), dim=0)
    diffuse = (normals @ light_t).clamp_min(0.0)
    head = (-(normals * directions).sum(-1)).clamp_min(0.0)
    value = 0.15 + 0.55 * diffuse + 0.3 * head
    rgb = value[:, None] * torch.as_tensor(albedo, dtype=normals.dtype)
    return torch.where(hit[:, None], rgb.clamp(0, 1), torch.full_like(rgb, background))


def normal_image(normals: torch.Tensor, hit: torch.Tensor, background: float = 1.0) -> torch.Tensor:
    """Normals mapped to colours ``(R, 3)`` (``0.5 * n + 0.5``)."""
    rgb = 0.5 * normals + 0.5
    return torch.where(hit[:, None], rgb, torch.full_like(rgb, background))


def depth_image(depth: torch.Tensor, hit: torch.Tensor) -> torch.Tensor:
    """Depth normalised to [0, 1] over the hits (near is dark), 1 where missed: ``(R,)``."""
    if not hit.any():
        return torch.ones_like(depth)
    d = depth[hit]
    lo, hi = d.min(), d.max()
    value = (depth - lo) / (hi - lo).clamp_min(1e-9) * 0.9
    return torch.where(hit, value, torch.ones_like(depth))
