"""SIGTERM and Ctrl-C during a fit: the step finishes, its checkpoint is saved, one line says so, the exit
code is 128 + the signal, and resuming gives what an uninterrupted run gives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fields.engine.checkpoint import read_checkpoint
from tests.conftest import ROOT, run_cli
from tests.robust.corpus import TINY_SCENE

STEPS = 400
# log_every 1: a signal that lands before the first logged step (log_every 50, under load) left no CSV log to
# check; with a row every step the log of the steps before the signal is always there
SCENE = TINY_SCENE.replace("steps: 6", f"steps: {STEPS}").replace("checkpoint_every: 3",
                                                                   "checkpoint_every: 10, log_every: 1")
SCENE = SCENE.replace("batch_size: 64", "batch_size: 4096").replace("max_time: 20", "max_time: 600")


def _write_scene(tmp_path: Path) -> Path:
    scene = tmp_path / "scene.yaml"
    scene.write_text(SCENE + f"output: {{dir: {tmp_path / 'runs'}}}\n")
    return scene


def _weights(run: Path) -> dict:
    state = read_checkpoint(run / "checkpoints" / "last.safetensors")[0]["state_dict"]
    return {k: v for k, v in state.items() if k != "train_seconds"}  # wall time differs, weights must not


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("whole")
    result = run_cli("fit", str(_write_scene(tmp)), "output.name=whole")
    assert result.returncode == 0, result.stderr
    return tmp / "runs" / "whole"


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_signal_keeps_checkpoint_and_resumes(tmp_path: Path, uninterrupted: Path, signum: int, code: int):
    run = tmp_path / "runs" / "cut"
    process = subprocess.Popen(
        [sys.executable, "-m", "fields.apps.cli", "fit", str(_write_scene(tmp_path)), "output.name=cut"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    deadline = time.monotonic() + 300
    while not (run / "checkpoints" / "last.safetensors").is_file():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=300)
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith(("INFO", " "))]
    assert process.returncode == code, (stdout, stderr)
    assert "Traceback" not in stderr
    assert len(lines) == 1 and f"interrupted by {signal.Signals(signum).name}" in lines[0], stderr
    assert "--resume" in lines[0] and "checkpoint" in lines[0]
    assert not (run / "metrics.json").exists()
    step = int(lines[0].split("at step ")[1].split(":")[0])
    assert 0 < step < STEPS, "the signal came after training ended: make the run longer"
    history = (run / "logs" / "csv" / "metrics.csv").read_text()

    result = run_cli("fit", "--resume", str(run))
    assert result.returncode == 0, result.stderr
    assert (run / "metrics.json").is_file()
    # the CSV log of the first session is still there (Lightning would have deleted it)
    assert (run / "logs" / "csv" / "metrics.csv").read_text().startswith(history.splitlines()[0])
    assert len((run / "logs" / "csv" / "metrics.csv").read_text().splitlines()) >= len(history.splitlines())
    whole, resumed = _weights(uninterrupted), _weights(run)
    assert whole.keys() == resumed.keys()
    for key in whole:
        assert (whole[key] == resumed[key]).all(), key
