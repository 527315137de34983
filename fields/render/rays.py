"""Rays, ray-box intersection and the scene normalisation to the unit cube.

The renderer works in a *unit frame*: the scene box of the data (world units) maps into [0, 1]^3 by one
uniform scale and a shift (``SceneTransform``), so fields read sample positions directly and ray
directions stay unit vectors (distances ``t`` are in unit-frame units, ``world = unit * scale``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional

import torch


class Rays(NamedTuple):
    """``origins (..., 3)`` and unit ``directions (..., 3)``; ``cameras (...)``: the view each ray comes
    from (int64; None for rays of no dataset view), for per-view appearance codes and pose corrections."""

    origins: torch.Tensor
    directions: torch.Tensor
    cameras: Optional[torch.Tensor] = None

    def __len__(self) -> int:
        return self.origins.shape[0]

    def __getitem__(self, index) -> "Rays":  # type: ignore[override]
        return Rays(self.origins[index], self.directions[index], None if self.cameras is None else self.cameras[index])

    def to(self, *args, **kwargs) -> "Rays":
        cameras = None if self.cameras is None else self.cameras.to(self.origins.to(*args, **kwargs).device)
        return Rays(self.origins.to(*args, **kwargs), self.directions.to(*args, **kwargs), cameras)

    def reshape(self, *shape: int) -> "Rays":
        cameras = None if self.cameras is None else self.cameras.reshape(*shape)
        return Rays(self.origins.reshape(*shape, 3), self.directions.reshape(*shape, 3), cameras)


@dataclass
class SceneTransform:
    """World -> unit frame: ``unit = (world - center) / scale + 0.5``. ``scale`` is the longest side of the
    scene box, so the box fits in [0, 1]^3 and directions keep their length."""

    center: torch.Tensor  # (3,)
    scale: float

    @classmethod
    def from_aabb(cls, aabb: torch.Tensor) -> "SceneTransform":
        """``aabb (6,)``: ``(xmin, ymin, zmin, xmax, ymax, zmax)`` in world units."""
        lo, hi = aabb[:3].double(), aabb[3:].double()
        return cls(((lo + hi) / 2).float(), float((hi - lo).max()))

    def points_to_unit(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.center.to(x)) / self.scale + 0.5

    def points_to_world(self, x: torch.Tensor) -> torch.Tensor:
        return (x - 0.5) * self.scale + self.center.to(x)

    def rays_to_unit(self, rays: Rays) -> Rays:
        return Rays(self.points_to_unit(rays.origins), rays.directions, rays.cameras)


def ray_aabb(
    origins: torch.Tensor, directions: torch.Tensor, aabb: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Slab test. ``origins, directions (..., 3)``, ``aabb (6,)`` -> ``t_near, t_far (...)`` (``t_near``
    clamped at 0 for rays starting inside) and ``hit (...)`` bool."""
    safe = torch.where(directions.abs() < 1e-12, torch.full_like(directions, 1e-12), directions)
    inv = 1.0 / safe
    t0 = (aabb[:3].to(origins) - origins) * inv
    t1 = (aabb[3:].to(origins) - origins) * inv
    t_near = torch.minimum(t0, t1).amax(-1).clamp_min(0.0)
    t_far = torch.maximum(t0, t1).amin(-1)
    return t_near, t_far, t_far > t_near


UNIT_AABB = torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
