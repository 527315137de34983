"""LLFF ``poses_bounds.npy``: ``(N, 17)``, per view a ``3 x 5`` matrix ``[R | t | (h, w, f)]`` with camera
axes (down, right, backwards), then the near and far depth bounds.

The axes become OpenGL's (right, up, backwards): ``[x, y, z] = [col1, -col0, col2]``. Images are the
sorted files of ``images/`` (the stored ``h, w, f`` scale to their actual size); the scene box holds
the camera frusta between the smallest near and the median far bound. View ``0, test_every, ...`` are
held out (LLFF's ``llffhold``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from fields.datasets.posed_views import PosedViews, aabb_from_cameras, holdout_split, read_rgba, stack_images
from fields.errors import UserError
from fields.render.cameras import Cameras

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def load_llff(path: Path, convention: Optional[str] = None, test_every: int = 8) -> PosedViews:
    path = Path(path)
    root = path.parent if path.is_file() else path
    npy = root / "poses_bounds.npy"
    try:
        raw = np.load(npy, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise UserError(f"{npy}: cannot read ({type(err).__name__})") from None
    if raw.ndim != 2 or raw.shape[1] != 17:
        raise UserError(f"{npy}: expected an (N, 17) array, got {raw.shape}")
    folder = root / "images"
    files = sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
    if len(files) != len(raw):
        raise UserError(f"{root}: {len(raw)} poses but {len(files)} images in {folder}")
    mats = raw[:, :15].reshape(-1, 3, 5)
    bounds = raw[:, 15:17]
    h, w, f = mats[0, :, 4]
    first = read_rgba(files[0], str(root))
    height, width = first.shape[:2]
    scale = width / w
    if abs(height / h - scale) > 0.02:
        raise UserError(f"{root}: images are {width}x{height} but poses_bounds.npy says {int(w)}x{int(h)}")
    c2w = np.concatenate([mats[:, :, 1:2], -mats[:, :, 0:1], mats[:, :, 2:4]], axis=2)
    n = len(raw)
    focal = torch.full((n,), float(f * scale))
    cameras = Cameras(torch.tensor(c2w, dtype=torch.float32), focal, focal.clone(), torch.full((n,), width / 2),
                      torch.full((n,), height / 2), width, height, convention or "opengl")  # type: ignore[arg-type]
    images = stack_images(files, width, height, str(root))
    near, far = float(bounds[:, 0].min()), float(np.median(bounds[:, 1]))
    aabb = aabb_from_cameras(cameras, near, far)
    train, test = holdout_split(n, test_every)
    return PosedViews(images, cameras, train, test, aabb, near=near, far=far, source=str(root))
