"""The project's cameras as the rasterizer's ``(viewmat, K)``.

``fields.render.cameras.Cameras`` hold camera-to-world poses in the OpenGL (Blender, LLFF) or OpenCV (COLMAP)
convention and pinhole intrinsics in pixels, pixel centres at ``i + 0.5``. The rasterizer takes the
world-to-camera matrix of the OpenCV frame (x right, y down, looking along +z) and ``K``; pixel centres are
at ``i + 0.5`` there too, so the intrinsics carry over unchanged. Lens distortion is not modelled.
"""

from __future__ import annotations

import torch

from fields.render.cameras import Cameras


def view_matrices(cameras: Cameras, index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """World-to-camera ``viewmat (4, 4)`` (OpenCV frame) and ``K (3, 3)`` of camera ``index``."""
    cam = cameras.to_opencv()
    c2w = cam.c2w[index]
    R, t = c2w[:, :3], c2w[:, 3]
    viewmat = torch.eye(4, dtype=c2w.dtype, device=c2w.device)
    viewmat[:3, :3] = R.T
    viewmat[:3, 3] = -R.T @ t
    K = torch.zeros(3, 3, dtype=c2w.dtype, device=c2w.device)
    K[0, 0], K[1, 1], K[0, 2], K[1, 2], K[2, 2] = cam.fx[index], cam.fy[index], cam.cx[index], cam.cy[index], 1.0
    return viewmat, K
