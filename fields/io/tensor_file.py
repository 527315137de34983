"""Safetensors files of fields (checkpoints, tri-plane datasets): tensors plus string metadata, never
pickles, written atomically and read back only when their ``format`` metadata names the expected kind."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from fields.errors import UserError
from fields.io.atomic import atomic_path


def write_tensor_file(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write ``tensors`` (contiguous, on the CPU) and ``metadata`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata=metadata)


def read_tensor_file(
    path: str | Path, what: str, file_format: str, device: str = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """``(tensors, metadata)`` of the file at ``path``, loaded onto ``device``. A missing or unreadable file,
    or one whose metadata ``format`` is not ``file_format``, raises a one-line ``UserError`` naming ``what``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: {what} not found")
    try:
        with safe_open(str(path), framework="pt", device=device) as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as err:
        raise UserError(f"{path}: not a readable {what} ({type(err).__name__})") from None
    if metadata.get("format") != file_format:
        raise UserError(f"{path}: not a fields {what}")
    return tensors, metadata
