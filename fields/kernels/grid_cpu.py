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
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

import torch

from fields.kernels.cpp_build import CFLAGS, failure_text, load_extension
from fields.kernels.grid_layout import GridLayout

log = logging.getLogger("fields")
SOURCE = Path(__file__).with_name("grid_cpu.cpp")
HEADERS = (SOURCE.with_name("grid_cell.h"), SOURCE.with_name("grid_simd.h"))


class _Build:
    module: Any = None
    error: Optional[str] = None
    seconds: Optional[float] = None
    lock = threading.Lock()


def load(required: bool = False) -> Any:
    """The compiled module, built on the first call of the process; ``None`` when it cannot be built
    (logged once; with ``required`` a ``RuntimeError``)."""
    with _Build.lock:
        if _Build.module is None and _Build.error is None:
            started = time.perf_counter()
            try:
                path = load_extension("fields_grid_cpu", [str(SOURCE)], HEADERS, extra_cflags=CFLAGS,
                                      extra_ldflags=["-fopenmp"])
                _Build.module = _bind(ctypes.CDLL(path))
                _Build.seconds = time.perf_counter() - started
                log.info("cpp grid kernel ready (%.1f s to build or load)", _Build.seconds)
            except Exception as err:  # no compiler, no ninja, a compile error: the torch path still works
                _Build.error = failure_text(err)
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
    infer = lib.fields_grid_infer_f32
    infer.argtypes = [p, p, p, i64, p, ctypes.c_int, p, p, p, p, p, p, i64, ctypes.c_double, ctypes.c_int]
    infer.restype = ctypes.c_int
    functions["infer"] = infer
    return functions


def unavailable_reason() -> Optional[str]:
    """Why the kernel could not be built (after ``load``), or ``None``."""
    return _Build.error


def build_seconds() -> Optional[float]:
    """Seconds the first ``load`` of this process took (compile, or load from the cache)."""
    return _Build.seconds


Reference = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _ptr(t: Optional[torch.Tensor]) -> Optional[int]:
    return None if t is None else t.data_ptr()


def _call(layout: GridLayout, x: torch.Tensor, table: torch.Tensor, *, out=None, grad_out=None, grad_table=None,
          grad_x=None) -> None:
    """Forward (``out``) or backward (``grad_out`` into ``grad_table`` and/or ``grad_x``) in place."""
    scale, stride, size, offset, hashed, max_cell = layout.on(torch.device("cpu"), x.dtype, torch.int64)
    n, d = x.shape
    rc = _Build.module[x.dtype](
        _ptr(grad_out), _ptr(x), _ptr(table), _ptr(out), _ptr(grad_table), _ptr(grad_x),
        n, d, table.shape[1], scale.data_ptr(), stride.data_ptr(), size.data_ptr(),
        offset.data_ptr(), hashed.data_ptr(), max_cell.data_ptr(), scale.shape[0], layout.shift,
        int(layout.smoothstep),
    )  # fmt: skip
    if rc != 0:
        raise RuntimeError(f"cpp grid kernel failed (code {rc}) for x {tuple(x.shape)}, table {tuple(table.shape)}")


class _GridLookup(torch.autograd.Function):
    @staticmethod
    def forward(ctx, table: torch.Tensor, x: torch.Tensor, layout: GridLayout, reference: Reference) -> torch.Tensor:
        ctx.save_for_backward(table, x)
        ctx.layout, ctx.reference = layout, reference
        out = table.new_empty(x.shape[0], layout.n_levels * table.shape[1])
        _call(layout, x, table, out=out)
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
        layout = ctx.layout
        grad_table = grad_x = None
        if need_table:
            grad_table = torch.empty_like(table) if layout.covers else torch.zeros_like(table)
        if need_x:
            grad_x = torch.empty_like(x)
        if need_table or need_x:
            _call(layout, x, table, grad_out=grad_out.contiguous(), grad_table=grad_table, grad_x=grad_x)
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


def grid_lookup(table: torch.Tensor, x: torch.Tensor, layout: GridLayout, reference: Reference) -> torch.Tensor:
    """``table (R, F)``, ``x (N, D)`` (already clamped or wrapped by the caller) -> ``(N, L * F)``,
    level-major. ``reference(table, x)`` must compute the same with differentiable torch ops; it is
    used only for double backward. Call ``load()`` first and check ``supports``."""
    if _Build.module is None:
        raise RuntimeError("grid_lookup called before a successful load()")
    if not supports(table, x) or x.shape[1] != layout.in_dim or table.shape[0] < layout.rows:
        raise ValueError(f"grid_lookup: unsupported x {tuple(x.shape)} {x.dtype}, table {tuple(table.shape)}")
    return _GridLookup.apply(table.contiguous(), x.contiguous(), layout, reference)


def lookup_into(table: torch.Tensor, x: torch.Tensor, layout: GridLayout, out: torch.Tensor,
                box: Optional[torch.Tensor] = None) -> bool:
    """Inference lookup of 3D points with 2 features per level, float32 table: ``x (n, 3)`` (with ``box (6,)``
    = ``lo (3,), size (3,)``: ``clamp((x - lo) / size, 0, 1)`` first, as a radiance field's ``to_field``)
    into the first ``n`` rows of ``out (m, L * 2)``, float32 or bfloat16 (rounded as torch rounds), with no
    autograd and no intermediate tensors. Returns ``False`` (nothing written) where this build has no vector
    kernel for it (then use ``grid_lookup``)."""
    module = load()
    if (module is None or table.dtype != torch.float32 or x.dtype != torch.float32 or x.device.type != "cpu"
            or table.shape[1] != 2 or x.shape[1] != 3 or layout.in_dim != 3
            or out.dtype not in (torch.float32, torch.bfloat16) or not out.is_contiguous()
            or out.shape[0] < x.shape[0] or out.shape[1] != layout.n_levels * 2):
        return False
    scale, stride, size, offset, hashed, max_cell = layout.on(torch.device("cpu"), x.dtype, torch.int64)
    x, table = x.contiguous(), table.contiguous()
    box = None if box is None else box.to(torch.float32).contiguous()
    rc = module["infer"](x.data_ptr(), table.data_ptr(), out.data_ptr(), x.shape[0], _ptr(box),
                         int(out.dtype == torch.bfloat16), scale.data_ptr(), stride.data_ptr(), size.data_ptr(),
                         offset.data_ptr(), hashed.data_ptr(), max_cell.data_ptr(), scale.shape[0], layout.shift,
                         int(layout.smoothstep))
    if rc == -2:
        raise RuntimeError(f"cpp grid kernel failed for x {tuple(x.shape)}, table {tuple(table.shape)}")
    return rc == 0
