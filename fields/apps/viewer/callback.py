"""The Lightning callback of live viewing: shows the task when training starts, renders between steps
within a time budget, records loss and PSNR, and holds training while the viewer is paused."""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl


def _scalar(metrics: dict[str, Any], key: str) -> float | None:
    value = metrics.get(key)
    return float(value) if value is not None else None


class ViewerCallback(pl.Callback):
    """``render_share``: the largest fraction of wall time the viewer may take from training while
    someone is watching; ``refresh_s``: how often the views are rendered again with the new weights."""

    def __init__(self, viewer: Any, render_share: float = 0.3, refresh_s: float = 1.0, min_budget_s: float = 0.01):
        self.viewer = viewer
        self.render_share = render_share
        self.refresh_s = refresh_s
        self.min_budget_s = min_budget_s
        self._step_started = time.perf_counter()
        self._last_refresh = 0.0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        viewer = self.viewer
        if viewer.view is None:
            viewer.attach(pl_module, trainer.default_root_dir, live=True, total_steps=trainer.max_steps)
        with viewer.scheduler.hold():  # wait for a render the viewer's own thread may have started
            viewer.scheduler.training_active = True
        viewer.refresh()

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        self._step_started = time.perf_counter()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        step_seconds = time.perf_counter() - self._step_started
        viewer = self.viewer
        metrics = trainer.callback_metrics
        viewer.training.record(trainer.global_step, _scalar(metrics, "train/loss"), _scalar(metrics, "train/psnr"))
        now = time.monotonic()
        if now - self._last_refresh >= self.refresh_s and not viewer.scheduler.pending():
            self._last_refresh = now
            viewer.refresh()
        budget = max(self.min_budget_s, step_seconds * self.render_share / (1.0 - self.render_share))
        viewer.scheduler.step(budget)
        if viewer.training.paused:
            viewer.training.redraw()  # show the step training stopped at
        while viewer.training.paused and not trainer.should_stop:
            if not viewer.scheduler.step(0.05):
                time.sleep(0.02)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        viewer = self.viewer
        metrics = trainer.callback_metrics
        viewer.training.record(
            trainer.global_step, _scalar(metrics, "train/loss"), _scalar(metrics, "train/psnr"), force=True
        )
        viewer.training.finished()
        viewer.scheduler.training_active = False
        viewer.refresh()
