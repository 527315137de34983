"""`fields process poses`: given poses perturbed by a degree and 2% of the extent come back near the truth,
in the frame of the given ones; bad input is a one-line error with exit code 2 and leaves nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fields.apps.cli import app
from fields.datasets.capture.align import pose_errors, rotation_errors_deg

pytest.importorskip("pycolmap")
pytestmark = pytest.mark.skipif(shutil.which("povray") is None, reason="needs POV-Ray (apt-get install povray)")
runner = CliRunner()


@pytest.fixture(scope="module")
def walk(tmp_path_factory) -> Path:
    from fields.datasets.capture.povray import render_capture, write_truth_transforms

    folder = render_capture(tmp_path_factory.mktemp("walk"), "garden", n_frames=32, width=320, height=240, arc=120,
                            video=False)
    write_truth_transforms(folder)
    return folder


def _opencv(meta: dict) -> np.ndarray:
    c2w = np.array([f["transform_matrix"] for f in meta["frames"]])[:, :3]
    c2w[:, :, 1:3] *= -1  # OpenGL -> OpenCV camera axes, as the truth
    return c2w


def test_perturbed_poses_are_refined_in_their_own_frame(walk, tmp_path):
    from fields.datasets.capture.perturb import perturb_transforms

    noisy = perturb_transforms(walk, tmp_path / "noisy", 1.0, 0.02, test_every=10**6)  # every view moved
    true = np.array([f["c2w"] for f in json.loads((walk / "truth.json").read_text())["frames"]])
    given = _opencv(json.loads((noisy / "transforms.json").read_text()))
    before = rotation_errors_deg(given, true)
    assert 0.9 < before.mean() < 1.1  # the perturbation is real

    out = tmp_path / "out"
    result = runner.invoke(app, ["process", "poses", str(noisy), str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "capture.json").read_text())
    assert summary["n_registered"] == summary["n_frames"] == 32
    assert 2 <= summary["poses"]["rounds"] <= 6 and summary["mean_reprojection_error"] < 1.0
    refined = _opencv(json.loads((out / "transforms.json").read_text()))
    after = rotation_errors_deg(refined, true)
    errors = pose_errors(refined, true)
    assert after.mean() < 0.2 and after.max() < 0.5, (after.mean(), after.max())
    assert errors.position_mean < 0.004, errors  # from 2% of the extent
    # the given frame and scale are kept: without any alignment the centres are near the true ones
    extent = np.linalg.norm(np.ptp(true[:, :, 3], axis=0))
    assert np.linalg.norm(refined[:, :, 3] - true[:, :, 3], axis=1).mean() / extent < 0.01
    # a capture `fields fit` reads, the same views in the same order
    from fields.datasets.colmap import load_colmap

    views = load_colmap(out)
    assert len(views.cameras) == 32 and (out / "sparse_pc.ply").read_bytes().startswith(b"ply")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def _one_line_error(args: list[str], expected: str) -> None:
    result = runner.invoke(app, args)
    error = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(error) == 1 and expected in error[0], result.output


def test_bad_input_is_one_line_exit_2_and_leaves_nothing(walk, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    _one_line_error(["process", "poses", str(empty), str(tmp_path / "out")], "no transforms.json")

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "images").symlink_to(walk / "images")
    meta = json.loads((walk / "transforms.json").read_text())
    meta["frames"][3]["fl_x"] = meta["fl_x"] * 1.5  # one view zoomed
    (mixed / "transforms.json").write_text(json.dumps(meta))
    _one_line_error(["process", "poses", str(mixed), str(tmp_path / "out")], "different intrinsics")

    far = tmp_path / "far"  # poses nothing like the images: an error, no result
    far.mkdir()
    (far / "images").symlink_to(walk / "images")
    from fields.datasets.capture.perturb import rotation_about

    rng = np.random.default_rng(0)
    for frame in meta["frames"]:  # each camera turned by 90 degrees about a random axis
        frame.pop("fl_x", None)
        c2w = np.array(frame["transform_matrix"])
        c2w[:3, :3] = rotation_about(rng.normal(size=3), np.pi / 2) @ c2w[:3, :3]
        frame["transform_matrix"] = c2w.tolist()
    (far / "transforms.json").write_text(json.dumps(meta))
    _one_line_error(["process", "poses", str(far), str(tmp_path / "out")], "far from what the images show")
    blank = tmp_path / "blank"  # no texture: no tracks
    (blank / "images").mkdir(parents=True)
    import imageio.v3 as iio

    for frame in meta["frames"][:8]:
        iio.imwrite(blank / frame["file_path"], np.full((240, 320, 3), 128, np.uint8))
    (blank / "transforms.json").write_text(json.dumps({**meta, "frames": meta["frames"][:8]}))
    _one_line_error(["process", "poses", str(blank), str(tmp_path / "out")], "feature tracks")
    existing = tmp_path / "existing"  # an output that exists is kept, even with --overwrite when the run fails
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    _one_line_error(["process", "poses", str(far), str(existing)], "--overwrite")
    _one_line_error(["process", "poses", str(far), str(existing), "--overwrite"], "far from what")
    assert (existing / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "out").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
