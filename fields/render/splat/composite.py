"""Front-to-back alpha compositing of the tile lists: the plain-PyTorch reference (``backend="torch"``).

Per pixel ``p`` and Gaussian ``i`` in depth order, with ``d = mean2d_i - p`` (``p`` the pixel centre):
``sigma = 1/2 d^T conic d``, ``alpha = min(0.99, o_i exp(-sigma))``; Gaussians with ``sigma < 0`` or
``alpha < 1/255`` are skipped; compositing stops before the Gaussian that would bring the transmittance
``T`` to ``1e-4`` or below. Output ``sum_i f_i alpha_i T_i`` per feature channel and ``alpha = 1 - T_final``.

The reference is vectorised over the ``(pixels, Gaussians)`` pairs of one tile (Gaussians in chunks, a tile
stops when all its pixels have stopped) with a Python loop over tiles. Its backward pass is autograd, run
tile by tile on a recomputed forward (so memory stays at one tile's pairs); it is exact in float64 and
serves ``gradcheck`` and the parity tests of the fast backends.
"""

from __future__ import annotations

import torch

from fields.render.splat.project import ALPHA_MIN
from fields.render.splat.tiles import TileBins

ALPHA_MAX = 0.99
T_MIN = 1e-4
CHUNK = 1024


def tile_pixels(bins: TileBins, tile: int, dtype: torch.dtype, device: torch.device):
    """Pixel rows ``(P,)``, columns ``(P,)`` (int64) and centres ``(P, 2)`` of one tile (clipped to the image)."""
    ty, tx = divmod(tile, bins.tiles_x)
    s = bins.tile_size
    ys = torch.arange(ty * s, min((ty + 1) * s, bins.height), device=device)
    xs = torch.arange(tx * s, min((tx + 1) * s, bins.width), device=device)
    rows, cols = torch.meshgrid(ys, xs, indexing="ij")
    rows, cols = rows.reshape(-1), cols.reshape(-1)
    centres = torch.stack((cols, rows), dim=-1).to(dtype) + 0.5
    return rows, cols, centres


def composite_tile(means2d: torch.Tensor, conics: torch.Tensor, opacities: torch.Tensor, features: torch.Tensor,
                   pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Composite ``K`` depth-sorted Gaussians (means2d ``(K, 2)``, conics ``(K, 3)``, opacities ``(K,)``,
    features ``(K, C)``) at pixel centres ``(P, 2)`` -> features ``(P, C)``, final transmittance ``(P,)``."""
    n_pix = pixels.shape[0]
    out = features.new_zeros(n_pix, features.shape[1])
    T = features.new_ones(n_pix)
    done = torch.zeros(n_pix, dtype=torch.bool, device=pixels.device)
    for start in range(0, means2d.shape[0], CHUNK):
        sl = slice(start, start + CHUNK)
        d = means2d[None, sl, :] - pixels[:, None, :]
        cx, cy, cz = conics[sl].unbind(-1)
        sigma = 0.5 * (cx * d[..., 0] ** 2 + cz * d[..., 1] ** 2) + cy * d[..., 0] * d[..., 1]
        alpha = torch.clamp(opacities[sl] * torch.exp(-sigma), max=ALPHA_MAX)
        valid = (sigma >= 0) & (alpha >= ALPHA_MIN) & ~done[:, None]
        with torch.no_grad():  # which pairs are composited: the same sequential products as the kernels
            a = torch.where(valid, alpha, torch.zeros_like(alpha))
            t_after = torch.cumprod(torch.cat((T.detach()[:, None], 1 - a), dim=1), dim=1)[:, 1:]
            stop = valid & (t_after <= T_MIN)
            included = valid & (t_after > T_MIN)
            done = done | stop.any(dim=1)
        a = torch.where(included, alpha, torch.zeros_like(alpha))
        t_before = torch.cumprod(torch.cat((T[:, None], 1 - a[:, :-1]), dim=1), dim=1)
        out = out + (a * t_before) @ features[sl]
        T = t_before[:, -1] * (1 - a[:, -1])
        if bool(done.all()):
            break
    return out, T


def _tile_forward(means2d, conics, opacities, features, bins: TileBins, tile: int):
    ids = bins.gaussian_ids[bins.tile_offsets[tile]:bins.tile_offsets[tile + 1]]
    rows, cols, centres = tile_pixels(bins, tile, means2d.dtype, means2d.device)
    out, T = composite_tile(means2d[ids], conics[ids], opacities[ids], features[ids], centres)
    return rows, cols, out, T


class _Composite(torch.autograd.Function):
    @staticmethod
    def forward(ctx, means2d, conics, opacities, features, bins: TileBins):
        image = features.new_zeros(bins.height, bins.width, features.shape[1])
        transmittance = features.new_ones(bins.height, bins.width)
        for tile in _busy_tiles(bins):
            rows, cols, out, T = _tile_forward(means2d, conics, opacities, features, bins, tile)
            image[rows, cols] = out
            transmittance[rows, cols] = T
        ctx.save_for_backward(means2d, conics, opacities, features)
        ctx.bins = bins
        return image, 1 - transmittance[..., None]

    @staticmethod
    def backward(ctx, grad_image, grad_alpha):
        inputs = ctx.saved_tensors
        grads = [torch.zeros_like(t) for t in inputs]
        bins = ctx.bins
        for tile in _busy_tiles(bins):
            ids = bins.gaussian_ids[bins.tile_offsets[tile]:bins.tile_offsets[tile + 1]]
            with torch.enable_grad():
                local = [t.detach()[ids].requires_grad_() for t in inputs]
                rows, cols, centres = tile_pixels(bins, tile, local[0].dtype, local[0].device)
                out, T = composite_tile(*local, centres)
                g = torch.autograd.grad((out, T), local, (grad_image[rows, cols], -grad_alpha[rows, cols, 0]),
                                        allow_unused=True)
            for total, part in zip(grads, g):
                if part is not None:
                    total.index_add_(0, ids, part)
        return (*grads, None)


def _busy_tiles(bins: TileBins) -> list[int]:
    counts = bins.tile_offsets[1:] - bins.tile_offsets[:-1]
    return torch.nonzero(counts).flatten().tolist()


def composite_torch(means2d: torch.Tensor, conics: torch.Tensor, opacities: torch.Tensor, features: torch.Tensor,
                    bins: TileBins) -> tuple[torch.Tensor, torch.Tensor]:
    """Composite binned Gaussians: means2d ``(N, 2)``, conics ``(N, 3)``, opacities ``(N,)`` (compensated),
    features ``(N, C)`` -> image ``(H, W, C)`` (no background) and alpha ``(H, W, 1)``; differentiable."""
    return _Composite.apply(means2d, conics, opacities, features, bins)
