"""configs/radiance/capture.yaml on a small generated unbounded capture (POV-Ray: textured ground to the
horizon, sky, objects), with the true cameras: the contracted proposal recipe with appearance codes and
pose refinement trains to a PSNR a broken pipeline does not reach."""

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
         "model.encoder.max_resolution=512", "render.proposal_samples=[64, 32]", "render.n_samples=24"]


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    from fields.datasets.capture.povray import render_capture, write_truth_transforms

    folder = render_capture(tmp_path_factory.mktemp("unbounded"), "quarry", n_frames=32, width=64, height=48, arc=200,
                            video=False)
    write_truth_transforms(folder)
    return folder


def test_capture_recipe_runs_every_part(capture, tmp_path):
    """A few steps: contraction, proposal rounds, appearance codes and pose corrections all take part."""
    scene = load_scene(str(CONFIG), [f"data.path={capture}", f"output.dir={tmp_path}", "train.steps=6", *SMALL])
    run_dir, metrics = fit(scene, scene_name="capture")
    assert metrics["steps"] == 6 and metrics["test_appearance"].startswith("mean")
    assert 0 < metrics["camera_correction_deg"] < 1.0
    assert json.loads((run_dir / "metrics.json").read_text())["test_appearance"] == metrics["test_appearance"]


@pytest.mark.slow
def test_capture_recipe_learns_the_unbounded_scene(capture, tmp_path):
    scene = load_scene(str(CONFIG), [f"data.path={capture}", f"output.dir={tmp_path}", "train.steps=400", *SMALL])
    _, metrics = fit(scene, scene_name="capture")
    # measured 2026-12-04: see the report; the mean colour predicts ~11 dB, a field that ignores the
    # contraction (sky and far ground outside the box) stays far lower
    assert metrics["psnr"] > 20.0, metrics
