"""Lightning callbacks of the training path: periodic atomic checkpoints and the training clock."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import RichProgressBar, Timer
from pytorch_lightning.callbacks.progress.rich_progress import RichProgressBarTheme

LAST = "last.safetensors"


class StepCheckpoint(pl.Callback):
    """Save ``checkpoints/last.safetensors`` every ``every`` steps and when training ends. Each save
    replaces the file atomically, so the folder never holds a half-written checkpoint."""

    def __init__(self, folder: Path, every: int):
        self.folder = Path(folder)
        self.every = every
        self._saved_step = -1

    def save(self, trainer: pl.Trainer) -> None:
        if trainer.global_step == self._saved_step:
            return
        trainer.save_checkpoint(self.folder / LAST)
        self._saved_step = trainer.global_step

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        if trainer.global_step % self.every == 0:
            self.save(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.save(trainer)


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


def step_progress_bar(leave: bool = True) -> pl.Callback:
    """A rich progress bar counting optimiser steps ("step 120/5000"): ``fields fit`` trains for
    ``train.steps`` steps in one endless epoch, so Lightning's "Epoch 0/-2" says nothing."""
    class StepProgressBar(RichProgressBar):
        def __init__(self, **kwargs: Any):
            super().__init__(**kwargs)
            self._first_step: tuple[int, float] | None = None  # (step, seconds) when the speed is first known

        @property
        def total_train_batches(self) -> int | float:
            max_steps = self.trainer.max_steps
            return max_steps if max_steps and max_steps > 0 else super().total_train_batches

        def _get_train_description(self, current_epoch: int) -> str:
            return "step"

        def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                               batch: Any, batch_idx: int) -> None:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
            self._update(self.train_progress_bar_id, trainer.global_step)  # steps, not batches of this epoch
            self._bound_by_time(trainer)
            self.refresh()

        def _bound_by_time(self, trainer: pl.Trainer) -> None:
            """With ``train.max_time`` the run may end before ``train.steps``: the bar's total (and so its
            ETA) becomes the step the time budget reaches at the current speed."""
            timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
            if timer is None or self.progress is None or self.train_progress_bar_id is None:
                return
            elapsed, remaining = timer.time_elapsed("train"), timer.time_remaining("train")
            if self._first_step is None:
                self._first_step = (trainer.global_step, elapsed)
                return
            steps, seconds = trainer.global_step - self._first_step[0], elapsed - self._first_step[1]
            if steps <= 0 or seconds <= 0 or remaining is None:
                return
            reachable = trainer.global_step + int(steps / seconds * remaining)
            total = min(trainer.max_steps, max(reachable, trainer.global_step))
            self.progress.update(self.train_progress_bar_id, total=total)

        def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
            metrics = super().get_metrics(trainer, pl_module)
            metrics.pop("v_num", None)  # the logger's version label
            return metrics

    # four significant digits: a loss of 2e-4 is not "0.000"
    return StepProgressBar(leave=leave, theme=RichProgressBarTheme(metrics_format=".4g"))
