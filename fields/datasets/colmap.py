"""COLMAP sparse models (``cameras``, ``images``, ``points3D``; text or binary) with images in ``images/``.

COLMAP stores world-to-camera rotations (quaternion ``qw, qx, qy, qz``) and translations in the OpenCV
convention; ``c2w = [R^T | -R^T t]``. Camera models: SIMPLE_PINHOLE, PINHOLE, SIMPLE_RADIAL, RADIAL,
OPENCV. The scene box comes from the sparse points (1st to 99th percentile, padded), else from the cameras.
Views are ordered by image name; every ``test_every``-th one is held out.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from fields.datasets.posed_views import PosedViews, holdout_split, stack_images
from fields.errors import UserError
from fields.render.cameras import Cameras

# model id -> (name, number of parameters)
MODELS = {0: ("SIMPLE_PINHOLE", 3), 1: ("PINHOLE", 4), 2: ("SIMPLE_RADIAL", 4), 3: ("RADIAL", 5), 4: ("OPENCV", 8)}
MODEL_IDS = {name: i for i, (name, _) in MODELS.items()}


def qvec_to_rotation(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * y * y - 2 * z * z, 2 * x * y - 2 * w * z, 2 * x * z + 2 * w * y],
        [2 * x * y + 2 * w * z, 1 - 2 * x * x - 2 * z * z, 2 * y * z - 2 * w * x],
        [2 * x * z - 2 * w * y, 2 * y * z + 2 * w * x, 1 - 2 * x * x - 2 * y * y],
    ])


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
    raise UserError(f"{source}: unsupported camera model {model}; supported: {', '.join(MODEL_IDS)}")


def read_cameras_text(path: Path) -> dict[int, tuple[str, int, int, list[float]]]:
    cameras = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        cameras[int(parts[0])] = (parts[1], int(parts[2]), int(parts[3]), [float(x) for x in parts[4:]])
    return cameras


def read_images_text(path: Path) -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    lines = [l for l in path.read_text().splitlines() if not l.startswith("#")]
    images = []
    for i in range(0, len(lines), 2):  # a pose line, then a line of 2D points (possibly empty)
        parts = lines[i].split()
        if not parts:
            continue
        images.append((" ".join(parts[9:]), np.array(parts[1:5], float), np.array(parts[5:8], float), int(parts[8])))
    return images


def read_points_text(path: Path) -> np.ndarray:
    rows = [l.split()[1:4] for l in path.read_text().splitlines() if l.strip() and not l.startswith("#")]
    return np.array(rows, float).reshape(-1, 3)


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def read(self, fmt: str):
        size = struct.calcsize("<" + fmt)
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return values


def read_cameras_binary(path: Path) -> dict[int, tuple[str, int, int, list[float]]]:
    r = _Reader(path.read_bytes())
    cameras = {}
    for _ in range(r.read("Q")[0]):
        cam_id, model_id, width, height = r.read("iiQQ")
        if model_id not in MODELS:
            raise UserError(f"{path}: unsupported camera model id {model_id}; supported: {', '.join(MODEL_IDS)}")
        name, n = MODELS[model_id]
        cameras[cam_id] = (name, width, height, list(r.read("d" * n)))
    return cameras


def read_images_binary(path: Path) -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    r = _Reader(path.read_bytes())
    images = []
    for _ in range(r.read("Q")[0]):
        values = r.read("idddddddi")
        end = r.data.index(b"\0", r.pos)
        name = r.data[r.pos:end].decode()
        r.pos = end + 1
        n_points = r.read("Q")[0]
        r.pos += n_points * struct.calcsize("<ddq")
        images.append((name, np.array(values[1:5]), np.array(values[5:8]), values[8]))
    return images


def read_points_binary(path: Path) -> np.ndarray:
    r = _Reader(path.read_bytes())
    points = []
    for _ in range(r.read("Q")[0]):
        values = r.read("QdddBBBd")
        points.append(values[1:4])
        track = r.read("Q")[0]
        r.pos += track * 8
    return np.array(points, float).reshape(-1, 3)


def find_sparse(root: Path) -> Path:
    for sub in ("sparse/0", "sparse", "colmap/sparse/0", "."):
        if (root / sub / "cameras.txt").is_file() or (root / sub / "cameras.bin").is_file():
            return root / sub
    raise UserError(f"{root}: no COLMAP sparse model (cameras.txt or cameras.bin) found")


def load_colmap(path: Path, convention: Optional[str] = None, test_every: int = 8) -> PosedViews:
    root = Path(path)
    sparse = find_sparse(root)
    try:
        if (sparse / "cameras.bin").is_file():
            cams, images = read_cameras_binary(sparse / "cameras.bin"), read_images_binary(sparse / "images.bin")
            points = (
                read_points_binary(sparse / "points3D.bin") if (sparse / "points3D.bin").is_file() else np.zeros((0, 3))
            )
        else:
            cams, images = read_cameras_text(sparse / "cameras.txt"), read_images_text(sparse / "images.txt")
            points = (
                read_points_text(sparse / "points3D.txt") if (sparse / "points3D.txt").is_file() else np.zeros((0, 3))
            )
    except UserError:
        raise
    except (OSError, ValueError, IndexError, struct.error) as err:
        raise UserError(f"{sparse}: malformed COLMAP model ({type(err).__name__}: {err})") from None
    if not images:
        raise UserError(f"{sparse}: the COLMAP model has no images")
    images = sorted(images, key=lambda item: item[0])
    poses, intrinsics, files = [], [], []
    size = None
    folder = root / "images" if (root / "images").is_dir() else root
    for name, qvec, tvec, cam_id in images:
        if cam_id not in cams:
            raise UserError(f"{sparse}: image {name} refers to missing camera {cam_id}")
        model, width, height, params = cams[cam_id]
        if size is None:
            size = (width, height)
        elif size != (width, height):
            raise UserError(
                f"{sparse}: camera {cam_id} is {width}x{height}, others {size[0]}x{size[1]}; all views need one size"
            )
        rot = qvec_to_rotation(qvec)
        c2w = np.concatenate([rot.T, -rot.T @ tvec[:, None]], axis=1)
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
    return PosedViews(pixels, cameras, train, test, aabb, source=str(root))
