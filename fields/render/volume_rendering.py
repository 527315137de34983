"""Differentiable volume rendering (the quadrature of NeRF): weights, accumulation, compositing.

For samples ``[t_start, t_end)`` along a ray with density ``sigma``: ``alpha = 1 - exp(-sigma * delta)``,
transmittance ``T_i = exp(-sum_{j<i} sigma_j delta_j)`` and weight ``w_i = T_i * alpha_i``. Every function
takes either the batched layout (tensors ``(n_rays, S)``, ``ray_indices=None``) or the packed layout
(tensors ``(N,)`` with sorted ``ray_indices (N,)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from fields.kernels.packing import exclusive_sum, segment_sum
from fields.kernels.triton_volume import weights_from_density  # imports no triton on CPU paths


def render_transmittance_from_density(t_starts: torch.Tensor, t_ends: torch.Tensor, sigmas: torch.Tensor,
                                      ray_indices: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """-> ``(transmittance, alphas)``, each shaped like ``sigmas``."""
    fast = _triton_weights(t_starts, t_ends, sigmas, ray_indices)
    if fast is not None:
        return fast[1], fast[2]
    # capped: a density overflowing to inf made cumsum(x) - x give inf - inf = NaN (a 20-minute capture fit
    # diverged so); past ~104 exp(-x) is 0 in float32 and so is its gradient, so the cap changes no value
    sigma_delta = (sigmas * (t_ends - t_starts)).clamp(max=1e4)
    transmittance = torch.exp(-exclusive_sum(sigma_delta, ray_indices))
    return transmittance, 1.0 - torch.exp(-sigma_delta)


def render_weights_from_density(
    t_starts: torch.Tensor, t_ends: torch.Tensor, sigmas: torch.Tensor, ray_indices: Optional[torch.Tensor] = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """-> ``(weights, transmittance, alphas)``, each shaped like ``sigmas``."""
    fast = _triton_weights(t_starts, t_ends, sigmas, ray_indices)
    if fast is not None:
        return fast
    transmittance, alphas = render_transmittance_from_density(t_starts, t_ends, sigmas, ray_indices)
    return transmittance * alphas, transmittance, alphas


def _triton_weights(t_starts, t_ends, sigmas, ray_indices):
    """The Triton kernels (``fields.kernels.triton_volume``) for packed CUDA inputs, else ``None``."""
    if ray_indices is None or not sigmas.is_cuda:
        return None
    return weights_from_density(t_starts, t_ends, sigmas, ray_indices)


def render_weights_from_alpha(
    alphas: torch.Tensor, ray_indices: Optional[torch.Tensor] = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``T_i = prod_{j<i} (1 - alpha_j)`` (NeuS gives alphas directly) -> ``(weights, transmittance)``."""
    log_survive = torch.log1p(-alphas.clamp(max=1.0 - 1e-7))
    transmittance = torch.exp(exclusive_sum(log_survive, ray_indices))
    return transmittance * alphas, transmittance


def accumulate_along_rays(weights: torch.Tensor, values: Optional[torch.Tensor] = None,
                          ray_indices: Optional[torch.Tensor] = None, n_rays: Optional[int] = None) -> torch.Tensor:
    """``sum_i w_i v_i`` per ray. Batched: weights ``(R, S)``, values ``(R, S, C)`` -> ``(R, C)``; packed:
    weights ``(N,)``, values ``(N, C)`` -> ``(n_rays, C)``. Without values: the opacity ``(R, 1)``."""
    src = weights[..., None] if values is None else weights[..., None] * values
    if ray_indices is None:
        return src.sum(dim=-2)
    if n_rays is None:
        raise ValueError("the packed layout needs n_rays")
    return segment_sum(src, ray_indices, n_rays)


@dataclass
class RenderOutput:
    """Per ray: ``rgb (R, 3)`` (composited over the background), ``opacity (R, 1)``, ``depth (R, 1)``
    (expected distance, unit frame), and the samples' ``weights`` for losses; ``extras`` for the model."""

    rgb: torch.Tensor
    opacity: torch.Tensor
    depth: torch.Tensor
    weights: torch.Tensor
    extras: dict


def render(
    t_starts: torch.Tensor,
    t_ends: torch.Tensor,
    ray_indices: Optional[torch.Tensor],
    n_rays: int,
    rgb_sigma_fn: Callable[[torch.Tensor, torch.Tensor, Optional[torch.Tensor]], tuple[torch.Tensor, torch.Tensor]],
    background: Optional[torch.Tensor] = None,
) -> RenderOutput:
    """Evaluate ``rgb_sigma_fn(t_starts, t_ends, ray_indices) -> (rgb (..., 3), sigma (...))`` and composite.

    background: ``(3,)`` or ``(n_rays, 3)``, added with weight ``1 - opacity``; None keeps black.
    """
    rgbs, sigmas = rgb_sigma_fn(t_starts, t_ends, ray_indices)
    weights, _, _ = render_weights_from_density(t_starts, t_ends, sigmas, ray_indices)
    opacity = accumulate_along_rays(weights, None, ray_indices, n_rays)
    rgb = accumulate_along_rays(weights, rgbs, ray_indices, n_rays)
    depth = accumulate_along_rays(weights, ((t_starts + t_ends) / 2)[..., None], ray_indices, n_rays)
    if background is not None:
        rgb = rgb + (1.0 - opacity) * background
    return RenderOutput(rgb, opacity, depth, weights, {})


def distortion_loss(weights: torch.Tensor, t_starts: torch.Tensor, t_ends: torch.Tensor,
                    ray_indices: Optional[torch.Tensor] = None, n_rays: Optional[int] = None) -> torch.Tensor:
    """mip-NeRF 360's distortion loss per ray, ``sum_ij w_i w_j |m_i - m_j| + 1/3 sum_i w_i^2 delta_i``, in
    its linear-time form (samples sorted along each ray). Returns ``(n_rays,)``."""
    mid, delta = (t_starts + t_ends) / 2, t_ends - t_starts
    w_before = exclusive_sum(weights, ray_indices)
    wm_before = exclusive_sum(weights * mid, ray_indices)
    per_sample = 2.0 * weights * (mid * w_before - wm_before) + weights**2 * delta / 3.0
    if ray_indices is None:
        return per_sample.sum(-1)
    return segment_sum(per_sample, ray_indices, n_rays if n_rays is not None else int(ray_indices.max()) + 1)
