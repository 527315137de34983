"""PointNet-style classifier (Qi et al. 2017, without the T-nets): the point-cloud baseline of tri-plane
classification, run on surface samples of the same shapes.

A shared MLP lifts each point ``(x, y, z)`` to ``widths[-1]`` features (1x1 convolutions with
BatchNorm and ReLU, as in PointNet), max-pool over points (order invariant), then an MLP classifier with
dropout. ``forward(points (B, N, 3)) -> logits (B, n_classes)``. The input transform nets are left out:
every shape is seen in the same frame as its tri-plane, so both classifiers face the same poses.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fields.config.heads import PointNetConfig
from fields.heads.registry import BACKBONES


@BACKBONES.register("pointnet")
class PointNet(nn.Module):
    input_kind = "points"

    Config = PointNetConfig

    def __init__(self, config: "PointNet.Config", in_channels: int, n_classes: int, image_size: Any = None):
        super().__init__()
        self.config = config
        self.in_channels = in_channels
        layers: list[nn.Module] = []
        for a, b in zip([in_channels] + config.widths[:-1], config.widths):
            layers += [nn.Conv1d(a, b, 1), nn.BatchNorm1d(b), nn.ReLU()]
        self.shared = nn.Sequential(*layers)
        head: list[nn.Module] = []
        for a, b in zip([config.widths[-1]] + config.head_widths[:-1], config.head_widths):
            head += [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU(), nn.Dropout(config.dropout)]
        head.append(nn.Linear(([config.widths[-1]] + config.head_widths)[-1], n_classes))
        self.head = nn.Sequential(*head)

    def forward_features(self, points: torch.Tensor) -> torch.Tensor:
        """``(B, N, 3) -> (B, widths[-1])`` max-pooled point features."""
        if points.dim() != 3 or points.shape[-1] != self.in_channels:
            raise ValueError(f"pointnet expects points (B, N, {self.in_channels}), got {tuple(points.shape)}")
        return self.shared(points.transpose(1, 2)).max(dim=2).values

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(points))


__all__ = ["PointNet"]
