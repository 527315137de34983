"""Progress of the long phases after training (evaluation, rendering, marching cubes, export): a transient
rich bar on the terminal (stderr), with the count, elapsed time and ETA; nothing when stderr is not a terminal
(logs and pipes stay clean) or when a run turned progress off (``train.progress: false``)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Iterator, Optional, TypeVar

T = TypeVar("T")
_STATE = {"enabled": True}


def set_progress(enabled: bool) -> None:
    """Show bars (the default) or not, for this process."""
    _STATE["enabled"] = bool(enabled)


def _console():
    from rich.console import Console

    console = Console(stderr=True)
    return console if _STATE["enabled"] and console.is_terminal else None


def track(items: Iterable[T], description: str, total: Optional[int] = None) -> Iterator[T]:
    """``items``, advancing a bar named ``description`` as each is taken."""
    console = _console()
    if console is None:
        yield from items
        return
    with bar(description, total if total is not None else len(items), console) as advance:  # type: ignore[arg-type]
        for item in items:
            yield item
            advance(1)


@contextmanager
def bar(description: str, total: int, console=None) -> Iterator:
    """A bar of ``total`` units: yields ``advance(n)``."""
    console = console or _console()
    if console is None:
        yield lambda n=1: None
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)
