"""Normalisation of a shape into the unit cube, with the transform recorded so that meshes and metrics
come back in the input's own coordinates.

``unit = input * scale + offset``: the bounding box's centre goes to ``(0.5, 0.5, 0.5)`` and its longest
side to ``1 - 2 * padding``. Distances scale by ``scale`` (an SDF in unit coordinates is ``scale``
times the SDF in input coordinates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class UnitCubeTransform:
    scale: float
    offset: tuple[float, float, float]

    @classmethod
    def fit(cls, points: np.ndarray, padding: float = 0.1) -> "UnitCubeTransform":
        """The transform that puts ``points (N, 3)`` centred in ``[padding, 1 - padding]^3``."""
        if not 0 <= padding < 0.5:
            raise ValueError(f"padding must be in [0, 0.5), got {padding}")
        points = np.asarray(points, dtype=np.float64)
        lo, hi = points.min(axis=0), points.max(axis=0)
        extent = float((hi - lo).max())
        scale = (1.0 - 2.0 * padding) / extent if extent > 0 else 1.0
        offset = 0.5 - scale * (lo + hi) / 2.0
        return cls(scale, tuple(float(v) for v in offset))

    @classmethod
    def identity(cls) -> "UnitCubeTransform":
        return cls(1.0, (0.0, 0.0, 0.0))

    def _offset_like(self, x):
        if isinstance(x, torch.Tensor):
            return torch.tensor(self.offset, dtype=x.dtype, device=x.device)
        return np.asarray(self.offset, dtype=np.float64)

    def to_unit(self, x):
        """Input coordinates ``(..., 3)`` -> unit-cube coordinates (numpy or torch)."""
        return x * self.scale + self._offset_like(x)

    def to_input(self, x):
        """Unit-cube coordinates ``(..., 3)`` -> input coordinates (numpy or torch)."""
        return (x - self._offset_like(x)) / self.scale

    def distance_to_input(self, d):
        return d / self.scale

    def as_tensor(self) -> torch.Tensor:
        """``(4,)`` float64: scale then offset (stored in checkpoints)."""
        return torch.tensor([self.scale, *self.offset], dtype=torch.float64)

    @classmethod
    def from_tensor(cls, t: torch.Tensor) -> "UnitCubeTransform":
        values = [float(v) for v in t.detach().cpu().double()]
        return cls(values[0], tuple(values[1:4]))
