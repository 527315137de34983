"""Pairs of degraded and clean images for restoration heads.

Two sources, both from scikit-image's bundled photographs cut to ``size x size`` RGB squares:

- ``synthetic``: additive Gaussian noise of std ``noise_std`` and/or a Gaussian blur of std
  ``blur_sigma`` pixels (seeded per image), clamped to [0, 1].
- ``renders``: renders of image fields (hash grid + MLP, ``fields.tasks.image_fit``) stopped after
  ``early_steps`` against the same field trained for ``converged_steps``: the restorer learns to finish
  a fit. The clean image is the converged render (the target a longer fit reaches), not the photograph.

``restore_pairs`` returns ``(degraded, clean)``, each ``(N, 3, size, size)`` in [0, 1]; render pairs are
cached in ``cache_dir`` under a hash of their settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from fields.datasets.head_data import PairsConfig  # noqa: F401  (data.pairs)
from fields.datasets.image import SKIMAGE_PREFIX, load_image
from fields.io import atomic_path

log = logging.getLogger("fields")




def square_image(name: str, size: int) -> torch.Tensor:
    """``skimage:NAME`` or a path -> ``(3, size, size)``: shorter side resized to ``size``, centre crop."""
    source = name if ":" in name or Path(name).suffix else SKIMAGE_PREFIX + name
    image = load_image(source, "rgb").permute(2, 0, 1)[None]
    h, w = image.shape[-2:]
    scale = size / min(h, w)
    hh, ww = max(size, round(h * scale)), max(size, round(w * scale))
    image = F.interpolate(
        image, size=(hh, ww), mode="area" if scale < 1 else "bilinear", align_corners=None if scale < 1 else False
    )
    top, left = (hh - size) // 2, (ww - size) // 2
    return image[0, :3, top : top + size, left : left + size].clamp(0, 1).contiguous()


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(N, C, H, W)`` with reflect padding."""
    if sigma <= 0:
        return image
    radius = max(1, int(3 * sigma + 0.5))
    x = torch.arange(-radius, radius + 1, dtype=image.dtype)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    c = image.shape[1]
    out = F.conv2d(
        F.pad(image, (radius, radius, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c
    )
    return F.conv2d(
        F.pad(out, (0, 0, radius, radius), mode="reflect"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c
    )


def synthetic_pairs(clean: torch.Tensor, config: PairsConfig, salt: int = 0) -> torch.Tensor:
    """``clean (N, 3, H, W)`` -> degraded copies (blur, then noise), seeded by ``(seed, salt)``."""
    g = torch.Generator().manual_seed(config.seed * 1000 + salt)
    degraded = gaussian_blur(clean, config.blur_sigma)
    return (degraded + config.noise_std * torch.randn(clean.shape, generator=g)).clamp(0, 1)


RenderPair = Callable[[torch.Tensor, PairsConfig], tuple[torch.Tensor, torch.Tensor]]


def restore_pairs(images: list[str], config: PairsConfig, cache_dir: str | Path | None = None, salt: int = 0,
                  render_pair: Optional[RenderPair] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(degraded, clean)`` pairs ``(N, 3, size, size)`` for the named images. ``renders`` pairs need
    ``render_pair(image (3, S, S), config) -> (early, converged)`` renders (the restore task passes
    ``fields.tasks.image_fit.render_pair``: fitting fields is not a data set's job)."""
    if config.source == "synthetic":
        clean = torch.stack([square_image(n, config.size) for n in images])
        return synthetic_pairs(clean, config, salt), clean
    key = hashlib.sha1(json.dumps([images, config.model_dump(mode="json"), 2]).encode()).hexdigest()[
        :16
    ]  # 2: in-process fits
    path = Path(cache_dir or tempfile.gettempdir()).expanduser() / f"render-pairs-{key}.safetensors"
    if path.is_file():
        data = load_file(str(path))
        return data["degraded"], data["clean"]
    log.info("fitting image fields for %d render pairs (early %d / converged %d steps)", len(images),
             config.early_steps, config.converged_steps)
    if render_pair is None:
        raise ValueError("render pairs need a render_pair function (fields.tasks.image_fit.render_pair)")
    pairs = [render_pair(square_image(n, config.size), config) for n in images]
    degraded, clean = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file({"degraded": degraded, "clean": clean}, tmp)
    return degraded, clean


__all__ = ["PairsConfig", "restore_pairs", "square_image", "gaussian_blur", "synthetic_pairs", "RenderPair"]
