"""Small image fields fitted in process, for the restoration pairs of ``task: restore`` (``source:
renders``): a render of a field stopped early against the same field trained longer. A plain Adam loop,
not a nested ``fit``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fields.config.train import OptimizerConfig
from fields.datasets.image import pixel_grid
from fields.datasets.restore_pairs import PairsConfig
from fields.models import Field
from fields.config.models import ModelConfig
from fields.modules import eval_mode


def fit_image_field(image: torch.Tensor, steps: int, seed: int = 0) -> Field:
    """A small hash grid + MLP fitted to ``image (H, W, 3)`` for ``steps`` Adam steps (lr 1e-2, one
    random batch of ``H * W`` pixels a step, drawn like ``task: image`` does), in this process: building
    a data set starts no nested training run."""
    height, width, _ = image.shape
    size = max(height, width)
    torch.manual_seed(seed)
    model = ModelConfig.model_validate(
        {
            "encoder": {
                "type": "hashgrid",
                "n_levels": 8,
                "log2_hashmap_size": 12,
                "base_resolution": 4,
                "max_resolution": size,
            },
            "decoder": {"type": "mlp", "n_neurons": 32, "n_hidden_layers": 1},
        }
    )
    field = Field.from_config(model, in_dim=2, out_dim=3)
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


def render_pair(image: torch.Tensor, config: PairsConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Fit an image field to ``image (3, S, S)`` twice (early, converged) and render both: ``(3, S, S)`` each."""
    hwc = image.permute(1, 2, 0).contiguous()
    coords = pixel_grid(*hwc.shape[:2])
    renders = []
    for steps in (config.early_steps, config.converged_steps):
        field = fit_image_field(hwc, steps, config.seed)
        with eval_mode(field):
            renders.append(field.query(coords).clamp(0, 1).permute(2, 0, 1).contiguous())
    return renders[0], renders[1]
