"""Posed views as loaded from disk: ``PosedViews`` and the helpers every loader (Blender, COLMAP, LLFF)
shares to read images, split train/test views and bound forward-facing scenes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

import imageio.v3 as iio
import numpy as np
import torch

from fields.datasets.png16 import is_png16_colour, read_png16
from fields.errors import UserError
from fields.render.cameras import Cameras


@dataclass
class PosedViews:
    """images: uint8 ``(N, H, W, C)``, C = 3 or 4 (RGBA); cameras: ``N`` cameras; train/test: view indices;
    aabb: ``(6,)`` scene box in world units; near/far: optional world distances (LLFF bounds)."""

    images: torch.Tensor
    cameras: Cameras
    train: list[int]
    test: list[int]
    aabb: torch.Tensor
    near: Optional[float] = None
    far: Optional[float] = None
    source: str = ""

    @property
    def has_alpha(self) -> bool:
        return self.images.shape[-1] == 4

    def downscaled(self, factor: float) -> "PosedViews":
        if factor == 1:
            return self
        cameras = self.cameras.scaled(1.0 / factor)
        x = self.images.permute(0, 3, 1, 2).float()
        x = torch.nn.functional.interpolate(x, size=(cameras.height, cameras.width), mode="area")
        images = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()
        return replace(self, images=images, cameras=cameras)


def read_rgba(path: Path, source: str) -> np.ndarray:
    """An image file -> uint8 ``(H, W, 3|4)``; missing or unreadable files raise ``UserError``."""
    if not path.is_file():
        raise UserError(f"{source}: image file not found: {path}")
    try:
        array = read_png16(path) if is_png16_colour(path) else np.asarray(iio.imread(path))
    except Exception as err:
        raise UserError(f"{source}: cannot read image {path} ({type(err).__name__})") from None
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.dtype == np.uint16:
        array = (array / 257.0 + 0.5).astype(np.uint8)
    if array.dtype != np.uint8 or array.shape[2] not in (3, 4):
        raise UserError(f"{source}: {path}: expected an 8-bit RGB or RGBA image, got {array.dtype} {array.shape}")
    return array


def stack_images(paths: list[Path], width: int, height: int, source: str) -> torch.Tensor:
    """Read images of one size ``width x height`` -> uint8 ``(N, H, W, C)`` (RGBA if any has alpha)."""
    arrays = []
    for path in paths:
        array = read_rgba(path, source)
        if array.shape[:2] != (height, width):
            raise UserError(
                f"{source}: {path.name} is {array.shape[1]}x{array.shape[0]}, the cameras say {width}x{height}"
            )
        arrays.append(array)
    channels = max(a.shape[2] for a in arrays)
    if channels == 4:
        arrays = [a if a.shape[2] == 4 else np.concatenate([a, np.full_like(a[:, :, :1], 255)], 2) for a in arrays]
    return torch.from_numpy(np.stack(arrays))


def holdout_split(n: int, every: int) -> tuple[list[int], list[int]]:
    """LLFF's convention: views ``0, every, 2 * every, ...`` are the test views."""
    test = list(range(0, n, every)) if n > 1 else []
    train = [i for i in range(n) if i not in set(test)] or list(range(n))
    return train, test or [0]


def aabb_from_cameras(cameras: Cameras, near: float, far: float) -> torch.Tensor:
    """The box holding every camera frustum between ``near`` and ``far`` (forward-facing captures)."""
    points = []
    cams = cameras.to_opencv()
    for u, v in ((0, 0), (cams.width, 0), (0, cams.height), (cams.width, cams.height)):
        x = (u - cams.cx) / cams.fx
        y = (v - cams.cy) / cams.fy
        d = torch.stack((x, y, torch.ones_like(x)), -1)
        d = (cams.c2w[:, :, :3] @ d[:, :, None])[:, :, 0]
        for depth in (near, far):
            points.append(cams.origins + d * depth)
    points = torch.cat(points)
    return torch.cat((points.amin(0), points.amax(0))).float()
