"""Level-set meshes of the 3D tasks' fields (radiance density, NeuS SDF): a chunked grid evaluation and
marching cubes (scikit-image's, a core dependency), written as a binary PLY in world units."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from fields.render.rays import SceneTransform

log = logging.getLogger("fields")


@torch.no_grad()
def sample_grid(fn: Callable[[torch.Tensor], torch.Tensor], resolution: int, box: tuple[float, float],
                device: torch.device, chunk: int = 65536) -> np.ndarray:
    """``fn`` on the ``resolution**3`` cell corners of the unit-frame cube ``[lo, lo + size]^3`` ->
    ``(R, R, R)`` float array indexed ``[x, y, z]``."""
    lo, size = box
    axis = torch.linspace(lo, lo + size, resolution)
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    values = [fn(grid[i : i + chunk].to(device)).float().cpu() for i in range(0, len(grid), chunk)]
    return torch.cat(values).reshape(resolution, resolution, resolution).numpy()


def marching_cubes(volume: np.ndarray, level: float, box: tuple[float, float]) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """Vertices ``(V, 3)`` (unit frame) and faces ``(F, 3)`` of ``volume == level``; None if it has none."""
    if not volume.min() < level < volume.max():
        return None
    from skimage.measure import marching_cubes as skimage_mc

    verts, faces, _, _ = skimage_mc(volume, level)
    lo, size = box
    return verts / (volume.shape[0] - 1) * size + lo, faces


def write_mesh_ply(path: Path, vertices: np.ndarray, faces: np.ndarray) -> None:
    from fields.engine.atomic import atomic_path

    header = (f"ply\nformat binary_little_endian 1.0\nelement vertex {len(vertices)}\n"
              "property float x\nproperty float y\nproperty float z\n"
              f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n")
    face_records = np.empty(len(faces), dtype=[("n", "u1"), ("v", "<i4", (3,))])
    face_records["n"], face_records["v"] = 3, faces
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(header.encode())
            handle.write(vertices.astype("<f4").tobytes())
            handle.write(face_records.tobytes())


def extract_mesh(fn: Callable[[torch.Tensor], torch.Tensor], resolution: int, level: float, box: tuple[float, float],
                 transform: SceneTransform, path: Path, device: torch.device, flip: bool = False) -> Optional[Path]:
    """Mesh the level set ``fn == level`` (``flip``: negate ``fn`` first, for SDFs whose inside is
    negative) and write it to ``path`` in world units; returns the path, or None when there is no surface."""
    volume = sample_grid(fn, resolution, box, device)
    if flip:
        volume, level = -volume, -level
    result = marching_cubes(volume, level, box)
    if result is None:
        log.info("no surface at level %g: no mesh written", level)
        return None
    verts, faces = result
    world = transform.points_to_world(torch.from_numpy(verts.astype(np.float32))).numpy()
    if flip:
        faces = faces[:, ::-1]
    write_mesh_ply(Path(path), world, np.ascontiguousarray(faces))
    return Path(path)
