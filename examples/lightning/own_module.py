"""A ``fields`` field and the ``fields.render`` renderer inside your own LightningModule.

``Field.from_config`` builds a hash grid + MLP from the same typed config a scene file uses;
``fields.render`` gives the pieces of a NeRF: rays through pixels (``generate_rays``), the scene box
(``ray_aabb``), stratified samples along each ray (``uniform_bins``) and volume rendering (``render``).
The rest (data, loss, optimiser, the training loop) is yours. Here: a radiance field of a small
generated scene, trained on random rays, then a held-out view rendered and scored. Run:

    python examples/lightning/own_module.py --steps 500 --out runs/own-module
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from fields.config.models import ModelConfig
from fields.datasets.blender import load_blender
from fields.datasets.synthetic_scene import generate_scene
from fields.models import Field
from fields.render.cameras import generate_rays, image_rays
from fields.render.rays import UNIT_AABB, SceneTransform, ray_aabb
from fields.render.samplers import uniform_bins
from fields.render.volume_rendering import render

WHITE = torch.ones(3)


class RadianceField(pl.LightningModule):
    """NeRF-style: a field ``(x, y, z) -> (rgb, sigma)`` on the unit cube, rendered by quadrature."""

    def __init__(self, transform: SceneTransform, n_samples: int = 48, lr: float = 1e-2):
        super().__init__()
        config = ModelConfig.model_validate({
            "encoder": {"type": "hashgrid", "n_levels": 8, "log2_hashmap_size": 14, "base_resolution": 8,
                        "max_resolution": 128},
            "decoder": {"type": "mlp", "n_neurons": 32, "n_hidden_layers": 1},
            "output_activation": "none",  # raw outputs: the activations are below
        })
        self.field = Field.from_config(config, in_dim=3, out_dim=4)
        self.transform, self.n_samples, self.lr = transform, n_samples, lr

    def render_rays(self, origins: torch.Tensor, directions: torch.Tensor, stratified: bool = False):
        """World rays ``(R, 3)`` -> ``RenderOutput`` (rgb ``(R, 3)``, opacity, depth) on white."""
        origins = self.transform.points_to_unit(origins)  # unit frame; directions keep their length
        near, far, hit = ray_aabb(origins, directions, UNIT_AABB)
        far = torch.where(hit, far, near + 1e-3)  # rays that miss the box get one empty bin
        bins = uniform_bins(near, far, self.n_samples, stratified=stratified)  # (R, S + 1) edges

        def rgb_sigma(t_starts, t_ends, ray_indices):
            mid = (t_starts + t_ends) / 2
            x = (origins[:, None, :] + mid[..., None] * directions[:, None, :]).clamp(0.0, 1.0)
            out = self.field(x)  # (R, S, 4)
            return torch.sigmoid(out[..., :3]), torch.exp((out[..., 3] - 1.0).clamp_max(15.0)) * hit[:, None]

        return render(bins[:, :-1], bins[:, 1:], None, len(origins), rgb_sigma, background=WHITE)

    def training_step(self, batch, batch_idx):
        origins, directions, target = batch
        out = self.render_rays(origins, directions, stratified=True)
        loss = torch.nn.functional.mse_loss(out.rgb, target)
        self.log("psnr", -10 * torch.log10(loss.detach()), prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.field.parameters(), lr=self.lr, eps=1e-15)

    @torch.no_grad()
    def render_view(self, cameras, index: int, chunk: int = 4096) -> np.ndarray:
        rays = image_rays(cameras, index)
        rgb = [self.render_rays(rays.origins[i : i + chunk], rays.directions[i : i + chunk]).rgb
               for i in range(0, len(rays), chunk)]
        return torch.cat(rgb).reshape(cameras.height, cameras.width, 3).clamp(0, 1).numpy()


def on_white(images: torch.Tensor) -> torch.Tensor:
    """uint8 RGBA ``(N, H, W, 4)`` -> float RGB on a white background ``(N, H, W, 3)``."""
    rgba = images.float() / 255.0
    return rgba[..., :3] * rgba[..., 3:] + (1.0 - rgba[..., 3:])


def training_rays(views) -> TensorDataset:
    """Every pixel of every training view: origins, directions, colours, each ``(N, 3)``."""
    cameras, colours = views.cameras, on_white(views.images)
    v, u = torch.meshgrid(torch.arange(cameras.height) + 0.5, torch.arange(cameras.width) + 0.5, indexing="ij")
    index = torch.tensor(views.train).repeat_interleave(u.numel())
    rays = generate_rays(cameras, index, u.reshape(-1).repeat(len(views.train)), v.reshape(-1).repeat(len(views.train)))
    return TensorDataset(rays.origins, rays.directions, colours[views.train].reshape(-1, 3))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--size", type=int, default=48, help="image size of the generated scene")
    parser.add_argument("--views", type=int, default=24)
    parser.add_argument("--batch", type=int, default=1024, help="rays per step")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", default="runs/own-module")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    out = Path(args.out)
    scene = out / "scene"
    if not (scene / "transforms_train.json").is_file():
        generate_scene(scene, "objects", n_train=args.views, n_test=1, size=args.size, seed=0)
    views = load_blender(scene)
    pl.seed_everything(0, verbose=False)
    module = RadianceField(SceneTransform.from_aabb(views.aabb))
    loader = DataLoader(training_rays(views), batch_size=args.batch, shuffle=True, drop_last=True)
    trainer = pl.Trainer(max_steps=args.steps, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, loader)

    test = views.test[0]
    target = on_white(views.images[test : test + 1])[0].numpy()
    image = module.render_view(views.cameras, test)
    psnr = -10 * np.log10(np.mean((image - target) ** 2))
    blank = -10 * np.log10(np.mean((1.0 - target) ** 2))  # what an empty (all background) field scores
    import imageio.v3 as iio

    iio.imwrite(out / "test_view.png", (np.concatenate((image, target), axis=1) * 255 + 0.5).astype(np.uint8))
    print(f"PSNR {psnr:.2f} dB on a held-out view after {args.steps} steps (empty field: {blank:.2f} dB); "
          f"render | target in {out / 'test_view.png'}")


if __name__ == "__main__":
    main()
