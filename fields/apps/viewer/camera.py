"""The viewer's pinhole camera and its rays.

Conventions follow viser (and OpenCV): ``rotation`` is camera-to-world, the camera looks along its +z
axis, +x is right and +y is down in the image. ``fov`` is the vertical field of view in radians.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from fields.render.look_at import look_at


@dataclass(frozen=True)
class ViewCamera:
    position: tuple[float, float, float]
    rotation: tuple[tuple[float, float, float], ...]  # 3x3 camera-to-world, rows
    fov: float = math.radians(50.0)

    @classmethod
    def look_at(cls, position, target, up=(0.0, 0.0, 1.0), fov: float = math.radians(50.0)) -> "ViewCamera":
        """A camera at ``position`` looking at ``target`` with ``up`` pointing up in the image."""
        position = np.asarray(position, dtype=np.float64)
        rotation = look_at(torch.from_numpy(position), target, up)[:, :3].numpy() * np.array(
            [1.0, -1.0, -1.0]
        )  # OpenCV
        return cls(tuple(map(float, position)), tuple(tuple(map(float, row)) for row in rotation), float(fov))

    @classmethod
    def from_wxyz(cls, wxyz, position, fov: float) -> "ViewCamera":
        """From viser's camera state: a unit quaternion ``(w, x, y, z)`` and a position."""
        w, x, y, z = (float(v) for v in wxyz)
        rotation = (
            (1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)),
            (2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)),
            (2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)),
        )
        return cls(tuple(float(v) for v in position), rotation, float(fov))

    def focal(self, height: int) -> float:
        """Focal length in pixels for an image ``height`` pixels tall."""
        return 0.5 * height / math.tan(0.5 * self.fov)

    def rays(self, width: int, height: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Rays through pixel centres: origins and unit directions, each ``(height, width, 3)`` float32."""
        focal = self.focal(height)
        v, u = torch.meshgrid(torch.arange(height, dtype=torch.float32) + 0.5,
                              torch.arange(width, dtype=torch.float32) + 0.5, indexing="ij")
        local = torch.stack(((u - 0.5 * width) / focal, (v - 0.5 * height) / focal, torch.ones_like(u)), dim=-1)
        rotation = torch.tensor(self.rotation, dtype=torch.float32)
        directions = torch.nn.functional.normalize(local @ rotation.T, dim=-1)
        origins = torch.tensor(self.position, dtype=torch.float32).expand_as(directions)
        return origins, directions

    def forward(self) -> np.ndarray:
        return np.asarray(self.rotation)[:, 2]
