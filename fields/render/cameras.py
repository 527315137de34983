"""Pinhole cameras: OpenCV intrinsics, radial-tangential distortion, camera-to-world poses.

Conventions of the camera frame (the columns of the camera-to-world rotation):

- ``opencv`` (COLMAP): x right, y down, z forward (the camera looks along +z).
- ``opengl`` (Blender, Instant-NGP ``transforms.json``, LLFF after its axis swap): x right, y up, and the
  camera looks along -z.

Pixel ``(u, v)`` has its centre at ``(i + 0.5, j + 0.5)``; ``u`` grows to the right, ``v`` downwards in
the image, for both conventions. Distortion follows OpenCV: ``k1, k2, p1, p2`` (and ``k3``) act on
normalised camera coordinates ``(x, y) = ((u - cx) / fx, (v - cy) / fy)`` of the OpenCV frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Literal, Optional

import torch

from fields.errors import UserError
from fields.render.rays import Rays

log = logging.getLogger("fields")
Convention = Literal["opengl", "opencv"]
# camera-frame axes of OpenGL expressed in OpenCV's: flip y and z
_GL_TO_CV = torch.tensor([1.0, -1.0, -1.0])


@dataclass
class Cameras:
    """``n`` cameras of one image size.

    c2w: ``(n, 3, 4)`` camera-to-world ``[R | t]`` in ``convention``; fx, fy, cx, cy: ``(n,)`` pixels;
    distortion: ``(n, 5)`` ``(k1, k2, p1, p2, k3)`` or None.
    """

    c2w: torch.Tensor
    fx: torch.Tensor
    fy: torch.Tensor
    cx: torch.Tensor
    cy: torch.Tensor
    width: int
    height: int
    convention: Convention = "opengl"
    distortion: Optional[torch.Tensor] = None

    def __len__(self) -> int:
        return self.c2w.shape[0]

    def __getitem__(self, index) -> "Cameras":
        index = torch.as_tensor(index).reshape(-1)
        dist = None if self.distortion is None else self.distortion[index]
        return replace(self, c2w=self.c2w[index], fx=self.fx[index], fy=self.fy[index], cx=self.cx[index],
                       cy=self.cy[index], distortion=dist)

    def to_opencv(self) -> "Cameras":
        """The same cameras with poses in the OpenCV convention."""
        if self.convention == "opencv":
            return self
        c2w = self.c2w.clone()
        c2w[:, :, :3] = c2w[:, :, :3] * _GL_TO_CV.to(c2w)
        return replace(self, c2w=c2w, convention="opencv")

    def scaled(self, factor: float) -> "Cameras":
        """Cameras for images resized by ``factor`` (0.5: half the width and height)."""
        width, height = max(1, round(self.width * factor)), max(1, round(self.height * factor))
        sx, sy = width / self.width, height / self.height
        return replace(
            self, fx=self.fx * sx, fy=self.fy * sy, cx=self.cx * sx, cy=self.cy * sy, width=width, height=height
        )

    @property
    def origins(self) -> torch.Tensor:
        return self.c2w[:, :, 3]

    @property
    def forward(self) -> torch.Tensor:
        """``(n, 3)`` viewing directions in the world."""
        z = self.c2w[:, :, 2]
        return z if self.convention == "opencv" else -z


def undistort(
    xd: torch.Tensor, yd: torch.Tensor, dist: torch.Tensor, iterations: int = 20
) -> tuple[torch.Tensor, torch.Tensor]:
    """Invert OpenCV radial-tangential distortion by fixed-point iteration (as ``cv2.undistortPoints``).

    xd, yd: ``(B,)`` distorted normalised coordinates; dist: ``(B, 5)``. Returns undistorted ``(x, y)``."""
    k1, k2, p1, p2, k3 = dist.unbind(-1)
    x, y = xd, yd
    for _ in range(iterations):
        r2 = x * x + y * y
        radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
        dx = 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
        dy = p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
        x = (xd - dx) / radial
        y = (yd - dy) / radial
    return x, y


def distort(x: torch.Tensor, y: torch.Tensor, dist: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """OpenCV's forward distortion model: undistorted -> distorted normalised coordinates ``(B,)``."""
    k1, k2, p1, p2, k3 = dist.unbind(-1)
    r2 = x * x + y * y
    radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    return (x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x),
            y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y)


def generate_rays(cameras: Cameras, camera_index: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> Rays:
    """Rays through pixel positions. camera_index: ``(B,)`` int64; u, v: ``(B,)`` pixel coordinates
    (``i + 0.5`` is the centre of pixel column ``i``). Returns world-space rays ``(B, 3)`` with unit
    directions."""
    c2w = cameras.c2w[camera_index]
    x = (u - cameras.cx[camera_index]) / cameras.fx[camera_index]
    y = (v - cameras.cy[camera_index]) / cameras.fy[camera_index]
    if cameras.distortion is not None:
        x, y = undistort(x, y, cameras.distortion[camera_index].to(x))
    if cameras.convention == "opencv":
        d_cam = torch.stack((x, y, torch.ones_like(x)), dim=-1)
    else:
        d_cam = torch.stack((x, -y, -torch.ones_like(x)), dim=-1)
    directions = (c2w[:, :, :3] @ d_cam[:, :, None])[:, :, 0]
    directions = directions / directions.norm(dim=-1, keepdim=True)
    return Rays(c2w[:, :, 3].expand_as(directions).contiguous(), directions, camera_index)


def image_rays(cameras: Cameras, index: int) -> Rays:
    """All pixel-centre rays of camera ``index``: ``(H * W, 3)``, row-major (``v`` slowest)."""
    v, u = torch.meshgrid(torch.arange(cameras.height, dtype=torch.float32) + 0.5,
                          torch.arange(cameras.width, dtype=torch.float32) + 0.5, indexing="ij")
    camera = torch.full((u.numel(),), index, dtype=torch.long)
    return generate_rays(cameras, camera, u.reshape(-1).to(cameras.c2w), v.reshape(-1).to(cameras.c2w))


def check_rigid(c2w: torch.Tensor, source: str, tolerance: float = 1e-2) -> None:
    """Raise ``UserError`` unless every ``(n, 3, 4)`` pose has an orthonormal, right-handed rotation."""
    if not torch.isfinite(c2w).all():
        raise UserError(f"{source}: camera poses contain NaN or infinite values")
    rot = c2w[:, :, :3].double()
    eye = torch.eye(3, dtype=rot.dtype)
    error = (rot.transpose(1, 2) @ rot - eye).abs().amax(dim=(1, 2))
    det = torch.linalg.det(rot)
    bad = ((error > tolerance) | (det < 0)).nonzero().flatten()
    if len(bad):
        i = int(bad[0])
        why = (
            "a reflection (determinant < 0)"
            if det[i] < 0
            else f"rotation not orthonormal (error {float(error[i]):.3g})"
        )
        raise UserError(f"{source}: pose of frame {i} is not a rigid transform: {why}")


def check_facing(cameras: Cameras, center: Optional[torch.Tensor] = None) -> bool:
    """Warn (one line) when most cameras look away from the content: the usual sign of a pose
    convention mix-up. ``center``: the content's centre; default the point nearest to all optical axes.
    Returns False when the warning was given."""
    if len(cameras) < 2:
        return True
    origins, forward = cameras.origins.double(), cameras.forward.double()
    if center is None:
        # least-squares point nearest to all axis lines (the same lines whichever way the cameras face)
        proj = torch.eye(3, dtype=origins.dtype) - forward[:, :, None] * forward[:, None, :]
        a, b = proj.sum(0), (proj @ origins[:, :, None]).sum(0)
        if torch.linalg.cond(a) > 1e4:  # nearly parallel axes (forward-facing captures): no centre to test
            return True
        center = torch.linalg.solve(a, b)[:, 0]
    to_center = center.to(origins) - origins
    facing = ((to_center * forward).sum(-1) > 0).double().mean()
    if facing < 0.25:
        other = "opencv" if cameras.convention == "opengl" else "opengl"
        log.warning("most cameras look away from the scene content: the poses are probably in the %s convention, "
                    "not %s (set data.convention: %s)", other, cameras.convention, other)
        return False
    return True
