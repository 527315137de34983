"""``fields export mesh|pointcloud|cameras`` on small radiance and splat runs: the points and the fused
surface lie on the true objects, the cameras are the views' (refined ones where the run refined them)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fields.apps.cli import app
from fields.datasets.synthetic_scene import generate_scene, scene_mesh
from fields.engine.run import fit
from fields.engine.scene import scene_from_dict

runner = CliRunner()
TINY = {"encoder": {"type": "hashgrid", "n_levels": 6, "log2_hashmap_size": 14, "base_resolution": 8,
                    "max_resolution": 96},
        "decoder": {"type": "mlp", "n_neurons": 32, "n_hidden_layers": 1}}


@pytest.fixture(scope="module")
def objects(tmp_path_factory) -> Path:
    return generate_scene(tmp_path_factory.mktemp("objects"), "objects", n_train=24, n_test=2, size=32, seed=0)


@pytest.fixture(scope="module")
def radiance_run(objects, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    scene = {"task": "radiance", "data": {"path": str(objects)}, "model": TINY,
             "train": {"steps": 200, "batch_size": 512, "progress": False, "checkpoint_every": 1000},
             "render": {"grid_resolution": 16, "max_steps": 96, "grid_warmup_steps": 32, "grid_update_every": 8,
                        "mesh_resolution": 0, "save_test_views": 0, "camera_opt": "SO3xR3"},
             "output": {"dir": str(out)}}
    run_dir, _ = fit(scene_from_dict(scene), out / "radiance")
    return run_dir


@pytest.fixture(scope="module")
def splat_run(objects, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    scene = {"task": "splat", "data": {"path": str(objects), "background": "random"},
             "model": {"type": "gaussians", "n_random": 500, "sh_degree": 0},
             "render": {"strategy": {"type": "default", "refine_start": 50, "refine_stop": 500, "refine_every": 50,
                                     "reset_every": 10000}, "save_test_views": 0},
             "train": {"steps": 600, "progress": False, "checkpoint_every": 1000}, "output": {"dir": str(out)}}
    run_dir, _ = fit(scene_from_dict(scene), out / "splat")
    return run_dir


def surface_distance(points: np.ndarray) -> np.ndarray:
    """Distance of world points to the generated objects' surface."""
    import trimesh

    mesh, _ = scene_mesh("objects")
    return np.abs(trimesh.proximity.signed_distance(mesh, points))


def read_points(path: Path) -> np.ndarray:
    import trimesh

    return np.asarray(trimesh.load(path).vertices)


@pytest.mark.parametrize("kind", ["radiance", "splat"])
def test_exports_lie_on_the_objects(kind, radiance_run, splat_run, tmp_path):
    run = radiance_run if kind == "radiance" else splat_run
    result = runner.invoke(app, ["export", "pointcloud", str(run), "-o", str(tmp_path / "points.ply")])
    assert result.exit_code == 0, result.output
    points = read_points(tmp_path / "points.ply")
    assert len(points) > 150
    # the objects span about 1.5 units; a point cloud of noise would sit ~0.3 away on average
    # splat centres sit inside the objects (radii 0.12-0.45), rendered depth on their surface
    limit = 0.1 if kind == "splat" else 0.06
    assert np.median(surface_distance(points[:3000])) < limit, np.median(surface_distance(points[:3000]))

    result = runner.invoke(app, ["export", "mesh", str(run), "--method", "tsdf", "--resolution", "96",
                                 "-o", str(tmp_path / "fused.ply")])
    assert result.exit_code == 0, result.output
    import trimesh

    mesh = trimesh.load(tmp_path / "fused.ply")
    assert len(mesh.faces) > 200
    # measured: radiance under 0.06, splats (600 steps at 32x32) 0.076 (their depth is coarser)
    assert np.median(surface_distance(np.asarray(mesh.vertices)[:3000])) < limit

    result = runner.invoke(app, ["export", "cameras", str(run)])
    assert result.exit_code == 0, result.output
    cams = json.loads((run / "cameras.json").read_text())
    given = json.loads((Path(cams_source(run)) / "transforms_train.json").read_text())["frames"]
    train = [f for f in cams["frames"] if f["split"] == "train"]
    assert len(train) == len(given) == 24 and cams["w"] == 32
    for frame, truth in zip(train, given):  # training views come first (the train file, then the test file)
        assert np.allclose(frame["transform_matrix"], truth["transform_matrix"], atol=0.05)
    assert cams["refined"] == (kind == "radiance")
    assert all(f["correction_deg"] == 0 for f in cams["frames"] if f["split"] == "test")


def cams_source(run: Path) -> str:
    import yaml

    return yaml.safe_load((run / "config.resolved.yaml").read_text())["data"]["path"]


def test_export_errors_are_one_line(radiance_run, tmp_path):
    result = runner.invoke(app, ["export", "cameras", str(radiance_run), "-o", str(tmp_path / "cams.txt")])
    assert result.exit_code == 2 and "json" in result.output.lower()
    result = runner.invoke(app, ["export", "mesh", str(radiance_run), "--method", "poisson"])
    assert result.exit_code == 2 and "--method" in result.output
