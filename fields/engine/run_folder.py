"""What a run folder must hold before anything loads, checked torch-free: the folder, its
``config.resolved.yaml`` (a valid scene) and its last checkpoint. ``fields eval|render|export|view`` check
this first, so a wrong path answers at once; ``load_run`` then reads the checkpoint."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from fields.config.load import read_yaml
from fields.engine.scene import SceneConfig, scene_from_dict
from fields.errors import UserError

CONFIG_NAME = "config.resolved.yaml"
LAST_CHECKPOINT = Path("checkpoints") / "last.safetensors"


def read_run_scene(run_dir: str | Path, checkpoint: bool = True) -> SceneConfig:
    """The validated scene of the run in ``run_dir``; with ``checkpoint``, its last checkpoint must exist."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: run folder not found")
    config_path = run_dir / CONFIG_NAME
    if not config_path.is_file():
        raise UserError(f"{run_dir}: not a run folder ({CONFIG_NAME} missing)")
    scene = scene_from_dict(read_yaml(config_path), base_dir=run_dir, source=str(config_path))
    if checkpoint and not (run_dir / LAST_CHECKPOINT).is_file():
        raise UserError(f"{run_dir / LAST_CHECKPOINT}: checkpoint not found")
    return scene


def check_output_dir(output_dir: str | Path) -> None:
    """Fail before anything loads when no run folder can be made under ``output.dir``: its nearest existing
    folder must be a folder that takes a new entry (probed with an empty folder, removed at once; permission
    bits alone do not tell, for root or under /proc)."""
    path = Path(output_dir).expanduser().absolute()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"output.dir: {path}: {existing} is a file, not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".fields-probe-", dir=existing))
    except OSError as err:
        raise UserError(f"output.dir: cannot create the run folder under {path} ({err.strerror or err})") from None
