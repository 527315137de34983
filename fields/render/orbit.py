"""A minimal pinhole camera on an orbit, for turntable renders of SDF fields (sphere tracing).

Kept apart from the radiance-field cameras (``cameras.py``): it only makes world-space rays.
World is the field's unit cube; the orbit turns about ``up`` (``z`` by default; meshes from many tools
are ``y``-up).
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


# right-handed axis orders with the up axis last: the orbit plane is spanned by the first two
_FRAMES = {"x": (1, 2, 0), "y": (2, 0, 1), "z": (0, 1, 2)}


def up_vector(up: str = "z") -> tuple[float, float, float]:
    vector = [0.0, 0.0, 0.0]
    vector[_FRAMES[up][2]] = 1.0
    return (vector[0], vector[1], vector[2])


def orbit_eye(
    angle_degrees: float, radius: float = 1.7, elevation_degrees: float = 25.0, center=(0.5, 0.5, 0.5), up: str = "z"
) -> tuple[float, float, float]:
    """A point on the orbit around ``center`` about the ``up`` axis (x, y or z) at this azimuth and elevation."""
    a, e = math.radians(angle_degrees), math.radians(elevation_degrees)
    offset = (radius * math.cos(e) * math.cos(a), radius * math.cos(e) * math.sin(a), radius * math.sin(e))
    eye = list(center)
    for axis, value in zip(_FRAMES[up], offset):
        eye[axis] += value
    return (eye[0], eye[1], eye[2])
