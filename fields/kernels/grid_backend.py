"""The one place a grid encoder's lookup picks its backend: ``torch`` (the reference), ``cpp`` (fused CPU
kernel), ``triton`` (fused CUDA kernels) or ``tcnn`` (tiny-cuda-nn, hash grids on CUDA).

``auto`` takes ``triton`` or ``tcnn`` on CUDA inputs and ``cpp`` on CPU inputs where they work, else
``torch``. An explicit backend that cannot run on these inputs falls back with one logged line naming what
runs instead (a checkpoint trained with ``tcnn`` still evaluates on a CPU); an explicit ``cpp`` whose
kernel does not build is an error. The backend in use is logged once, and again only when it changes.
"""

from __future__ import annotations

import logging
from typing import Callable, Optional

import torch

from fields.kernels import grid_cpu, triton_grid, triton_runtime
from fields.kernels.grid_layout import GridLayout

log = logging.getLogger("fields")
Reference = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
TcnnFactory = Callable[[bool], object]  # required -> a function x -> features, or False when unusable


class GridBackend:
    """Backend choice and logging for one encoder (``name`` in log lines, e.g. ``hashgrid``)."""

    def __init__(self, name: str, requested: str, tcnn: Optional[TcnnFactory] = None, cpp: bool = True):
        self.name, self.requested, self.in_use, self.cpp = name, requested, "torch", cpp
        self._tcnn_factory, self._tcnn = tcnn, None
        self._noted: set[str] = set()

    def lookup(self, table: torch.Tensor, x: torch.Tensor, layout: GridLayout, reference: Reference) -> torch.Tensor:
        """``table (R, F)``, clamped ``x (N, D)`` -> ``(N, L * F)`` through the chosen backend."""
        requested = self.requested
        if requested in ("auto", "triton") and (x.is_cuda or requested == "triton"):
            if triton_grid.supports(table, x):
                out = triton_grid.grid_lookup(table, x, layout, reference)
                if out is not None:
                    return self._ran("triton", out)
            elif requested == "triton":
                reason = "not installed" if not triton_runtime.installed() else "unsupported inputs or device"
                if triton_runtime.failure(triton_grid.NAME) is None:  # a failure was logged already
                    self._fallback(f"triton: {reason}")
        if requested in ("auto", "tcnn") and self._tcnn_factory is not None:
            if x.is_cuda:
                if self._tcnn is None:
                    self._tcnn = self._tcnn_factory(requested == "tcnn")
                if self._tcnn is not False:
                    return self._ran("tcnn", self._tcnn(x).to(x.dtype))
            elif requested == "tcnn":
                self._fallback("tcnn needs CUDA inputs")
        if requested in ("auto", "cpp", "tcnn") and self.cpp and grid_cpu.supports(table, x):
            if grid_cpu.load(required=requested == "cpp") is not None:
                return self._ran("cpp", grid_cpu.grid_lookup(table, x, layout, reference))
        elif requested == "cpp":
            self._fallback("cpp needs CPU float32/float64 inputs")
        return self._ran("torch", reference(table, x))

    def lookup_into(self, table: torch.Tensor, x: torch.Tensor, layout: GridLayout, out: torch.Tensor,
                    box: Optional[torch.Tensor] = None) -> bool:
        """Inference (no autograd): ``grid_cpu.lookup_into`` where this backend would run ``cpp``; ``False``
        (nothing written) where it does not apply, and the caller takes ``lookup``."""
        if self.requested not in ("auto", "cpp", "tcnn") or not self.cpp or x.device.type != "cpu":
            return False
        if not grid_cpu.lookup_into(table, x, layout, out, box):
            return False
        self._ran("cpp", out)
        return True

    def _ran(self, backend: str, out: torch.Tensor) -> torch.Tensor:
        if backend != self.in_use or backend not in self._noted:
            log.info("%s backend: %s", self.name, backend)
            self._noted.add(backend)
        self.in_use = backend
        return out

    def _fallback(self, reason: str) -> None:
        if reason not in self._noted:
            log.info(
                "%s backend: %s asked for, but %s; using the next one that runs", self.name, self.requested, reason
            )
            self._noted.add(reason)
