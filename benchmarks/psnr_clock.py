"""What the training-time benchmarks (``radiance.py``, ``splat_quality.py``) share: the test PSNR taken over
training time, the time to a target PSNR, and the JSON result file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional

import pytorch_lightning as pl
from torchmetrics.functional.image import peak_signal_noise_ratio


class PsnrClock(pl.Callback):
    """Every ``every`` seconds of training: the mean PSNR of the first ``views`` test views, as rows
    ``(train_seconds, step, psnr)``. The evaluation's wall time is added to Lightning's ``max_time``."""

    def __init__(self, every: float, views: int):
        self.every, self.views, self.next, self.rows = every, views, every, []

    def on_train_batch_end(self, trainer: pl.Trainer, task, *args) -> None:
        if float(task.train_seconds) < self.next:
            return
        started = time.perf_counter()
        psnrs = []
        for index in task.views.test[: self.views]:
            pred, target = task.render_view(task.cameras, index)["rgb"], task.test_target(index)
            psnrs.append(float(peak_signal_noise_ratio(pred, target, data_range=1.0)))
        seconds, step = round(float(task.train_seconds), 1), int(trainer.global_step)
        psnr = round(sum(psnrs) / len(psnrs), 2)
        self.rows.append((seconds, step, psnr))
        print(f"  t={seconds}s step={step} test PSNR ({len(psnrs)} views) {psnr}", flush=True)
        self.next = float(task.train_seconds) + self.every
        for callback in trainer.callbacks:
            if isinstance(callback, pl.callbacks.Timer) and callback._duration is not None:
                callback._duration += time.perf_counter() - started


def time_to(rows: list, target: float) -> Optional[float]:
    """The training seconds of the first ``PsnrClock`` row at or above ``target`` dB (None if none)."""
    return next((seconds for seconds, _, psnr in rows if psnr >= target), None)


def seconds_text(seconds: Optional[float]) -> str:
    return "-" if seconds is None else f"{seconds:g} s"


def save_result(out: Path, benchmark: str, stamp: str, **fields: Any) -> Path:
    """Write ``{"benchmark", "time", **fields}`` to ``out/<benchmark>-<stamp>.json`` and say so."""
    path = out / f"{benchmark}-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"benchmark": benchmark, "time": stamp, **fields}, indent=2) + "\n")
    print(f"wrote {path}")
    return path
