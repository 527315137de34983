"""Triton kernels of splat compositing: one program per tile, its pixels as one vector of ``BLOCK = tile_size^2``.

Imported only by ``fields.kernels.triton_splat`` (it imports ``triton``). The forward program walks the tile's
depth-sorted list in groups of ``GROUP`` Gaussians (a ``while`` loop that ends when every pixel has stopped),
each Gaussian a vector step over the pixels with the rule of ``fields/render/splat/composite.py``. The backward
program walks the list from each tile's last composited Gaussian back to its first, recovering
``T_before = T_after / (1 - alpha)`` from the final transmittance, and stores each Gaussian's sums over the
tile's pixels in the Gaussian's own row of a per-intersection buffer (no atomics; summed per Gaussian later).
Feature rows are padded to ``CP`` (a power of two) channels.
"""

from __future__ import annotations

import triton
import triton.language as tl

ALPHA_MIN = 1.0 / 255.0
ALPHA_MAX = 0.99
T_MIN = 1e-4


@triton.jit
def _pixels(tile, tiles_x, width, height, TS: tl.constexpr, BLOCK: tl.constexpr):
    """The tile's pixels: ``px, py`` (int), ``inside`` the image, centres ``cx, cy`` (float), each ``(BLOCK,)``."""
    ty = tile // tiles_x
    tx = tile - ty * tiles_x
    i = tl.arange(0, BLOCK)
    px = tx * TS + i % TS
    py = ty * TS + i // TS
    inside = (px < width) & (py < height)
    return px, py, inside, px.to(tl.float32) + 0.5, py.to(tl.float32) + 0.5


@triton.jit
def _gaussian(k, live, ids_ptr, means_ptr, conics_ptr, opac_ptr, feats_ptr, C, ch, cx, cy):
    """Entry ``k`` of the tile's list (``live``: within it): the Gaussian's conic ``ca, cb, cc``, opacity ``o``,
    features ``f (CP,)``, and per pixel its offset ``dx, dy`` and exponent ``sigma``, each ``(BLOCK,)``."""
    g = tl.load(ids_ptr + k, mask=live, other=0)
    mx = tl.load(means_ptr + 2 * g)
    my = tl.load(means_ptr + 2 * g + 1)
    ca = tl.load(conics_ptr + 3 * g)
    cb = tl.load(conics_ptr + 3 * g + 1)
    cc = tl.load(conics_ptr + 3 * g + 2)
    o = tl.load(opac_ptr + g)
    f = tl.load(feats_ptr + g * C + ch, mask=ch < C, other=0.0)
    dx = mx - cx
    dy = my - cy
    sigma = 0.5 * (ca * (dx * dx) + cc * (dy * dy)) + cb * dx * dy
    return ca, cb, cc, o, f, dx, dy, sigma


@triton.jit
def splat_forward_kernel(
    means_ptr, conics_ptr, opac_ptr, feats_ptr, ids_ptr, offsets_ptr, image_ptr, trans_ptr, last_ptr,
    width, height, tiles_x, C,
    TS: tl.constexpr, BLOCK: tl.constexpr, CP: tl.constexpr, GROUP: tl.constexpr,
):  # fmt: skip
    tile = tl.program_id(0)
    px, py, inside, cx, cy = _pixels(tile, tiles_x, width, height, TS, BLOCK)
    start = tl.load(offsets_ptr + tile)
    end = tl.load(offsets_ptr + tile + 1)
    ch = tl.arange(0, CP)
    T = tl.full((BLOCK,), 1.0, tl.float32)
    acc = tl.zeros((BLOCK, CP), tl.float32)
    last = tl.zeros((BLOCK,), tl.int32)
    active = inside
    k0 = start
    n_active = tl.sum(active.to(tl.int32), 0)
    while (k0 < end) & (n_active > 0):
        for j in tl.static_range(GROUP):
            k = k0 + j
            live = k < end
            ca, cb, cc, o, f, dx, dy, sigma = _gaussian(k, live, ids_ptr, means_ptr, conics_ptr, opac_ptr, feats_ptr, C,
                                                        ch, cx, cy)
            alpha = tl.minimum(o * tl.exp(-sigma), ALPHA_MAX)
            valid = active & live & (sigma >= 0) & (alpha >= ALPHA_MIN)
            next_t = T * (1.0 - alpha)
            stop = valid & (next_t <= T_MIN)
            use = valid & (next_t > T_MIN)
            active = active & ~stop
            w = tl.where(use, alpha * T, 0.0)
            acc += w[:, None] * f[None, :]
            T = tl.where(use, next_t, T)
            last = tl.where(use, (k - start + 1).to(tl.int32), last)
        k0 += GROUP
        n_active = tl.sum(active.to(tl.int32), 0)
    q = py * width + px
    tl.store(trans_ptr + q, T, mask=inside)
    tl.store(last_ptr + q, last, mask=inside)
    tl.store(image_ptr + q[:, None] * C + ch[None, :], acc, mask=inside[:, None] & (ch[None, :] < C))


@triton.jit
def splat_backward_kernel(
    means_ptr, conics_ptr, opac_ptr, feats_ptr, ids_ptr, offsets_ptr, trans_ptr, last_ptr, gimage_ptr, galpha_ptr,
    isect_ptr, width, height, tiles_x, C,
    TS: tl.constexpr, BLOCK: tl.constexpr, CP: tl.constexpr, GROUP: tl.constexpr,
):  # fmt: skip
    tile = tl.program_id(0)
    px, py, inside, cx, cy = _pixels(tile, tiles_x, width, height, TS, BLOCK)
    q = py * width + px
    start = tl.load(offsets_ptr + tile)
    ch = tl.arange(0, CP)
    cmask = inside[:, None] & (ch[None, :] < C)
    t_final = tl.load(trans_ptr + q, mask=inside, other=1.0)
    last = tl.load(last_ptr + q, mask=inside, other=0)
    G = tl.load(gimage_ptr + q[:, None] * C + ch[None, :], mask=cmask, other=0.0)
    ga = tl.load(galpha_ptr + q, mask=inside, other=0.0)
    T = t_final
    buf = tl.zeros((BLOCK, CP), tl.float32)
    R = 6 + C
    max_last = tl.max(last, 0)
    n_groups = (max_last + GROUP - 1) // GROUP
    for gi in range(n_groups):
        base = (n_groups - 1 - gi) * GROUP
        for jj in tl.static_range(GROUP):
            j = base + (GROUP - 1 - jj)
            live = j < max_last
            k = start + j
            ca, cb, cc, o, f, dx, dy, sigma = _gaussian(k, live, ids_ptr, means_ptr, conics_ptr, opac_ptr, feats_ptr, C,
                                                        ch, cx, cy)
            gauss = tl.exp(-sigma)
            raw = o * gauss
            alpha = tl.minimum(raw, ALPHA_MAX)
            inc = live & (j < last) & (sigma >= 0) & (alpha >= ALPHA_MIN)
            one_minus = 1.0 - alpha
            t_before = tl.where(inc, T / one_minus, T)
            w = tl.where(inc, alpha * t_before, 0.0)
            gf = tl.sum(w[:, None] * G, 0)
            v_alpha = tl.sum(G * (f[None, :] * t_before[:, None] - buf / one_minus[:, None]), 1)
            v_alpha += ga * t_final / one_minus
            v_alpha = tl.where(inc, v_alpha, 0.0)
            buf += w[:, None] * f[None, :]
            T = t_before
            grad_ok = inc & (raw <= ALPHA_MAX)
            v_sigma = tl.where(grad_ok, -raw * v_alpha, 0.0)
            go = tl.sum(tl.where(grad_ok, gauss * v_alpha, 0.0), 0)
            row = isect_ptr + k * R
            tl.store(row + 0, tl.sum(v_sigma * (ca * dx + cb * dy), 0), mask=live)
            tl.store(row + 1, tl.sum(v_sigma * (cb * dx + cc * dy), 0), mask=live)
            tl.store(row + 2, tl.sum(0.5 * dx * dx * v_sigma, 0), mask=live)
            tl.store(row + 3, tl.sum(dx * dy * v_sigma, 0), mask=live)
            tl.store(row + 4, tl.sum(0.5 * dy * dy * v_sigma, 0), mask=live)
            tl.store(row + 5, go, mask=live)
            tl.store(row + 6 + ch, gf, mask=ch < C * live.to(tl.int32))  # live & (ch < C)
