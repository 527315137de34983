"""Sphere tracing of fields that are negative inside: signed distances, or occupancy logits with a grid.

One algorithm for the offline renders (``sphere_trace``, turntables) and the viewer (which runs the same
steps in chunks, yielding to its scheduler between them):

1. Each ray starts where it enters the unit cube. With a ``CoarseGrid`` (``fields.render.coarse_grid``),
   a ray in a cell the surface cannot pass through jumps with no field query; without one every step
   queries the field.
2. A ray near the surface queries the field (all of them in one batch): an SDF steps
   ``step_scale f / lipschitz`` and at least the pixel's footprint (cone tracing: a ray stops within half
   of it; ``pixel_angle = 0`` turns it off) and ``min_step``; occupancy logits (``lipschitz=None``, a grid
   is required) step ``h / 3``. Both step further where the secant along the ray predicts the crossing
   further on (up to twice the sphere step; up to ``h``).
3. A ray hits when ``|f| < epsilon``; a ray whose value turns negative (stepped through the surface, as a
   neural SDF that is only roughly 1-Lipschitz does) is bracketed between its last point outside and
   that point. Brackets are refined together by bisection (while the outside value is unknown) then
   regula falsi. A ray misses when it leaves the cube or spends ``max_steps`` queries.

The tracer is a coroutine (``sphere_trace_steps``): it yields the points it needs ``(N, 3)`` and is sent
their values ``(N,)``, so the caller decides how the field is evaluated (at once, in chunks, on another
device). Missed by construction: thin shells that one secant-lengthened step jumps over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generator, Optional

import torch

from fields.render.coarse_grid import CoarseGrid
from fields.render.rays import UNIT_AABB, ray_aabb

SDFFn = Callable[[torch.Tensor], torch.Tensor]  # (N, 3) unit coordinates -> (N,), negative inside
Steps = Generator[torch.Tensor, torch.Tensor, "TraceResult"]  # yields points (N, 3), is sent values (N,)


@dataclass
class TraceResult:
    depth: torch.Tensor  # (R,) distance along the ray to the hit (inf where missed)
    hit: torch.Tensor  # (R,) bool
    points: torch.Tensor  # (R, 3) hit positions (undefined where missed)
    touched: torch.Tensor  # (R,) bool: the ray queried the field (came near the surface, with a grid)
    queries: int  # field evaluations spent on the trace (not counting the coarse grid)


def march(f: torch.Tensor, t: torch.Tensor, prev_t: torch.Tensor, prev_f: torch.Tensor, lipschitz: Optional[float],
          step_scale: float, hit_epsilon: float, pixel_angle: float, min_step: float,
          cell: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Values ``f`` at ``t`` (last point outside ``prev_t, prev_f``; ``prev_f = inf`` where unknown) ->
    ``on`` (a hit), ``crossed`` (stepped through: bracketed) and the next ``step``, each ``(n,)``."""
    # approaching the surface, the secant along the ray (the slope seen from the last step) may
    # lengthen the step; an overshoot is bracketed and refined
    slope = ((prev_f - f) / (t - prev_t).clamp_min(1e-9)).clamp_min(1e-6)
    secant = torch.where(torch.isfinite(prev_f) & (prev_f > f), 0.9 * f / slope, torch.zeros_like(f))
    if lipschitz is None:  # logits: steps of h / 3, up to h where the secant points further
        crossed = f <= 0
        return torch.zeros_like(crossed), crossed, secant.clamp(cell / 3.0, cell)
    footprint = pixel_angle * t
    epsilon = (0.5 * footprint).clamp_min(hit_epsilon)
    sphere = step_scale * f / lipschitz  # at most twice this with the secant
    step = torch.maximum(torch.maximum(sphere, footprint.clamp_min(min_step)), torch.minimum(secant, 2 * sphere))
    return f.abs() < epsilon, f <= -epsilon, step


def refine(origins: torch.Tensor, directions: torch.Tensor, t_in: torch.Tensor, f_in: torch.Tensor,
           t_out: torch.Tensor, f_out: torch.Tensor, steps: int) -> Generator[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Brackets ``[t_out, t_in] (n,)`` (``f_out = inf`` where the outside value is unknown) of rays
    ``origins, directions (n, 3)`` -> the distances ``(n,)`` nearest the surface after ``steps`` queries."""
    for _ in range(steps):
        secant = t_out + (t_in - t_out) * f_out / (f_out - f_in).clamp_min(1e-12)
        mid = torch.where(torch.isfinite(f_out), secant, 0.5 * (t_out + t_in))
        f = (yield origins + mid[:, None] * directions).reshape(-1).to(t_in.dtype)
        outside = f > 0
        t_out, f_out = torch.where(outside, mid, t_out), torch.where(outside, f, f_out)
        t_in, f_in = torch.where(outside, t_in, mid), torch.where(outside, f_in, f)
    return torch.where(f_out.abs() < f_in.abs(), t_out, t_in)


def sphere_trace_steps(origins: torch.Tensor, directions: torch.Tensor, grid: Optional[CoarseGrid] = None,
                       lipschitz: Optional[float] = 1.0, step_scale: float = 0.9, hit_epsilon: float = 1e-3,
                       max_steps: int = 128, max_iterations: Optional[int] = None, refine_steps: int = 5,
                       pixel_angle: float = 0.0, min_step: Optional[float] = None,
                       start: Optional[torch.Tensor] = None, traced: Optional[torch.Tensor] = None) -> Steps:
    """Trace rays ``origins, directions (R, 3)`` (unit coordinates, unit directions): a coroutine that yields
    the points to evaluate ``(N, 3)`` and is sent their values ``(N,)``; returns a ``TraceResult``.
    ``lipschitz``: the step's slope bound of an SDF, ``None`` for logits (needs ``grid``). ``pixel_angle``
    (radians a pixel spans): cone tracing. ``min_step``: default ``h / 16`` with a grid, else 0.
    ``max_iterations``: rounds (queries or empty-space jumps), default ``max(256, max_steps)``.
    ``start (R,)``: distances to start from (no surface before them); ``traced (R,)`` bool: the rays to
    trace (the others miss). An empty request (no point near the surface this round) may be answered
    with an empty tensor; it marks a round of empty-space jumps."""
    if lipschitz is None and grid is None:
        raise ValueError("tracing occupancy logits (lipschitz=None) needs a coarse grid")
    h = 1.0 if grid is None else 1.0 / grid.resolution
    min_step = (0.0 if grid is None else h / 16.0) if min_step is None else min_step
    near, far, _ = ray_aabb(origins, directions, UNIT_AABB.to(origins))
    t = near + 1e-5 if start is None else torch.maximum(near + 1e-5, start)
    # per ray, written when it finishes: the hit (or the bracket's inside end) and the bracket's outside end
    prev_t, prev_f, inside_f = t.clone(), torch.full_like(t, float("inf")), torch.zeros_like(t)
    hit, bracketed, touched = (torch.zeros_like(t, dtype=torch.bool) for _ in range(3))
    # the active rays' state, compacted as rays finish
    ids = ((near < far) if traced is None else (near < far) & traced).nonzero().squeeze(-1)
    o, d, ta, tf = origins[ids], directions[ids], t[ids], far[ids]
    pt, pf = ta.clone(), torch.full_like(ta, float("inf"))  # last point known to be outside
    evaluations = torch.zeros_like(ids, dtype=torch.int32)
    queries = 0
    for _ in range(max(256, max_steps) if max_iterations is None else max_iterations):
        if ids.numel() == 0:
            break
        x = o + ta[:, None] * d
        near_surface = torch.ones_like(ta, dtype=torch.bool)
        if grid is not None:
            cell, flat = grid.cells(x)
            near_surface = grid.candidate[flat]
            empty = ~near_surface  # empty space: jump without querying the field
            if empty.any():
                moved = ta[empty] + grid.jump(x[empty], d[empty], cell[empty], flat[empty])
                ta[empty], pt[empty], pf[empty] = moved, moved, float("inf")
        done = torch.zeros_like(near_surface)
        if near_surface.any():
            f = (yield x[near_surface]).reshape(-1).to(t.dtype)
            queries += f.numel()
            tn, ptn, pfn = ta[near_surface], pt[near_surface], pf[near_surface]
            on, crossed, step = march(f, tn, ptn, pfn, lipschitz, step_scale, hit_epsilon, pixel_angle, min_step, h)
            rays = ids[near_surface]
            touched[rays] = True
            hit[rays[on]], t[rays[on]] = True, tn[on]
            done_rays = rays[crossed]
            bracketed[done_rays], t[done_rays], inside_f[done_rays] = True, tn[crossed], f[crossed]
            prev_t[done_rays], prev_f[done_rays] = ptn[crossed], pfn[crossed]
            go = ~on & ~crossed
            pt[near_surface], pf[near_surface] = torch.where(go, tn, ptn), torch.where(go, f, pfn)
            ta[near_surface] = torch.where(go, tn + step, tn)
            evaluations[near_surface] += 1
            done[near_surface] = on | crossed
        else:
            yield x[:0]  # only empty-space jumps this round
        keep = ~done & (ta < tf) & (evaluations < max_steps)
        if not bool(keep.all()):
            ids, o, d, ta, tf, pt, pf, evaluations = (a[keep] for a in (ids, o, d, ta, tf, pt, pf, evaluations))

    if bracketed.any():
        rays = bracketed.nonzero().squeeze(-1)
        t[rays] = yield from refine(origins[rays], directions[rays], t[rays], inside_f[rays], prev_t[rays],
                                    prev_f[rays], refine_steps)
        queries += refine_steps * rays.numel()
        hit |= bracketed
    points = origins + t[:, None] * directions
    depth = torch.where(hit, t, torch.full_like(t, float("inf")))
    return TraceResult(depth, hit, points, touched, queries)


def run_steps(steps: Steps, fn: SDFFn) -> TraceResult:
    """Drive a tracing coroutine with ``fn`` evaluated on each request at once (no autograd)."""
    try:
        x = next(steps)
        while True:
            with torch.no_grad():
                x = steps.send(fn(x).reshape(-1) if x.shape[0] else x.new_zeros(0))
    except StopIteration as stop:
        return stop.value


def sphere_trace(sdf: SDFFn, origins: torch.Tensor, directions: torch.Tensor, grid: Optional[CoarseGrid] = None,
                 **options) -> TraceResult:
    """Trace rays ``origins, directions (R, 3)`` (unit directions) against ``sdf`` (negative inside), with
    empty-space skipping on ``grid`` when given; ``options`` as ``sphere_trace_steps``."""
    return run_steps(sphere_trace_steps(origins, directions, grid, **options), sdf)
