"""Early ray termination of occupancy-grid samples (Instant-NGP): densities evaluated in rounds of steps
per ray, only for the rays whose transmittance is not yet spent; steps behind ``T < early_stop_eps`` or
with ``alpha < alpha_thre`` are dropped. ``early_stop`` filters samples marched beforehand;
``march_with_early_stop`` marches round by round too (the C++ marcher), so no ray is marched past its end;
``composite_with_early_stop`` (inference) composites in the same loop, with the C++ marcher's packing
and compositing. The rounds grow (``round_sizes``: 8, 16, then ``round_samples`` steps per ray in
training; 4 then 8 at inference): a trained field's rays mostly turn opaque within a few occupied steps,
and the steps of a round behind that point are evaluated for nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from fields.kernels.packing import exclusive_sum

FIRST_ROUND = 8  # steps per ray in the first round (benchmarks set round_samples here for the fixed rounds of before)
# samples per field call at inference: the MLPs' activations of a block stay in the CPU's cache (16384 rows
# of 64 bfloat16 are 2 MB); larger calls stream every layer's output through memory. With the ReLU fused
# into oneDNN's linear, 16384 rows ran 8-13% faster than 8192 and no slower than 32768 (glossy 512x512 frames)
INFERENCE_BLOCK = 16384
# inference rounds of 4 then 8 steps per ray: rays of a trained field mostly turn opaque within a few
# occupied steps; with marching and compositing in C++ a round costs little, and rounds of 4-8 evaluate
# 18% fewer densities than 8-16 (measured on a POV-Ray scene, 512x512 frames)
INFERENCE_FIRST_ROUND = 4
INFERENCE_ROUND = 8


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
    ``>= early_stop_eps`` and ``alpha >= alpha_thre``. Densities are evaluated in rounds of steps per ray
    (``round_sizes``, up to ``round_samples``), for the rays whose transmittance is not yet spent (0: all
    at once)."""
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
        start, longest, sizes = 0, int(counts.max()), round_sizes(round_samples)
        while start < longest:
            k = next(sizes)
            alive = depth < depth_limit
            index = ((rank >= start) & (rank < start + k) & alive[ray_indices]).nonzero().flatten()
            start += k
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
    round marches the next occupied steps (``round_sizes``) of the rays still alive and evaluates their
    densities, so no ray is marched past the point where its transmittance is spent. Same samples as
    marching everything and then ``early_stop``. Returns the packed ``ray_indices, t_starts, t_ends``; with
    ``carry``, ``sigma_fn`` returns ``(n, 1 + C)`` (density first) and the values ``(N, 1 + C)`` of the kept
    samples come fourth (inference: a field's colour computed with its density, not in a second pass)."""
    depth_limit = -math.log(early_stop_eps) if early_stop_eps > 0 else math.inf
    depth = torch.zeros(n_rays, dtype=torch.float64)  # optical depth of the evaluated steps, per ray
    alive = (marcher.next < marcher.end).nonzero().flatten()
    sizes = round_sizes(round_samples)
    kept_rays, kept_t0, kept_t1, kept_values = [], [], [], []
    while len(alive):
        k = next(sizes)
        _, t0, t1, n = marcher.next_steps(alive, k)
        valid = torch.arange(k) < n[:, None]  # (A, k): a prefix of each row
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


def round_sizes(round_samples: int, first: int | None = None):
    """Steps per ray in each round: ``first`` (or ``round_samples`` if smaller), doubling up to
    ``round_samples``, then ``round_samples`` on. Most rays of a trained field turn opaque within a few
    occupied steps: small first rounds do not evaluate the steps behind the surface, later rounds grow so
    rays crossing much empty-but-occupied space take few rounds."""
    k = max(1, min(FIRST_ROUND if first is None else first, round_samples))
    while True:
        yield k
        k = min(2 * k, round_samples)


def composite_with_early_stop(
    marcher,
    features_fn: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    colour_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    n_rays: int,
    early_stop_eps: float = 1e-4,
    alpha_thre: float = 0.0,
    round_samples: int = 32,
    min_weight: float = 1e-4,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Inference: march (``fields.kernels.march_cpu.Marcher``), evaluate and composite in one loop, in
    rounds of growing size (``round_sizes``) over the rays still alive; no packed samples are kept.

    ``features_fn(x (n, 3), ray_indices (n,)) -> (sigma (n,), features (n, C))``: the density pass at the
    steps' midpoints;
    ``colour_fn(features (M, C), ray_indices (m,), rows (m,)) -> rgb (m, 3)``, the colour of ``features[rows]``,
    runs only for the samples whose weight
    is at least ``min_weight`` (the colour of fainter samples changes no pixel by more than their weight;
    their weight still counts in opacity and depth). Samples kept are those of ``early_stop``:
    transmittance ``>= early_stop_eps`` and ``alpha >= alpha_thre``. Returns ``rgb (R, 3)`` (not yet over
    a background), ``opacity (R,)``, ``depth (R,)`` (expected distance) and the number of samples evaluated.
    """
    dtype = marcher.o.dtype
    optical = torch.zeros(n_rays, dtype=torch.float64)  # optical depth of the evaluated steps, per ray
    rgb, opacity, depth = (torch.zeros(n_rays, 3, dtype=dtype), torch.zeros(n_rays, dtype=dtype),
                           torch.zeros(n_rays, dtype=dtype))
    alive = (marcher.next < marcher.end).nonzero().flatten()
    evaluated = 0
    cap = min(round_samples, INFERENCE_ROUND) if round_samples > 0 else INFERENCE_ROUND
    sizes = round_sizes(cap, min(FIRST_ROUND, INFERENCE_FIRST_ROUND))
    while len(alive):
        rows, t0, t1, x, n, offsets = marcher.next_samples(alive, next(sizes))
        if not len(rows):  # a ray gets fewer steps than asked only at its end: every ray is done
            break
        sigma, features = _in_blocks(features_fn, x, rows)
        evaluated += len(rows)
        weights, shows, going_on = marcher.composite(alive, n, offsets, t0, t1, sigma, optical, opacity, depth,
                                                     early_stop_eps, alpha_thre, min_weight)
        shows = shows.nonzero().flatten()
        if len(shows):
            colour = _in_blocks(lambda ri, si: colour_fn(features, ri, si), rows[shows], shows).to(dtype)
            rgb.index_add_(0, rows[shows], weights[shows, None] * colour)
        alive = alive[going_on]
    return rgb, opacity, depth, evaluated


def _in_blocks(fn, *inputs: torch.Tensor):
    """``fn(*inputs)`` on ``INFERENCE_BLOCK`` rows at a time; outputs (a tensor or a tuple) concatenated."""
    n = len(inputs[0])
    if n <= INFERENCE_BLOCK:
        return fn(*inputs)
    parts = [fn(*(x[i : i + INFERENCE_BLOCK] for x in inputs)) for i in range(0, n, INFERENCE_BLOCK)]
    if isinstance(parts[0], tuple):
        return tuple(torch.cat(p) for p in zip(*parts))
    return torch.cat(parts)
