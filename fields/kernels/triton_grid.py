"""The ``triton`` backend of grid lookups (hash grid and dense grid) on CUDA: fused forward and backward.

The forward pass computes cells, corner rows, weights and the weighted sum in one kernel with no
``(N, L, corners)`` tensors. The backward pass adds ``w * grad_out`` into a float32 table gradient by
atomic adds (cast to the table's dtype afterwards, so float16 tables accumulate in float32) and the input
gradient ``d out / d x . grad_out`` into a float32 ``(N, D)`` buffer. Second derivatives (the eikonal
loss) are not compiled: a backward pass that builds a graph differentiates the torch reference instead,
as the ``cpp`` backend does. Nothing here imports ``triton`` until a kernel runs.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch

from fields.kernels import triton_runtime
from fields.kernels.grid_layout import GridLayout

NAME = "grid lookup"
# launch shape; benchmarks/gpu.py tries others on the GPU
LAUNCH = {"BLOCK": 128, "num_warps": 4}
Reference = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _launch(layout: GridLayout, x: torch.Tensor, table: torch.Tensor, *, out=None, grad_out=None,
            grad_table=None, grad_x=None) -> None:
    from fields.kernels.triton_grid_kernels import grid_kernel  # imports triton

    n, d = x.shape
    f = table.shape[1]
    scale, stride, size, offset, _, max_cell = layout.on(x.device, torch.float32, torch.int32)
    block, total, n_dense = LAUNCH["BLOCK"], layout.n_levels, layout.n_dense
    dummy = x  # unused pointer arguments still need a tensor
    forward = out is not None
    for level0, count, hashed in ((0, n_dense, False), (n_dense, total - n_dense, True)):
        if count == 0 or n == 0:
            continue
        grid = (triton_cdiv(n, block), count)
        grid_kernel[grid](
            x, table, out if forward else dummy, dummy if forward else grad_out,
            grad_table if grad_table is not None else dummy, grad_x if grad_x is not None else dummy,
            scale, stride, size, offset, max_cell, n, level0, total, float(layout.shift),
            D=d, F=f, HASHED=hashed, CAP=layout.capped and not hashed,
            SMOOTH=layout.smoothstep, FORWARD=forward, NEED_TABLE=grad_table is not None,
            NEED_X=grad_x is not None, BLOCK=block, num_warps=LAUNCH["num_warps"],
            enable_fp_fusion=False,  # x * scale + shift rounded as torch rounds it: same cells at the edges
        )  # fmt: skip


def triton_cdiv(a: int, b: int) -> int:
    return (a + b - 1) // b


class _TritonGridLookup(torch.autograd.Function):
    @staticmethod
    def forward(ctx, table: torch.Tensor, x: torch.Tensor, layout: GridLayout, reference: Reference) -> torch.Tensor:
        ctx.save_for_backward(table, x)
        ctx.layout, ctx.reference = layout, reference
        out = table.new_empty(x.shape[0], layout.n_levels * table.shape[1])
        _launch(layout, x, table, out=out)
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        table, x = ctx.saved_tensors
        need_table, need_x = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if torch.is_grad_enabled() or not triton_runtime.usable(NAME, table, x):
            return _reference_backward(ctx, table, x, grad_out, need_table, need_x)
        grad_table = torch.zeros(table.shape, dtype=torch.float32, device=table.device) if need_table else None
        grad_x = torch.zeros(x.shape, dtype=torch.float32, device=x.device) if need_x else None
        if need_table or need_x:
            try:
                _launch(ctx.layout, x, table, grad_out=grad_out.contiguous(), grad_table=grad_table, grad_x=grad_x)
            except Exception as err:  # a backward kernel that does not compile: the reference still works
                triton_runtime.fail(NAME, err)
                return _reference_backward(ctx, table, x, grad_out, need_table, need_x)
        return (
            None if grad_table is None else grad_table.to(table.dtype),
            None if grad_x is None else grad_x.to(x.dtype),
            None,
            None,
        )


def _reference_backward(ctx, table, x, grad_out, need_table, need_x):
    """Gradients through the torch reference; differentiable when the caller builds a graph (the
    eikonal loss' double backward)."""
    wanted = [t for t, need in ((table, need_table), (x, need_x)) if need]
    if not wanted:
        return None, None, None, None
    with torch.enable_grad():
        table_ = table.detach().requires_grad_(need_table) if not table.requires_grad else table
        x_ = x.detach().requires_grad_(need_x) if not x.requires_grad else x
        out = ctx.reference(table_, x_)
    inputs = [t for t, need in ((table_, need_table), (x_, need_x)) if need]
    grads = list(torch.autograd.grad(out, inputs, grad_out, create_graph=torch.is_grad_enabled(), allow_unused=True))
    grad_table = grads.pop(0) if need_table else None
    grad_x = grads.pop(0) if need_x else None
    return grad_table, grad_x, None, None


def supports(table: torch.Tensor, x: torch.Tensor) -> bool:
    """Shapes and dtypes the kernel takes: ``x (N, 1..4)`` float32, ``table (R, F)`` float32 or
    float16 with ``F`` in 1, 2, 4, 8, on CUDA (or CPU under the interpreter)."""
    return (
        x.dim() == 2
        and 1 <= x.shape[1] <= 4
        and x.dtype == torch.float32
        and table.dim() == 2
        and table.shape[1] in (1, 2, 4, 8)
        and table.dtype in (torch.float32, torch.float16)
        and triton_runtime.usable(NAME, table, x)
    )


def grid_lookup(table: torch.Tensor, x: torch.Tensor, layout: GridLayout, reference: Reference,
                required: bool = False) -> Optional[torch.Tensor]:
    """``table (R, F)``, ``x (N, D)`` (already clamped to [0, 1]) -> ``(N, L * F)`` level-major, or
    ``None`` when the kernel cannot run (logged once; with ``required`` a ``RuntimeError``).
    ``reference(table, x)`` computes the same with torch ops (double backward and fallbacks)."""
    if not supports(table, x):
        return None
    if int(layout.size.max()) >= 2**31 or int(layout.stride.abs().max()) >= 2**31:
        raise ValueError("triton grid lookup: level sizes and strides must fit in int32")
    try:
        return _TritonGridLookup.apply(table.contiguous(), x.contiguous(), layout, reference)
    except Exception as err:  # ImportError, a compile error, a launch error
        triton_runtime.fail(NAME, err, required=required)
        return None
