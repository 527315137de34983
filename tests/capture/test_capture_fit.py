"""configs/radiance/capture.yaml on a small generated unbounded capture (POV-Ray: textured ground to the
horizon, sky, objects), with the true cameras: the contracted proposal recipe with appearance codes and
pose refinement (turned on here: the recipe leaves bundle-adjusted poses alone) trains to a PSNR a broken
pipeline does not reach."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fields.engine.scene import load_scene
from fields.engine.run import fit

pytestmark = pytest.mark.skipif(shutil.which("povray") is None, reason="needs POV-Ray (apt-get install povray)")
CONFIG = Path(__file__).resolve().parents[2] / "configs" / "radiance" / "capture.yaml"
SMALL = ["train.batch_size=256", "train.progress=false", "model.encoder.log2_hashmap_size=15",
         "model.encoder.max_resolution=512", "render.proposal_samples=[64, 32]", "render.n_samples=24",
         "render.eval_pose_align=3"]


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    from fields.datasets.capture.povray import render_capture, write_truth_transforms

    folder = render_capture(tmp_path_factory.mktemp("unbounded"), "quarry", n_frames=32, width=80, height=60, arc=200,
                            video=False)
    write_truth_transforms(folder)
    return folder


def test_capture_recipe_runs_every_part(capture, tmp_path):
    """A few steps: contraction, proposal rounds, appearance codes and pose corrections all take part."""
    scene = load_scene(str(CONFIG), [f"data.path={capture}", f"output.dir={tmp_path}", "train.steps=6",
                                     "render.camera_opt=SO3xR3", "render.camera_opt_delay=2",
                                     "render.camera_opt_accumulate=2", *SMALL])
    run_dir, metrics = fit(scene, scene_name="capture")
    assert metrics["steps"] == 6 and metrics["test_appearance"].startswith("mean")
    assert 0 < metrics["camera_correction_deg"] < 1.0
    assert 0 < metrics["test_pose_alignment_deg"] < 1.0 and 5 < metrics["psnr_aligned"] < 60  # BARF's protocol ran
    assert json.loads((run_dir / "metrics.json").read_text())["test_appearance"] == metrics["test_appearance"]


def test_pose_gradients_averaged_in_a_fit(capture, tmp_path, monkeypatch):
    """``render.camera_opt_accumulate``: the corrections take an optimiser step only every K-th step."""
    from fields.tasks.camera_refine import PoseGradientAverage

    due = []
    original = PoseGradientAverage.__call__

    def spy(self, params, step, k):
        params = list(params)
        original(self, params, step, k)
        due.append(any(p.grad is not None for p in params))

    monkeypatch.setattr(PoseGradientAverage, "__call__", spy)
    scene = load_scene(str(CONFIG), [f"data.path={capture}", f"output.dir={tmp_path}", "train.steps=8",
                                     "render.camera_opt=SO3xR3", "render.camera_opt_delay=0",
                                     "render.camera_opt_accumulate=4", *SMALL])
    _, metrics = fit(scene, scene_name="capture")
    assert due == [False, False, False, True] * 2
    assert 0 < metrics["camera_correction_deg"] < 1.0


def mean_image_psnr(folder: Path, every: int = 8) -> float:
    """Test PSNR of predicting every held-out view by the mean training image: what a field that learned
    no geometry (a blur of sky over ground) reaches on this capture (about 17.8 dB at 80x60)."""
    import imageio.v3 as iio
    import numpy as np

    images = np.stack([iio.imread(p)[..., :3] / 255.0 for p in sorted((folder / "images").glob("*.png"))])
    test = np.arange(0, len(images), every)
    mean = np.delete(images, test, 0).mean(0)
    return float(np.mean([-10 * np.log10(((images[i] - mean) ** 2).mean()) for i in test]))


@pytest.mark.slow
def test_capture_recipe_learns_the_unbounded_scene(capture, tmp_path):
    scene = load_scene(str(CONFIG), [f"data.path={capture}", f"output.dir={tmp_path}", "train.steps=300", *SMALL])
    _, metrics = fit(scene, scene_name="capture")
    baseline = mean_image_psnr(capture)
    # measured 2026-12-04 (load ~20): 19.22 dB against the 17.76 dB baseline; the same recipe with the
    # distortion loss in metric distance (far plane 500) stayed at the baseline (17.75 dB after 400 steps)
    assert metrics["psnr"] > baseline + 1.0, (metrics["psnr"], baseline)
