"""A ``fields`` field inside your own LightningModule.

``Field.from_config`` builds the encoder and decoder from the same typed config a scene file uses; the
rest (data, loss, optimiser) is yours. Here: fit a 2D image with a hash grid, then render it at 4x the
resolution. Run:

    python examples/lightning/own_module.py --steps 300 --out runs/own-module
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from skimage import data as skdata
from skimage.transform import resize
from torch.utils.data import DataLoader, TensorDataset

from fields.config.scene import ModelConfig
from fields.models import Field


class ImageFit(pl.LightningModule):
    def __init__(self, height: int, width: int, lr: float = 1e-2):
        super().__init__()
        config = ModelConfig.model_validate({
            "encoder": {"type": "hashgrid", "n_levels": 8, "log2_hashmap_size": 14, "base_resolution": 8,
                        "max_resolution": max(height, width)},
            "decoder": {"type": "mlp", "n_neurons": 64, "n_hidden_layers": 2},
            "output_activation": "sigmoid",
        })
        self.field = Field.from_config(config, in_dim=2, out_dim=3)
        self.lr = lr

    def training_step(self, batch, batch_idx):
        xy, rgb = batch
        loss = torch.nn.functional.mse_loss(self.field(xy), rgb)
        self.log("psnr", -10 * torch.log10(loss.detach()), prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.field.parameters(), lr=self.lr, eps=1e-15)

    @torch.no_grad()
    def render(self, height: int, width: int) -> np.ndarray:
        ys, xs = torch.meshgrid((torch.arange(height) + 0.5) / height, (torch.arange(width) + 0.5) / width, indexing="ij")
        return self.field.query(torch.stack((xs, ys), -1)).clamp(0, 1).numpy()


def pixels(size: int) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
    image = resize(skdata.astronaut(), (size, size), anti_aliasing=True).astype(np.float32)
    h, w = image.shape[:2]
    ys, xs = torch.meshgrid((torch.arange(h) + 0.5) / h, (torch.arange(w) + 0.5) / w, indexing="ij")
    return torch.stack((xs, ys), -1).reshape(-1, 2), torch.from_numpy(image).reshape(-1, 3), (h, w)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--out", default="runs/own-module")
    args = parser.parse_args()

    pl.seed_everything(0, verbose=False)
    xy, rgb, (h, w) = pixels(args.size)
    loader = DataLoader(TensorDataset(xy, rgb), batch_size=4096, shuffle=True)
    module = ImageFit(h, w)
    trainer = pl.Trainer(max_steps=args.steps, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, loader)

    render = module.render(h, w)
    psnr = -10 * np.log10(np.mean((render - rgb.reshape(h, w, 3).numpy()) ** 2))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import imageio.v3 as iio

    iio.imwrite(out / "render_4x.png", (module.render(4 * h, 4 * w) * 255).astype(np.uint8))
    print(f"PSNR {psnr:.2f} dB after {args.steps} steps; 4x render in {out / 'render_4x.png'}")


if __name__ == "__main__":
    main()
