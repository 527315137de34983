"""The CSV training log, kept across ``--resume``.

Lightning's CSV writer deletes an existing ``metrics.csv`` when it starts ("Previous log files ... will be
deleted"), so a resumed run would lose its history. This writer appends to it instead, after dropping the
rows of steps past the checkpoint (the interrupted run logged them; the resumed one logs them again).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.loggers.logger import rank_zero_experiment

from fields.io import atomic_write_text


class _AppendingWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:
        path = Path(self.metrics_file_path)
        if path.is_file():
            with path.open(newline="") as handle:
                self.metrics_keys = list(csv.DictReader(handle).fieldnames or [])


class ResumableCSVLogger(CSVLogger):
    """``CSVLogger`` that appends to the log of the run it continues."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment


def truncate_log(path: str | Path, first_step: int) -> None:
    """Drop the rows of ``metrics.csv`` logged at ``step >= first_step`` (atomically)."""
    path = Path(path)
    if not path.is_file():
        return
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    kept = [row for row in rows if not _step_at_least(row.get("step"), first_step)]
    if len(kept) == len(rows):
        return
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(kept)
    atomic_write_text(path, out.getvalue())


def _step_at_least(value: str | None, step: int) -> bool:
    try:
        return int(float(value or "")) >= step
    except ValueError:
        return False
