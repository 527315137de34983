"""Sphere tracing of signed distance fields, and depth / normal / shaded images.

Each ray starts where it enters the box ``[lo, hi]^3`` and advances by ``step_scale * f(x) / lipschitz``.
For an exact SDF (``lipschitz = 1``) a step never passes the surface. A neural SDF is only roughly
1-Lipschitz, so the step is shortened (``step_scale < 1``), and a ray whose value turns negative (it
stepped through the surface) goes back by secant steps between its last point outside and the point
inside (regula falsi) until it is within ``hit_epsilon``. A ray hits when ``|f| < hit_epsilon``; it misses when it
leaves the box or runs out of steps. Only active
rays are evaluated each iteration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from fields.render.rays import ray_aabb

SDFFn = Callable[[torch.Tensor], torch.Tensor]  # (N, 3) -> (N,)


@dataclass
class TraceResult:
    depth: torch.Tensor  # (R,) distance along the ray to the hit (inf where missed)
    hit: torch.Tensor  # (R,) bool
    points: torch.Tensor  # (R, 3) hit positions (undefined where missed)
    steps: int


@torch.no_grad()
def sphere_trace(
    sdf: SDFFn,
    origins: torch.Tensor,
    directions: torch.Tensor,
    max_steps: int = 128,
    step_scale: float = 0.9,
    lipschitz: float = 1.0,
    hit_epsilon: float = 1e-3,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> TraceResult:
    """Trace rays ``origins, directions (R, 3)`` (unit directions) against ``sdf`` (negative inside)."""
    lo, hi = bounds
    near, far, _ = ray_aabb(origins, directions, torch.tensor([lo, lo, lo, hi, hi, hi]))
    t = near.clone()
    hit = torch.zeros_like(t, dtype=torch.bool)
    active = (near < far).nonzero().squeeze(-1)
    prev_t = t.clone()
    prev_f = torch.full_like(t, float("inf"))
    steps = 0
    for steps in range(1, max_steps + 1):
        if active.numel() == 0:
            break
        ta = t[active]
        f = sdf(origins[active] + ta[:, None] * directions[active]).reshape(-1).to(t.dtype)
        pf, pt = prev_f[active], prev_t[active]
        done = (f.abs() < hit_epsilon) | ((f < 0) & ~torch.isfinite(pf))  # on the surface, or started inside
        inside = (f < 0) & ~done  # stepped through: secant towards the last point outside
        outside = ~done & ~inside
        t_next = torch.where(inside, pt + (ta - pt) * pf / (pf - f).clamp_min(1e-12), ta + step_scale * f / lipschitz)
        prev_t[active] = torch.where(outside, ta, pt)
        prev_f[active] = torch.where(outside, f, pf)
        hit[active[done]] = True
        t[active] = torch.where(done, ta, t_next)
        active = active[~done & (t_next < far[active])]
    points = origins + t[:, None] * directions
    depth = torch.where(hit, t, torch.full_like(t, float("inf")))
    return TraceResult(depth, hit, points, steps)


def sdf_normals(sdf: SDFFn, points: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
    """Unit gradients ``(N, 3)`` of ``sdf`` at ``points (N, 3)`` (autograd, in chunks)."""
    out = []
    for i in range(0, points.shape[0], chunk):
        with torch.enable_grad():
            x = points[i : i + chunk].detach().requires_grad_(True)
            (g,) = torch.autograd.grad(sdf(x).sum(), x)
        out.append(torch.nn.functional.normalize(g.detach(), dim=-1))
    return torch.cat(out) if out else points.new_zeros(0, 3)


def shade(normals: torch.Tensor, directions: torch.Tensor, hit: torch.Tensor, light=(0.4, -0.5, 0.75),
          albedo=(0.8, 0.78, 0.74), background: float = 1.0) -> torch.Tensor:
    """Lambert + ambient + a head light: ``(R, 3)`` in [0, 1]; ``background`` where missed."""
    light_t = torch.nn.functional.normalize(torch.as_tensor(light, dtype=normals.dtype), dim=0)
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
