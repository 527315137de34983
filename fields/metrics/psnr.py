"""Peak signal-to-noise ratio for signals in [0, 1]."""

from __future__ import annotations

import torch


def psnr_from_mse(mse: torch.Tensor, floor: float = 1e-12) -> torch.Tensor:
    """``-10 log10(mse)`` (dB), any shape; ``mse`` is clamped at ``floor`` (a perfect fit stays finite)."""
    return -10.0 * torch.log10(mse.clamp_min(floor))


def psnr(pred: torch.Tensor, target: torch.Tensor, floor: float = 1e-12) -> torch.Tensor:
    """Per-item PSNR ``(N,)`` of ``(N, ...)`` pairs (the mean squared error over all but the first axis)."""
    return psnr_from_mse((pred - target).square().flatten(1).mean(1), floor)
