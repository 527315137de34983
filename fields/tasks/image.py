"""Fitting a field to an image: ``(x, y) in [0, 1]^2 -> colour``.

Each step draws ``batch_size`` random pixels; evaluation renders the full image in chunks and reports
PSNR and SSIM (torchmetrics). Outputs: ``reconstruction.png`` and ``comparison.png`` (prediction | truth |
error).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from fields.datasets.image import load_image, pixel_grid
from fields.encoders.rbf_init import sobel_magnitude
from fields.io import save_image
from fields.io.panels import comparison
from fields.models import Field
from fields.modules import eval_mode
from fields.tasks.base import FieldTask
from fields.tasks.registry import TASKS

if TYPE_CHECKING:
    from fields.engine.scene import SceneConfig


@TASKS.register("image")
class ImageTask(FieldTask):
    def __init__(self, scene: "SceneConfig"):
        super().__init__(scene)
        image = load_image(scene.data.image, scene.data.channels, scene.data.max_size)
        self.height, self.width, self.channels = image.shape
        self.register_buffer("pixels", image.reshape(-1, self.channels), persistent=False)
        self.field = Field.from_config(scene.model, in_dim=2, out_dim=self.channels)

    def initialisation_samples(self) -> tuple[torch.Tensor, torch.Tensor]:
        # every pixel, weighted by its gradient magnitude (NeuRBF's weighted k-means)
        image = self.pixels.reshape(self.height, self.width, self.channels).float()
        coords = self.pixel_coords(torch.arange(self.pixels.shape[0], device=self.pixels.device))
        return coords, sobel_magnitude(image).reshape(-1)

    def pixel_coords(self, index: torch.Tensor) -> torch.Tensor:
        """Flat pixel indices ``(B,)`` -> pixel-centre coordinates ``(B, 2)`` as ``(x, y)`` in [0, 1]."""
        x = (index % self.width).to(torch.float32).add_(0.5).div_(self.width)
        y = torch.div(index, self.width, rounding_mode="floor").to(torch.float32).add_(0.5).div_(self.height)
        return torch.stack((x, y), dim=-1)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self.regression_step(self.pixels, self.pixel_coords)

    @torch.no_grad()
    def predict_image(self, height: int | None = None, width: int | None = None) -> torch.Tensor:
        """Render the field at any resolution: ``(H, W, C)`` in [0, 1]."""
        height, width = height or self.height, width or self.width
        device = self.pixels.device
        dtype = next(self.field.parameters()).dtype
        coords = pixel_grid(height, width).to(device=device, dtype=dtype)
        with eval_mode(self.field):
            out = self.field.query(coords, chunk=self.scene.train.eval_chunk, progress=f"rendering {width}x{height}")
        return out.float().clamp(0.0, 1.0)

    def evaluate(self) -> dict[str, float]:
        pred = self.predict_image()
        target = self.pixels.reshape(self.height, self.width, self.channels).float()
        p = pred.permute(2, 0, 1)[None]
        t = target.permute(2, 0, 1)[None]
        return {
            "psnr": float(peak_signal_noise_ratio(p, t, data_range=1.0)),
            "ssim": float(structural_similarity_index_measure(p, t, data_range=1.0)),
        }

    def write_outputs(self, run_dir: Path) -> list[Path]:
        """``reconstruction.png`` and ``comparison.png`` (prediction | truth | error, labelled)."""
        pred = self.predict_image()
        target = self.pixels.reshape(self.height, self.width, self.channels).float()
        psnr = float(peak_signal_noise_ratio(pred, target, data_range=1.0))
        picture = comparison(pred.cpu().numpy(), target.cpu().numpy(), f"prediction {psnr:.2f} dB", "truth")
        return [save_image(Path(run_dir) / "reconstruction.png", pred),
                save_image(Path(run_dir) / "comparison.png", picture)]

    def render(self, run_dir: Path, width: int | None = None, height: int | None = None) -> list[Path]:
        """Render at ``width x height`` (default: the image's size; one given keeps the aspect)."""
        if width and not height:
            height = max(1, round(width * self.height / self.width))
        if height and not width:
            width = max(1, round(height * self.width / self.height))
        width, height = width or self.width, height or self.height
        path = Path(run_dir) / f"render_{width}x{height}.png"
        save_image(path, self.predict_image(height, width))
        return [path]
