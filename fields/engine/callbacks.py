"""Lightning callbacks of the training path: periodic atomic checkpoints and the training clock."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

LAST = "last.safetensors"


class StepCheckpoint(pl.Callback):
    """Save ``checkpoints/last.safetensors`` every ``every`` steps and when training ends. Each save
    replaces the file atomically, so the folder never holds a half-written checkpoint."""

    def __init__(self, folder: Path, every: int):
        self.folder = Path(folder)
        self.every = every
        self._saved_step = -1

    def _save(self, trainer: pl.Trainer) -> None:
        if trainer.global_step == self._saved_step:
            return
        trainer.save_checkpoint(self.folder / LAST)
        self._saved_step = trainer.global_step

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        if trainer.global_step % self.every == 0:
            self._save(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._save(trainer)


class TrainClock(pl.Callback):
    """Adds the wall time spent in training steps (not evaluation) to the task's ``train_seconds``.
    It runs first, so the time is up to date when a checkpoint is written."""

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._last = time.perf_counter()

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        # time between steps (a paused or rendering live viewer) is not training time
        self._last = time.perf_counter()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        now = time.perf_counter()
        pl_module.train_seconds += now - self._last
        self._last = now
