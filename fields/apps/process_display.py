"""The display of ``fields process``: a rich progress line per stage and the summary table."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Literal, Optional

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from fields.datasets.capture.process import CaptureSummary, process_capture, process_posed


def run_process(kind: Literal["images", "video", "poses"], source: Path, out: Path, frames: int,
                max_size: Optional[int], matching: str, overwrite: bool, console: Console) -> CaptureSummary:
    # the display writes to a copy of stderr: the SfM stages send fd 2 (COLMAP's native log) to a file
    try:
        terminal = os.fdopen(os.dup(console.file.fileno()), "w", buffering=1)
        display = Console(file=terminal, force_terminal=console.is_terminal, width=console.width)
    except (AttributeError, OSError, ValueError):  # not a real file (a test runner's capture)
        terminal, display = contextlib.nullcontext(), console
    columns = (SpinnerColumn(), TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with terminal, Progress(*columns, console=display, transient=False) as bar:
        current: list = []

        def stage(name: str) -> None:
            if current:
                task = bar.tasks[current[-1]]
                bar.update(current[-1], total=task.total or 1, completed=task.total or 1)
            current.append(bar.add_task(name, total=None))

        def progress(done: int, total: int) -> None:
            bar.update(current[-1], total=total, completed=done)

        if kind == "poses":
            summary = process_posed(source, out, max_size, matching, overwrite, stage, progress)  # type: ignore[arg-type]
        else:
            summary = process_capture(kind, source, out, frames, max_size, matching, overwrite, stage, progress)  # type: ignore[arg-type]
        task = bar.tasks[current[-1]]
        bar.update(current[-1], total=task.total or 1, completed=task.total or 1)
    return summary


def summary_table(summary: CaptureSummary, out: Path) -> Table:
    table = Table(title=f"capture -> {out}", show_header=False)
    share = summary.n_registered / max(summary.n_frames, 1)
    label = "refined (with tracks)" if summary.poses else "registered"
    table.add_row(label, f"{summary.n_registered} / {summary.n_frames} ({100 * share:.0f}%)")
    if summary.poses:
        turn, move = summary.poses["rotation_change_deg"], summary.poses["position_change_of_extent"]
        table.add_row("rounds", str(summary.poses["rounds"]))
        table.add_row("change: rotation", f"{turn[0]:.3f} mean / {turn[1]:.3f} max degrees")
        table.add_row("change: position", f"{100 * move[0]:.3f} mean / {100 * move[1]:.3f} max % of the extent")
    table.add_row("mean reprojection error", f"{summary.mean_reprojection_error:.3f} px")
    table.add_row("3D points", str(summary.n_points))
    for name, seconds in summary.seconds.items():
        table.add_row(f"time: {name}", f"{seconds:.1f} s")
    table.add_row("time: total", f"{sum(summary.seconds.values()):.1f} s")
    return table
