"""The ``gsplat`` backend: gsplat's CUDA projection, tile intersection and rasterization (gsplat >= 1.0).

Only imported when the backend is chosen. gsplat compiles its CUDA ops on first use (or ships them in a
matching wheel); if anything fails the adapter logs one line, disables itself for the process and the caller
falls back to the torch path. gsplat's semantics differ slightly from the other backends (its own radius rule,
alpha capped at 0.999), so its images agree with theirs to about 1e-3, not bit for bit.
"""

from __future__ import annotations

import logging

import torch

from fields.render.splat.output import SplatRender

log = logging.getLogger("fields")
_failed: list[str] = []


def rasterize_gsplat(means, quats, scales, opacities, colors, viewmat, K, width, height, background, antialiased,
                     tile_size, near, far, eps2d):
    """As ``rasterize_gaussians`` (same arguments and result), or ``None`` when gsplat cannot run."""
    if _failed:
        return None
    try:
        from gsplat import fully_fused_projection, isect_offset_encode, isect_tiles, rasterize_to_pixels

        radii, means2d, depths, conics, comp = fully_fused_projection(
            means, None, quats, scales, viewmat[None], K[None], width, height, eps2d, near, far, 0.0, False, False,
            antialiased)  # fmt: skip
        m2d = means2d[0]
        if m2d.requires_grad:
            m2d.retain_grad()
        radii_n = radii[0] if radii.dim() == 2 else radii[0].amax(dim=-1)
        tiles_x, tiles_y = -(-width // tile_size), -(-height // tile_size)
        _, isect_ids, flatten_ids = isect_tiles(m2d[None], radii, depths, tile_size, tiles_x, tiles_y)
        offsets = isect_offset_encode(isect_ids, 1, tiles_x, tiles_y)
        opac = opacities[None] * comp if antialiased else opacities[None]
        features = torch.cat((colors, depths[0, :, None]), dim=1)[None]
        image, alpha = rasterize_to_pixels(m2d[None], conics, features, opac, width, height, tile_size, offsets,
                                           flatten_ids)
    except Exception as err:  # noqa: BLE001  (a failed CUDA build or an API change: fall back, said once)
        _failed.append(f"{type(err).__name__}: {err}")
        log.warning("gsplat backend failed, using the torch path (%s)", _failed[0].splitlines()[0])
        return None
    image, alpha = image[0], alpha[0]
    rgb = image[..., :3]
    if background is not None:
        rgb = rgb + (1 - alpha) * background.to(rgb)
    depth = image[..., 3:] / alpha.clamp_min(1e-10)
    return SplatRender(rgb=rgb, alpha=alpha, depth=depth, means2d=m2d, radii=radii_n.to(torch.int32), backend="gsplat")
