"""The Triton path of packed volume rendering on CUDA: transmittance, alphas and weights from
``sigma * delta`` in one pass per ray, and their backward in one reverse pass.

``fields.render.volume_rendering`` calls ``weights_from_density`` for packed CUDA inputs; it returns
``None`` (the torch reference runs) when triton is missing, off (``FIELDS_TRITON=0``), or its kernels
fail (one logged line). Second derivatives go through the torch reference. Nothing here imports
``triton`` until a kernel runs.
"""

from __future__ import annotations

from typing import Optional

import torch

from fields.kernels import triton_runtime
from fields.kernels.packing import exclusive_sum

NAME = "volume rendering"
LAUNCH = {"BLOCK": 128, "num_warps": 4}


def packed_info(ray_indices: torch.Tensor) -> torch.Tensor:
    """Sorted ``ray_indices (N,)`` -> ``(n_segments, 2)`` int64 ``(start, count)`` of each run of equal
    indices (rays without samples have no row)."""
    n = ray_indices.shape[0]
    first = torch.ones(n, dtype=torch.bool, device=ray_indices.device)
    first[1:] = ray_indices[1:] != ray_indices[:-1]
    starts = first.nonzero().squeeze(1)
    ends = torch.cat((starts[1:], starts.new_tensor([n])))
    return torch.stack((starts, ends - starts), dim=-1).contiguous()


def _reference(sd: torch.Tensor, ray_indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    transmittance = torch.exp(-exclusive_sum(sd, ray_indices))
    alphas = 1.0 - torch.exp(-sd)
    return transmittance * alphas, transmittance, alphas


class _PackedWeights(torch.autograd.Function):
    @staticmethod
    def forward(ctx, sd: torch.Tensor, info: torch.Tensor, ray_indices: torch.Tensor):
        from fields.kernels.triton_volume_kernels import transmittance_forward_kernel

        sd = sd.contiguous()
        t, alpha, w = torch.empty_like(sd), torch.empty_like(sd), torch.empty_like(sd)
        if info.shape[0]:
            transmittance_forward_kernel[(info.shape[0],)](sd, info, t, alpha, w, BLOCK=LAUNCH["BLOCK"],
                                                           num_warps=LAUNCH["num_warps"])  # fmt: skip
        ctx.save_for_backward(sd, t, info, ray_indices)
        ctx.set_materialize_grads(False)
        return w, t, alpha

    @staticmethod
    def backward(ctx, grad_w, grad_t, grad_alpha):
        sd, t, info, ray_indices = ctx.saved_tensors
        if torch.is_grad_enabled() or not triton_runtime.usable(NAME, sd):
            return _reference_backward(sd, ray_indices, (grad_w, grad_t, grad_alpha)), None, None
        try:
            from fields.kernels.triton_volume_kernels import transmittance_backward_kernel

            grad_sd = torch.empty_like(sd)
            given = [g.contiguous() if g is not None else None for g in (grad_w, grad_t, grad_alpha)]
            if info.shape[0]:
                transmittance_backward_kernel[(info.shape[0],)](
                    sd, t, info, *(g if g is not None else sd for g in given), grad_sd,
                    HAS_GW=given[0] is not None, HAS_GT=given[1] is not None, HAS_GA=given[2] is not None,
                    BLOCK=LAUNCH["BLOCK"], num_warps=LAUNCH["num_warps"],
                )  # fmt: skip
            return grad_sd, None, None
        except Exception as err:
            triton_runtime.fail(NAME, err)
            return _reference_backward(sd, ray_indices, (grad_w, grad_t, grad_alpha)), None, None


def _reference_backward(sd, ray_indices, grads):
    """``d L / d sd`` through the torch reference (differentiable when a graph is being built)."""
    with torch.enable_grad():
        sd_ = sd if sd.requires_grad else sd.detach().requires_grad_(True)  # keeps the graph for double backward
        outputs = _reference(sd_, ray_indices)
    pairs = [(o, g) for o, g in zip(outputs, grads) if g is not None]
    if not pairs:
        return None
    (grad,) = torch.autograd.grad([o for o, _ in pairs], [sd_], [g for _, g in pairs],
                                  create_graph=torch.is_grad_enabled())  # fmt: skip
    return grad


def weights_from_sigma_delta(sd: torch.Tensor, ray_indices: torch.Tensor,
                             required: bool = False) -> Optional[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Packed ``sd = sigma * delta (N,)`` with sorted ``ray_indices (N,)`` -> ``(weights, transmittance,
    alphas)`` each ``(N,)``, differentiable in ``sd``; ``None`` when the kernel cannot run here."""
    if sd.dim() != 1 or sd.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        return None
    if not triton_runtime.usable(NAME, sd, ray_indices):
        return None
    try:
        return _PackedWeights.apply(sd, packed_info(ray_indices), ray_indices)
    except Exception as err:  # ImportError, compile or launch error
        triton_runtime.fail(NAME, err, required=required)
        return None


def weights_from_density(t_starts: torch.Tensor, t_ends: torch.Tensor, sigmas: torch.Tensor,
                         ray_indices: torch.Tensor) -> Optional[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """``render_weights_from_density`` for the packed layout: ``(weights, transmittance, alphas)``, or
    ``None`` (use the torch reference)."""
    if not triton_runtime.usable(NAME, sigmas, ray_indices):
        return None
    return weights_from_sigma_delta(sigmas * (t_ends - t_starts), ray_indices)
