"""``training_curves.png`` in every run folder: the training loss (log scale) and the quality the run logs
(PSNR, or another ``train/*`` figure) against the step, from ``logs/csv/metrics.csv`` (the whole history,
resumed runs included), with the final evaluation (test PSNR, IoU, accuracy) marked at the last step."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Optional

import numpy as np

from fields.io import save_image
from fields.io.chart import Panel, draw_chart

CURVES_NAME = "training_curves.png"
LOG_PATH = Path("logs") / "csv" / "metrics.csv"
# evaluation figures worth a marker, by preference, with the train/* curve drawn beside them
QUALITY = (("psnr", "train/psnr", "PSNR (dB)"), ("iou", None, "IoU"), ("accuracy", None, "accuracy"),
           ("psnr_gain", None, "PSNR gain (dB)"))


def read_log(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``column -> (steps, values)`` of every numeric column of a Lightning CSV log (blank cells skipped)."""
    columns: dict[str, list[tuple[float, float]]] = {}
    with Path(path).open(newline="") as handle:
        for row in csv.DictReader(handle):
            try:
                step = float(row.get("step") or "nan")
            except ValueError:
                continue
            for key, text in row.items():
                if key in ("step", "epoch") or not text:
                    continue
                try:
                    value = float(text)
                except ValueError:
                    continue
                if math.isfinite(step) and math.isfinite(value):
                    columns.setdefault(key, []).append((step, value))
    return {key: (np.array([s for s, _ in rows]), np.array([v for _, v in rows])) for key, rows in columns.items()}


def curve_panels(log: dict[str, tuple[np.ndarray, np.ndarray]], metrics: dict[str, Any]) -> list[Panel]:
    """The loss panel, and a quality panel when the log or the metrics hold a quality figure."""
    logged = max((float(s.max()) for s, _ in log.values() if len(s)), default=0.0)
    last = float(metrics.get("steps") or logged)
    losses = [(key.removeprefix("train/"), *log[key]) for key in log if key.startswith("train/") and
              (key == "train/loss" or key.endswith("_loss") or key in ("train/distance",))]
    panels = [Panel("training loss", "loss", sorted(losses, key=lambda s: s[0] != "loss"), log_y=True)]
    for name, column, label in QUALITY:
        value = metrics.get(name)
        series = [(column.removeprefix("train/") + " (training batches)", *log[column])] if column in log else []
        if series or isinstance(value, (int, float)):
            markers = [(f"{name} (evaluation)", last, float(value))] if isinstance(value, (int, float)) else []
            panels.append(Panel(label, label, series, markers))
            break
    for panel in panels:  # one step axis for both
        panel.xmax = max(last, logged)
    return panels


def write_training_curves(run_dir: str | Path, metrics: dict[str, Any]) -> Optional[Path]:
    """Draw the run's curves into ``RUN_DIR/training_curves.png``; None when the run logged nothing."""
    run_dir = Path(run_dir)
    path = run_dir / LOG_PATH
    log = read_log(path) if path.is_file() else {}
    if not log and not metrics:
        return None
    return save_image(run_dir / CURVES_NAME, draw_chart(curve_panels(log, metrics)))
