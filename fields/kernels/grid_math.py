"""Small shared pieces of grid interpolation."""

from __future__ import annotations

import torch


def smoothstep(t: torch.Tensor) -> torch.Tensor:
    """``t^2 (3 - 2t)``: C1 interpolation weights (tiny-cuda-nn's ``smoothstep``)."""
    return t * t * (3.0 - 2.0 * t)


def corner_weights(frac: torch.Tensor, interpolation: str = "linear") -> torch.Tensor:
    """Multilinear weights of the ``2**d`` cell corners.

    frac: ``(..., d)`` position inside the cell in [0, 1). Returns ``(..., 2**d)``; corner ``c`` uses
    ``frac_i`` where bit ``i`` of ``c`` is set and ``1 - frac_i`` otherwise.
    """
    if interpolation == "smoothstep":
        frac = smoothstep(frac)
    elif interpolation != "linear":
        raise ValueError(f"unknown interpolation '{interpolation}'")
    out = torch.stack((1.0 - frac[..., 0], frac[..., 0]), dim=-1)
    for i in range(1, frac.shape[-1]):
        f = frac[..., i : i + 1]
        out = torch.cat((out * (1.0 - f), out * f), dim=-1)
    return out


def spatial_order(x: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """A permutation ``(N,)`` that puts points ``(N, d)`` in [0, 1] in raster order of a ``2**bits`` grid
    (first coordinate fastest). Grid lookups in this order touch table rows in nearly increasing order,
    which makes the gathers and the scatter of the backward pass cache-friendly on CPU (several times
    faster); the result is the same up to float summation order."""
    q = (x.detach() * (2**bits - 1)).round().long()
    key = q[:, 0]
    for i in range(1, x.shape[1]):
        key = key + (q[:, i] << (bits * i))
    return key.argsort()


def inverse_permutation(order: torch.Tensor) -> torch.Tensor:
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(order.shape[0], device=order.device)
    return inverse
