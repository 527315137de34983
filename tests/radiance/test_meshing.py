"""Level-set meshes of the 3D tasks through the slab-wise marching cubes: an analytic ball as a density
(inside above the level) and as an SDF (inside below), in world units, wound outward."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fields.render.rays import SceneTransform
from fields.tasks.meshing import extract_mesh

CENTER, RADIUS = 0.5, 0.3


def sdf(x: torch.Tensor) -> torch.Tensor:
    return (x - CENTER).norm(dim=-1) - RADIUS


@pytest.mark.parametrize("kind", ["density", "sdf"])
def test_ball_mesh_in_world_units_wound_outward(tmp_path, kind):
    import trimesh

    transform = SceneTransform(center=torch.tensor([1.0, 2.0, 3.0]), scale=4.0)
    path = tmp_path / "mesh.ply"
    cpu = torch.device("cpu")
    if kind == "density":  # grows inwards through the level 50 at the ball's surface
        written = extract_mesh(lambda x: 50.0 - 500.0 * sdf(x), 40, 50.0, (0.0, 1.0), transform, path, cpu, flip=True)
    else:
        written = extract_mesh(sdf, 40, 0.0, (0.0, 1.0), transform, path, cpu, lipschitz=1.0)
    assert written == path
    mesh = trimesh.load(path)
    world_radius = np.linalg.norm(mesh.vertices - np.array([1.0, 2.0, 3.0]), axis=1)
    assert np.allclose(world_radius, RADIUS * 4.0, atol=0.02 * 4.0)
    outward = np.einsum("ij,ij->i", mesh.face_normals, mesh.triangles_center - np.array([1.0, 2.0, 3.0]))
    assert (outward > 0).mean() > 0.99
    empty = extract_mesh(lambda x: torch.zeros(len(x)), 16, 1.0, (0.0, 1.0), transform, tmp_path / "none.ply", cpu)
    assert empty is None and not (tmp_path / "none.ply").exists()
