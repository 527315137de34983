"""Camera paths for videos: ``orbit`` (a circle around the scene at the cameras' mean distance and
elevation), ``spiral`` (LLFF's spiral around the mean pose, for forward-facing captures) and ``dataset``
(the given cameras in order). Poses are returned in the OpenGL convention, world units."""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from fields.render.cameras import Cameras
from fields.render.look_at import look_at


def _mean_up(cameras: Cameras) -> torch.Tensor:
    cv = cameras.to_opencv()
    up = -cv.c2w[:, :, 1].mean(0)
    return up / up.norm()


def orbit_path(cameras: Cameras, center: torch.Tensor, n_frames: int) -> torch.Tensor:
    """``(n_frames, 3, 4)`` poses circling ``center`` about the cameras' mean up axis."""
    up = _mean_up(cameras).double()
    offsets = cameras.origins.double() - center.double()
    radius = float(offsets.norm(dim=-1).mean())
    height = float((offsets @ up).mean())
    ring = math.sqrt(max(radius**2 - height**2, 1e-6))
    a = torch.linalg.cross(up, torch.tensor([1.0, 0.0, 0.0], dtype=up.dtype))
    if a.norm() < 1e-3:
        a = torch.linalg.cross(up, torch.tensor([0.0, 1.0, 0.0], dtype=up.dtype))
    a = a / a.norm()
    b = torch.linalg.cross(up, a)
    poses = []
    for k in range(n_frames):
        phi = 2 * math.pi * k / n_frames
        position = center.double() + up * height + ring * (math.cos(phi) * a + math.sin(phi) * b)
        poses.append(look_at(position, center.double(), up))
    return torch.stack(poses).float()


def spiral_path(cameras: Cameras, n_frames: int, focus_depth: float, radius_scale: float = 0.5) -> torch.Tensor:
    """LLFF-style spiral: positions circle the mean camera position in its image plane (radius from the
    cameras' spread) and look at a point ``focus_depth`` ahead."""
    cv = cameras.to_opencv()
    center = cv.origins.mean(0).double()
    forward = cv.forward.mean(0).double()
    forward = forward / forward.norm()
    up = _mean_up(cameras).double()
    right = torch.linalg.cross(forward, up)
    right = right / right.norm()
    up = torch.linalg.cross(right, forward)
    spread = (cv.origins.double() - center).abs().amax(0).norm().clamp_min(1e-3) * radius_scale
    target = center + forward * focus_depth
    poses = []
    for k in range(n_frames):
        phi = 2 * math.pi * 2 * k / n_frames  # two turns
        offset = spread * (math.cos(phi) * right + math.sin(phi) * up + 0.25 * math.sin(0.5 * phi) * forward)
        poses.append(look_at(center + offset, target, up))
    return torch.stack(poses).float()


def path_cameras(cameras: Cameras, poses: torch.Tensor, width: int, height: int) -> Cameras:
    """Cameras with the first camera's intrinsics (rescaled to ``width x height``) at ``poses``."""
    first = cameras[0]
    first = replace(first, distortion=None)
    scaled = replace(first.scaled(1.0), fx=first.fx * width / first.width, fy=first.fy * height / first.height,
                     cx=first.cx * width / first.width, cy=first.cy * height / first.height, width=width, height=height)
    n = len(poses)
    return Cameras(poses, scaled.fx.expand(n).clone(), scaled.fy.expand(n).clone(), scaled.cx.expand(n).clone(),
                   scaled.cy.expand(n).clone(), width, height, "opengl")
