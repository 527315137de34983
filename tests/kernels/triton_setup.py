"""Where the Triton parity tests run: on CUDA when there is a GPU, else on the CPU under Triton's
interpreter, at tiny sizes. Without triton installed they skip. ``TRITON_INTERPRET=1`` is set around each
Triton test (``conftest.py`` of this folder; the kernel modules are imported lazily, inside those tests, so
they are decorated for the interpreter), never for the whole session: the CLI subprocesses of every later
test would inherit it and run their no-grad volume rendering through the interpreter."""

from __future__ import annotations

import importlib.util
from importlib.metadata import version

import pytest
import torch

HAS_TRITON = importlib.util.find_spec("triton") is not None
ON_CUDA = torch.cuda.is_available()
# the interpreter of triton 3.6 cannot loop up to a loaded value (the volume kernels do); 3.9 can
TOO_OLD = HAS_TRITON and not ON_CUDA and tuple(int(p) for p in version("triton").split(".")[:2]) < (3, 9)
DEVICE = "cuda" if ON_CUDA else "cpu"
INTERPRET = HAS_TRITON and not ON_CUDA

needs_triton = [
    pytest.mark.triton,
    pytest.mark.skipif(not HAS_TRITON, reason="triton is not installed (pip install '.[triton]')"),
    pytest.mark.skipif(TOO_OLD, reason="the parity tests on CPU need triton >= 3.9's interpreter"),
]


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """``||a - b|| / ||b||`` in float64; NaN anywhere fails."""
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    if not torch.isfinite(a).all():
        return float("inf")
    return float((a - b).norm() / b.norm().clamp_min(1e-30))
