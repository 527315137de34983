"""Pose refinement trains for real: from the true poses the cameras stay put (no drift), from poses turned
by 1 degree and moved by 2% of the extent they come back; radiance on a generated unbounded capture,
splats on the synthetic objects (with the corrections in checkpoints and resumed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fields.datasets.capture.align import pose_errors
from fields.datasets.capture.perturb import perturb_transforms
from fields.engine.run import fit, load_run
from fields.engine.scene import load_scene, scene_from_dict

ROOT = Path(__file__).resolve().parents[2]
CAPTURE = ROOT / "configs" / "radiance" / "capture.yaml"
SMALL = ["train.batch_size=512", "train.progress=false", "model.encoder.log2_hashmap_size=15",
         "model.encoder.max_resolution=512", "render.proposal_samples=[64, 32]", "render.n_samples=24",
         "train.max_time=null"]


def errors(task, true_c2w: np.ndarray) -> tuple:
    """Training cameras against the truth (OpenCV ``(n, 3, 4)``), after a similarity: (given, refined)."""
    train = task.views.train
    given = pose_errors(task.cameras.to_opencv().c2w.double().numpy()[train], true_c2w[train])
    refined = pose_errors(task.refined_cameras().to_opencv().c2w.double().numpy()[train], true_c2w[train])
    return given, refined


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    if shutil.which("povray") is None:
        pytest.skip("needs POV-Ray (apt-get install povray)")
    from fields.datasets.capture.povray import render_capture, write_truth_transforms

    folder = render_capture(tmp_path_factory.mktemp("walk"), "quarry", n_frames=32, width=96, height=72, arc=200,
                            video=False)
    write_truth_transforms(folder)
    return folder


def test_radiance_refinement_holds_true_poses_and_repairs_perturbed_ones(capture, tmp_path):
    true = np.array([f["c2w"] for f in json.loads((capture / "truth.json").read_text())["frames"]])
    noisy = perturb_transforms(capture, tmp_path / "noisy", 1.0, 0.02)
    results = {}
    for name, data in (("true", capture), ("noisy", noisy)):
        scene = load_scene(str(CAPTURE), [f"data.path={data}", f"output.dir={tmp_path}", f"output.name={name}",
                                          "train.steps=STEPS", *SMALL])
        run_dir, _ = fit(scene, scene_name=name)
        results[name] = errors(load_run(run_dir)[1], true)
    given, refined = results["true"]
    assert given.rotation_mean_deg < 1e-3 and refined.rotation_mean_deg < 0.1, refined
    assert refined.position_mean < 0.002, refined
    given, refined = results["noisy"]
    assert 0.9 < given.rotation_mean_deg < 1.1, given
    assert refined.rotation_mean_deg < 0.5 * given.rotation_mean_deg, refined
    assert refined.position_mean < 0.6 * given.position_mean, (refined, given)
