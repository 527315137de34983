"""Regression losses by name."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def regression_loss(name: str, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if name == "l2":
        return F.mse_loss(pred, target)
    if name == "l1":
        return F.l1_loss(pred, target)
    if name == "huber":
        return F.huber_loss(pred, target, delta=0.1)
    if name == "mape":  # relative L1 (Instant-NGP's SDF loss)
        return ((pred - target).abs() / (target.detach().abs() + 1e-2)).mean()
    raise ValueError(f"unknown loss '{name}'")
