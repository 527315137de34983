"""The Lightning scripts of ``examples/lightning/`` run as a user runs them, with tiny settings; the DDP
one for real with two CPU processes (gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

EXAMPLES = ROOT / "examples" / "lightning"


def run_example(name: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=ROOT, capture_output=True, text=True,
                            timeout=timeout, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_sdf_with_custom_callback(tmp_path: Path):
    result = run_example("sdf_callback.py", "--steps", "60", "--every", "30", "--out", str(tmp_path))
    history = json.loads((tmp_path / "probe.json").read_text())
    assert [step for step, _ in history] == [30, 60]
    assert history[-1][1] > 0.9, history  # a field that learnt nothing is right about half the time
    assert (tmp_path / "mesh.ply").stat().st_size > 1000
    assert "inside/outside accuracy" in result.stdout


def test_field_and_renderer_in_own_module(tmp_path: Path):
    result = run_example("own_module.py", "--steps", "120", "--size", "32", "--views", "12", "--batch", "512",
                         "--threads", "1", "--out", str(tmp_path))
    psnr = float(result.stdout.split("PSNR ")[1].split()[0])
    blank = float(result.stdout.split("empty field: ")[1].split()[0])
    # a held-out view: only a field that learnt the scene's geometry and colours scores well above blank
    assert psnr > 15.0 and psnr > blank + 6.0, result.stdout
    import imageio.v3 as iio

    assert iio.imread(tmp_path / "test_view.png").shape == (32, 64, 3)


def test_ddp_two_processes_see_different_data_and_agree(tmp_path: Path):
    result = run_example("ddp.py", "--devices", "2", "--steps", "4", "--size", "24", "--data", str(tmp_path / "scene"),
                         "--report", str(tmp_path / "report"))
    reports = [json.loads((tmp_path / "report" / f"rank_{r}.json").read_text()) for r in (0, 1)]
    print(json.dumps(reports, indent=1))  # the evidence, in the test log
    for rank, report in enumerate(reports):
        assert report["rank"] == rank and report["world_size"] == 2 and report["steps"] == 4
        assert len(report["batches"]) == 4
    # each step, the two processes trained on different rays ...
    assert all(a != b for a, b in zip(reports[0]["batches"], reports[1]["batches"]))
    # ... and DDP kept their weights identical
    assert reports[0]["weights"] == reports[1]["weights"]
    assert "2 processes, 4 steps" in result.stdout


def test_finetune_head_on_fitted_triplanes(tmp_path: Path):
    result = run_example("finetune_head.py", "--pretrain-shapes", "12", "--new-shapes", "6", "--test-shapes", "6",
                         "--resolution", "16", "--channels", "8", "--fit-steps", "60", "--epochs", "30",
                         "--finetune-epochs", "40", "--threads", "1", "--out", str(tmp_path))
    report = json.loads((tmp_path / "report.json").read_text())
    print(json.dumps(report, indent=1))
    assert report["fit_iou"] > 0.5  # the tri-planes hold the shapes
    # held-out shapes: 6 pretraining classes (chance 1/6), then 4 new classes from 6 shapes each (chance 1/4)
    assert report["pretrain_test_accuracy"] > 0.35, report
    assert report["finetune_test_accuracy"] > 0.45, report
    assert "test accuracy" in result.stdout
