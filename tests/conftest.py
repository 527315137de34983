"""Shared test setup: small deterministic settings, temporary run folders, the CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TORCH_EXTENSIONS_DIR", tempfile.mkdtemp(prefix="torch-ext-"))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 600, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run ``fields ARGS`` in a fresh interpreter; returns the completed process (text output)."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "fields.apps.cli", *args],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )


SMALL_IMAGE_SCENE = """
task: image
data: {image: "skimage:camera", max_size: 64}
model:
  encoder: {type: hashgrid, n_levels: 8, log2_hashmap_size: 12, base_resolution: 4, max_resolution: 64}
  decoder: {type: mlp, n_neurons: 32, n_hidden_layers: 1}
train: {steps: 150, batch_size: 4096, progress: false, checkpoint_every: 50, threads: 1}
"""


@pytest.fixture
def small_scene(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_IMAGE_SCENE + f"output: {{dir: {tmp_path / 'runs'}}}\n")
    return path
