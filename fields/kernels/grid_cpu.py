"""The ``cpp`` backend of grid lookups: a fused C++/OpenMP kernel for CPU (``grid_cpu.cpp``).

One pass per (point, level) computes the cell, the corner rows (dense or hashed, tiny-cuda-nn's
``grid_index``), the weights (linear or smoothstep) and the weighted sum, with no ``(N, L, corners)``
tensors. The backward pass writes the table gradient one level per thread (levels own disjoint rows,
so no atomics) and the input gradient one point per thread.

The kernel is compiled on first use with ``torch.utils.cpp_extension.load`` into
``TORCH_EXTENSIONS_DIR`` (needs a C++ compiler and ``ninja``; rebuilt only when the source changes) and
called through ``ctypes`` with raw pointers. It includes only ``<ATen/Parallel.h>``: ``load_inline``
would prepend ``<torch/extension.h>``, whose parsing alone takes about 35 s of CPU, so the first build
takes a few seconds instead of a minute or more. A failed build is logged once and the callers fall
back to the torch path. Second derivatives are not compiled: when a backward pass builds
a graph (``create_graph=True``, the eikonal loss), it differentiates the torch reference instead.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import torch

log = logging.getLogger("fields")
SOURCE = Path(__file__).with_name("grid_cpu.cpp")
CFLAGS = ["-O3", "-fopenmp", "-ffp-contract=off"]


class _Build:
    module: Any = None
    error: Optional[str] = None
    seconds: Optional[float] = None
    lock = threading.Lock()


def _ensure_ninja_on_path() -> None:
    """torch looks ninja up on PATH; the PyPI wheel installs it next to the interpreter."""
    if shutil.which("ninja"):
        return
    try:
        import ninja  # type: ignore[import-not-found]

        os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + os.environ.get("PATH", "")
    except ImportError:
        pass


def load(required: bool = False) -> Any:
    """The compiled module, built on the first call of the process; ``None`` when it cannot be built
    (logged once; with ``required`` a ``RuntimeError``)."""
    with _Build.lock:
        if _Build.module is None and _Build.error is None:
            started = time.perf_counter()
            try:
                _ensure_ninja_on_path()
                from torch.utils.cpp_extension import load as load_extension

                path = load_extension(
                    name="fields_grid_cpu",
                    sources=[str(SOURCE)],
                    extra_cflags=CFLAGS,
                    extra_ldflags=["-fopenmp"],
                    is_python_module=False,
                    verbose=False,
                )
                _Build.module = _bind(ctypes.CDLL(path))
                _Build.seconds = time.perf_counter() - started
                log.info("cpp grid kernel ready (%.1f s to build or load)", _Build.seconds)
            except Exception as err:  # no compiler, no ninja, a compile error: the torch path still works
                lines = [line for line in str(err).splitlines() if line.strip()]
                _Build.error = f"{type(err).__name__}: {lines[0] if lines else ''}"
                log.warning("cpp grid kernel unavailable, using the torch path (%s)", _Build.error)
    if _Build.module is None and required:
        raise RuntimeError(f"backend cpp requested but its kernel did not build: {_Build.error}")
    return _Build.module


def _bind(lib: ctypes.CDLL) -> dict[torch.dtype, Any]:
    p, i64 = ctypes.c_void_p, ctypes.c_int64
    functions = {}
    for dtype, name in ((torch.float32, "fields_grid_f32"), (torch.float64, "fields_grid_f64")):
        fn = getattr(lib, name)
        fn.argtypes = [p, p, p, p, p, p, i64, i64, i64, p, p, p, p, p, p, i64, ctypes.c_double, ctypes.c_int]
        fn.restype = ctypes.c_int
        functions[dtype] = fn
    return functions


def unavailable_reason() -> Optional[str]:
    """Why the kernel could not be built (after ``load``), or ``None``."""
    return _Build.error


def build_seconds() -> Optional[float]:
    """Seconds the first ``load`` of this process took (compile, or load from the cache)."""
    return _Build.seconds


@dataclass(frozen=True)
class GridLevels:
    """Layout of ``L`` levels over one table ``(R, F)``; level ``l`` owns rows
    ``[offset[l], offset[l] + size[l])`` (disjoint, increasing). All tensors on CPU.

    scale ``(L,)`` float, stride ``(L, D)`` int64 (dense index weights), size ``(L,)`` int64 (a power of
    two where hashed), offset ``(L,)`` int64, hashed ``(L,)`` bool. Position ``x * scale + shift``; its
    lower cell corner is capped at ``max_cell`` ``(L,)`` int64 where given (a vertex-aligned dense grid:
    ``shift=0``, ``scale=res-1``, ``max_cell=res-2``, so ``x = 1`` lands in the last cell at fraction 1).
    """

    scale: torch.Tensor
    stride: torch.Tensor
    size: torch.Tensor
    offset: torch.Tensor
    hashed: torch.Tensor
    shift: float = 0.5
    smoothstep: bool = False
    max_cell: Optional[torch.Tensor] = None

    def __post_init__(self) -> None:
        tensors = {
            "scale": self.scale.detach().to("cpu", torch.float32).contiguous(),
            "stride": self.stride.detach().to("cpu", torch.int64).contiguous(),
            "size": self.size.detach().to("cpu", torch.int64).contiguous(),
            "offset": self.offset.detach().to("cpu", torch.int64).contiguous(),
            "hashed": self.hashed.detach().to("cpu", torch.uint8).contiguous(),
            "max_cell": (torch.full_like(self.size, 2**62) if self.max_cell is None else self.max_cell)
            .detach().to("cpu", torch.int64).contiguous(),
        }
        for name, value in tensors.items():
            object.__setattr__(self, name, value)
        n = self.scale.shape[0]
        per_level = (self.size, self.offset, self.hashed, self.max_cell)
        if self.stride.dim() != 2 or self.stride.shape[0] != n or any(t.shape != (n,) for t in per_level):
            raise ValueError("grid levels: scale, size, offset, hashed (L,) and stride (L, D) disagree")
        sizes, offsets, hashed = self.size.tolist(), self.offset.tolist(), self.hashed.tolist()
        end = 0
        for level, (size, offset, h) in enumerate(zip(sizes, offsets, hashed)):
            if size < 1 or offset < end:
                raise ValueError(f"grid level {level}: rows must be non-empty, disjoint and increasing")
            if h and size & (size - 1):
                raise ValueError(f"grid level {level}: a hashed level's size must be a power of two")
            end = offset + size
        object.__setattr__(self, "rows", end)
        # every row belongs to a level, so the kernel's per-level zeroing covers the whole gradient
        object.__setattr__(self, "covers", bool(n) and offsets[0] == 0 and sum(sizes) == end)


Reference = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _ptr(t: Optional[torch.Tensor]) -> Optional[int]:
    return None if t is None else t.data_ptr()


def _call(levels: GridLevels, x: torch.Tensor, table: torch.Tensor, *, out=None, grad_out=None, grad_table=None,
          grad_x=None) -> None:
    """Forward (``out``) or backward (``grad_out`` into ``grad_table`` and/or ``grad_x``) in place."""
    scale = levels.scale.to(x.dtype)
    n, d = x.shape
    rc = _Build.module[x.dtype](
        _ptr(grad_out), _ptr(x), _ptr(table), _ptr(out), _ptr(grad_table), _ptr(grad_x),
        n, d, table.shape[1], scale.data_ptr(), levels.stride.data_ptr(), levels.size.data_ptr(),
        levels.offset.data_ptr(), levels.hashed.data_ptr(), levels.max_cell.data_ptr(), scale.shape[0], levels.shift,
        int(levels.smoothstep),
    )  # fmt: skip
    if rc != 0:
        raise RuntimeError(f"cpp grid kernel failed (code {rc}) for x {tuple(x.shape)}, table {tuple(table.shape)}")


class _GridLookup(torch.autograd.Function):
    @staticmethod
    def forward(ctx, table: torch.Tensor, x: torch.Tensor, levels: GridLevels, reference: Reference) -> torch.Tensor:
        ctx.save_for_backward(table, x)
        ctx.levels, ctx.reference = levels, reference
        out = table.new_empty(x.shape[0], levels.scale.shape[0] * table.shape[1])
        _call(levels, x, table, out=out)
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        table, x = ctx.saved_tensors
        need_table, need_x = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if torch.is_grad_enabled():
            # create_graph: the gradient must itself be differentiable, so take it from the torch path
            wanted = [t for t, need in ((table, need_table), (x, need_x)) if need]
            with torch.enable_grad():
                out = ctx.reference(table, x)
            grads = list(torch.autograd.grad(out, wanted, grad_out, create_graph=True, allow_unused=True))
            grad_table = grads.pop(0) if need_table else None
            grad_x = grads.pop(0) if need_x else None
            return grad_table, grad_x, None, None
        levels = ctx.levels
        grad_table = grad_x = None
        if need_table:
            grad_table = torch.empty_like(table) if levels.covers else torch.zeros_like(table)
        if need_x:
            grad_x = torch.empty_like(x)
        if need_table or need_x:
            _call(levels, x, table, grad_out=grad_out.contiguous(), grad_table=grad_table, grad_x=grad_x)
        return grad_table, grad_x, None, None


def supports(table: torch.Tensor, x: torch.Tensor) -> bool:
    """Whether the kernel applies to these tensors (CPU, float32/float64, one dtype, 1-7 dims)."""
    return (
        x.device.type == "cpu"
        and table.device.type == "cpu"
        and x.dtype == table.dtype
        and x.dtype in (torch.float32, torch.float64)
        and x.dim() == 2
        and 1 <= x.shape[-1] <= 7
        and table.dim() == 2
        and 1 <= table.shape[-1] <= 64
    )


def grid_lookup(table: torch.Tensor, x: torch.Tensor, levels: GridLevels, reference: Reference) -> torch.Tensor:
    """``table (R, F)``, ``x (N, D)`` (already clamped or wrapped by the caller) -> ``(N, L * F)``,
    level-major. ``reference(table, x)`` must compute the same with differentiable torch ops; it is
    used only for double backward. Call ``load()`` first and check ``supports``."""
    if _Build.module is None:
        raise RuntimeError("grid_lookup called before a successful load()")
    if not supports(table, x) or x.shape[1] != levels.stride.shape[1] or table.shape[0] < levels.rows:
        raise ValueError(f"grid_lookup: unsupported x {tuple(x.shape)} {x.dtype}, table {tuple(table.shape)}")
    return _GridLookup.apply(table.contiguous(), x.contiguous(), levels, reference)
