"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename over the target.
A reader (or a process killed mid-write) never sees a half-written file under the final name."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

TMP_PREFIX = ".tmp-"


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[str]:
    """Yield a temporary path to write; on success it replaces ``path``; on failure it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + ".", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete temporaries left by a process that was killed while writing."""
    removed = []
    for tmp in Path(folder).rglob(TMP_PREFIX + "*"):
        with contextlib.suppress(OSError):
            tmp.unlink()
            removed.append(tmp)
    return removed
