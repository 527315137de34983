"""``task: splat``: 3D Gaussian splatting (Kerbl et al. 2023) on posed views.

The field is ``fields.models.gaussians.Gaussians`` (``model: {type: gaussians}``), drawn by
``fields.render.splat.rasterize_gaussians``. Each step renders one random training view (over a random
or fixed background, ``data.background``) and minimises ``(1 - ssim_weight) L1 + ssim_weight (1 - SSIM)``
with Adam, one group per parameter at the 3DGS learning rates (positions scaled by the scene extent, the
radius of the camera centres times 1.1, and decayed exponentially to ``lr_means_final``). A densification
strategy (``render.strategy``: ``default`` or ``mcmc``) adds, removes and moves Gaussians after the
optimiser step. Outputs: test PSNR/SSIM, labelled test renders, the scene as a standard 3DGS ``splat.ply``,
camera paths (``fields render``) and a TSDF-fused mesh (``fields export mesh``).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image, ImageDraw
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

import fields.tasks.splat_mcmc  # noqa: F401 - registers the mcmc strategy
from fields.errors import UserError
from fields.io import save_image, write_point_cloud
from fields.metrics.psnr import psnr_from_mse
from fields.models.camera_optimizer import so3_exp, transform_gaussians
from fields.models.gaussians import Gaussians
from fields.models.gaussians_ply import write_splat_ply
from fields.render.cameras import Cameras, image_rays
from fields.render.splat import rasterize_gaussians, view_matrices
from fields.tasks.camera_refine import build_camera_optimizer, camera_lr_factor
from fields.tasks.multiview import MultiViewTask
from fields.render.splat_settings import SplatSettings  # noqa: F401  (render:)
from fields.tasks.registry import TASKS
from fields.tasks.splat_init import init_gaussians
from fields.tasks.splat_strategy import STRATEGIES
from fields.tasks.view_exports import export_tsdf_mesh

if TYPE_CHECKING:
    from fields.engine.scene import SceneConfig

log = logging.getLogger("fields")




def labelled(panels: list[tuple[torch.Tensor, str]]) -> torch.Tensor:
    """Images ``(H, W, 3)`` side by side, each under a strip with its label -> ``(H + 14, W * n, 3)``."""
    out = []
    for image, label in panels:
        strip = Image.new("RGB", (image.shape[1], 14), (255, 255, 255))
        ImageDraw.Draw(strip).text((2, 1), label, fill=(0, 0, 0))
        header = torch.from_numpy(np.array(strip)).float() / 255.0
        out.append(torch.cat((header, image.float().clamp(0, 1)), 0))
    return torch.cat(out, 1)


@TASKS.register("splat", aliases=("3dgs", "gaussian_splatting"))
class SplatTask(MultiViewTask):
    depth_along_axis = True

    def __init__(self, scene: SceneConfig):
        super().__init__(scene)
        self.automatic_optimization = False
        if self.cameras.distortion is not None:
            log.warning("splat: lens distortion is ignored (the rasterizer draws pinhole views)")
        self.field: Gaussians = init_gaussians(scene.model, scene.data, self.views, scene.train.seed)
        origins = self.cameras.origins[self.views.train]
        self.extent = float((origins - origins.mean(0)).norm(dim=-1).max()) * 1.1 or 1.0
        self.strategy = STRATEGIES.build(scene.render.strategy, self.extent, len(self.field))
        # pose corrections in units of the extent (the radiance task's are in its unit frame)
        self.camera_opt = build_camera_optimizer(scene.render, len(self.cameras), self.views.train,
                                                 self.cameras.origins / self.extent)
        self.camera_scale = self.extent
        self.backend = scene.render.backend

    # --- rendering -----------------------------------------------------------------------------------
    def rasterize(self, cameras: Cameras, index: int, background: torch.Tensor, degree: int | None = None,
                  correct: bool = False) -> Any:
        """Draw camera ``index`` of ``cameras`` -> the rasterizer's ``SplatRender`` (rgb ``(H, W, 3)``...).
        ``correct``: camera ``index`` of the task's views with its pose correction (differentiable)."""
        cfg: SplatSettings = self.scene.render
        g = self.field
        viewmat, k = view_matrices(cameras, index)
        center = cameras.origins[index].to(self.device)
        degree = g.config.sh_degree if degree is None else degree
        means, quats = g.means, g.rotations
        if correct and self.camera_opt is not None:
            # the corrected camera (R' = exp(w) R, c' = c + extent tau) sees the Gaussians as the given one
            # sees them moved by x -> exp(-w) (x - c') + c
            adj = self.camera_opt.corrections()[index].to(self.device)
            moved_center = center + self.camera_scale * adj[3:]
            omega = -adj[:3]
            means, quats = transform_gaussians(means, quats, so3_exp(omega[None])[0], omega, moved_center, center)
            center = moved_center
        out = rasterize_gaussians(
            means,
            quats,
            g.scales,
            g.opacities,
            g.colors(center, degree),
            viewmat.to(self.device),
            k.to(self.device),
            cameras.width,
            cameras.height,
            background=background.to(self.device),
            backend=cfg.backend,
            antialiased=cfg.antialiased,
        )
        self.backend = getattr(out, "backend", cfg.backend)
        return out

    @torch.no_grad()
    def render_view(self, cameras: Cameras, index: int) -> dict[str, torch.Tensor]:
        """``rgb (H, W, 3)``, ``depth (H, W)`` (expected distance along the optical axis, world units),
        ``opacity (H, W)`` and the world ``points (H, W, 3)`` at that depth."""
        correct = cameras is self.cameras and self.camera_opt is not None
        out = self.rasterize(cameras, index, self.eval_background, correct=correct)
        h, w = cameras.height, cameras.width
        opacity = out.alpha.reshape(h, w).float().cpu()
        depth = out.depth.reshape(h, w).float().cpu() * (opacity > 1e-3)
        drawn = self.refined_cameras() if correct else cameras
        rays = image_rays(drawn, index)
        forward = drawn.forward[index].to(rays.directions)
        along = (rays.directions @ forward).clamp_min(1e-6)
        points = rays.origins + rays.directions * (depth.reshape(-1) / along)[:, None]
        return {
            "rgb": out.rgb.detach().float().cpu().clamp(0, 1).reshape(h, w, 3),
            "depth": depth,
            "opacity": opacity,
            "points": points.reshape(h, w, 3),
        }

    # --- training ------------------------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, Any]:
        cfg: SplatSettings = self.scene.render
        lrs = {
            "means": cfg.lr_means * self.extent,
            "log_scales": cfg.lr_scales,
            "quats": cfg.lr_quats,
            "opacity_logits": cfg.lr_opacities,
            "sh_dc": cfg.lr_sh_dc,
            "sh_rest": cfg.lr_sh_rest,
        }
        groups = self.field.param_groups(lrs)
        if self.camera_opt is not None:
            groups.append({"name": "camera_opt", "params": list(self.camera_opt.parameters()), "lr": cfg.camera_opt_lr})
        optimizer = torch.optim.Adam(groups, lr=0.0, eps=1e-15)
        total, max_time = max(self.scene.train.steps, 1), self.scene.train.max_time
        ratio = math.log(cfg.lr_means_final / cfg.lr_means)

        def means_factor(step: int) -> float:
            progress = step / total
            if max_time:
                progress = max(progress, float(self.train_seconds) / max_time)
            return math.exp(ratio * min(progress, 1.0))

        camera = camera_lr_factor(cfg, self.schedule_progress)
        factors = [means_factor if group["name"] == "means" else camera if group["name"] == "camera_opt"
                   else (lambda step: 1.0) for group in optimizer.param_groups]
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factors)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        cfg: SplatSettings = self.scene.render
        step, generator = int(self.global_step), self.step_generator()
        train = self.views.train
        index = train[int(torch.randint(len(train), (1,), generator=generator))]
        if self.scene.data.background == "random":
            background = torch.rand(3, generator=generator).to(self.device)
        else:
            background = self.eval_background
        h, w = self.cameras.height, self.cameras.width
        target = self.target_rgb(self.images[index].reshape(h * w, -1), background).reshape(h, w, 3)
        out = self.rasterize(self.cameras, index, background, self.field.degree_at(step), correct=True)
        rgb = out.rgb.reshape(h, w, 3)
        l1 = (rgb - target).abs().mean()
        loss = (1.0 - cfg.ssim_weight) * l1 + self.strategy.regularization(self.field)
        if self.camera_opt is not None:
            loss = loss + self.camera_opt.penalty()
        if cfg.ssim_weight > 0:
            ssim = structural_similarity_index_measure(
                rgb.permute(2, 0, 1)[None], target.permute(2, 0, 1)[None], data_range=1.0
            )
            loss = loss + cfg.ssim_weight * (1.0 - ssim)
        optimizer = self.optimizers()
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        self.strategy.observe(self.field, out.means2d, out.radii, w, h)
        optimizer.step()
        self.lr_schedulers().step()
        self.strategy.post_step(self.field, optimizer.optimizer, step, generator)
        self.log("train/psnr", psnr_from_mse(torch.mean((rgb.detach() - target) ** 2), 1e-10), prog_bar=True)
        self.log("train/loss", loss.detach())
        self.log("train/gaussians", float(len(self.field)), prog_bar=True)
        return loss.detach()

    # --- outputs -------------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        info = {
            "params": self.field.n_params(),
            "gaussians": len(self.field),
            "render_backend": self.backend,
            "strategy": self.scene.render.strategy.type,
        }
        if self.camera_opt is not None:
            info["camera_correction_deg"], info["camera_correction_unit"] = self.camera_opt.errors()
        return info

    def write_outputs(self, run_dir: Path) -> list[Path]:
        paths = super().write_outputs(run_dir)
        for k, index in enumerate(self.views.test[: self.scene.render.save_test_views]):
            out, target = self.render_view(self.cameras, index), self.test_target(index)
            psnr = float(peak_signal_noise_ratio(out["rgb"], target, data_range=1.0))
            solid = out["opacity"] > 0.5
            depth = out["depth"] / out["depth"][solid].max() if solid.any() else out["depth"]
            panels = [
                (out["rgb"], f"splats {psnr:.2f} dB"),
                (target, f"truth (test view {index})"),
                (depth[..., None].expand(-1, -1, 3), "depth"),
            ]
            save_image(Path(run_dir) / "renders" / f"test_{k:03d}.png", labelled(panels))
        paths.append(write_splat_ply(Path(run_dir) / "splat.ply", self.field.tensors()))
        return paths

    def export_mesh(self, path: Path, resolution: int | None = None, coarse_to_fine: bool = True) -> Path:
        """TSDF fusion of the training views' rendered depth and colour (open3d), in the input's coordinates."""
        return export_tsdf_mesh(self, Path(path), resolution or self.scene.render.mesh_voxels)

    def export_pointcloud(self, path: Path, min_opacity: float = 0.3) -> Path:
        """The Gaussians' centres with their base colour (SH band 0), those at least ``min_opacity`` opaque."""
        g = self.field
        keep = g.opacities.detach() >= min_opacity
        if not keep.any():
            raise UserError(f"{path}: no Gaussian is {min_opacity} opaque or more (is the run trained?)")
        colours = g.colors(g.means.detach().mean(0), 0).detach()
        return write_point_cloud(path, g.means.detach()[keep], colours[keep].clamp(0, 1))
