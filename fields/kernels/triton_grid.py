"""The ``triton`` backend of grid lookups (hash grid and dense grid) on CUDA: fused forward and backward.

The forward pass computes cells, corner rows, weights and the weighted sum in one kernel with no
``(N, L, corners)`` tensors. The backward pass adds ``w * grad_out`` into a float32 table gradient by
atomic adds (cast to the table's dtype afterwards, so float16 tables accumulate in float32) and the input
gradient ``d out / d x . grad_out`` into a float32 ``(N, D)`` buffer. Second derivatives (the eikonal
loss) are not compiled: a backward pass that builds a graph differentiates the torch reference instead,
as the ``cpp`` backend does. Nothing here imports ``triton`` until a kernel runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from fields.kernels import triton_runtime

NAME = "grid lookup"
# launch shape; benchmarks/gpu.py tries others on the GPU
LAUNCH = {"BLOCK": 128, "num_warps": 4}
Reference = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class TritonLevels:
    """Layout of ``L`` levels over one table ``(R, F)``: levels ``[0, n_dense)`` are indexed densely
    (``sum_i v_i * stride[l, i]`` modulo ``size[l]``), the rest hashed (``size[l]`` a power of two).
    Position ``x * scale[l] + shift``; with ``cap`` the lower corner is capped at ``max_cell[l]``.
    scale ``(L,)`` float, stride ``(L, D)``, size ``(L,)``, offset ``(L,)``, max_cell ``(L,)`` integers."""

    scale: torch.Tensor
    stride: torch.Tensor
    size: torch.Tensor
    offset: torch.Tensor
    n_dense: int
    shift: float = 0.5
    smoothstep: bool = False
    max_cell: Optional[torch.Tensor] = None

    def __post_init__(self) -> None:
        self._on: dict[torch.device, tuple[torch.Tensor, ...]] = {}
        self.cap = self.max_cell is not None
        if self.max_cell is None:
            self.max_cell = torch.full_like(self.size, 2**30)
        if int(self.size.max()) >= 2**31 or int(self.stride.abs().max()) >= 2**31:
            raise ValueError("triton grid levels: sizes and strides must fit in int32")

    @property
    def n_levels(self) -> int:
        return int(self.scale.shape[0])

    def on(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        """``(scale f32, stride i32, size i32, offset i64, max_cell i32)`` on ``device`` (cached)."""
        if device not in self._on:
            self._on[device] = (
                self.scale.detach().to(device, torch.float32).contiguous(),
                self.stride.detach().to(device, torch.int32).contiguous(),
                self.size.detach().to(device, torch.int32).contiguous(),
                self.offset.detach().to(device, torch.int64).contiguous(),
                self.max_cell.detach().to(device, torch.int32).contiguous(),
            )
        return self._on[device]


def _launch(levels: TritonLevels, x: torch.Tensor, table: torch.Tensor, *, out=None, grad_out=None,
            grad_table=None, grad_x=None) -> None:
    from fields.kernels.triton_grid_kernels import grid_kernel  # imports triton

    n, d = x.shape
    f = table.shape[1]
    scale, stride, size, offset, max_cell = levels.on(x.device)
    block, total = LAUNCH["BLOCK"], levels.n_levels
    dummy = x  # unused pointer arguments still need a tensor
    forward = out is not None
    for level0, count, hashed in ((0, levels.n_dense, False), (levels.n_dense, total - levels.n_dense, True)):
        if count == 0 or n == 0:
            continue
        grid = (triton_cdiv(n, block), count)
        grid_kernel[grid](
            x, table, out if forward else dummy, dummy if forward else grad_out,
            grad_table if grad_table is not None else dummy, grad_x if grad_x is not None else dummy,
            scale, stride, size, offset, max_cell, n, level0, total, float(levels.shift),
            D=d, F=f, HASHED=hashed, CAP=levels.cap and not hashed,
            SMOOTH=levels.smoothstep, FORWARD=forward, NEED_TABLE=grad_table is not None,
            NEED_X=grad_x is not None, BLOCK=block, num_warps=LAUNCH["num_warps"],
            enable_fp_fusion=False,  # x * scale + shift rounded as torch rounds it: same cells at the edges
        )  # fmt: skip


def triton_cdiv(a: int, b: int) -> int:
    return (a + b - 1) // b


class _TritonGridLookup(torch.autograd.Function):
    @staticmethod
    def forward(ctx, table: torch.Tensor, x: torch.Tensor, levels: TritonLevels, reference: Reference) -> torch.Tensor:
        ctx.save_for_backward(table, x)
        ctx.levels, ctx.reference = levels, reference
        out = table.new_empty(x.shape[0], levels.n_levels * table.shape[1])
        _launch(levels, x, table, out=out)
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
                _launch(ctx.levels, x, table, grad_out=grad_out.contiguous(), grad_table=grad_table, grad_x=grad_x)
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


def grid_lookup(table: torch.Tensor, x: torch.Tensor, levels: TritonLevels, reference: Reference,
                required: bool = False) -> Optional[torch.Tensor]:
    """``table (R, F)``, ``x (N, D)`` (already clamped to [0, 1]) -> ``(N, L * F)`` level-major, or
    ``None`` when the kernel cannot run (logged once; with ``required`` a ``RuntimeError``).
    ``reference(table, x)`` computes the same with torch ops (double backward and fallbacks)."""
    if not supports(table, x):
        return None
    try:
        return _TritonGridLookup.apply(table.contiguous(), x.contiguous(), levels, reference)
    except Exception as err:  # ImportError, a compile error, a launch error
        triton_runtime.fail(NAME, err, required=required)
        return None


def levels_of(encoder) -> TritonLevels:
    """The level layout of a ``HashGrid`` or ``DenseGrid`` (cached on the encoder)."""
    levels = getattr(encoder, "_triton_levels", None)
    if levels is None:
        smooth = encoder.config.interpolation == "smoothstep"
        if hasattr(encoder, "n_dense_levels"):  # hash grid: x * scale + 0.5, dense levels first
            levels = TritonLevels(encoder._scale, encoder._stride, encoder._size, encoder._offset,
                                  encoder.n_dense_levels, shift=0.5, smoothstep=smooth)  # fmt: skip
        else:  # vertex-aligned dense grid: x * (res - 1), the last cell closed on both sides
            res = encoder._res
            levels = TritonLevels((res - 1).float(), encoder._stride, res**encoder.in_dim, encoder._offset,
                                  len(encoder.level_resolutions), shift=0.0, smoothstep=smooth, max_cell=res - 2)  # fmt: skip
        encoder._triton_levels = levels
    return levels


def encoder_lookup(encoder, name: str, flat: torch.Tensor) -> Optional[torch.Tensor]:
    """The ``triton`` backend of a grid encoder: ``flat (N, d)`` clamped -> ``(N, out_dim)``, or
    ``None`` when the torch path must run. ``auto`` takes it on CUDA only; an explicit ``triton`` also
    under the interpreter. Logs the backend once per encoder (and why it is not used, if asked for)."""
    backend = encoder.config.backend
    if backend == "auto" and not flat.is_cuda:
        return None
    if not supports(encoder.params, flat):
        reason = "not installed" if not triton_runtime.installed() else "unsupported inputs or device"
        failed = triton_runtime.failure(NAME) is not None  # already logged once, by triton_runtime.fail
        if backend == "triton" and not failed and getattr(encoder, "_triton_noted", None) != reason:
            triton_runtime.log.info("%s backend: torch (triton: %s)", name, reason)
            encoder._triton_noted = reason
        return None
    out = grid_lookup(encoder.params, flat, levels_of(encoder), encoder.torch_lookup)
    if out is not None and encoder.backend_in_use != "triton":
        triton_runtime.log.info("%s backend: triton", name)
        encoder.backend_in_use = "triton"
    elif out is None:
        encoder.backend_in_use = "torch"
    return out
