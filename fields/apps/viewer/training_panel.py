"""The viewer's training panel: step counter, pause and resume, and a loss / PSNR plot.

Live, the training callback feeds it each step; for a finished run it shows the final metrics and the
curves read back from the run's CSV log.
"""

from __future__ import annotations

import csv
import math
import threading
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

MAX_POINTS = 400  # points sent to the plot; longer histories are thinned


def read_history(run_dir: str | Path) -> dict[str, list[float]]:
    """``{"step", "loss", "psnr"}`` lists from a run's ``logs/csv/metrics.csv`` (empty if absent)."""
    history: dict[str, list[float]] = {"step": [], "loss": [], "psnr": []}
    path = Path(run_dir) / "logs" / "csv" / "metrics.csv"
    if not path.is_file():
        return history
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            loss = row.get("train/loss") or ""
            if not loss:
                continue
            history["step"].append(float(row.get("step") or len(history["step"])))
            history["loss"].append(float(loss))
            psnr = row.get("train/psnr") or ""
            history["psnr"].append(float(psnr) if psnr else math.nan)
    return history


class TrainingPanel:
    def __init__(self, viewer: Any, *, live: bool, total_steps: Optional[int] = None,
                 history: Optional[dict[str, list[float]]] = None, metrics: Optional[dict[str, Any]] = None,
                 update_every_s: float = 0.25):
        gui = viewer.server.gui
        self.live = live
        self.total_steps = total_steps
        self.history = {"step": [], "loss": [], "psnr": []} if history is None else history
        self.update_every_s = update_every_s
        self.step = int(self.history["step"][-1]) if self.history["step"] else 0
        self._paused = threading.Event()
        self._last_update = 0.0
        self._lock = threading.Lock()
        with gui.add_folder("Training"):
            self.counter = gui.add_markdown(self._counter_text())
            if live:
                self.pause_button = gui.add_button("Pause")
                self.resume_button = gui.add_button("Resume", disabled=True)
                self.pause_button.on_click(lambda _: self.pause())
                self.resume_button.on_click(lambda _: self.resume())
            if metrics:
                shown = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
                rows = "\n".join(f"| {k} | {v:.4g} |" for k, v in list(shown.items())[:10])
                gui.add_markdown("| metric | value |\n|---|---|\n" + rows)
            self.plot = gui.add_uplot(
                self._plot_data(),
                ({"label": "step"}, {"label": "loss", "stroke": "#e8590c", "scale": "loss"},
                 {"label": "PSNR", "stroke": "#1c7ed6", "scale": "psnr"}),
                title="loss and PSNR",
                scales={"x": {"time": False}, "loss": {"distr": 3}, "psnr": {}},
                # ticks at least 28 px apart (the panel is narrow: uPlot's 50 px left one tick on the step axis);
                # room above the plot for the top tick labels, which uPlot centres on the plot's edge
                axes=({"space": 28, "label": "step", "size": 36}, {"scale": "loss", "space": 24},
                      {"scale": "psnr", "side": 1, "space": 24}),
                padding=(14, 6, 0, 6),
                aspect=1.4,
            )

    # --- pause and resume ---------------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def pause(self) -> None:
        self._paused.set()
        if self.live:
            self.pause_button.disabled, self.resume_button.disabled = True, False
        self.counter.content = self._counter_text()

    def resume(self) -> None:
        self._paused.clear()
        if self.live:
            self.pause_button.disabled, self.resume_button.disabled = False, True
        self.counter.content = self._counter_text()

    # --- progress -----------------------------------------------------------------------------------
    def record(self, step: int, loss: Optional[float], psnr: Optional[float], force: bool = False) -> None:
        """Add a training step's figures; the panel redraws at most every ``update_every_s``."""
        with self._lock:
            self.step = step
            if loss is not None and math.isfinite(loss):
                self.history["step"].append(float(step))
                self.history["loss"].append(float(loss))
                self.history["psnr"].append(float(psnr) if psnr is not None else math.nan)
            now = time.monotonic()
            if not force and now - self._last_update < self.update_every_s:
                return
            self._last_update = now
        self.redraw()

    def redraw(self) -> None:
        self.counter.content = self._counter_text()
        if self.history["step"]:
            self.plot.data = self._plot_data()

    def finished(self) -> None:
        self.counter.content = self._counter_text() + " · finished"
        if self.live:
            self.pause_button.disabled = self.resume_button.disabled = True

    def _counter_text(self) -> str:
        total = f" / {self.total_steps}" if self.total_steps else ""
        text = f"**step {self.step}{total}**"
        if self.history["loss"]:
            text += f" · loss {self.history['loss'][-1]:.4g}"
            psnr = self.history["psnr"][-1]
            if not math.isnan(psnr):
                text += f" · PSNR {psnr:.2f} dB"
        if self.paused:
            text += " · paused"
        return text

    def _plot_data(self) -> tuple[np.ndarray, ...]:
        arrays = [np.asarray(self.history[k], dtype=np.float64) for k in ("step", "loss", "psnr")]
        if len(arrays[0]) < 2:
            return tuple(np.zeros(2) if len(a) == 0 else np.repeat(a, 2)[:2] for a in arrays)
        stride = max(1, math.ceil(len(arrays[0]) / MAX_POINTS))
        if stride > 1:
            keep = np.r_[np.arange(0, len(arrays[0]) - 1, stride), len(arrays[0]) - 1]
            arrays = [a[keep] for a in arrays]
        return tuple(arrays)
