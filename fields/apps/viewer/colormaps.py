"""Colour maps for scalar images: a turbo-like heat map for errors and depth."""

from __future__ import annotations

import torch

# Polynomial fit of Google's Turbo colour map (Mikhailov 2019), per channel, in powers of t.
_TURBO = torch.tensor([
    [0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943],
    [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604],
    [0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973],
])


def turbo(values: torch.Tensor) -> torch.Tensor:
    """``(...)`` values in [0, 1] -> ``(..., 3)`` colours in [0, 1]."""
    t = values.float().clamp(0.0, 1.0)[..., None]
    powers = torch.cat([t**k for k in range(6)], dim=-1)
    return (powers @ _TURBO.T.to(powers.device)).clamp(0.0, 1.0)


def normalise_depth(depth: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Map depths of ``valid`` pixels to [0, 1] between their 2nd and 98th percentiles (near is 0)."""
    out = torch.zeros_like(depth, dtype=torch.float32)
    if valid.any():
        values = depth[valid].float()
        lo, hi = torch.quantile(values[:100000], torch.tensor([0.02, 0.98], device=values.device))
        out[valid] = ((values - lo) / (hi - lo).clamp_min(1e-6)).clamp(0.0, 1.0)
    return out
