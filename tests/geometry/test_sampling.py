"""The training sample pool: proportions, exact distances near the surface, normals, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("open3d")

from fields.datasets.analytic import Sphere, shape_mesh  # noqa: E402
from fields.datasets.sdf_sampling import (  # noqa: E402
    NEAR, SURFACE, UNIFORM, MeshDistance, SampleConfig, cloud_sample_pool, mesh_sample_pool,
)


@pytest.fixture(scope="module")
def sphere_pool():
    sphere = Sphere(radius=0.3)
    mesh = shape_mesh(sphere, 96)
    config = SampleConfig(pool_size=40000, surface=2, near=1, uniform=1, near_sigmas=[0.005, 0.02])
    return sphere, mesh, config, mesh_sample_pool(mesh, MeshDistance(mesh.vertices, mesh.faces), config, seed=3)


def test_pool_proportions_and_values(sphere_pool):
    sphere, _, _, pool = sphere_pool
    counts = torch.bincount(pool.kind.long(), minlength=3).tolist()
    assert counts == [20000, 10000, 10000]
    on = pool.kind == SURFACE
    assert (pool.sdf[on] == 0).all()
    assert sphere.sdf(pool.points[on].double()).abs().max() < 2e-3
    normals = pool.normals[on]
    assert torch.allclose(normals.norm(dim=-1), torch.ones(int(on.sum())), atol=1e-5)
    outward = torch.nn.functional.normalize(pool.points[on] - 0.5, dim=-1)
    assert (normals * outward).sum(-1).min() > 0.99  # face normals point out of the sphere
    off = ~on
    assert (pool.sdf[off] - sphere.sdf(pool.points[off].double()).float()).abs().max() < 2e-3
    uniform = pool.points[pool.kind == UNIFORM]
    assert uniform.min() >= 0 and uniform.max() <= 1
    # near samples: half at sigma 0.005, half at 0.02 -> mean |d| = sqrt(2/pi) * mean sigma
    near = pool.sdf[pool.kind == NEAR].abs()
    assert near.mean().item() == pytest.approx(np.sqrt(2 / np.pi) * 0.0125, rel=0.1)


def test_batches_keep_the_proportions(sphere_pool):
    _, _, _, pool = sphere_pool
    batch = pool.batch(1000, torch.Generator().manual_seed(0))
    assert torch.bincount(batch["kind"].long(), minlength=3).tolist() == [500, 250, 250]
    again = pool.batch(1000, torch.Generator().manual_seed(0))
    assert torch.equal(batch["points"], again["points"])


def test_pool_is_a_function_of_the_seed(sphere_pool):
    _, mesh, config, pool = sphere_pool
    small = config.model_copy(update={"pool_size": 2000})
    a = mesh_sample_pool(mesh, None, small, seed=3)
    b = mesh_sample_pool(mesh, None, small, seed=3)
    c = mesh_sample_pool(mesh, None, small, seed=4)
    assert torch.equal(a.points, b.points) and not torch.equal(a.points, c.points)
    assert torch.isnan(a.sdf[a.kind != SURFACE]).all()  # no distance oracle: unknown


def test_sample_config_validation():
    with pytest.raises(ValueError, match="odd"):
        SampleConfig(sign_rays=2)
    with pytest.raises(ValueError, match="positive"):
        SampleConfig(surface=0, near=0, uniform=0)
    assert SampleConfig(surface=1, near=1, uniform=2).fractions() == (0.25, 0.25, 0.5)


def test_point_cloud_pool_estimates_signed_distances(sphere_pool):
    from fields.datasets.mesh import sample_surface

    sphere, mesh, config, _ = sphere_pool
    points, normals = sample_surface(mesh, 20000, np.random.default_rng(0))
    pool = cloud_sample_pool(points, normals, config, seed=0)
    near = pool.kind == NEAR
    exact = sphere.sdf(pool.points[near].double()).float()
    assert (torch.sign(pool.sdf[near]) == torch.sign(exact))[exact.abs() > 0.01].all()
    assert (pool.sdf[near] - exact).abs().median() < 2e-3
    uniform = pool.kind == UNIFORM
    assert (
        torch.sign(pool.sdf[uniform]) == torch.sign(sphere.sdf(pool.points[uniform].double()).float())
    ).float().mean() > 0.99
