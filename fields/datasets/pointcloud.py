"""Point clouds (PLY, PCD, XYZ/XYZN/PWN, with or without normals) through open3d, checked for bad input.

Plain-text ``.xyz``/``.xyzn``/``.pwn`` files are read as 3 columns (points) or 6 (points and normals),
the layout CGAL and most scanners write. ``poisson_mesh`` turns an oriented cloud into a watertight mesh
(screened Poisson reconstruction) for the occupancy task.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from fields.datasets.mesh import import_open3d, import_trimesh, quiet_native_stderr
from fields.errors import UserError

POINT_SUFFIXES = (".ply", ".pcd", ".xyz", ".xyzn", ".pwn", ".pts")
MIN_POINTS = 64


@dataclass
class PointCloud:
    points: np.ndarray  # (N, 3) float64
    normals: Optional[np.ndarray] = None  # (N, 3) unit vectors, or None


def load_point_cloud(path: str | Path) -> PointCloud:
    """Read a point cloud; raises ``UserError`` for a missing or broken file, fewer than ``MIN_POINTS``
    points, or NaN coordinates. Normals, when present, are normalised; zero normals are an error."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: point cloud file not found")
    suffix = path.suffix.lower()
    if suffix not in POINT_SUFFIXES:
        raise UserError(f"{path}: unsupported point cloud format '{path.suffix}'; valid: {', '.join(POINT_SUFFIXES)}")
    if suffix in (".xyz", ".xyzn", ".pwn"):
        cloud = _read_text(path)
    else:
        o3d = import_open3d()
        try:
            with quiet_native_stderr():
                read = o3d.io.read_point_cloud(str(path))
        except Exception as err:
            raise UserError(
                f"{path}: cannot read point cloud ({str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__})"  # noqa: E501
            ) from None
        normals = np.asarray(read.normals, dtype=np.float64) if read.has_normals() else None
        cloud = PointCloud(np.asarray(read.points, dtype=np.float64), normals)
    check_point_cloud(cloud, str(path))
    return cloud


def _read_text(path: Path) -> PointCloud:
    try:
        data = np.loadtxt(path, dtype=np.float64, comments="#", ndmin=2)
    except (ValueError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read point cloud ({str(err).strip().splitlines()[0]})") from None
    if data.size == 0:
        return PointCloud(np.zeros((0, 3)))
    if data.shape[1] not in (3, 6):
        raise UserError(f"{path}: expected 3 columns (x y z) or 6 (x y z nx ny nz), got {data.shape[1]}")
    return PointCloud(data[:, :3].copy(), data[:, 3:6].copy() if data.shape[1] == 6 else None)


def check_point_cloud(cloud: PointCloud, name: str = "point cloud") -> None:
    n = len(cloud.points)
    if n < MIN_POINTS:
        raise UserError(
            f"{name}: the point cloud has {n} point{'s' if n != 1 else ''}; at least {MIN_POINTS} are needed"
        )
    bad = ~np.isfinite(cloud.points).all(axis=1)
    if bad.any():
        raise UserError(f"{name}: {int(bad.sum())} points have NaN or infinite coordinates")
    if np.ptp(cloud.points, axis=0).max() <= 0:
        raise UserError(f"{name}: all points are at one position")
    if cloud.normals is not None:
        length = np.linalg.norm(cloud.normals, axis=1)
        if not np.isfinite(length).all() or (length < 1e-12).any():
            raise UserError(f"{name}: some normals are zero, NaN or infinite")
        cloud.normals = cloud.normals / length[:, None]


def estimate_normals(cloud: PointCloud, k: int = 16) -> PointCloud:
    """Normals from local PCA, oriented consistently over a tangent-plane graph (open3d)."""
    o3d = import_open3d()
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cloud.points))
    pcd.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(knn=k))
    pcd.orient_normals_consistent_tangent_plane(k)
    return PointCloud(cloud.points, np.asarray(pcd.normals, dtype=np.float64))


def poisson_mesh(cloud: PointCloud, depth: int = 8):
    """A watertight triangle mesh of an oriented cloud (screened Poisson, open3d), as a trimesh."""
    o3d = import_open3d()
    trimesh = import_trimesh()
    if cloud.normals is None:
        cloud = estimate_normals(cloud)
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cloud.points))
    pcd.normals = o3d.utility.Vector3dVector(cloud.normals)
    mesh, _ = o3d.geometry.TriangleMesh.create_from_point_cloud_poisson(pcd, depth=depth)
    return trimesh.Trimesh(np.asarray(mesh.vertices), np.asarray(mesh.triangles), process=False)
