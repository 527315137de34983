"""Resolving data paths given in scene files."""

from __future__ import annotations

from pathlib import Path


def resolve_data_path(value: str, base_dir: Path | None) -> str:
    """Absolute path of ``value``: relative paths are tried against the working directory, then
    against ``base_dir`` (the scene file's folder). Raises ``ValueError`` if neither exists."""
    path = Path(value).expanduser()
    candidates = [path] if path.is_absolute() else [Path.cwd() / path] + ([base_dir / path] if base_dir else [])
    for candidate in candidates:
        if candidate.exists():
            return str(candidate.resolve())
    raise ValueError(f"file not found: {value}")
