"""The one training path: scene -> task -> Lightning Trainer -> run folder.

A run folder holds ``config.resolved.yaml``, ``checkpoints/last.safetensors``, ``metrics.json``,
``training_curves.png``, the task's outputs (``reconstruction.png`` and ``comparison.png`` for images) and
``logs/`` (CSV and TensorBoard).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger

from fields.engine.callbacks import LAST, StepCheckpoint, TrainClock, step_progress_bar
from fields.engine.checkpoint import SafetensorsIO, read_checkpoint
from fields.engine.curves import write_training_curves
from fields.engine.csv_log import ResumableCSVLogger, truncate_log
from fields.engine.run_folder import CONFIG_NAME, read_run_scene
from fields.engine.scene import SceneConfig, dump_scene
from fields.engine.stop import GracefulStop
from fields.errors import Interrupted, UserError
from fields.io.atomic import atomic_write_text, remove_stale_temporaries
from fields.io.progress import set_progress
from fields.tasks import TASKS
from fields.threads import log_thread_choice

log = logging.getLogger("fields")
EVAL_NAME = "eval.json"


def quiet_lightning() -> None:
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*")
    warnings.filterwarnings("ignore", ".*TreeSpec.*")


def new_run_dir(scene: SceneConfig, scene_name: str, create: bool = True) -> Path:
    """A fresh folder under ``output.dir``: ``output.name``, or ``<scene>-<task>-<date>-<time>`` (the task
    keeps the SDF and occupancy fits of one mesh apart); ``-1``, ``-2``... when taken."""
    root = Path(scene.output.dir)
    stem = scene_name if scene.task in scene_name else f"{scene_name}-{scene.task}"
    name = scene.output.name or f"{stem}-{_dt.datetime.now():%Y%m%d-%H%M%S}"
    run_dir, n = root / name, 1
    while run_dir.exists() or run_dir.is_symlink():
        run_dir, n = root / f"{name}-{n}", n + 1
    if create:
        make_run_dir(run_dir)
    return run_dir


def make_run_dir(run_dir: Path) -> None:
    try:
        run_dir.mkdir(parents=True)
    except OSError as err:
        raise UserError(f"output.dir: cannot create the run folder {run_dir} ({err.strerror or err})") from None


def check_device(scene: SceneConfig) -> None:
    """Fail before anything is written when the scene asks for a GPU this machine does not have."""
    train = scene.train
    if train.device == "gpu":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise UserError("train.device: gpu, but torch sees no CUDA device here (use auto or cpu)")
        if train.devices > count:
            raise UserError(f"train.devices: {train.devices} GPUs asked for, {count} available")


def build_task(scene: SceneConfig):
    return TASKS.get(scene.task)(scene)


def _trainer(scene: SceneConfig, run_dir: Path, config_yaml: str, extra_callbacks: Sequence[Any] = ()):
    train = scene.train
    checkpoint = StepCheckpoint(run_dir / "checkpoints", train.checkpoint_every)
    callbacks: list[Any] = [TrainClock(), checkpoint, GracefulStop(checkpoint.save)]
    if train.progress:
        callbacks.append(step_progress_bar(leave=True))
    callbacks.extend(extra_callbacks)
    loggers = [ResumableCSVLogger(run_dir, name="logs", version="csv")]
    try:
        loggers.append(TensorBoardLogger(run_dir, name="logs", version="tensorboard", default_hp_metric=False))
    except ModuleNotFoundError:
        log.info("tensorboard not installed: CSV logs only")
    precision = {"32": "32-true", "64": "64-true"}.get(train.precision, train.precision)
    try:
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
    except Exception as err:  # Lightning's MisconfigurationException: a setting this machine cannot run
        raise UserError(f"train: {str(err).strip().splitlines()[0]}") from None


def fit(scene: SceneConfig, run_dir: Path | None = None, *, scene_name: str = "run", resume: bool = False,
        callbacks: Sequence[Any] = ()) -> tuple[Path, dict[str, Any]]:
    """Train ``scene`` into ``run_dir`` (a new folder under ``output.dir`` when None; continuing from
    its last checkpoint when ``resume``), then evaluate and write the outputs.

    The data is loaded before any folder is made, so bad input leaves nothing behind. Returns the run
    folder and the metrics written to its ``metrics.json``. ``callbacks`` are extra Lightning callbacks
    (the live viewer's, for example), run after the built-in ones.
    """
    quiet_lightning()
    set_progress(scene.train.progress)
    if scene.train.threads:
        torch.set_num_threads(scene.train.threads)
    # Adam's second moments of rarely touched table rows (hash entries, RBF kernel features) decay into
    # float denormals, which make CPU arithmetic 10-20x slower (measured: a NeuRBF fit 125 s -> 6 s)
    torch.set_flush_denormal(True)
    check_device(scene)
    pl.seed_everything(scene.train.seed, workers=True, verbose=False)
    task = build_task(scene)
    ckpt_path = None
    if resume:
        run_dir = Path(run_dir)  # type: ignore[arg-type]
        ckpt_path = run_dir / "checkpoints" / LAST
        if not ckpt_path.is_file():
            raise UserError(f"{run_dir}: no checkpoint to resume from ({ckpt_path} missing)")
        resumed_step = check_resumable(task, ckpt_path, run_dir)  # before anything in the folder changes
    created = run_dir is None
    run_dir = Path(run_dir) if run_dir is not None else new_run_dir(scene, scene_name, create=False)
    config_yaml = dump_scene(scene)
    trainer = _trainer(scene, run_dir, config_yaml, callbacks)
    stop = next(c for c in trainer.callbacks if isinstance(c, GracefulStop))
    if created:
        make_run_dir(run_dir)
    log.info("run folder: %s", run_dir)
    log_thread_choice(log)  # after the data loaded: bad input still fails in one line
    try:
        if resume:
            remove_stale_temporaries(run_dir)
            truncate_log(run_dir / "logs" / "csv" / "metrics.csv", resumed_step)
        atomic_write_text(run_dir / CONFIG_NAME, config_yaml)
        log.info("task %s: %d parameters", scene.task, task.describe()["params"])
        started = time.perf_counter()
        with stop:
            try:
                trainer.fit(task, ckpt_path=str(ckpt_path) if ckpt_path else None)
            except SystemExit:  # Lightning's answer to SIGTERM (SIGTERMException) and to Ctrl-C (exit 1)
                if stop.signum is None:
                    raise
        if stop.signum is not None:
            saved = stop.step is not None
            kept = f"the checkpoint of step {stop.step} is saved" if saved else "the last checkpoint is kept"
            raise Interrupted(f"interrupted by {stop.name} at step {int(trainer.global_step)}: {kept}; continue with "
                              f"fields fit --resume {run_dir}", 128 + int(stop.signum))
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
        check_finite(metrics, run_dir)
        task.write_outputs(run_dir)
        write_training_curves(run_dir, metrics)
        atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    except BaseException:
        # a new run that failed before its first checkpoint is no run: leave no half-made folder behind
        if created and not (run_dir / "checkpoints" / LAST).is_file():
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return run_dir, metrics


def check_resumable(task: Any, ckpt_path: Path, run_dir: Path) -> int:
    """Load the checkpoint's weights into ``task`` (the scene may have been changed by overrides) and
    return its step; a checkpoint that does not fit is a ``UserError`` raised before any file changes."""
    checkpoint, _ = read_checkpoint(ckpt_path)
    try:
        task.load_state_dict(checkpoint["state_dict"])
        return int(checkpoint["global_step"])
    except (KeyError, RuntimeError, TypeError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{run_dir}: the checkpoint does not match the scene with these overrides "
                        f"({reason[:200]})") from None


def check_finite(metrics: dict[str, Any], run_dir: Path) -> None:
    bad = [k for k, v in metrics.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        raise UserError(f"training diverged: {', '.join(bad)} not finite (lower train.optimizer.lr); "
                        f"checkpoint kept in {run_dir}")


def load_run(run_dir: str | Path, map_location: str = "cpu"):
    """Rebuild a trained task from its run folder: ``(scene, task)`` with the last checkpoint loaded."""
    quiet_lightning()
    run_dir = Path(run_dir)
    scene = read_run_scene(run_dir, checkpoint=False)
    set_progress(scene.train.progress)
    checkpoint, _ = read_checkpoint(run_dir / "checkpoints" / LAST, map_location)
    task = build_task(scene)
    try:
        task.load_state_dict(checkpoint["state_dict"])
    except (KeyError, RuntimeError) as err:
        raise UserError(f"{run_dir}: checkpoint does not match its config ({str(err).splitlines()[0]})") from None
    task.eval()
    return scene, task


def evaluate_run(run_dir: str | Path) -> dict[str, Any]:
    """Recompute the metrics of a run from its last checkpoint into ``eval.json``; the fit's own
    ``metrics.json`` is left as it is."""
    _, task = load_run(run_dir)
    metrics = task.evaluate()
    atomic_write_text(Path(run_dir) / EVAL_NAME, json.dumps(metrics, indent=2) + "\n")
    return metrics


def default_threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
