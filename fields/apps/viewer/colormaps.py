"""Colour maps for scalar images: a turbo-like heat map for errors and depth."""

from __future__ import annotations

import numpy as np
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


def colour_bar(width: int = 256, height: int = 12) -> np.ndarray:
    """The heat map's key: ``(height, width, 3)`` uint8, low values on the left."""
    ramp = (turbo(torch.linspace(0.0, 1.0, width)) * 255.0 + 0.5).to(torch.uint8).numpy()
    return np.ascontiguousarray(np.broadcast_to(ramp[None], (height, width, 3)))


def legend(mode: str, view: object) -> str | None:
    """What the colours of ``mode`` mean, for the modes drawn with the heat map (None for the others)."""
    if mode == "depth":
        return "depth: near (left) to far (right), between the 2nd and 98th percentile of the view"
    if mode == "error":
        return f"absolute error: 0 (left) to {getattr(view, 'error_scale', 0.25):g} and above (right)"
    return None
