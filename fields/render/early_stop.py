"""Early ray termination of occupancy-grid samples (Instant-NGP): densities evaluated in rounds of
``round_samples`` steps per ray, only for the rays whose transmittance is not yet spent; steps behind
``T < early_stop_eps`` or with ``alpha < alpha_thre`` are dropped. ``early_stop`` filters samples marched
beforehand; ``march_with_early_stop`` marches round by round too (the C++ marcher), so no ray is marched
past its end.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from fields.kernels.packing import exclusive_sum


def early_stop(
    ray_indices: torch.Tensor,
    t_starts: torch.Tensor,
    t_ends: torch.Tensor,
    sigma_fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    n_rays: int,
    early_stop_eps: float = 1e-4,
    alpha_thre: float = 0.0,
    round_samples: int = 32,
) -> torch.Tensor:
    """Packed samples ``(N,)`` sorted by ray and ``t`` -> ``keep (N,)`` bool: transmittance at the sample
    ``>= early_stop_eps`` and ``alpha >= alpha_thre``. Densities are evaluated ``round_samples`` steps
    per ray at a time, for the rays whose transmittance is not yet spent (0: all at once)."""
    n = len(ray_indices)
    sigmas = t_starts.new_zeros(n)
    evaluated = torch.zeros(n, dtype=torch.bool, device=t_starts.device)
    if round_samples <= 0:
        sigmas = sigma_fn(t_starts, t_ends, ray_indices).reshape(-1)
        evaluated[:] = True
    else:
        counts = torch.bincount(ray_indices, minlength=n_rays)
        rank = torch.arange(n, device=t_starts.device) - (torch.cumsum(counts, 0) - counts)[ray_indices]
        depth_limit = -math.log(early_stop_eps) if early_stop_eps > 0 else math.inf
        depth = t_starts.new_zeros(n_rays)  # optical depth of the evaluated steps, per ray
        for start in range(0, int(counts.max()), round_samples):
            alive = depth < depth_limit
            index = ((rank >= start) & (rank < start + round_samples) & alive[ray_indices]).nonzero().flatten()
            if len(index) == 0:
                break
            s = sigma_fn(t_starts[index], t_ends[index], ray_indices[index]).reshape(-1)
            sigmas[index] = s.to(sigmas)
            evaluated[index] = True
            depth.index_add_(0, ray_indices[index], sigmas[index] * (t_ends[index] - t_starts[index]))
    # the steps never evaluated lie behind a spent transmittance: their zero density changes no scan
    sigma_delta = sigmas * (t_ends - t_starts)
    transmittance = torch.exp(-exclusive_sum(sigma_delta, ray_indices))
    return evaluated & (transmittance >= early_stop_eps) & (1.0 - torch.exp(-sigma_delta) >= alpha_thre)


def march_with_early_stop(
    marcher,
    sigma_fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    n_rays: int,
    early_stop_eps: float = 1e-4,
    alpha_thre: float = 0.0,
    round_samples: int = 32,
    carry: bool = False,
) -> tuple[torch.Tensor, ...]:
    """``early_stop`` with the marching done round by round (``fields.kernels.march_cpu.Marcher``): each
    round marches the next ``round_samples`` occupied steps of the rays still alive and evaluates their
    densities, so no ray is marched past the point where its transmittance is spent. Same samples as
    marching everything and then ``early_stop``. Returns the packed ``ray_indices, t_starts, t_ends``; with
    ``carry``, ``sigma_fn`` returns ``(n, 1 + C)`` (density first) and the values ``(N, 1 + C)`` of the kept
    samples come fourth (inference: a field's colour computed with its density, not in a second pass)."""
    depth_limit = -math.log(early_stop_eps) if early_stop_eps > 0 else math.inf
    depth = torch.zeros(n_rays, dtype=torch.float64)  # optical depth of the evaluated steps, per ray
    alive = (marcher.next < marcher.end).nonzero().flatten()
    columns = torch.arange(round_samples)
    kept_rays, kept_t0, kept_t1, kept_values = [], [], [], []
    while len(alive):
        _, t0, t1, n = marcher.next_steps(alive, round_samples)
        valid = columns < n[:, None]  # (A, k): a prefix of each row
        rows = alive[:, None].expand_as(valid)
        if valid.any():
            sigma = t0.new_zeros(valid.shape, dtype=torch.float64)
            values = sigma_fn(t0[valid], t1[valid], rows[valid])
            sigma[valid] = (values[:, 0] if carry else values.reshape(-1)).double()
            sigma_delta = sigma * (t1 - t0).double()
            before = depth[alive][:, None] + torch.cumsum(sigma_delta, 1) - sigma_delta
            keep = valid & (torch.exp(-before) >= early_stop_eps) & (1.0 - torch.exp(-sigma_delta) >= alpha_thre)
            kept_rays.append(rows[keep])
            kept_t0.append(t0[keep])
            kept_t1.append(t1[keep])
            if carry:
                kept_values.append(values[keep[valid]])
            depth[alive] += sigma_delta.sum(1)
        alive = alive[(depth[alive] < depth_limit) & ~marcher.done(alive)]
    if not kept_rays:
        empty = torch.zeros(0)
        return (torch.zeros(0, dtype=torch.int64), empty, empty) + ((None,) if carry else ())
    rays = torch.cat(kept_rays)
    order = torch.argsort(rays, stable=True)  # rounds are in t order within each ray
    out = (rays[order], torch.cat(kept_t0)[order], torch.cat(kept_t1)[order])
    return out + (torch.cat(kept_values)[order],) if carry else out
