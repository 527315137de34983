"""Real image fits through the CLI and the engine: quality, outputs, reproducibility, resume."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from fields.engine.scene import load_scene
from fields.engine.checkpoint import read_checkpoint
from fields.engine.run import fit, load_run
from tests.conftest import run_cli
from tests.sigkill import kill_after_checkpoint, resume_matches


def only_run(runs: Path) -> Path:
    folders = [p for p in runs.iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    return folders[0]


def test_fit_reaches_high_psnr_and_writes_outputs(small_scene: Path, tmp_path: Path):
    result = run_cli("fit", str(small_scene))
    assert result.returncode == 0, result.stderr
    run = only_run(tmp_path / "runs")
    metrics = json.loads((run / "metrics.json").read_text())
    # a constant colour gets about 11 dB on this image, a broken encoder (position ignored) the same
    assert metrics["psnr"] > 30.0, metrics
    assert metrics["ssim"] > 0.9 and metrics["steps"] == 150
    for key in ("train_seconds", "params", "steps_per_second"):
        assert metrics[key] > 0
    for name in ("reconstruction.png", "config.resolved.yaml", "checkpoints/last.safetensors", "logs/csv/metrics.csv"):
        assert (run / name).is_file(), name
    assert "PSNR" in result.stdout and str(run) in result.stdout
    # the resolved config alone rebuilds the model
    assert load_scene(run / "config.resolved.yaml").model.encoder.n_levels == 8

    result = run_cli("render", str(run), "--width", "200")
    assert result.returncode == 0, result.stderr
    import imageio.v3 as iio

    assert iio.imread(run / "render_200x200.png").shape[:2] == (200, 200)
    fitted = (run / "metrics.json").read_text()
    result = run_cli("eval", str(run))
    assert result.returncode == 0 and "psnr" in result.stdout
    assert abs(json.loads((run / "eval.json").read_text())["psnr"] - metrics["psnr"]) < 1e-3
    assert (run / "metrics.json").read_text() == fitted  # eval leaves the fit's metrics alone


def test_position_matters(small_scene: Path, tmp_path: Path):
    """The same scene with a frozen zero encoder cannot fit: the high PSNR above comes from the grid."""
    scene = load_scene(small_scene, ["train.steps=60"])
    run_dir, good = fit(scene, tmp_path / "good")
    _, task = load_run(run_dir)
    with torch.no_grad():
        task.field.encoder.params.zero_()
    assert task.evaluate()["psnr"] < 15.0 < good["psnr"]


def test_seeded_runs_are_reproducible(small_scene: Path, tmp_path: Path):
    scene = load_scene(small_scene, ["train.steps=40"])
    _, first = fit(scene, tmp_path / "a")
    _, second = fit(scene, tmp_path / "b")
    assert first["psnr"] == second["psnr"]
    a, _ = read_checkpoint(tmp_path / "a/checkpoints/last.safetensors")
    b, _ = read_checkpoint(tmp_path / "b/checkpoints/last.safetensors")
    for key, value in a["state_dict"].items():
        if key == "train_seconds":
            continue
        assert torch.equal(value, b["state_dict"][key]), key


def test_resume_after_sigkill_matches_uninterrupted_run(small_scene: Path, tmp_path: Path):
    steps = ["train.steps=400", "train.checkpoint_every=40"]
    result = run_cli("fit", str(small_scene), *steps, "output.name=whole")
    assert result.returncode == 0, result.stderr

    run = tmp_path / "runs/killed"
    step = kill_after_checkpoint([str(small_scene), *steps, "output.name=killed"], run, 80)
    assert 80 <= step < 400, step
    assert not (run / "metrics.json").exists()
    for path in (run / "checkpoints").glob("*.safetensors"):
        read_checkpoint(path)
    resume_matches(run, tmp_path / "runs/whole", 400)
