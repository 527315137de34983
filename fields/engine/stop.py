"""Stopping a fit on Ctrl-C or SIGTERM without losing work.

The first signal lets the current step finish, saves the checkpoint at that step and ends training; the
caller then reports the stop in one line (``Interrupted``, exit code 128 + signal). A second signal stops
at once (the checkpoint saved last is kept). Lightning's own SIGTERM handling (a silent ``SystemExit``)
and its Ctrl-C handling (``sys.exit(1)``) are both turned into this one report.
"""

from __future__ import annotations

import signal
import threading
from typing import Any, Callable, Optional

import pytorch_lightning as pl

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class GracefulStop(pl.Callback):
    """Use as ``with stop:`` around ``trainer.fit``; ``save`` writes the checkpoint."""

    def __init__(self, save: Callable[[pl.Trainer], None]):
        self.save = save
        self.signum: Optional[int] = None
        self.step: Optional[int] = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt  # a second signal: stop now
        self.signum = signum

    def __enter__(self) -> "GracefulStop":
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.getsignal(s) for s in SIGNALS}
            for s in SIGNALS:
                signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        if self.signum is not None and self.step is None:
            self.save(trainer)
            self.step = int(trainer.global_step)
            trainer.should_stop = True

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""
