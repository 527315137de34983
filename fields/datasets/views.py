"""Posed views: images with cameras, as every multi-view loader returns them, and the ``data:`` section of
the radiance and surface tasks.

Images stay on the CPU as uint8 ``(N, H, W, 3|4)`` (alpha kept, composited per batch over the chosen
background) and only the pixels of each batch move to the device.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

import torch

from fields.errors import UserError
from fields.datasets.blender import load_blender
from fields.datasets.colmap import load_colmap
from fields.datasets.llff import load_llff
from fields.datasets.posed_views import PosedViews
from fields.datasets.names import POVRAY_PREFIX, SYNTHETIC_PREFIX
from fields.datasets.scene_data import PosedViewsData, SyntheticSceneConfig  # noqa: F401  (the data: section)
from fields.datasets.povray import generate_povray_scene
from fields.datasets.synthetic_scene import generate_scene
from fields.render.cameras import check_facing, check_rigid


def cache_dir() -> Path:
    return Path(os.environ.get("FIELDS_CACHE", Path.home() / ".cache" / "fields"))


def detect_format(path: Path) -> str:
    if (path / "capture.json").is_file() and (path / "sparse" / "0").is_dir():
        return "colmap"  # written by `fields process`: the COLMAP model carries the sparse points (box, near/far)
    if path.is_file() and path.suffix == ".json":
        return "blender"
    if path.is_file() and path.name == "poses_bounds.npy":
        return "llff"
    if any((path / name).is_file() for name in ("transforms.json", "transforms_train.json")):
        return "blender"
    if (path / "poses_bounds.npy").is_file():
        return "llff"
    for sub in ("sparse/0", "sparse", "colmap/sparse/0", "."):
        if (path / sub / "cameras.txt").is_file() or (path / sub / "cameras.bin").is_file():
            return "colmap"
    raise UserError(f"{path}: no transforms.json, poses_bounds.npy or COLMAP sparse model found")


def load_views(data: PosedViewsData) -> PosedViews:
    """Load (or generate) the views of a ``data:`` section, apply downscaling and validate the poses."""
    path_text = data.path
    if path_text.startswith(SYNTHETIC_PREFIX):
        name = path_text[len(SYNTHETIC_PREFIX):]
        s = data.synthetic
        key = hashlib.sha1(json.dumps([name, s.model_dump()], sort_keys=True).encode()).hexdigest()[:10]
        folder = cache_dir() / "synthetic" / f"{name}-{key}"
        if not (folder / "transforms_train.json").is_file():
            generate_scene(folder, name, n_train=s.n_train, n_test=s.n_test, size=s.size, seed=s.seed)
        path, fmt = folder, "blender"
    elif path_text.startswith(POVRAY_PREFIX):
        name, s = path_text[len(POVRAY_PREFIX):], data.synthetic
        folder = cache_dir() / "povray" / f"{name}-{s.n_train}-{s.n_test}-{s.size}-{s.seed}"
        if not (folder / "transforms_test.json").is_file():
            generate_povray_scene(folder, name, n_train=s.n_train, n_test=s.n_test, size=s.size, seed=s.seed)
        path, fmt = folder, "blender"
    else:
        path = Path(path_text)
        fmt = data.format if data.format != "auto" else detect_format(path)
    convention = None if data.convention == "auto" else data.convention
    if fmt == "blender":
        views = load_blender(path, convention, data.test_every)
    elif fmt == "colmap":
        views = load_colmap(path, convention, data.test_every)
    else:
        views = load_llff(path, convention, data.test_every)
    check_rigid(views.cameras.c2w, views.source or str(path))
    check_facing(views.cameras)
    if data.aabb is not None:
        aabb = torch.tensor(data.aabb, dtype=torch.float32)
        if (aabb[3:] <= aabb[:3]).any():
            raise UserError(f"data.aabb: max corner must exceed min corner, got {list(data.aabb)}")
        views = replace(views, aabb=aabb)
    views = views.downscaled(data.downscale)
    if data.max_test_views is not None:
        views = replace(views, test=views.test[: data.max_test_views])
    return views
