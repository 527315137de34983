"""Real short trainings on tiny generated scenes (32x32): NeRF with the occupancy grid and NeuS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fields.engine.scene import scene_from_dict
from fields.datasets.synthetic_scene import SPHERE_RADIUS, generate_scene
from fields.datasets.views import PosedViewsData, load_views
from fields.engine.run import fit, load_run
from fields.errors import UserError
from tests.conftest import run_cli

TINY_MODEL = {
    "encoder": {"type": "hashgrid", "n_levels": 6, "log2_hashmap_size": 14, "base_resolution": 8, "max_resolution": 96},
    "decoder": {"type": "mlp", "n_neurons": 32, "n_hidden_layers": 1},
}


@pytest.fixture(scope="module")
def objects_scene(tmp_path_factory) -> Path:
    return generate_scene(tmp_path_factory.mktemp("objects"), "objects", n_train=24, n_test=2, size=32, seed=0)


@pytest.fixture(scope="module")
def sphere_scene(tmp_path_factory) -> Path:
    return generate_scene(tmp_path_factory.mktemp("sphere"), "sphere", n_train=24, n_test=2, size=32, seed=1)


def constant_colour_psnr(path: Path) -> float:
    """PSNR of the best constant prediction (the mean colour) on the test views, over white."""
    views = load_views(PosedViewsData(path=str(path)))
    x = views.images[views.test].float() / 255
    rgb = x[..., :3] * x[..., 3:] + (1 - x[..., 3:])
    mse = ((rgb - rgb.mean((0, 1, 2))) ** 2).mean()
    return float(-10 * torch.log10(mse))


def radiance_scene(path: Path, out: Path, **render) -> dict:
    return {"task": "radiance", "data": {"path": str(path)}, "model": TINY_MODEL,
            "train": {"steps": 150, "batch_size": 512, "progress": False, "threads": 1, "checkpoint_every": 1000},
            "render": {"grid_resolution": 16, "max_steps": 96, "grid_warmup_steps": 32, "grid_update_every": 8,
                       "mesh_resolution": 32, "n_frames": 3, "save_test_views": 1, **render},
            "output": {"dir": str(out)}}


def test_nerf_with_occupancy_grid_beats_a_constant_colour(objects_scene, tmp_path):
    scene = scene_from_dict(radiance_scene(objects_scene, tmp_path))
    run_dir, metrics = fit(scene, tmp_path / "run")
    baseline = constant_colour_psnr(objects_scene)
    assert metrics["psnr"] > baseline + 8.0, (metrics["psnr"], baseline)
    assert metrics["ssim"] > 0.6 and metrics["samples_per_second"] > 0
    assert metrics["occupied_fraction"] < 0.5  # the grid found empty space
    for name in ("renders/test_0000.png", "pointcloud.ply", "mesh.ply", "checkpoints/last.safetensors"):
        assert (run_dir / name).is_file(), name
    # the checkpoint restores the occupancy grid too: evaluation of the reloaded run agrees
    _, task = load_run(run_dir)
    assert task.grid.occupancy_fraction() == metrics["occupied_fraction"]
    assert abs(task.evaluate()["psnr"] - metrics["psnr"]) < 0.05
    # fields export mesh: the same level set as the fit's mesh.ply, at the same resolution
    exported = task.export_mesh(tmp_path / "exported.ply", 32)
    assert exported.read_bytes() == (run_dir / "mesh.ply").read_bytes()

    result = run_cli(
        "render", str(run_dir), "--path", "orbit", "--frames", "3", "--width", "24", env={"OMP_NUM_THREADS": "1"}
    )
    assert result.returncode == 0, result.stderr
    frames = sorted((run_dir / "renders/orbit").glob("frame_*.png"))
    assert len(frames) == 3 and (run_dir / "renders/orbit.mp4").stat().st_size > 0
    import imageio.v3 as iio

    assert iio.imread(frames[0]).shape == (24, 24, 3)
    with pytest.raises(UserError, match="orbit, spiral, dataset"):
        task.render(run_dir, path="zigzag")
    spiral = task.render(tmp_path / "spiral", width=16, path="spiral", frames=2)
    assert len(spiral) == 3 and spiral[-1].suffix == ".mp4"


@pytest.mark.parametrize("sampler", ["uniform", "proposal"])
def test_uniform_and_proposal_sampling_train(objects_scene, tmp_path, sampler):
    config = radiance_scene(
        objects_scene, tmp_path, sampler=sampler, n_samples=24, proposal_samples=[32], mesh_resolution=8
    )
    config["train"]["steps"] = 80
    config["render"]["save_test_views"] = 0
    _, metrics = fit(scene_from_dict(config), tmp_path / sampler)
    assert metrics["psnr"] > constant_colour_psnr(objects_scene) + 5.0, metrics["psnr"]


def test_neus_recovers_the_sphere(sphere_scene, tmp_path):
    config = {
        "task": "surface",
        "data": {"path": str(sphere_scene)},
        "model": {
            "encoder": {
                "type": "hashgrid",
                "n_levels": 4,
                "log2_hashmap_size": 12,
                "base_resolution": 4,
                "max_resolution": 32,
            },
            "decoder": {"type": "mlp", "n_neurons": 32, "n_hidden_layers": 1},
            "sdf_neurons": 32,
        },
        "train": {"steps": 120, "batch_size": 256, "progress": False, "threads": 1, "checkpoint_every": 1000},
        "render": {
            "n_samples": 24,
            "n_importance": 8,
            "eikonal_points": 128,
            "anneal_steps": 50,
            "mesh_resolution": 48,
            "save_test_views": 0,
        },
        "output": {"dir": str(tmp_path)},
    }
    run_dir, metrics = fit(scene_from_dict(config), tmp_path / "neus")
    assert metrics["psnr"] > constant_colour_psnr(sphere_scene) + 5.0, metrics
    import trimesh

    mesh = trimesh.load(run_dir / "mesh.ply")
    radius = np.linalg.norm(mesh.vertices, axis=1)
    assert len(mesh.faces) > 100
    # within 4% of the sphere's radius (the scene box is 3 units wide: about 2 voxels of the mesh grid)
    assert abs(np.median(radius) - SPHERE_RADIUS) < 0.04 * SPHERE_RADIUS * 3, np.median(radius)
    assert np.percentile(np.abs(radius - SPHERE_RADIUS), 90) < 0.1


def test_a_step_with_non_finite_gradients_is_skipped(objects_scene, tmp_path, monkeypatch):
    """One poisoned batch (a NaN loss) must not turn the parameters into NaN: the step is dropped and counted."""
    from fields.tasks.radiance import RadianceTask

    original = RadianceTask.training_step

    def poisoned(self, batch, batch_idx):
        loss = original(self, batch, batch_idx)
        return loss * float("nan") if int(self.global_step) == 5 else loss

    monkeypatch.setattr(RadianceTask, "training_step", poisoned)
    config = radiance_scene(objects_scene, tmp_path, mesh_resolution=0, save_test_views=0)
    config["train"]["steps"] = 12
    _, metrics = fit(scene_from_dict(config), tmp_path / "nan")
    assert metrics["skipped_steps"] == 1 and np.isfinite(metrics["psnr"])


def test_a_run_whose_steps_stay_non_finite_stops_with_one_line(objects_scene, tmp_path, monkeypatch):
    from fields.tasks.radiance import RadianceTask

    original = RadianceTask.training_step

    def poisoned(self, batch, batch_idx):
        return original(self, batch, batch_idx) * (float("nan") if self.global_step >= 3 else 1.0)

    monkeypatch.setattr(RadianceTask, "training_step", poisoned)
    config = radiance_scene(objects_scene, tmp_path, mesh_resolution=0, save_test_views=0)
    config["train"]["steps"] = 200
    with pytest.raises(UserError, match="50 steps in a row"):
        fit(scene_from_dict(config), tmp_path / "diverged")


def test_coarse_to_fine_window_trains_without_pose_refinement(objects_scene, tmp_path, monkeypatch):
    """``render.coarse_to_fine`` fades the field's finer levels in whether or not poses are refined; evaluation
    sees every level."""
    from fields.encoders.hashgrid import HashGrid

    seen = []
    forward = HashGrid.forward

    def recording(self, x):
        if self.config.n_levels == TINY_MODEL["encoder"]["n_levels"]:  # the field's grid, not a proposal grid
            seen.append(None if self.level_weights is None else self.level_weights.clone())
        return forward(self, x)

    monkeypatch.setattr(HashGrid, "forward", recording)
    config = radiance_scene(objects_scene, tmp_path, coarse_to_fine=0.5, camera_opt="off", save_test_views=0,
                            mesh_resolution=8)
    config["train"]["steps"] = 20
    _, metrics = fit(scene_from_dict(config), tmp_path / "c2f")
    windowed = [w for w in seen if w is not None]
    assert windowed and windowed[0][4:].abs().max() == 0 and windowed[0][:4].min() == 1  # coarse levels only
    assert seen[-1] is None and np.isfinite(metrics["psnr"])  # the last calls (evaluation): every level
    seen.clear()
    config["render"]["coarse_to_fine"] = 0.0
    fit(scene_from_dict(config), tmp_path / "full")
    assert seen and all(w is None for w in seen)


def test_appearance_codes_learn_at_their_own_rate(objects_scene, tmp_path):
    """A code sees only its own view's rays: it trains at ``render.appearance_lr``, by default a tenth of the
    decoder's lr (at the decoder's rate its noisy gradient held a capture's training ~9 dB down)."""
    from fields.engine.run import build_task

    def appearance_lr(**render) -> float:
        task = build_task(scene_from_dict(radiance_scene(objects_scene, tmp_path, appearance_dim=8, **render)))
        return next(g["lr"] for g in task.param_groups() if g["name"] == "appearance")

    assert appearance_lr() == pytest.approx(0.1 * 1e-2)
    assert appearance_lr(appearance_lr=3e-4) == pytest.approx(3e-4)
