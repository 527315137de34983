"""The SIGKILL-and-resume harness of the fit tests: kill a real ``fields fit`` once it has checkpointed a
given step, resume it, and compare with an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fields.engine.checkpoint import read_checkpoint
from tests.conftest import ROOT, run_cli


def kill_after_checkpoint(fit_args: list[str], run: Path, min_step: int, timeout: float = 300) -> int:
    """Run ``fields fit FIT_ARGS`` (writing the run folder ``run``) in a subprocess and SIGKILL it as soon as
    ``run/checkpoints/last.safetensors`` holds a step of at least ``min_step``; returns that step (0 if none
    was read before ``timeout`` seconds or the end of the process)."""
    proc = subprocess.Popen([sys.executable, "-m", "fields.apps.cli", "fit", *fit_args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "200"})
    ckpt = run / "checkpoints" / "last.safetensors"
    deadline, step = time.time() + timeout, 0
    while time.time() < deadline and proc.poll() is None:
        if ckpt.is_file():
            try:
                step = read_checkpoint(ckpt)[0]["global_step"]
            except Exception as err:  # noqa: BLE001 - a checkpoint under its final name is never partial
                pytest.fail(f"unreadable checkpoint: {err}")
            if step >= min_step:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return step


def resume_matches(run: Path, whole: Path, steps: int, tolerance_db: float = 0.2) -> dict:
    """``fields fit --resume RUN`` finishes all ``steps`` within ``tolerance_db`` of the PSNR of the
    uninterrupted run folder ``whole`` and leaves no temporary files; returns the resumed metrics."""
    result = run_cli("fit", "--resume", str(run))
    assert result.returncode == 0, result.stderr
    resumed = json.loads((run / "metrics.json").read_text())
    reference = json.loads((whole / "metrics.json").read_text())
    assert resumed["steps"] == steps
    assert abs(resumed["psnr"] - reference["psnr"]) < tolerance_db, (resumed["psnr"], reference["psnr"])
    assert not list(run.rglob(".tmp-*"))
    return resumed
