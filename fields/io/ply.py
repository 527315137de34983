"""Binary little-endian PLY files: coloured point clouds and triangle meshes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fields.io.atomic import atomic_path
from fields.io.images import to_uint8


def _write(path: Path, header: str, *blocks: bytes) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(header.encode())
            for block in blocks:
                handle.write(block)
    return Path(path)


def write_point_cloud(path: str | Path, points: torch.Tensor | np.ndarray, colours: torch.Tensor | np.ndarray) -> Path:
    """Points ``(N, 3)`` with colours ``(N, 3)`` in [0, 1] -> float xyz, uchar rgb."""
    xyz = points.detach().float().cpu().numpy() if isinstance(points, torch.Tensor) else np.asarray(points, np.float32)
    rgb = to_uint8(colours)
    record = np.empty(len(xyz), dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"), ("b", "u1")])
    record["x"], record["y"], record["z"] = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    record["r"], record["g"], record["b"] = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    header = ("ply\nformat binary_little_endian 1.0\n"
              f"element vertex {len(xyz)}\nproperty float x\nproperty float y\nproperty float z\n"
              "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n")
    return _write(Path(path), header, record.tobytes())


def write_mesh_ply(path: str | Path, vertices: np.ndarray, faces: np.ndarray) -> Path:
    """Vertices ``(V, 3)`` and triangles ``(F, 3)`` (vertex indices)."""
    header = (f"ply\nformat binary_little_endian 1.0\nelement vertex {len(vertices)}\n"
              "property float x\nproperty float y\nproperty float z\n"
              f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n")
    face_records = np.empty(len(faces), dtype=[("n", "u1"), ("v", "<i4", (3,))])
    face_records["n"], face_records["v"] = 3, faces
    return _write(Path(path), header, np.ascontiguousarray(vertices, dtype="<f4").tobytes(), face_records.tobytes())
