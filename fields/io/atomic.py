"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename over the target.
A reader (or a process killed mid-write) never sees a half-written file under the final name."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

TMP_PREFIX = ".tmp-"


def file_mode() -> int:
    """The mode ``open()`` gives a new file under the current umask: mkstemp's 0600 would keep results from
    other users and tools. Linux reports the umask in /proc without changing it (``os.umask`` must set it
    to read it, which races with other threads)."""
    try:
        with open("/proc/self/status") as handle:
            mask = next(int(line.split()[1], 8) for line in handle if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[str]:
    """Yield a temporary path to write; on success it replaces ``path``; on failure it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + ".", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, file_mode())
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
