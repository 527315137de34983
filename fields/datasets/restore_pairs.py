"""Pairs of degraded and clean images for restoration heads.

Two sources, both from scikit-image's bundled photographs cut to ``size x size`` RGB squares:

- ``synthetic``: additive Gaussian noise of std ``noise_std`` and/or a Gaussian blur of std
  ``blur_sigma`` pixels (seeded per image), clamped to [0, 1].
- ``renders``: renders of image fields (hash grid + MLP, ``fit_image_field``) stopped after
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
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from safetensors.torch import load_file, save_file

from fields.config.base import StrictModel
from fields.config.train import OptimizerConfig
from fields.datasets.image import SKIMAGE_PREFIX, load_image, pixel_grid
from fields.io import atomic_path
from fields.models.field import Field as ImageField
from fields.models.config import ModelConfig
from fields.modules import eval_mode

log = logging.getLogger("fields")


class PairsConfig(StrictModel):
    source: Literal["synthetic", "renders"] = "synthetic"
    size: int = Field(64, ge=8, description="images are cut to size x size")
    noise_std: float = Field(0.1, ge=0, description="synthetic: Gaussian noise std")
    blur_sigma: float = Field(0.0, ge=0, description="synthetic: Gaussian blur std in pixels")
    early_steps: int = Field(25, ge=1, description="renders: steps of the early-stopped field")
    converged_steps: int = Field(400, ge=2, description="renders: steps of the converged field")
    seed: int = 0


def square_image(name: str, size: int) -> torch.Tensor:
    """``skimage:NAME`` or a path -> ``(3, size, size)``: shorter side resized to ``size``, centre crop."""
    source = name if ":" in name or Path(name).suffix else SKIMAGE_PREFIX + name
    image = load_image(source, "rgb").permute(2, 0, 1)[None]
    h, w = image.shape[-2:]
    scale = size / min(h, w)
    hh, ww = max(size, round(h * scale)), max(size, round(w * scale))
    image = F.interpolate(image, size=(hh, ww), mode="area" if scale < 1 else "bilinear", align_corners=None if scale < 1 else False)
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
    out = F.conv2d(F.pad(image, (radius, radius, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(out, (0, 0, radius, radius), mode="reflect"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def synthetic_pairs(clean: torch.Tensor, config: PairsConfig, salt: int = 0) -> torch.Tensor:
    """``clean (N, 3, H, W)`` -> degraded copies (blur, then noise), seeded by ``(seed, salt)``."""
    g = torch.Generator().manual_seed(config.seed * 1000 + salt)
    degraded = gaussian_blur(clean, config.blur_sigma)
    return (degraded + config.noise_std * torch.randn(clean.shape, generator=g)).clamp(0, 1)


def fit_image_field(image: torch.Tensor, steps: int, seed: int = 0) -> ImageField:
    """A small hash grid + MLP fitted to ``image (H, W, 3)`` for ``steps`` Adam steps (lr 1e-2, one
    random batch of ``H * W`` pixels a step, drawn like ``task: image`` does), in this process: building
    a data set starts no nested training run."""
    height, width, _ = image.shape
    size = max(height, width)
    torch.manual_seed(seed)
    model = ModelConfig.model_validate({
        "encoder": {"type": "hashgrid", "n_levels": 8, "log2_hashmap_size": 12, "base_resolution": 4, "max_resolution": size},
        "decoder": {"type": "mlp", "n_neurons": 32, "n_hidden_layers": 1}})
    field = ImageField.from_config(model, in_dim=2, out_dim=3)
    optimizer_config = OptimizerConfig(lr=0.01)
    optimizer = torch.optim.Adam(field.param_groups(optimizer_config), lr=optimizer_config.lr,
                                 betas=optimizer_config.betas, eps=optimizer_config.eps)
    coords, pixels = pixel_grid(height, width).reshape(-1, 2), image.reshape(-1, 3)
    for step in range(steps):
        generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
        index = torch.randint(pixels.shape[0], (pixels.shape[0],), generator=generator)
        loss = F.mse_loss(field(coords[index]), pixels[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return field


def render_pair(name: str, config: PairsConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Fit an image field to ``name`` twice (early, converged) and render both: ``(3, S, S)`` each."""
    image = square_image(name, config.size).permute(1, 2, 0).contiguous()
    coords = pixel_grid(config.size, config.size)
    renders = []
    for steps in (config.early_steps, config.converged_steps):
        field = fit_image_field(image, steps, config.seed)
        with eval_mode(field):
            renders.append(field.query(coords).clamp(0, 1).permute(2, 0, 1).contiguous())
    return renders[0], renders[1]


def restore_pairs(images: list[str], config: PairsConfig, cache_dir: str | Path | None = None,
                  salt: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(degraded, clean)`` pairs ``(N, 3, size, size)`` for the named images."""
    if config.source == "synthetic":
        clean = torch.stack([square_image(n, config.size) for n in images])
        return synthetic_pairs(clean, config, salt), clean
    key = hashlib.sha1(json.dumps([images, config.model_dump(mode="json"), 2]).encode()).hexdigest()[:16]  # 2: in-process fits
    path = Path(cache_dir or tempfile.gettempdir()).expanduser() / f"render-pairs-{key}.safetensors"
    if path.is_file():
        data = load_file(str(path))
        return data["degraded"], data["clean"]
    log.info("fitting image fields for %d render pairs (early %d / converged %d steps)", len(images),
             config.early_steps, config.converged_steps)
    pairs = [render_pair(n, config) for n in images]
    degraded, clean = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file({"degraded": degraded, "clean": clean}, tmp)
    return degraded, clean


__all__ = ["PairsConfig", "restore_pairs", "square_image", "gaussian_blur", "synthetic_pairs", "render_pair", "fit_image_field"]
