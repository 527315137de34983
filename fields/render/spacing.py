"""Where the first samples of a ray go in an unbounded scene (nerfstudio's ``UniformLinDispPiecewiseSampler``).

Bins uniform in ``s = g(t)`` with ``g(t) = t`` for ``t < 1`` and ``2 - 1/t`` beyond (distances in
contraction units: the foreground has radius 1): linear steps inside the foreground, then steps uniform
in disparity out to ``t_far``, so a far plane at 1000 costs as many samples as one at 2.
"""

from __future__ import annotations

from typing import Optional

import torch


def _g(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t < 1.0, t, 2.0 - 1.0 / t.clamp_min(1e-12))


def _g_inv(s: torch.Tensor) -> torch.Tensor:
    return torch.where(s < 1.0, s, 1.0 / (2.0 - s).clamp_min(1e-12))


def lindisp_piecewise_bins(t_near: torch.Tensor, t_far: torch.Tensor, n_samples: int, unit: float = 1.0,
                           stratified: bool = False, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """``n_samples`` bins between ``t_near`` and ``t_far (R,)`` -> edges ``(R, n_samples + 1)``. ``unit``:
    the length of one contraction unit in the ray's distance units (0.5 in the unit frame, whose box has
    half-side 0.5)."""
    s0, s1 = _g(t_near / unit), _g(t_far / unit)
    u = torch.linspace(0.0, 1.0, n_samples + 1, device=t_near.device, dtype=t_near.dtype).expand(len(t_near), -1)
    if stratified:
        jitter = torch.rand(len(t_near), n_samples + 1, generator=generator).to(u) - 0.5
        u = (u + jitter / n_samples).clamp(0.0, 1.0)
        u = torch.sort(u, dim=-1).values
        u[:, 0], u[:, -1] = 0.0, 1.0
    s = s0[:, None] + (s1 - s0)[:, None] * u
    return _g_inv(s) * unit


def normalized_spacing(t: torch.Tensor, unit: float = 1.0) -> torch.Tensor:
    """Ray distances -> ``s = g(t / unit) / 2`` in ``[0, 1)``: the coordinate in which the distortion loss of
    an unbounded scene is measured (mip-NeRF 360 and nerfacto use normalised spacing, not metric distance,
    so the far plane's distance does not weigh on it)."""
    return _g(t / unit) / 2.0
