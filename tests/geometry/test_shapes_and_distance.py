"""Analytic SDFs, exact mesh distances (open3d) against them, and normalisation into the unit cube."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fields.datasets.analytic import Box, Capsule, SmoothUnion, Sphere, Torus, Union, preset, shape_mesh
from fields.datasets.normalize import UnitCubeTransform

pytest.importorskip("trimesh")
pytest.importorskip("open3d")


def test_primitives_sign_and_magnitude():
    x = torch.tensor([[0.5, 0.5, 0.5], [0.5, 0.5, 0.95], [1.0, 0.5, 0.5]], dtype=torch.float64)
    assert torch.allclose(Sphere(radius=0.3).sdf(x), torch.tensor([-0.3, 0.15, 0.2], dtype=torch.float64))
    box = Box(half_size=(0.3, 0.2, 0.25))
    assert torch.allclose(box.sdf(x), torch.tensor([-0.2, 0.2, 0.2], dtype=torch.float64))
    corner = torch.tensor([[0.5 + 0.3 + 0.03, 0.5 + 0.2 + 0.04, 0.5]], dtype=torch.float64)
    assert box.sdf(corner).item() == pytest.approx(0.05)  # distance to the edge, not to a face
    torus = Torus(R=0.28, r=0.1)
    ring = torch.tensor([[0.5 + 0.28, 0.5, 0.5], [0.5, 0.5, 0.5], [0.5, 0.5 + 0.28, 0.5 + 0.3]], dtype=torch.float64)
    assert torch.allclose(torus.sdf(ring), torch.tensor([-0.1, 0.18, 0.2], dtype=torch.float64), atol=1e-9)
    capsule = Capsule(a=(0.3, 0.5, 0.5), b=(0.7, 0.5, 0.5), radius=0.15)
    probe = torch.tensor([[0.5, 0.5, 0.5], [0.5, 0.9, 0.5], [0.0, 0.5, 0.5]], dtype=torch.float64)
    assert torch.allclose(capsule.sdf(probe), torch.tensor([-0.15, 0.25, 0.15], dtype=torch.float64))


def test_union_and_smooth_blend():
    a, b = Sphere((0.35, 0.5, 0.5), 0.2), Sphere((0.65, 0.5, 0.5), 0.2)
    x = torch.rand(4096, 3, dtype=torch.float64)
    union = Union(a, b).sdf(x)
    assert torch.equal(union, torch.minimum(a.sdf(x), b.sdf(x)))
    blend = SmoothUnion(a, b, k=0.1).sdf(x)
    assert (blend <= union + 1e-12).all()  # a smooth minimum lies below the minimum ...
    assert (union - blend <= 0.1 / 4 + 1e-12).all()  # ... by at most k/4
    neck = torch.tensor([[0.5, 0.5, 0.5 + 0.16]], dtype=torch.float64)  # outside the union, inside the blend
    assert Union(a, b).sdf(neck).item() > 0 > SmoothUnion(a, b, k=0.1).sdf(neck).item()


def test_mesh_distance_matches_analytic_sphere():
    from fields.datasets.sdf_sampling import MeshDistance

    sphere = Sphere(radius=0.3)
    mesh = shape_mesh(sphere, 96)
    distance = MeshDistance(mesh.vertices, mesh.faces)
    x = torch.rand(20000, 3, dtype=torch.float64)
    exact = sphere.sdf(x).numpy()
    got = distance.signed_distance(x.numpy())
    far = np.abs(exact) > 2e-3
    assert (np.sign(got[far]) == np.sign(exact[far])).all()
    assert np.abs(got - exact).max() < 2e-3  # the marching-cubes facets sit within a fraction of a cell
    assert (distance.occupancy(x.numpy())[far] == (exact[far] < 0)).all()


def test_generated_meshes_are_closed_with_the_right_volume():
    for name, shape in (("torus", Torus()), ("capsule", Capsule()), ("box", Box())):
        mesh = shape_mesh(preset(name), 96)
        assert mesh.is_watertight, name
        assert mesh.volume == pytest.approx(shape.volume, rel=0.01), name


@pytest.mark.parametrize("padding", [0.0, 0.1, 0.25])
def test_normalisation_round_trip(padding: float):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(500, 3)) * [3.0, 1.0, 0.5] + [10.0, -4.0, 2.0]
    t = UnitCubeTransform.fit(points, padding)
    unit = t.to_unit(points)
    assert unit.min() >= padding - 1e-12 and unit.max() <= 1 - padding + 1e-12
    extent = unit.max(axis=0) - unit.min(axis=0)
    assert extent.max() == pytest.approx(1 - 2 * padding)
    assert np.allclose((unit.max(axis=0) + unit.min(axis=0)) / 2, 0.5)
    assert np.allclose(t.to_input(unit), points)
    as_torch = t.to_unit(torch.from_numpy(points))
    assert torch.allclose(as_torch, torch.from_numpy(unit))
    assert UnitCubeTransform.from_tensor(t.as_tensor()) == t
    # distances scale with the transform
    assert t.distance_to_input(math.dist(unit[0], unit[1])) == pytest.approx(math.dist(points[0], points[1]))
