"""Samplers in the batched layout: stratified uniform samples and inverse-transform (PDF) resampling.

Samples are given by their bin edges ``t (R, S + 1)``; sample ``i`` is ``[t_i, t_{i+1})``.
"""

from __future__ import annotations

from typing import Optional

import torch


def uniform_bins(t_near: torch.Tensor, t_far: torch.Tensor, n_samples: int, stratified: bool = False,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """``n_samples`` equal bins between ``t_near`` and ``t_far (R,)`` -> edges ``(R, n_samples + 1)``.
    ``stratified``: one random shift per ray, of less than a bin, so the bins keep equal widths."""
    u = torch.linspace(0.0, 1.0, n_samples + 1, device=t_near.device, dtype=t_near.dtype)
    edges = t_near[:, None] + (t_far - t_near)[:, None] * u
    if stratified:
        shift = torch.rand(len(t_near), 1, generator=generator).to(edges) - 0.5
        edges = edges + shift * (t_far - t_near)[:, None] / n_samples
    return edges


def sample_pdf(bins: torch.Tensor, weights: torch.Tensor, n_samples: int, stratified: bool = False,
               generator: Optional[torch.Generator] = None, padding: float = 0.01) -> torch.Tensor:
    """Draw ``n_samples`` points from the piecewise-constant PDF ``weights (R, S)`` over ``bins (R, S + 1)``
    by inverting its CDF; returns the new bin *edges* ``(R, n_samples + 1)`` (sorted, no gradient).
    ``padding`` blends in a uniform PDF so empty stretches still get a few samples."""
    with torch.no_grad():
        w = weights.detach() + padding / weights.shape[-1] * weights.detach().sum(-1, keepdim=True).clamp_min(1e-5)
        w = w + 1e-8
        pdf = w / w.sum(-1, keepdim=True)
        cdf = torch.cat((torch.zeros_like(pdf[:, :1]), torch.cumsum(pdf, -1)), -1).clamp_max(1.0)
        n = n_samples + 1
        if stratified:
            u = (
                torch.arange(n, dtype=bins.dtype, device=bins.device)
                + torch.rand(len(bins), n, generator=generator).to(bins)
            ) / n
        else:
            u = (torch.arange(n, dtype=bins.dtype, device=bins.device) + 0.5).expand(len(bins), n) / n
        u = u.contiguous().clamp(0.0, 1.0 - 1e-6)
        above = torch.searchsorted(cdf.contiguous(), u, right=True).clamp(1, cdf.shape[-1] - 1)
        below = above - 1
        c0, c1 = cdf.gather(-1, below), cdf.gather(-1, above)
        b0, b1 = bins.gather(-1, below), bins.gather(-1, above)
        frac = ((u - c0) / (c1 - c0).clamp_min(1e-8)).clamp(0.0, 1.0)
        edges = b0 + frac * (b1 - b0)
        # keep the outer edges at the ray's ends
        edges[:, 0], edges[:, -1] = bins[:, 0], bins[:, -1]
        return torch.sort(edges, dim=-1).values
