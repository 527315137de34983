"""Coarse-to-fine for hash grids (BARF's window over frequency bands, applied to a hash grid's levels).

The radiance task's ``render.coarse_to_fine`` share of the run: the finer levels fade in, so the field is
smooth first. Two reasons to want that. Pose refinement: a pose error of a degree then gives every ray of a
camera a gradient of the same sign, instead of the noise of fine detail (BARF). And the optimisation of the
field itself: on a capture of high-contrast texture reaching the horizon, fine hash levels trained from the
first step left the field a blur with half-transparent objects; with the window the coarse levels first
learn the layout and the fine ones then add detail (quarry walk, 5 minutes of 2 cores: 18.4 dB without,
22.3 with the window over 30% of the run; benchmarks/RESULTS.md).
"""

from __future__ import annotations

import math
from typing import Optional

import torch


def coarse_to_fine_weights(n_levels: int, progress: float, fraction: float, start: int = 4) -> Optional[torch.Tensor]:
    """BARF's coarse-to-fine window over a hash grid's levels ``(n_levels,)``, or ``None`` once every level
    is in (or with ``fraction`` 0). The first ``start`` levels are always in (a hash grid has no identity
    input to fall back on); ``alpha`` then grows linearly from ``start`` to ``n_levels`` over the first
    ``fraction`` of the run, and level ``l`` comes in as ``(1 - cos(pi * clamp(alpha - l, 0, 1))) / 2``."""
    if fraction <= 0 or progress >= fraction or n_levels <= start:
        return None
    alpha = start + (n_levels - start) * max(progress, 0.0) / fraction
    x = (alpha - torch.arange(n_levels, dtype=torch.float32)).clamp(0.0, 1.0)
    weights = (1.0 - torch.cos(math.pi * x)) / 2.0
    weights[:start] = 1.0
    return weights
