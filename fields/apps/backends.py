"""Which optional native backends are usable here, and why not. Imports happen only when asked."""

from __future__ import annotations

import importlib
from typing import NamedTuple

import torch

from fields.kernels import grid_cpu, splat_cpu


class BackendStatus(NamedTuple):
    name: str
    usable: bool
    detail: str


def _probe(module: str) -> tuple[object | None, str]:
    try:
        mod = importlib.import_module(module)
    except Exception as err:  # ImportError, or a broken build raising anything at import
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        return None, f"not importable: {reason}"
    return mod, getattr(mod, "__version__", "installed")


def backend_report() -> list[BackendStatus]:
    cuda = torch.cuda.is_available()
    rows = [
        BackendStatus("torch", True, f"{torch.__version__}; the reference backend (CPU{' and CUDA' if cuda else ''})")
    ]
    usable = grid_cpu.load() is not None
    detail = (
        f"CPU grid kernel, ready in {grid_cpu.build_seconds():.1f} s"
        if usable
        else f"unusable: {grid_cpu.unavailable_reason()}"
    )
    rows.append(BackendStatus("cpp", usable, detail))
    usable = splat_cpu.load() is not None
    detail = "CPU splat rasterizer kernel" if usable else f"unusable: {splat_cpu.unavailable_reason()}"
    rows.append(BackendStatus("cpp splat", usable, detail))
    for name, module, needs_cuda in (("tcnn", "tinycudann", True), ("triton", "triton", True),
                                     ("gsplat", "gsplat", True)):
        mod, detail = _probe(module)
        usable = mod is not None and (cuda or not needs_cuda)
        if mod is not None and needs_cuda and not cuda:
            detail = f"{detail}; no CUDA device, so unused"
        rows.append(BackendStatus(name, usable, detail))
    return rows
