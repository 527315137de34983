"""The CPU-sized NeuS recipe (configs/surface/sphere.yaml, the surface defaults) recovers the sphere at a
fixed small step count: quality per step does not depend on the machine's load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fields.engine.scene import load_scene
from fields.datasets.synthetic_scene import SPHERE_RADIUS, generate_scene
from fields.engine.run import fit
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def sphere_scene(tmp_path_factory) -> Path:
    return generate_scene(tmp_path_factory.mktemp("sphere"), "sphere", n_train=30, n_test=2, size=48, seed=1)


def test_sphere_recipe_meshes_the_sphere_within_two_percent(sphere_scene, tmp_path):
    import trimesh

    scene = load_scene(
        str(ROOT / "configs" / "surface" / "sphere.yaml"),
        [
            f"data.path={sphere_scene}",
            "train.steps=300",
            "train.progress=false",
            "train.threads=1",
            "train.checkpoint_every=100000",
            "render.mesh_resolution=96",
            "render.save_test_views=0",
            f"output.dir={tmp_path}",
        ],
    )
    run_dir, metrics = fit(scene, tmp_path / "run")
    radius = np.linalg.norm(trimesh.load(run_dir / "mesh.ply").vertices, axis=1)
    error = np.abs(radius - SPHERE_RADIUS) / SPHERE_RADIUS
    assert metrics["psnr"] > 22.0, metrics
    assert np.median(error) < 0.02 and np.percentile(error, 90) < 0.05, (np.median(error), np.percentile(error, 90))
