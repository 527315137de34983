"""Real fits of generated shapes: SDF from a mesh, occupancy, SDF from an oriented point cloud; the CLI's
fit, export, render and eval on an SDF run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("trimesh")
pytest.importorskip("open3d")

from fields.engine.scene import scene_from_dict  # noqa: E402
from fields.engine.run import fit, load_run  # noqa: E402
from tests.conftest import run_cli  # noqa: E402

SMALL_MODEL = {
    "encoder": {
        "type": "hashgrid",
        "n_levels": 8,
        "log2_hashmap_size": 14,
        "base_resolution": 4,
        "max_resolution": 128,
    },
    "decoder": {"type": "mlp", "n_neurons": 32, "n_hidden_layers": 1},
}
SMALL_EVAL = {"points": 65536, "mesh_resolution": 96, "surface_points": 20000, "export_resolution": 64}


def scene(tmp_path: Path, task: str, data: dict, steps: int = 150, **train) -> object:
    return scene_from_dict({
        "task": task,
        "data": {"samples": {"pool_size": 65536}, "eval": SMALL_EVAL, **data},
        "model": SMALL_MODEL,
        "train": {"steps": steps, "batch_size": 4096, "progress": False, "threads": 2,
                  "schedule": {"type": "exponential", "final_ratio": 0.1}, **train},
        "output": {"dir": str(tmp_path / "runs")},
    })


def test_sdf_fit_of_a_generated_shape(tmp_path: Path):
    cfg = scene(tmp_path, "sdf", {"mesh": "shape:blend", "losses": {"eikonal": 0.05, "normal": 0.05}}, steps=120)
    assert cfg.model.output_activation == "none" and cfg.train.loss == "mape"  # the task's defaults
    run, metrics = fit(cfg, tmp_path / "run")
    # a field that ignores position, or the sign flipped, scores near 0; a blurred one about 0.8
    assert metrics["iou"] > 0.97, metrics
    assert metrics["iou_near"] > 0.85 and metrics["normal_consistency"] > 0.97, metrics
    assert metrics["chamfer_l1"] < 0.005, metrics  # the shape spans 0.8
    assert (run / "mesh.ply").is_file()
    _, task = load_run(run)
    with torch.no_grad():
        task.field.encoder.params.zero_()
    assert task.evaluate()["iou"] < 0.5  # the figure comes from the grid


def test_occupancy_fit(tmp_path: Path):
    cfg = scene(
        tmp_path,
        "occupancy",
        {"mesh": "shape:torus", "samples": {"pool_size": 65536, "surface": 1, "near": 2, "uniform": 1}},
    )
    _, metrics = fit(cfg, tmp_path / "run")
    assert metrics["iou"] > 0.95, metrics
    assert metrics["chamfer_l1"] < 0.01, metrics


def test_sdf_from_an_oriented_point_cloud(tmp_path: Path):
    from fields.datasets.analytic import Sphere, shape_mesh
    from fields.datasets.mesh import sample_surface

    mesh = shape_mesh(Sphere(radius=0.3), 64)
    points, normals = sample_surface(mesh, 5000, np.random.default_rng(0))
    np.savetxt(tmp_path / "sphere.xyz", np.concatenate([points, normals], axis=1))
    mesh.export(tmp_path / "sphere.ply")
    cfg = scene(
        tmp_path,
        "sdf",
        {
            "points": str(tmp_path / "sphere.xyz"),
            "reference": str(tmp_path / "sphere.ply"),
            "losses": {"eikonal": 0.1, "normal": 1.0, "surface": 10.0, "off_surface": 0.1},
            "samples": {"pool_size": 65536, "surface": 2, "near": 1, "uniform": 1, "near_sigmas": [0.01, 0.05]},
        },
        steps=150,
        batch_size=2048,
    )
    _, metrics = fit(cfg, tmp_path / "run")
    assert metrics["iou"] > 0.97, metrics
    assert metrics["chamfer_l1"] < 0.008, metrics


def test_cli_fit_export_render_eval(tmp_path: Path):
    path = tmp_path / "torus.yaml"
    path.write_text(Path("configs/sdf/torus.yaml").read_text())
    result = run_cli("fit", str(path), "train.steps=60", "train.progress=false", f"output.dir={tmp_path / 'runs'}",
                     "output.name=torus", "data.eval.mesh_resolution=64", "data.eval.export_resolution=32")
    assert result.returncode == 0, result.stderr
    run = tmp_path / "runs" / "torus"
    assert "IoU" in result.stdout
    result = run_cli("export", "mesh", str(run), "--resolution", "48", "--format", "obj")
    assert result.returncode == 0, result.stderr
    import trimesh

    exported = trimesh.load(run / "mesh_48.obj", force="mesh")
    assert exported.bounds[0].min() > 0.0 and exported.bounds[1].max() < 1.0  # shape:torus lives in [0.1, 0.9]
    result = run_cli("render", str(run), "--width", "32", "--frames", "3")
    assert result.returncode == 0, result.stderr
    import imageio.v3 as iio

    assert iio.imread(run / "renders" / "turntable" / "frame_0002.png").shape == (32, 32, 3)
    assert (run / "renders" / "turntable.mp4").stat().st_size > 0
    assert iio.imread(run / "training_curves.png").shape[2] == 3
    before = json.loads((run / "metrics.json").read_text())["iou"]
    result = run_cli("eval", str(run))
    assert result.returncode == 0 and "chamfer_l1" in result.stdout
    assert json.loads((run / "eval.json").read_text())["iou"] == pytest.approx(before, abs=1e-6)
