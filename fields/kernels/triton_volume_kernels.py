"""Triton kernels of packed volume rendering: per-ray transmittance scan, alphas, weights, backward.

Imported only by ``fields.kernels.triton_volume`` (it imports ``triton``). One program per ray walks
the ray's samples ``[start, start + count)`` in chunks of ``BLOCK``, carrying the running sum between
chunks: ``sd = sigma * delta``, ``T_i = exp(-sum_{j<i} sd_j)``, ``alpha_i = 1 - exp(-sd_i)``,
``w_i = T_i alpha_i``. The backward pass walks the chunks last to first with a reverse scan:

    d L / d sd_k = exp(-sd_k) (gA_k + gW_k T_k) - sum_{i>k} T_i (gT_i + gW_i alpha_i)
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def transmittance_forward_kernel(sd_ptr, info_ptr, t_ptr, alpha_ptr, w_ptr, BLOCK: tl.constexpr):
    ray = tl.program_id(0).to(tl.int64)
    start = tl.load(info_ptr + 2 * ray)
    count = tl.load(info_ptr + 2 * ray + 1)
    carry = tl.zeros((), dtype=tl.float32)
    for k in range(0, count, BLOCK):
        i = k + tl.arange(0, BLOCK)
        mask = i < count
        sd = tl.load(sd_ptr + start + i, mask=mask, other=0.0).to(tl.float32)
        exclusive = tl.cumsum(sd, 0) - sd + carry
        t = tl.exp(-exclusive)
        alpha = 1.0 - tl.exp(-sd)
        tl.store(t_ptr + start + i, t.to(t_ptr.dtype.element_ty), mask=mask)
        tl.store(alpha_ptr + start + i, alpha.to(alpha_ptr.dtype.element_ty), mask=mask)
        tl.store(w_ptr + start + i, (t * alpha).to(w_ptr.dtype.element_ty), mask=mask)
        carry += tl.sum(sd, 0)


@triton.jit
def transmittance_backward_kernel(
    sd_ptr, t_ptr, info_ptr, gw_ptr, gt_ptr, ga_ptr, gsd_ptr,
    HAS_GW: tl.constexpr, HAS_GT: tl.constexpr, HAS_GA: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    ray = tl.program_id(0).to(tl.int64)
    start = tl.load(info_ptr + 2 * ray)
    count = tl.load(info_ptr + 2 * ray + 1)
    n_chunks = (count + BLOCK - 1) // BLOCK
    carry = tl.zeros((), dtype=tl.float32)
    for j in range(0, n_chunks):
        i = (n_chunks - 1 - j) * BLOCK + tl.arange(0, BLOCK)
        mask = i < count
        sd = tl.load(sd_ptr + start + i, mask=mask, other=0.0).to(tl.float32)
        t = tl.load(t_ptr + start + i, mask=mask, other=0.0).to(tl.float32)
        survive = tl.exp(-sd)
        own = tl.zeros((BLOCK,), dtype=tl.float32)  # d L / d alpha_k, through w_k and alpha_k
        later = tl.zeros((BLOCK,), dtype=tl.float32)  # d L / d T_i, through w_i and T_i
        if HAS_GW:
            gw = tl.load(gw_ptr + start + i, mask=mask, other=0.0).to(tl.float32)
            own += gw * t
            later += gw * (1.0 - survive)
        if HAS_GA:
            own += tl.load(ga_ptr + start + i, mask=mask, other=0.0).to(tl.float32)
        if HAS_GT:
            later += tl.load(gt_ptr + start + i, mask=mask, other=0.0).to(tl.float32)
        term = t * later
        suffix = tl.cumsum(term, 0, reverse=True) - term + carry
        gsd = survive * own - suffix
        tl.store(gsd_ptr + start + i, gsd.to(gsd_ptr.dtype.element_ty), mask=mask)
        carry += tl.sum(term, 0)
