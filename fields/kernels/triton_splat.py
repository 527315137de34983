"""The ``triton`` backend of the splat rasterizer on CUDA: compositing forward and analytic backward per tile.

Binning and the depth sort stay in torch (``fields.render.splat.tiles``, one ``torch.sort``); the kernels
(``triton_splat_kernels.py``) run one program per tile. Computation is in float32. The backward kernel writes
per-intersection gradient rows that ``index_add_`` sums per Gaussian. A kernel that fails to compile or launch is
turned off for the process with one logged line (``triton_runtime``) and the caller runs the torch reference.
Second derivatives are not provided. Nothing here imports ``triton`` until a kernel runs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from fields.kernels import triton_runtime

NAME = "splat compositing"
# Gaussians per early-termination check; warps per tile program. benchmarks/gpu.py may try others.
LAUNCH = {"GROUP": 8, "num_warps": 4}
MAX_CHANNELS = 32
Reference = Callable[..., tuple[torch.Tensor, torch.Tensor]]


def _channels_padded(c: int) -> int:
    return 1 << max(0, (c - 1).bit_length())


def _launch_args(bins, channels: int) -> dict:
    return {"TS": bins.tile_size, "BLOCK": bins.tile_size * bins.tile_size, "CP": _channels_padded(channels),
            "GROUP": LAUNCH["GROUP"], "num_warps": LAUNCH["num_warps"]}  # fmt: skip


def _reference_grads(reference, inputs, bins, grad_image, grad_alpha):
    with torch.enable_grad():
        leaves = [t.detach().requires_grad_() for t in inputs]
        image, alpha = reference(*leaves, bins)
    return torch.autograd.grad((image, alpha), leaves, (grad_image, grad_alpha), allow_unused=True)


class _Composite(torch.autograd.Function):
    @staticmethod
    def forward(ctx, means2d, conics, opacities, features, bins, reference):
        from fields.kernels.triton_splat_kernels import splat_forward_kernel

        dtype = features.dtype
        tensors = [t.detach().float().contiguous() for t in (means2d, conics, opacities, features)]
        channels = features.shape[1]
        device = features.device
        image = torch.empty(bins.height, bins.width, channels, dtype=torch.float32, device=device)
        trans = torch.empty(bins.height, bins.width, dtype=torch.float32, device=device)
        last = torch.empty(bins.height, bins.width, dtype=torch.int32, device=device)
        if bins.n_tiles:
            splat_forward_kernel[(bins.n_tiles,)](
                *tensors, bins.gaussian_ids, bins.tile_offsets, image, trans, last, bins.width, bins.height,
                bins.tiles_x, channels, **_launch_args(bins, channels))  # fmt: skip
        ctx.save_for_backward(*tensors, trans, last)
        ctx.bins, ctx.reference = bins, reference
        ctx.dtypes = [t.dtype for t in (means2d, conics, opacities, features)]
        return image.to(dtype), (1 - trans)[..., None].to(dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_image, grad_alpha):
        means2d, conics, opac, feats, trans, last = ctx.saved_tensors
        bins = ctx.bins
        channels = feats.shape[1]
        gi = (torch.zeros(*trans.shape, channels, device=trans.device) if grad_image is None else grad_image)
        ga = (torch.zeros(*trans.shape, 1, device=trans.device) if grad_alpha is None else grad_alpha)
        try:
            from fields.kernels.triton_splat_kernels import splat_backward_kernel

            isect = torch.zeros(bins.gaussian_ids.shape[0], 6 + channels, dtype=torch.float32, device=feats.device)
            if bins.n_tiles:
                splat_backward_kernel[(bins.n_tiles,)](
                    means2d, conics, opac, feats, bins.gaussian_ids, bins.tile_offsets, trans, last,
                    gi.float().contiguous(), ga[..., 0].float().contiguous(), isect, bins.width, bins.height,
                    bins.tiles_x, channels, **_launch_args(bins, channels))  # fmt: skip
            per_gaussian = torch.zeros(feats.shape[0], 6 + channels, dtype=torch.float32, device=feats.device)
            per_gaussian.index_add_(0, bins.gaussian_ids, isect)
            grads = per_gaussian.split([2, 3, 1, channels], dim=1)
            grads = (grads[0], grads[1], grads[2][:, 0], grads[3])
        except Exception as err:  # noqa: BLE001  (a kernel that does not compile: the reference still works)
            triton_runtime.fail(NAME, err)
            grads = _reference_grads(ctx.reference, (means2d, conics, opac, feats), bins, gi.float(), ga.float())
        return (*(None if g is None else g.to(d) for g, d in zip(grads, ctx.dtypes)), None, None)


def supports(features: torch.Tensor, tile_size: int) -> bool:
    """CUDA tensors (or CPU under Triton's interpreter), 1-32 channels, a power-of-two tile of 4 to 32 px."""
    return (triton_runtime.usable(NAME, features) and 1 <= features.shape[1] <= MAX_CHANNELS
            and tile_size in (4, 8, 16, 32))


def composite_triton(means2d: torch.Tensor, conics: torch.Tensor, opacities: torch.Tensor, features: torch.Tensor,
                     bins, reference: Reference) -> tuple[torch.Tensor, torch.Tensor] | None:
    """As ``fields.render.splat.composite.composite_torch`` (``reference``, used for the backward pass if the
    backward kernel fails), or ``None`` when the kernels cannot run here (logged once)."""
    if not supports(features, bins.tile_size):
        return None
    try:
        return _Composite.apply(means2d, conics, opacities, features, bins, reference)
    except Exception as err:  # noqa: BLE001  (ImportError, a compile or launch error)
        triton_runtime.fail(NAME, err)
        return None
