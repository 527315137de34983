"""Pose refinement trains for real: from the true poses the cameras stay put (no drift), from poses turned
by 1 degree and moved by 2% of the extent they move towards the truth; radiance on a generated unbounded
capture, splats on the synthetic objects (with the corrections in checkpoints and resumed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fields.datasets.capture.align import pose_errors, rotation_errors_deg
from fields.datasets.capture.perturb import perturb_transforms
from fields.engine.run import fit, load_run
from fields.engine.scene import load_scene, scene_from_dict

ROOT = Path(__file__).resolve().parents[2]
CAPTURE = ROOT / "configs" / "radiance" / "capture.yaml"
SPLAT_STEPS = 800
SMALL = ["train.batch_size=1024", "train.progress=false", "model.encoder.log2_hashmap_size=15",
         "model.encoder.max_resolution=512", "render.proposal_samples=[64, 32]", "render.n_samples=24",
         "render.appearance_dim=0", "train.max_time=null"]


def errors(task, true_c2w: np.ndarray) -> tuple:
    """Training cameras against the truth (OpenCV ``(n, 3, 4)``), after a similarity: (given, refined)."""
    train = task.views.train
    out = []
    for cams in (task.cameras, task.refined_cameras()):
        c2w = cams.to_opencv().c2w.double().numpy()[train]
        e = pose_errors(c2w, true_c2w[train])  # positions after a similarity alignment
        e.rotation_mean_deg = float(rotation_errors_deg(c2w, true_c2w[train]).mean())  # less the common turn
        out.append(e)
    return tuple(out)


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    if shutil.which("povray") is None:
        pytest.skip("needs POV-Ray (apt-get install povray)")
    from fields.datasets.capture.povray import render_capture, write_truth_transforms

    folder = render_capture(tmp_path_factory.mktemp("walk"), "quarry", n_frames=32, width=80, height=60, arc=200,
                            video=False)
    write_truth_transforms(folder)
    return folder


@pytest.mark.slow
def test_radiance_refinement_holds_true_poses_and_repairs_perturbed_ones(capture, tmp_path):
    # measured 2026-12-04 (80x60, 500 steps of 1024 rays, load ~10): from the true poses 0.047 degrees and
    # 0.32% of the extent (nerfstudio's constant 6e-4 without the delay: 0.67 degrees, 1.1%; test PSNR
    # 21.5 against 19.6 dB)
    true = np.array([f["c2w"] for f in json.loads((capture / "truth.json").read_text())["frames"]])
    noisy = perturb_transforms(capture, tmp_path / "noisy", 1.0, 0.02)
    results = {}
    for name, data in (("true-poses", capture), ("noisy", noisy)):
        scene = load_scene(str(CAPTURE), [f"data.path={data}", f"output.dir={tmp_path}", f"output.name={name}",
                                          "train.steps=500", "render.camera_opt=SO3xR3", *SMALL])
        run_dir, _ = fit(scene, scene_name=name)
        results[name] = errors(load_run(run_dir)[1], true)
    given, refined = results["true-poses"]
    assert given.rotation_mean_deg < 1e-3 and refined.rotation_mean_deg < 0.1, refined
    assert refined.position_mean < 0.005, refined
    given, refined = results["noisy"]
    # measured: 0.98 -> 0.94 degrees and 1.87% -> 1.65% of the extent in 500 steps (nerfstudio's schedule:
    # 0.98 -> 1.01 degrees, 1.87% -> 1.74%): a short run at 80x60 repairs little; longer runs repair more
    # (1000 steps of 256 rays: 0.98 -> 0.71 degrees, 1.87% -> 1.29%)
    assert 0.9 < given.rotation_mean_deg < 1.1, given
    assert refined.rotation_mean_deg < given.rotation_mean_deg, refined
    assert refined.position_mean < 0.95 * given.position_mean, (refined, given)


@pytest.mark.slow
def test_splat_refinement_repairs_perturbed_poses_and_resumes(tmp_path):
    from fields.datasets.synthetic_scene import generate_scene

    objects = generate_scene(tmp_path / "objects", "objects", n_train=20, n_test=2, size=64, seed=0)
    noisy = perturb_transforms(objects, tmp_path / "noisy", 1.0, 0.02)
    config = {"task": "splat", "data": {"path": str(noisy), "background": "random"},
              "model": {"type": "gaussians", "n_random": 300, "sh_degree": 1, "sh_increase_every": 200},
              "render": {"strategy": {"type": "default", "refine_start": 50, "refine_stop": 600, "refine_every": 50,
                                      "reset_every": 10000}, "save_test_views": 0, "camera_opt": "SO3xR3"},
              "train": {"steps": SPLAT_STEPS, "progress": False, "checkpoint_every": 1000},
              "output": {"dir": str(tmp_path / "runs")}}
    run_dir, metrics = fit(scene_from_dict(config), tmp_path / "runs" / "refined")
    _, task = load_run(run_dir)
    frames = json.loads((objects / "transforms_train.json").read_text())["frames"]
    true = np.array([f["transform_matrix"] for f in frames])[:, :3]
    true[:, :, 1:3] *= -1  # OpenGL -> OpenCV camera axes
    c2w = np.zeros((len(task.cameras), 3, 4))
    c2w[task.views.train] = true
    given, refined = errors(task, c2w)
    # measured 2026-12-04 (800 steps, load ~10): positions 1.63% -> 0.83% of the extent; the rotations
    # went from 0.97 to 1.43 degrees: around small objects against a random background a turn of the
    # camera and a shift across the view draw nearly the same image, and the corrections mix the two
    assert 0.9 < given.rotation_mean_deg < 1.1, given
    assert refined.position_mean < 0.7 * given.position_mean, (refined, given)
    # the corrections are in the checkpoint, with their optimiser state: the run resumes and goes on
    assert abs(task.camera_opt.errors()[0] - metrics["camera_correction_deg"]) < 1e-6
    config["train"]["steps"] = SPLAT_STEPS + 20
    _, resumed = fit(scene_from_dict(config), run_dir, resume=True)
    assert resumed["steps"] == SPLAT_STEPS + 20
    assert resumed["camera_correction_deg"] > 0.5 * metrics["camera_correction_deg"]  # not restarted at zero
