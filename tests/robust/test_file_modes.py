"""Results are readable by other users and tools: atomic writes get the mode ``open()`` would give."""

from __future__ import annotations

import os
from pathlib import Path

from fields.io import atomic_write_text


def test_atomic_files_follow_the_umask(tmp_path: Path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
        (tmp_path / "b.json").write_text("{}")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == (tmp_path / "b.json").stat().st_mode & 0o777 == 0o644
