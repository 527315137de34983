"""Where the Triton parity tests run: on CUDA when there is a GPU, else on the CPU under Triton's
interpreter (``TRITON_INTERPRET=1``, set here before any kernel module is imported), at tiny sizes.
Without triton installed they skip."""

from __future__ import annotations

import importlib.util
import os

import pytest
import torch

HAS_TRITON = importlib.util.find_spec("triton") is not None
ON_CUDA = torch.cuda.is_available()
DEVICE = "cuda" if ON_CUDA else "cpu"
if HAS_TRITON and not ON_CUDA:
    os.environ.setdefault("TRITON_INTERPRET", "1")

needs_triton = [
    pytest.mark.triton,
    pytest.mark.skipif(not HAS_TRITON, reason="triton is not installed (pip install '.[triton]')"),
]


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """``||a - b|| / ||b||`` in float64; NaN anywhere fails."""
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    if not torch.isfinite(a).all():
        return float("inf")
    return float((a - b).norm() / b.norm().clamp_min(1e-30))
