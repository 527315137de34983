"""Point clouds: reading PLY with normals, and the Poisson mesh the occupancy task uses for them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

o3d = pytest.importorskip("open3d")
pytest.importorskip("trimesh")

from fields.datasets.analytic import Sphere, shape_mesh  # noqa: E402
from fields.datasets.mesh import sample_surface  # noqa: E402
from fields.datasets.pointcloud import PointCloud, load_point_cloud, poisson_mesh  # noqa: E402


def test_ply_cloud_with_normals_and_its_poisson_mesh(tmp_path: Path):
    sphere = Sphere(radius=0.3)
    points, normals = sample_surface(shape_mesh(sphere, 48), 4000, np.random.default_rng(0))
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    pcd.normals = o3d.utility.Vector3dVector(normals * 2.0)  # not unit: the loader normalises
    o3d.io.write_point_cloud(str(tmp_path / "cloud.ply"), pcd)
    cloud = load_point_cloud(tmp_path / "cloud.ply")
    assert cloud.points.shape == (4000, 3)
    assert np.allclose(np.linalg.norm(cloud.normals, axis=1), 1.0)
    mesh = poisson_mesh(cloud, depth=6)
    assert mesh.is_watertight
    assert mesh.volume == pytest.approx(sphere.volume, rel=0.08)
    # without normals they are estimated and oriented; the mesh still closes around the points
    unoriented = poisson_mesh(PointCloud(cloud.points), depth=6)
    assert abs(unoriented.volume) == pytest.approx(sphere.volume, rel=0.1)
