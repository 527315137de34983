"""When the Triton kernels may run, and what happens when they cannot: shared by ``triton_grid`` and
``triton_volume``. Imports no ``triton`` itself.

A kernel runs on CUDA tensors, or on CPU tensors under Triton's interpreter (``TRITON_INTERPRET=1``,
numpy, used by the parity tests on machines without a GPU). ``FIELDS_TRITON=0`` turns every Triton
path off. A kernel that fails to import, compile or launch is turned off for the process with one
logged line, and its callers use the torch reference.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from typing import Optional

import torch

log = logging.getLogger("fields")
_failed: dict[str, str] = {}  # kernel name -> first error


def interpreting() -> bool:
    """Whether Triton runs kernels on the CPU through its interpreter."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def installed() -> bool:
    return importlib.util.find_spec("triton") is not None


def usable(name: str, *tensors: torch.Tensor) -> bool:
    """Whether kernel ``name`` may run on these tensors: triton installed, not turned off, not failed
    before, and the tensors on CUDA (or on CPU under the interpreter)."""
    if os.environ.get("FIELDS_TRITON", "1") == "0" or name in _failed or not installed():
        return False
    on_cuda = all(t.is_cuda for t in tensors)
    on_cpu = all(t.device.type == "cpu" for t in tensors)
    return on_cuda or (on_cpu and interpreting())


def fail(name: str, err: BaseException, required: bool = False) -> None:
    """Turn kernel ``name`` off after ``err`` (one logged line); with ``required`` re-raise instead."""
    lines = [line for line in str(err).splitlines() if line.strip()]
    message = f"{type(err).__name__}: {lines[0] if lines else ''}"
    if required:
        raise RuntimeError(f"backend triton requested but {name} failed: {message}") from err
    if name not in _failed:
        _failed[name] = message
        log.warning("%s: triton kernel unusable, using torch (%s)", name, message)


def failure(name: str) -> Optional[str]:
    """The error that turned kernel ``name`` off, or ``None``."""
    return _failed.get(name)


def reset(name: Optional[str] = None) -> None:
    """Forget past failures (tests)."""
    if name is None:
        _failed.clear()
    else:
        _failed.pop(name, None)
