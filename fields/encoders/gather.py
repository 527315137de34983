"""Fused gather-and-weight: ``out[n] = sum_k w[n, k] * table[idx[n, k]]``.

This is the hot loop of every grid encoder. The forward pass uses ``embedding_bag`` (no materialised
``(N, K, F)`` tensor); the backward pass scatters into the table with ``index_add_`` and is itself built
from differentiable ops, so second derivatives (eikonal loss through ``d out / dx``) work.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class _WeightedGather(torch.autograd.Function):
    @staticmethod
    def forward(ctx, table: torch.Tensor, idx: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(table, idx, weights)
        return F.embedding_bag(idx, table, per_sample_weights=weights.to(table.dtype), mode="sum")

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        table, idx, weights = ctx.saved_tensors
        grad_table = grad_weights = None
        if ctx.needs_input_grad[0]:
            grad_table = weighted_scatter(grad_out, idx, weights, table.shape[0])
        if ctx.needs_input_grad[2]:
            # d out[n] / d w[n, k] = table[idx[n, k]]
            grad_weights = (weighted_gather_rows(table, idx) * grad_out[:, None, :]).sum(-1).to(weights.dtype)
        return grad_table, None, grad_weights


class _WeightedScatter(torch.autograd.Function):
    """``grad_table[idx[n, k]] += w[n, k] * g[n]``; its own backward is a weighted gather."""

    @staticmethod
    def forward(ctx, grad: torch.Tensor, idx: torch.Tensor, weights: torch.Tensor, n_rows: int) -> torch.Tensor:
        ctx.save_for_backward(idx, weights, grad)
        src = (weights.to(grad.dtype)[:, :, None] * grad[:, None, :]).reshape(-1, grad.shape[-1])
        out = grad.new_zeros(n_rows, grad.shape[-1])
        return out.index_add_(0, idx.reshape(-1), src)

    @staticmethod
    def backward(ctx, grad_table: torch.Tensor):
        idx, weights, grad = ctx.saved_tensors
        grad_grad = grad_weights = None
        if ctx.needs_input_grad[0]:
            grad_grad = weighted_gather(grad_table, idx, weights)
        if ctx.needs_input_grad[2]:
            grad_weights = (weighted_gather_rows(grad_table, idx) * grad[:, None, :]).sum(-1).to(weights.dtype)
        return grad_grad, None, grad_weights, None


def weighted_gather_rows(table: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``(R, F)``, ``(N, K)`` -> ``(N, K, F)``: plain row gather (used only in backward passes)."""
    return F.embedding(idx, table)


def weighted_gather(table: torch.Tensor, idx: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``table (R, F)``, ``idx (N, K)`` int64, ``weights (N, K)`` -> ``(N, F)``."""
    return _WeightedGather.apply(table, idx, weights)


def weighted_scatter(grad: torch.Tensor, idx: torch.Tensor, weights: torch.Tensor, n_rows: int) -> torch.Tensor:
    """``grad (N, F)`` -> ``(n_rows, F)`` with ``out[idx[n, k]] += weights[n, k] * grad[n]``."""
    return _WeightedScatter.apply(grad, idx, weights, n_rows)
