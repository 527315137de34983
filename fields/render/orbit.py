"""A minimal pinhole camera on an orbit, for turntable renders of SDF fields (sphere tracing).

Kept apart from the radiance-field cameras (``cameras.py``): it only makes world-space rays.
World is the field's unit cube; z is up.
"""

from __future__ import annotations

import math

import torch

from fields.render.look_at import look_at


def look_at_rays(
    eye, target, width: int, height: int, fov_degrees: float = 40.0, up=(0.0, 0.0, 1.0)
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rays through the pixel centres of a pinhole camera at ``eye`` looking at ``target``.

    Returns ``origins (H*W, 3)`` and unit ``directions (H*W, 3)``, row-major from the top-left pixel.
    """
    eye_t = torch.as_tensor(eye, dtype=torch.float32)
    right, true_up, back, _ = look_at(eye_t, target, up).unbind(1)
    forward = -back
    focal = 0.5 * height / math.tan(math.radians(fov_degrees) / 2)
    j, i = torch.meshgrid(
        torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32), indexing="ij"
    )
    x = (i + 0.5 - width / 2) / focal
    y = -(j + 0.5 - height / 2) / focal
    directions = forward + x[..., None] * right + y[..., None] * true_up
    directions = directions / directions.norm(dim=-1, keepdim=True)
    return eye_t.expand(height * width, 3).clone(), directions.reshape(-1, 3)


def orbit_eye(
    angle_degrees: float, radius: float = 1.7, elevation_degrees: float = 25.0, center=(0.5, 0.5, 0.5)
) -> tuple[float, float, float]:
    """A point on the orbit around ``center`` at this azimuth and elevation."""
    a, e = math.radians(angle_degrees), math.radians(elevation_degrees)
    return (
        center[0] + radius * math.cos(e) * math.cos(a),
        center[1] + radius * math.cos(e) * math.sin(a),
        center[2] + radius * math.sin(e),
    )
