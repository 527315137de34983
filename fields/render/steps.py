"""Steps along rays for marching: their boundaries (constant or growing with a cone angle) and, per ray
and step, the jittered interval and its midpoint."""

from __future__ import annotations

import math

import torch

from fields.render.rays import ray_aabb


def steps_at(origins, directions, edges, shift, rays, index):
    """Step ``index (P,)`` of rays ``(P,)`` -> ``t0, t1 (P,)`` and midpoint ``x (P, 3)``: one jitter per ray
    shifts all its steps, so the step stays ``[lo, hi)`` shifted by a fraction of its width."""
    lo, hi = edges[index], edges[index + 1]
    offset = (shift[rays] - 0.5) * (hi - lo)
    t0, t1 = lo + offset, hi + offset
    mid = (t0 + t1) / 2
    return t0, t1, origins[rays] + directions[rays] * mid[:, None]


_EDGE_CACHE: dict = {}


def step_edges(near: float, far: float, step: float, cone_angle: float) -> torch.Tensor:
    """Step boundaries ``(K + 1,)`` float64 from ``near`` past ``far``: constant ``step`` or, with a cone
    angle, ``max(step, t * cone_angle)`` (Instant-NGP's exponential stepping for large scenes)."""
    far = max(far, near + step)
    if cone_angle <= 0:
        n = math.ceil((far - near) / step) + 1
        return near + step * torch.arange(n + 1, dtype=torch.float64)
    key = (near, round(far, 3), step, cone_angle)
    if key not in _EDGE_CACHE:
        edges, t = [near], near
        while t < far:
            t += max(step, t * cone_angle)
            edges.append(t)
        edges.append(t + max(step, t * cone_angle))
        _EDGE_CACHE.clear()
        _EDGE_CACHE[key] = torch.tensor(edges, dtype=torch.float64)
    return _EDGE_CACHE[key]


def ray_steps(origins, directions, box, render_step_size, near_plane=0.0, far_plane=1e10, cone_angle=0.0,
              stratified=False, generator=None):
    """The steps of rays ``(R, 3)`` inside ``box (6,)`` (None: no step at all) from ``near_plane`` ->
    step ``edges (K + 1,)``, each ray's ``first`` step and step ``count (R,)``, and the jitter ``shift (R,)``
    of each ray's steps (uniform in [0, 1) when ``stratified``, else 0.5)."""
    n_rays = origins.shape[0]
    unit_box = origins.new_tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    t_near, t_far, hit = ray_aabb(origins, directions, box if box is not None else unit_box)
    if box is None:
        hit = torch.zeros_like(hit)
    t_near = t_near.clamp_min(near_plane)
    t_far = t_far.clamp_max(far_plane)
    hit &= t_far > t_near
    edges = step_edges(
        near_plane, float(t_far[hit].max()) if hit.any() else near_plane, render_step_size, cone_angle
    ).to(origins)
    first = torch.searchsorted(edges, t_near.contiguous(), right=True) - 1
    last = torch.searchsorted(edges, t_far.contiguous(), right=False)  # exclusive end of steps
    first = first.clamp(0, len(edges) - 2)
    count = torch.where(hit, (last - first).clamp_min(0), 0).clamp_max(len(edges) - 1 - first)
    if stratified:
        return edges, first, count, torch.rand(n_rays, generator=generator).to(origins)
    return edges, first, count, torch.full((n_rays,), 0.5).to(origins)
