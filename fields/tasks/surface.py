"""``task: surface``: NeuS surface reconstruction from posed images, producing a mesh.

Samples: ``n_samples`` stratified bins inside the unit cube, then ``n_importance`` more drawn by NeuS's
up-sampling (SDF-based weights at a fixed sharpness ``64 * 2**i``), merged and sorted (batched layout).
Loss: photometric + ``eikonal_weight * (|grad sdf| - 1)^2`` (at the samples and at random points) +
``mask_weight * BCE(opacity, alpha)`` when the images have alpha. The cosine annealing ratio grows
linearly to 1 over ``anneal_steps``. Outputs: test renders, point cloud, ``mesh.ply`` (SDF zero level).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import torch
import torch.nn.functional as F

from fields.metrics.psnr import psnr_from_mse
from fields.models.neus import NeuSField, neus_alpha, up_sample_weights
from fields.render.rays import Rays, ray_aabb
from fields.render.samplers import sample_pdf, uniform_bins
from fields.render.volume_rendering import RenderOutput, accumulate_along_rays, render_weights_from_alpha
from fields.tasks.losses import regression_loss
from fields.tasks.meshing import extract_mesh
from fields.tasks.multiview import MultiViewTask
from fields.render.view_settings import SurfaceRender
from fields.tasks.registry import TASKS

if TYPE_CHECKING:
    from fields.engine.scene import SceneConfig

UNIT_BOX = torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])


@TASKS.register("surface", aliases=("neus",))
class SurfaceTask(MultiViewTask):
    def __init__(self, scene: "SceneConfig"):
        super().__init__(scene)
        self.field = NeuSField(scene.model)

    def cos_anneal_ratio(self) -> float:
        steps = self.scene.render.anneal_steps
        return 1.0 if not self.training or steps == 0 else min(1.0, int(self.global_step) / steps)

    def sample_bins(
        self, o: torch.Tensor, d: torch.Tensor, training: bool, generator: Optional[torch.Generator]
    ) -> torch.Tensor:
        cfg: SurfaceRender = self.scene.render
        t_near, t_far, hit = ray_aabb(o, d, UNIT_BOX.to(o))
        t_far = torch.where(hit, t_far, t_near + 1e-4)
        bins = uniform_bins(t_near, t_far, cfg.n_samples, stratified=training, generator=generator)
        if cfg.n_importance == 0 or cfg.up_sample_steps == 0:
            return bins
        per_step = max(1, cfg.n_importance // cfg.up_sample_steps)
        with torch.no_grad():
            for i in range(cfg.up_sample_steps):
                sdf = self.field.sdf(o[:, None] + d[:, None] * bins[..., None])
                weights = up_sample_weights(sdf, bins, 64.0 * 2**i)
                fine = sample_pdf(bins, weights, per_step, stratified=training, generator=generator, padding=0.0)
                bins = torch.sort(torch.cat((bins, fine[:, 1:-1]), -1), -1).values
        return bins

    def render_rays(
        self, rays: Rays, background: torch.Tensor, training: bool = False, generator: Optional[torch.Generator] = None
    ) -> RenderOutput:
        o, d = rays.origins, rays.directions
        bins = self.sample_bins(o, d, training, generator)
        t0, t1 = bins[:, :-1], bins[:, 1:]
        mid = (t0 + t1) / 2
        x = o[:, None] + d[:, None] * mid[..., None]
        dirs = d[:, None].expand_as(x)
        rgb, sdf, gradient = self.field(x, dirs, create_graph=training)
        alpha = neus_alpha(sdf, gradient, dirs, t1 - t0, self.field.sharpness(), self.cos_anneal_ratio())
        weights, _ = render_weights_from_alpha(alpha)
        opacity = accumulate_along_rays(weights)
        colour = accumulate_along_rays(weights, rgb) + (1.0 - opacity) * background
        depth = accumulate_along_rays(weights, mid[..., None])
        return RenderOutput(colour, opacity, depth, weights, {"gradient": gradient, "n_samples": mid.numel()})

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        cfg: SurfaceRender = self.scene.render
        generator = self.step_generator()
        rays, target, background, alpha = self.random_batch(self.scene.train.batch_size, generator)
        out = self.render_rays(rays, background, training=True, generator=generator)
        loss = regression_loss(self.scene.train.loss, out.rgb, target)
        gradient = out.extras["gradient"].reshape(-1, 3)
        if cfg.eikonal_points:
            x = torch.rand(cfg.eikonal_points, 3, generator=generator).to(self.device)
            _, _, g = self.field(x, torch.zeros_like(x), create_graph=True)
            gradient = torch.cat((gradient, g))
        eikonal = ((gradient.norm(dim=-1) - 1.0) ** 2).mean()
        loss = loss + cfg.eikonal_weight * eikonal
        if cfg.mask_weight > 0 and self.views.has_alpha:
            opacity = out.opacity[:, 0].clamp(1e-3, 1.0 - 1e-3)
            loss = loss + cfg.mask_weight * F.binary_cross_entropy(opacity, alpha)
        self.log("train/loss", loss)
        self.log("train/psnr", psnr_from_mse(torch.mean((out.rgb.detach() - target) ** 2), 1e-10), prog_bar=True)
        self.log("train/eikonal", eikonal)
        self.log("train/sharpness", self.field.sharpness().detach(), prog_bar=True)
        return loss

    def write_outputs(self, run_dir: Path) -> list[Path]:
        paths = super().write_outputs(run_dir)
        mesh = self.extract_mesh(Path(run_dir) / "mesh.ply")
        return paths + ([mesh] if mesh else [])

    def extract_mesh(self, path: Path, resolution: Optional[int] = None) -> Optional[Path]:
        """Marching cubes of the SDF's zero level over the scene box, in world units."""
        return extract_mesh(
            self.field.sdf,
            resolution or self.scene.render.mesh_resolution,
            0.0,
            (0.0, 1.0),
            self.transform,
            path,
            self.device,
            lipschitz=2.0,
        )
