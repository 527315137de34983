"""Checkpoints as safetensors: never pickled.

A Lightning checkpoint is a nested dict of tensors, numbers, strings and lists (model state, optimiser
state, loop progress). All tensors go into the safetensors file; the rest of the structure goes into its
metadata as JSON, with the resolved scene config and a format version beside it. ``SafetensorsIO`` is a
Lightning ``CheckpointIO`` plugin, so ``Trainer.save_checkpoint`` and ``fit(ckpt_path=...)`` use it.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.checkpoint_io import CheckpointIO

from fields.io.tensor_file import read_tensor_file, write_tensor_file
from fields.errors import UserError

FORMAT = "fields-checkpoint"
FORMAT_VERSION = 1


def _encode(obj: Any, tensors: dict[str, torch.Tensor], path: str) -> Any:
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {"__dict__": {k: _encode(v, tensors, f"{path}.{k}") for k, v in obj.items()}}
        return {"__items__": [[_encode(k, tensors, path), _encode(v, tensors, f"{path}.{k}")] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors, f"{path}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, tensors, f"{path}[{i}]") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if hasattr(obj, "item") and hasattr(obj, "dtype"):  # numpy scalars
        return obj.item()
    raise TypeError(f"checkpoint entry {path} has type {type(obj).__name__}, which is not saved")


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of ``_encode``; a ``KeyError`` names a tensor the file does not hold."""
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__dict__" in obj:
            return {k: _decode(v, tensors) for k, v in obj["__dict__"].items()}
        if "__items__" in obj:
            return {_decode(k, tensors): _decode(v, tensors) for k, v in obj["__items__"]}
        if "__tuple__" in obj:
            return tuple(_decode(v, tensors) for v in obj["__tuple__"])
    return obj


def tensor_checksum(tensors: dict[str, torch.Tensor]) -> str:
    """CRC-32 over every tensor's bytes in key order: safetensors itself checks no content, and a
    checkpoint with flipped bits would otherwise load and evaluate as if it were sound."""
    crc = 0
    for key in sorted(tensors):
        tensor = tensors[key].detach().cpu().contiguous()
        crc = zlib.crc32(key.encode(), crc)
        if tensor.numel():
            crc = zlib.crc32(tensor.reshape(-1).view(torch.uint8).numpy(), crc)
    return f"{crc:08x}"


def save_checkpoint(checkpoint: dict[str, Any], path: str | Path, config_yaml: str = "") -> None:
    tensors: dict[str, torch.Tensor] = {}
    structure = _encode(checkpoint, tensors, "checkpoint")
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "structure": json.dumps(structure),
        "config": config_yaml,
        "crc32": tensor_checksum(tensors),
    }
    write_tensor_file(path, tensors, metadata)


def read_checkpoint(path: str | Path, map_location: Any = "cpu") -> tuple[dict[str, Any], str]:
    """Returns ``(checkpoint dict, resolved config YAML)``."""
    device = str(map_location) if isinstance(map_location, (str, torch.device)) else "cpu"
    tensors, metadata = read_tensor_file(path, "checkpoint", FORMAT, device)
    version = metadata.get("format_version", "0")
    if not version.isdigit():
        raise UserError(f"{path}: malformed checkpoint (format_version {version[:20]!r})")
    if int(version) > FORMAT_VERSION:
        raise UserError(
            f"{path}: checkpoint format {version} is newer than this fields ({FORMAT_VERSION}); upgrade fields"
        )
    if "crc32" in metadata and metadata["crc32"] != tensor_checksum(tensors):
        raise UserError(f"{path}: corrupt checkpoint (its tensors do not match their checksum)")
    try:
        checkpoint = _decode(json.loads(metadata.get("structure", "")), tensors)
    except (ValueError, KeyError, TypeError, RecursionError) as err:
        raise UserError(f"{path}: malformed checkpoint structure ({type(err).__name__})") from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise UserError(f"{path}: malformed checkpoint (no state_dict)")
    return checkpoint, metadata.get("config", "")


class SafetensorsIO(CheckpointIO):
    """Lightning checkpoint plugin writing atomic safetensors files with the resolved config."""

    def __init__(self, config_yaml: str = ""):
        self.config_yaml = config_yaml

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        save_checkpoint(checkpoint, path, self.config_yaml)

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: Any = None) -> dict[str, Any]:
        return read_checkpoint(path, map_location or "cpu")[0]

    def remove_checkpoint(self, path: Any) -> None:
        Path(path).unlink(missing_ok=True)
