"""Steps along rays for marching: their boundaries (constant or growing with a cone angle) and, per ray
and step, the jittered interval and its midpoint."""

from __future__ import annotations

import math

import torch


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
