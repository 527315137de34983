"""Where the first Gaussians come from: COLMAP ``points3D`` (with colours), a ``.ply`` (a point cloud, or a
3DGS scene to fine-tune), or random points in the scene box."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from fields.datasets.colmap import find_sparse, read_model
from fields.datasets.views import PosedViews, PosedViewsData, detect_format
from fields.errors import UserError
from fields.models.gaussians import Gaussians
from fields.models.gaussians_ply import is_splat_ply, read_ply, splat_tensors

log = logging.getLogger("fields")


def read_colmap_points(root: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """``(points (N, 3), rgb (N, 3) in [0, 1])`` of a COLMAP model's ``points3D`` (read with pycolmap, as the
    COLMAP loader does), or None without points."""
    sparse = find_sparse(root)
    read_model(sparse)  # the loader's checks and one-line errors
    import pycolmap

    points = [p for _, p in sorted(pycolmap.Reconstruction(sparse).points3D.items())]  # by point id: deterministic
    if not points:
        return None
    xyz = np.array([p.xyz for p in points], float).reshape(-1, 3)
    rgb = np.array([p.color for p in points], float).reshape(-1, 3) / 255.0
    return xyz, rgb


def _subset(points: np.ndarray, rgb: np.ndarray | None, limit: int, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    if len(points) <= limit:
        return points, rgb
    index = np.sort(np.random.default_rng(seed).choice(len(points), limit, replace=False))
    return points[index], None if rgb is None else rgb[index]


def _from_arrays(config: Gaussians.Config, points: np.ndarray, rgb: np.ndarray | None, seed: int) -> Gaussians:
    points, rgb = _subset(points, rgb, config.max_init_points, seed)
    return Gaussians(config, torch.from_numpy(points).float(), None if rgb is None else torch.from_numpy(rgb).float())


def gaussians_from_ply(config: Gaussians.Config, path: Path, seed: int = 0) -> Gaussians:
    """A 3DGS ``.ply`` loaded whole (every parameter), or a point cloud's ``x y z`` (and colours)."""
    vertex = read_ply(path)
    if is_splat_ply(vertex):
        tensors = splat_tensors(vertex, config.sh_degree)
        gaussians = Gaussians(config, tensors["means"], log_scales=tensors["log_scales"])
        gaussians.replace(tensors)
        return gaussians
    if not all(k in vertex for k in ("x", "y", "z")):
        raise UserError(f"{path}: the PLY vertices have no x, y, z")
    points = np.stack([vertex["x"], vertex["y"], vertex["z"]], 1).astype(float)
    rgb = None
    if all(k in vertex for k in ("red", "green", "blue")):
        rgb = np.stack([vertex["red"], vertex["green"], vertex["blue"]], 1).astype(float)
        rgb = rgb / 255.0 if rgb.max() > 1.0 else rgb
    if not len(points):
        raise UserError(f"{path}: the PLY file has no points")
    return _from_arrays(config, points, rgb, seed)


def init_gaussians(config: Gaussians.Config, data: PosedViewsData, views: PosedViews, seed: int = 0) -> Gaussians:
    """Build the initial Gaussians as ``model.init`` says (``auto``: SfM points, else ``init_path``, else random)."""
    init = config.init
    if init in ("auto", "sfm") and not data.path.startswith("synthetic:"):
        path = Path(data.path)
        fmt = data.format if data.format != "auto" else detect_format(path)
        found = read_colmap_points(path) if fmt == "colmap" else None
        if found is not None:
            log.info("Gaussians from %d COLMAP points", len(found[0]))
            return _from_arrays(config, found[0], found[1], seed)
        if init == "sfm":
            raise UserError(f"model.init: sfm needs a COLMAP model with points3D; {data.path} has none")
    if init == "sfm":
        raise UserError(f"model.init: sfm needs a COLMAP dataset; {data.path} is not one")
    if init == "ply" or (init == "auto" and config.init_path):
        if not config.init_path:
            raise UserError("model.init: ply needs model.init_path (a .ply file)")
        log.info("Gaussians from %s", config.init_path)
        return gaussians_from_ply(config, Path(config.init_path), seed)
    box = views.aabb.float()
    g = torch.Generator().manual_seed(seed)
    points = box[:3] + torch.rand(config.n_random, 3, generator=g) * (box[3:] - box[:3])
    rgb = torch.rand(config.n_random, 3, generator=g)
    log.info("%d random Gaussians in the scene box", config.n_random)
    return Gaussians(config, points, rgb)
