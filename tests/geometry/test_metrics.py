"""Geometry metrics on pairs with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

trimesh = pytest.importorskip("trimesh")

from fields.metrics.geometry import mesh_metrics, surface_metrics, volumetric_iou  # noqa: E402


def plane(n: int = 60, spacing: float = 0.01) -> np.ndarray:
    u, v = np.meshgrid(np.arange(n) * spacing, np.arange(n) * spacing, indexing="ij")
    return np.stack([u.ravel(), v.ravel(), np.zeros(n * n)], axis=1)


def test_surface_metrics_of_a_shifted_plane():
    points = plane()
    normals = np.tile([0.0, 0.0, 1.0], (len(points), 1))
    shift = 0.003  # below the point spacing: every nearest neighbour is the shifted twin
    m = surface_metrics(points + [0, 0, shift], normals, points, normals, fscore_threshold=0.005)
    assert m["chamfer_l1"] == pytest.approx(shift)
    assert m["chamfer_l2"] == pytest.approx(shift**2)
    assert m["normal_consistency"] == pytest.approx(1.0)
    assert m["fscore"] == 1.0
    assert surface_metrics(points + [0, 0, shift], None, points, None, 0.002)["fscore"] == 0.0
    same = surface_metrics(points, normals, points, normals, 1e-6)
    assert same["chamfer_l1"] == 0.0 and same["fscore"] == 1.0


def test_normal_consistency_of_perpendicular_normals():
    points = plane()
    up = np.tile([0.0, 0.0, 1.0], (len(points), 1))
    side = np.tile([1.0, 0.0, 0.0], (len(points), 1))
    assert surface_metrics(points, up, points, side, 0.01)["normal_consistency"] == pytest.approx(0.0)
    assert surface_metrics(points, -up, points, up, 0.01)["normal_consistency"] == pytest.approx(1.0)


def test_mesh_against_itself_and_a_shifted_copy():
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=1.0)
    itself = mesh_metrics(sphere, sphere, n_points=100_000)
    assert itself["chamfer_l1"] < 0.007  # only the sampling spacing (about 0.5 / sqrt(points per area))
    assert itself["normal_consistency"] > 0.999 and itself["fscore"] > 0.99
    shifted = sphere.copy()
    shifted.apply_translation([0.1, 0.0, 0.0])
    m = mesh_metrics(shifted, sphere, n_points=100_000)
    # a unit sphere moved by d: the distance to the other is about d |cos theta|, mean d / 2
    assert m["chamfer_l1"] == pytest.approx(0.05, rel=0.12)
    assert m["chamfer_l1_pred_to_ref"] == pytest.approx(m["chamfer_l1_ref_to_pred"], rel=0.05)
    assert 0.1 < m["fscore"] < 0.3  # within 1% of the extent (0.02): where |cos theta| < 0.2, about 20%


def test_iou_of_two_spheres_matches_the_lens_volume():
    r, d = 0.25, 0.15
    x = torch.rand(400_000, 3, dtype=torch.float64)
    a = (x - torch.tensor([0.5 - d / 2, 0.5, 0.5], dtype=torch.float64)).norm(dim=-1) < r
    b = (x - torch.tensor([0.5 + d / 2, 0.5, 0.5], dtype=torch.float64)).norm(dim=-1) < r
    lens = math.pi * (4 * r + d) * (2 * r - d) ** 2 / 12
    expected = lens / (2 * 4 / 3 * math.pi * r**3 - lens)
    assert volumetric_iou(a.numpy(), b.numpy()) == pytest.approx(expected, abs=0.01)
    assert volumetric_iou(a.numpy(), a.numpy()) == 1.0
    assert volumetric_iou(np.zeros(5, bool), np.zeros(5, bool)) == 1.0
