"""Triton kernels of the grid lookup (hash grid and dense grid): forward and backward.

Imported only by ``fields.kernels.triton_grid`` (lazily, never on CPU paths), since importing this
module imports ``triton``. One program handles ``BLOCK`` points of one level (``program_id(1)``), so the
programs of a level run together and its table stays in L2, as tiny-cuda-nn orders its blocks.

Per level ``l`` (all tensors on the device): position ``x * scale[l] + shift``, lower corner ``floor``
(capped at ``max_cell[l]`` with ``CAP``), corner rows dense ``sum_i v_i * stride[l, i]`` taken modulo
``size[l]`` by one conditional subtraction, or hashed ``XOR_i v_i * prime_i`` (uint32) masked by
``size[l] - 1``; row ``offset[l] + index`` of ``table (R, F)``. Input dimensions ``D`` in 1..4,
features ``F`` in 1, 2, 4, 8 (a power of two), tables float32 or float16, accumulation in float32.
"""

from __future__ import annotations

import triton
import triton.language as tl

PRIME1 = tl.constexpr(2654435761)
PRIME2 = tl.constexpr(805459861)
PRIME3 = tl.constexpr(3674653429)


@triton.jit
def _smooth(f, SMOOTH: tl.constexpr):
    if SMOOTH:
        return f * f * (3.0 - 2.0 * f)
    else:
        return f


@triton.jit
def _dsmooth(f, SMOOTH: tl.constexpr):
    if SMOOTH:
        return 6.0 * f * (1.0 - f)
    else:
        return f * 0.0 + 1.0


@triton.jit
def _axis(x_ptr, n, mask, scale, shift, max_cell, i: tl.constexpr, D: tl.constexpr, CAP: tl.constexpr):
    """Cell ``(BLOCK,)`` int32 and fraction float32 of points ``n`` along axis ``i``."""
    x = tl.load(x_ptr + n * D + i, mask=mask, other=0.0).to(tl.float32)
    pos = x * scale + shift
    cell = tl.floor(pos)
    if CAP:
        cell = tl.minimum(cell, max_cell)
    return cell.to(tl.int32), pos - cell


@triton.jit
def _corner_row(c0, c1, c2, c3, b0: tl.constexpr, b1: tl.constexpr, b2: tl.constexpr, b3: tl.constexpr,
                st1, st2, st3, size, offset, D: tl.constexpr, HASHED: tl.constexpr):
    """int64 table row of the corner ``cell + (b0, b1, b2, b3)``."""
    if HASHED:
        h = (c0 + b0).to(tl.uint32)
        if D > 1:
            h = h ^ ((c1 + b1).to(tl.uint32) * PRIME1)
        if D > 2:
            h = h ^ ((c2 + b2).to(tl.uint32) * PRIME2)
        if D > 3:
            h = h ^ ((c3 + b3).to(tl.uint32) * PRIME3)
        index = (h & (size - 1).to(tl.uint32)).to(tl.int64)
    else:
        index = c0 + b0
        if D > 1:
            index += (c1 + b1) * st1
        if D > 2:
            index += (c2 + b2) * st2
        if D > 3:
            index += (c3 + b3) * st3
        index = tl.where(index >= size, index - size, index).to(tl.int64)
    return index + offset


@triton.jit
def _factor(s, b: tl.constexpr):
    if b:
        return s
    else:
        return 1.0 - s


@triton.jit
def _dfactor(ds, b: tl.constexpr):
    if b:
        return ds
    else:
        return -ds


@triton.jit
def grid_kernel(
    x_ptr, table_ptr, out_ptr, grad_out_ptr, grad_table_ptr, grad_x_ptr,
    scale_ptr, stride_ptr, size_ptr, offset_ptr, max_cell_ptr,
    N, level0, n_levels_total, shift,
    D: tl.constexpr, F: tl.constexpr, HASHED: tl.constexpr, CAP: tl.constexpr, SMOOTH: tl.constexpr,
    FORWARD: tl.constexpr, NEED_TABLE: tl.constexpr, NEED_X: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """Forward (``FORWARD``: ``out (N, L*F)``) or backward (``grad_out (N, L*F)`` into the float32
    ``grad_table (R, F)`` and/or ``grad_x (N, D)`` by atomic adds) of one level for ``BLOCK`` points."""
    pid = tl.program_id(0)
    level = level0 + tl.program_id(1)
    # every per-point tensor is (BLOCK, 1), broadcast against (1, F): one layout, no conversions
    n = (pid * BLOCK + tl.arange(0, BLOCK)[:, None]).to(tl.int64)
    mask = n < N
    feat = tl.arange(0, F)[None, :]
    scale = tl.load(scale_ptr + level)
    size = tl.load(size_ptr + level).to(tl.int32)
    offset = tl.load(offset_ptr + level)
    max_cell = tl.load(max_cell_ptr + level).to(tl.float32)
    st1 = tl.load(stride_ptr + level * D + 1 % D).to(tl.int32)
    st2 = tl.load(stride_ptr + level * D + 2 % D).to(tl.int32)
    st3 = tl.load(stride_ptr + level * D + 3 % D).to(tl.int32)

    c0, f0 = _axis(x_ptr, n, mask, scale, shift, max_cell, 0, D, CAP)
    c1, f1, c2, f2, c3, f3 = c0, f0, c0, f0, c0, f0
    if D > 1:
        c1, f1 = _axis(x_ptr, n, mask, scale, shift, max_cell, 1, D, CAP)
    if D > 2:
        c2, f2 = _axis(x_ptr, n, mask, scale, shift, max_cell, 2, D, CAP)
    if D > 3:
        c3, f3 = _axis(x_ptr, n, mask, scale, shift, max_cell, 3, D, CAP)
    s0, s1, s2, s3 = _smooth(f0, SMOOTH), _smooth(f1, SMOOTH), _smooth(f2, SMOOTH), _smooth(f3, SMOOTH)

    col = n * (n_levels_total * F) + level * F + feat  # (BLOCK, F) into out / grad_out
    mask2 = mask
    if FORWARD:
        acc = tl.zeros((BLOCK, F), dtype=tl.float32)
    else:
        g = tl.load(grad_out_ptr + col, mask=mask2, other=0.0).to(tl.float32)
        if NEED_X:
            ds0, ds1, ds2, ds3 = _dsmooth(f0, SMOOTH), _dsmooth(f1, SMOOTH), _dsmooth(f2, SMOOTH), _dsmooth(f3, SMOOTH)
            gx0 = tl.zeros((BLOCK, 1), dtype=tl.float32)
            gx1, gx2, gx3 = gx0, gx0, gx0

    for c in tl.static_range(2**D):
        b0 = c & 1  # constexpr: c is a static_range index
        b1 = (c >> 1) & 1
        b2 = (c >> 2) & 1
        b3 = (c >> 3) & 1
        row = _corner_row(c0, c1, c2, c3, b0, b1, b2, b3, st1, st2, st3, size, offset, D, HASHED)
        w0 = _factor(s0, b0)
        w1 = _factor(s1, b1)
        w2 = _factor(s2, b2)
        w3 = _factor(s3, b3)
        w = w0
        if D > 1:
            w = w * w1
        if D > 2:
            w = w * w2
        if D > 3:
            w = w * w3
        ptrs = tl.multiple_of(row * F, [F, F]) + feat  # F contiguous values per point: vector loads
        if FORWARD:
            values = tl.load(table_ptr + ptrs, mask=mask2, other=0.0).to(tl.float32)
            acc += w * values
        else:
            if NEED_TABLE:
                tl.atomic_add(grad_table_ptr + ptrs, w * g, mask=mask2, sem="relaxed")
            if NEED_X:
                values = tl.load(table_ptr + ptrs, mask=mask2, other=0.0).to(tl.float32)
                dot = tl.sum(values * g, axis=1, keep_dims=True)  # d out . g / d w  (BLOCK, 1)
                # d w / d f_i: the factor of axis i replaced by its derivative
                p0 = _dfactor(ds0, b0)
                p1 = _dfactor(ds1, b1)
                p2 = _dfactor(ds2, b2)
                p3 = _dfactor(ds3, b3)
                if D == 1:
                    gx0 += dot * p0
                if D == 2:
                    gx0 += dot * p0 * w1
                    gx1 += dot * w0 * p1
                if D == 3:
                    gx0 += dot * p0 * w1 * w2
                    gx1 += dot * w0 * p1 * w2
                    gx2 += dot * w0 * w1 * p2
                if D == 4:
                    gx0 += dot * p0 * w1 * w2 * w3
                    gx1 += dot * w0 * p1 * w2 * w3
                    gx2 += dot * w0 * w1 * p2 * w3
                    gx3 += dot * w0 * w1 * w2 * p3

    if FORWARD:
        tl.store(out_ptr + col, acc.to(out_ptr.dtype.element_ty), mask=mask2)
    else:
        if NEED_X:
            # d pos / d x = scale; the cap makes the cell constant in x, so it adds nothing
            tl.atomic_add(grad_x_ptr + n * D, gx0 * scale, mask=mask, sem="relaxed")
            if D > 1:
                tl.atomic_add(grad_x_ptr + n * D + 1, gx1 * scale, mask=mask, sem="relaxed")
            if D > 2:
                tl.atomic_add(grad_x_ptr + n * D + 2, gx2 * scale, mask=mask, sem="relaxed")
            if D > 3:
                tl.atomic_add(grad_x_ptr + n * D + 3, gx3 * scale, mask=mask, sem="relaxed")
