"""COLMAP sparse models (``cameras``, ``images``, ``points3D``; text or binary), read through pycolmap, with
images in ``images/``.

COLMAP stores world-to-camera poses in the OpenCV convention; ``c2w = [R^T | -R^T t]``. Camera models:
SIMPLE_PINHOLE, PINHOLE, SIMPLE_RADIAL, RADIAL, OPENCV. The scene box comes from the sparse points (1st to
99th percentile, padded), else from the cameras. Views are ordered by image name; every ``test_every``-th
one is held out. ``near``/``far`` come from the depths of the points each image observes (half the 1st
percentile, twice the 99th), as LLFF's bounds do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from fields.datasets.posed_views import PosedViews, holdout_split, stack_images
from fields.errors import UserError
from fields.render.cameras import Cameras

MODELS = ("SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV")


def intrinsics_from_params(model: str, params: list[float], source: str) -> list[float]:
    """-> ``[fx, fy, cx, cy, k1, k2, p1, p2, k3]``."""
    p = list(params)
    if model == "SIMPLE_PINHOLE":
        return [p[0], p[0], p[1], p[2], 0, 0, 0, 0, 0]
    if model == "PINHOLE":
        return [p[0], p[1], p[2], p[3], 0, 0, 0, 0, 0]
    if model == "SIMPLE_RADIAL":
        return [p[0], p[0], p[1], p[2], p[3], 0, 0, 0, 0]
    if model == "RADIAL":
        return [p[0], p[0], p[1], p[2], p[3], p[4], 0, 0, 0]
    if model == "OPENCV":
        return [p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], 0]
    raise UserError(f"{source}: unsupported camera model {model}; supported: {', '.join(MODELS)}")


def read_model(sparse: Path):
    """-> ``(cameras {id: (model, width, height, params)}, images [(name, c2w (3, 4), camera id, depths (k,))],
    points (n, 3))``; ``depths``: of the points the image observes, along its optical axis."""
    try:
        import pycolmap
    except ImportError:
        raise UserError(f"{sparse}: reading COLMAP models needs pycolmap: "
                        "pip install 'fields-toolkit[capture]'") from None
    try:
        model = pycolmap.Reconstruction(sparse)
    except Exception as err:  # pycolmap raises IndexError/RuntimeError/ValueError on malformed files
        reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise UserError(f"{sparse}: malformed COLMAP model ({type(err).__name__}: {reason})") from None
    cameras = {cid: (cam.model_name, int(cam.width), int(cam.height), [float(v) for v in cam.params])
               for cid, cam in model.cameras.items()}
    images = []
    for im in model.images.values():
        if not im.has_pose:
            continue
        world_to_cam = im.cam_from_world().matrix()
        ids = [p.point3D_id for p in im.get_observation_points2D()]
        xyz = np.array([model.points3D[i].xyz for i in ids if model.exists_point3D(i)], float).reshape(-1, 3)
        depths = xyz @ world_to_cam[2, :3] + world_to_cam[2, 3]
        images.append((im.name, np.linalg.inv(np.vstack([world_to_cam, [0, 0, 0, 1]]))[:3], im.camera_id, depths))
    points = np.array([p.xyz for p in model.points3D.values()], float).reshape(-1, 3)
    return cameras, images, points


def find_sparse(root: Path) -> Path:
    for sub in ("sparse/0", "sparse", "colmap/sparse/0", "."):
        if (root / sub / "cameras.txt").is_file() or (root / sub / "cameras.bin").is_file():
            return root / sub
    raise UserError(f"{root}: no COLMAP sparse model (cameras.txt or cameras.bin) found")


def load_colmap(path: Path, convention: Optional[str] = None, test_every: int = 8) -> PosedViews:
    root = Path(path)
    sparse = find_sparse(root)
    cams, images, points = read_model(sparse)
    if not images:
        raise UserError(f"{sparse}: the COLMAP model has no images")
    images = sorted(images, key=lambda item: item[0])
    poses, intrinsics, files = [], [], []
    size = None
    folder = root / "images" if (root / "images").is_dir() else root
    for name, c2w, cam_id, _ in images:
        if cam_id not in cams:
            raise UserError(f"{sparse}: image {name} refers to missing camera {cam_id}")
        model, width, height, params = cams[cam_id]
        if size is None:
            size = (width, height)
        elif size != (width, height):
            raise UserError(f"{sparse}: camera {cam_id} is {width}x{height}, others {size[0]}x{size[1]}; "
                            "all views need one size")
        poses.append(c2w)
        intrinsics.append(intrinsics_from_params(model, params, str(sparse)))
        files.append(folder / name)
    k = torch.tensor(intrinsics, dtype=torch.float32)
    distortion = k[:, 4:] if k[:, 4:].abs().max() > 0 else None
    cameras = Cameras(torch.tensor(np.stack(poses), dtype=torch.float32), k[:, 0], k[:, 1], k[:, 2], k[:, 3],
                      size[0], size[1], convention or "opencv", distortion)  # type: ignore[arg-type]
    pixels = stack_images(files, size[0], size[1], str(root))
    if len(points) >= 8:
        lo, hi = np.percentile(points, 1, axis=0), np.percentile(points, 99, axis=0)
        pad = 0.1 * (hi - lo)
        aabb = torch.tensor(np.concatenate([lo - pad, hi + pad]), dtype=torch.float32)
    else:
        origins = cameras.origins
        aabb = torch.cat((origins.amin(0) - 1.0, origins.amax(0) + 1.0))
    train, test = holdout_split(len(files), test_every)
    depths = np.concatenate([item[3] for item in images])
    depths = depths[depths > 0]
    near = far = None
    if len(depths) >= 8:
        near, far = 0.5 * float(np.percentile(depths, 1)), 2.0 * float(np.percentile(depths, 99))
    return PosedViews(pixels, cameras, train, test, aabb, near=near, far=far, source=str(root))
