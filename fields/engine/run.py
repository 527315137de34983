"""The one training path: scene -> task -> Lightning Trainer -> run folder.

A run folder holds ``config.resolved.yaml``, ``checkpoints/last.safetensors``, ``metrics.json``, the
task's outputs (``reconstruction.png`` for images) and ``logs/`` (CSV and TensorBoard).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

from fields.config.load import read_yaml
from fields.engine.callbacks import LAST, StepCheckpoint, TrainClock, step_progress_bar
from fields.engine.checkpoint import SafetensorsIO, read_checkpoint
from fields.engine.scene import SceneConfig, dump_scene, scene_from_dict
from fields.errors import UserError
from fields.io.atomic import atomic_write_text, remove_stale_temporaries
from fields.tasks import TASKS

log = logging.getLogger("fields")
CONFIG_NAME = "config.resolved.yaml"


def quiet_lightning() -> None:
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*")
    warnings.filterwarnings("ignore", ".*TreeSpec.*")


def new_run_dir(scene: SceneConfig, scene_name: str) -> Path:
    root = Path(scene.output.dir)
    name = scene.output.name or f"{scene_name}-{_dt.datetime.now():%Y%m%d-%H%M%S}"
    run_dir, n = root / name, 1
    while run_dir.exists():
        run_dir, n = root / f"{name}-{n}", n + 1
    run_dir.mkdir(parents=True)
    return run_dir


def build_task(scene: SceneConfig):
    return TASKS.get(scene.task)(scene)


def _trainer(scene: SceneConfig, run_dir: Path, config_yaml: str, extra_callbacks: Sequence[Any] = ()):
    train = scene.train
    callbacks: list[Any] = [TrainClock(), StepCheckpoint(run_dir / "checkpoints", train.checkpoint_every)]
    if train.progress:
        callbacks.append(step_progress_bar(leave=True))
    callbacks.extend(extra_callbacks)
    loggers = [CSVLogger(run_dir, name="logs", version="csv")]
    try:
        loggers.append(TensorBoardLogger(run_dir, name="logs", version="tensorboard", default_hp_metric=False))
    except ModuleNotFoundError:
        log.info("tensorboard not installed: CSV logs only")
    precision = {"32": "32-true", "64": "64-true"}.get(train.precision, train.precision)
    return pl.Trainer(
        max_steps=train.steps,
        max_time=_dt.timedelta(seconds=train.max_time) if train.max_time else None,
        accelerator=train.device,
        devices=train.devices,
        precision=precision,
        logger=loggers,
        callbacks=callbacks,
        plugins=[SafetensorsIO(config_yaml)],
        enable_checkpointing=False,
        enable_progress_bar=train.progress,
        enable_model_summary=False,
        log_every_n_steps=train.log_every,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        default_root_dir=run_dir,
    )


def fit(scene: SceneConfig, run_dir: Path | None = None, *, scene_name: str = "run", resume: bool = False,
        callbacks: Sequence[Any] = ()) -> tuple[Path, dict[str, Any]]:
    """Train ``scene`` into ``run_dir`` (a new folder under ``output.dir`` when None; continuing from
    its last checkpoint when ``resume``), then evaluate and write the outputs.

    The data is loaded before any folder is made, so bad input leaves nothing behind. Returns the run
    folder and the metrics written to its ``metrics.json``. ``callbacks`` are extra Lightning callbacks
    (the live viewer's, for example), run after the built-in ones.
    """
    quiet_lightning()
    if scene.train.threads:
        torch.set_num_threads(scene.train.threads)
    # Adam's second moments of rarely touched table rows (hash entries, RBF kernel features) decay into
    # float denormals, which make CPU arithmetic 10-20x slower (measured: a NeuRBF fit 125 s -> 6 s)
    torch.set_flush_denormal(True)
    pl.seed_everything(scene.train.seed, workers=True, verbose=False)
    task = build_task(scene)
    run_dir = Path(run_dir) if run_dir is not None else new_run_dir(scene, scene_name)
    log.info("run folder: %s", run_dir)
    ckpt_path = None
    if resume:
        remove_stale_temporaries(run_dir)
        ckpt_path = run_dir / "checkpoints" / LAST
        if not ckpt_path.is_file():
            raise UserError(f"{run_dir}: no checkpoint to resume from ({ckpt_path} missing)")
    config_yaml = dump_scene(scene)
    atomic_write_text(run_dir / CONFIG_NAME, config_yaml)
    log.info("task %s: %d parameters", scene.task, task.describe()["params"])
    trainer = _trainer(scene, run_dir, config_yaml, callbacks)
    started = time.perf_counter()
    trainer.fit(task, ckpt_path=str(ckpt_path) if ckpt_path else None)
    fit_seconds = time.perf_counter() - started
    metrics = {
        **task.evaluate(),
        "steps": int(trainer.global_step),
        "train_seconds": float(task.train_seconds),
        "fit_seconds_this_session": fit_seconds,
        "steps_per_second": int(trainer.global_step) / max(float(task.train_seconds), 1e-9),
        **task.describe(),  # after training: backends are chosen on the first forward pass
        "device": str(task.device),
    }
    task.write_outputs(run_dir)
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return run_dir, metrics


def load_run(run_dir: str | Path, map_location: str = "cpu"):
    """Rebuild a trained task from its run folder: ``(scene, task)`` with the last checkpoint loaded."""
    quiet_lightning()
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: run folder not found")
    config_path = run_dir / CONFIG_NAME
    if not config_path.is_file():
        raise UserError(f"{run_dir}: not a run folder ({CONFIG_NAME} missing)")
    scene = scene_from_dict(read_yaml(config_path), base_dir=run_dir, source=str(config_path))
    checkpoint, _ = read_checkpoint(run_dir / "checkpoints" / LAST, map_location)
    task = build_task(scene)
    try:
        task.load_state_dict(checkpoint["state_dict"])
    except (KeyError, RuntimeError) as err:
        raise UserError(f"{run_dir}: checkpoint does not match its config ({str(err).splitlines()[0]})") from None
    task.eval()
    return scene, task


def evaluate_run(run_dir: str | Path) -> dict[str, Any]:
    """Recompute the metrics of a finished run and merge them into its ``metrics.json``."""
    _, task = load_run(run_dir)
    metrics_path = Path(run_dir) / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    metrics.update(task.evaluate())
    atomic_write_text(metrics_path, json.dumps(metrics, indent=2) + "\n")
    return metrics


def default_threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
