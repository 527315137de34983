"""``task: radiance``: a radiance field (NeRF / Instant-NGP) trained on random rays of posed images.

The field is ``RadianceField`` (``model.encoder`` for positions, default a hash grid; ``model.decoder``
is the colour MLP). Samplers (``render.sampler``): ``occupancy_grid`` (Instant-NGP's, packed layout),
``uniform`` (stratified, batched layout) and ``proposal`` (nerfacto's proposal networks, batched).
Loss: the photometric loss (``train.loss``), plus the distortion loss and the proposal loss when used.
Outputs (``radiance_outputs.py``): test renders, a point cloud, and a mesh of the density level set.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any, Optional

import torch

from fields.metrics.psnr import psnr_from_mse
from fields.models.appearance import AppearanceEmbedding
from fields.models.contraction import SceneContraction
from fields.models.proposal import ProposalNetworks
from fields.models.radiance import RadianceField
from fields.models.radiance_inference import RadianceInference
from fields.render.batching import dynamic_batch_size
from fields.render.contracted_grid import ContractedOccupancyGrid
from fields.render.early_stop import composite_with_early_stop
from fields.render.occupancy_grid import OccupancyGrid
from fields.render.proposal import ProposalSampler, proposal_update_due
from fields.render.rays import Rays, ray_aabb
from fields.render.samplers import uniform_bins
from fields.render.spacing import lindisp_piecewise_bins, normalized_spacing
from fields.render.volume_rendering import RenderOutput, distortion_loss, render
from fields.tasks.camera_refine import build_camera_optimizer, with_camera_schedule
from fields.tasks.coarse_to_fine import coarse_to_fine_weights
from fields.tasks.losses import regression_loss
from fields.tasks.radiance_outputs import RadianceOutputs
from fields.tasks.registry import TASKS
from fields.render.view_settings import RadianceRender, ViewRenderConfig  # noqa: F401  (render:)

log = logging.getLogger("fields")

if TYPE_CHECKING:
    from fields.engine.scene import SceneConfig




@TASKS.register("radiance", aliases=("nerf", "ngp"))
class RadianceTask(RadianceOutputs):
    def __init__(self, scene: "SceneConfig"):
        super().__init__(scene)
        cfg: RadianceRender = scene.render
        levels = cfg.grid_levels
        box = (0.5 - 0.5 * 2 ** (levels - 1), float(2 ** (levels - 1)))
        self.contraction = SceneContraction(cfg.contraction) if cfg.contraction != "none" else None
        self.field = RadianceField(scene.model, box=box, contraction=self.contraction,
                                   appearance_dim=cfg.appearance_dim)
        self.far = 0.5 * cfg.far_plane  # unit frame: the scene box has half-side 0.5
        self.near = cfg.near_plane or (self.views.near / self.transform.scale if self.views.near else 0.0)
        self.grid = self.proposal = self.proposal_sampler = None
        if cfg.sampler == "occupancy_grid":
            self.grid = (OccupancyGrid(cfg.grid_resolution, levels, cfg.marcher) if self.contraction is None
                         else ContractedOccupancyGrid(self.contraction.to_field, self.contraction.to_unit,
                                                 cfg.grid_resolution, self.far))
        elif cfg.sampler == "proposal":
            initial = None
            if self.contraction is not None:
                def initial(t0, t1, n, stratified, generator):
                    return lindisp_piecewise_bins(t0, t1, n, 0.5, stratified, generator)
            self.proposal = ProposalNetworks(len(cfg.proposal_samples), cfg.proposal_max_resolutions)
            self.proposal_sampler = ProposalSampler(cfg.proposal_samples, cfg.n_samples, initial_bins=initial)
        n_views = len(self.cameras)
        self.appearance = (AppearanceEmbedding(n_views, cfg.appearance_dim, self.views.train) if cfg.appearance_dim
                           else None)
        self.camera_opt = build_camera_optimizer(cfg, n_views, self.views.train,
                                                 self.transform.points_to_unit(self.cameras.origins))
        self.camera_scale = self.transform.scale
        self.step_size = cfg.render_step_size or math.sqrt(3.0) * 2 ** (levels - 1) / cfg.max_steps
        # inference on the C++ marcher runs the density and colour decoders in bfloat16 while set (the
        # viewer sets it on CPUs with AVX512-BF16; evaluation and outputs stay float32), and stops rays at
        # render.view_early_stop_eps while inference_for_view is (the viewer's frames)
        self.inference_bfloat16 = False
        self.inference_for_view = False
        self.register_buffer("samples_seen", torch.zeros((), dtype=torch.float64))
        # rays of the next step (dynamic with render.target_samples); in checkpoints, so resumed runs match
        self.register_buffer("next_rays", torch.tensor(scene.train.batch_size))

    def param_groups(self) -> list[dict[str, Any]]:
        groups = self.field.param_groups(self.scene.train.optimizer)
        if self.proposal is not None:
            groups.append(
                {"name": "proposal", "params": list(self.proposal.parameters()), "lr": self.scene.train.optimizer.lr}
            )
        if self.appearance is not None:
            optimizer = self.scene.train.optimizer
            groups.append({"name": "appearance", "params": list(self.appearance.parameters()),
                           "lr": self.scene.render.appearance_lr or 0.1 * (optimizer.decoder_lr or optimizer.lr)})
        if self.camera_opt is not None:
            groups.append({"name": "camera_opt", "params": list(self.camera_opt.parameters()),
                           "lr": self.scene.render.camera_opt_lr})
        return groups

    def configure_optimizers(self) -> dict[str, Any]:
        return with_camera_schedule(super().configure_optimizers(), self.scene.render, self.schedule_progress)

    # --- rendering -----------------------------------------------------------------------------------
    def render_rays(
        self, rays: Rays, background: torch.Tensor, training: bool = False, generator: Optional[torch.Generator] = None
    ) -> RenderOutput:
        cfg: RadianceRender = self.scene.render
        o, d, n = rays.origins, rays.directions, len(rays)
        if self.camera_opt is not None and rays.cameras is not None:
            o, d = self.camera_opt.apply(o, d, rays.cameras)
        codes = self.appearance(rays.cameras, n) if self.appearance is not None else None
        inference = not training and not torch.is_grad_enabled()
        early_stop_eps = cfg.view_early_stop_eps if self.inference_for_view else cfg.early_stop_eps
        if self.grid is not None and self.contraction is None and inference and self.grid.uses_cpp(o):
            # inference on the C++ marcher: marching, density, colour (only where a sample shows) and
            # compositing in one loop of growing rounds; no packed samples. The decoders are snapshots in
            # the compute dtype, the colour's direction part once per ray (RadianceInference)
            fast = RadianceInference.of(self.field, torch.bfloat16 if self.inference_bfloat16 else torch.float32)
            marcher = self.grid.step_marcher(o, d, self.step_size, self.near, cone_angle=cfg.cone_angle)
            rgb, opacity, depth, evaluated = composite_with_early_stop(
                marcher, lambda x, ri: fast.features(x), fast.colour_fn(d, codes), n, early_stop_eps,
                cfg.alpha_thre, cfg.round_samples)
            opacity, depth = opacity[:, None], depth[:, None]
            rgb = rgb + (1.0 - opacity) * background
            return RenderOutput(rgb, opacity, depth, rgb.new_zeros(0), {"n_samples": evaluated})
        if self.grid is not None:

            def sigma_fn(t0, t1, ri):
                return self.field.density(o[ri] + d[ri] * ((t0 + t1) / 2)[:, None])

            ri, t0, t1 = self.grid.sampling(
                o,
                d,
                sigma_fn,
                self.step_size,
                self.near,
                early_stop_eps=early_stop_eps,
                alpha_thre=cfg.alpha_thre,
                cone_angle=cfg.cone_angle,
                stratified=training,
                generator=generator,
                round_samples=cfg.round_samples,
            )

            def rgb_sigma_fn(t0, t1, ri):
                return self.field(o[ri] + d[ri] * ((t0 + t1) / 2)[:, None], d[ri], None if codes is None else codes[ri])

            out = render(t0, t1, ri, n, rgb_sigma_fn, background)
            out.extras.update(t_starts=t0, t_ends=t1, ray_indices=ri, n_samples=len(t0))
            return out
        if self.contraction is not None:
            t_near, t_far = torch.full_like(o[:, 0], self.near), torch.full_like(o[:, 0], self.far)
        else:
            t_near, t_far, hit = ray_aabb(o, d, torch.tensor([0.0, 0, 0, 1, 1, 1]).to(o))
            t_near = t_near.clamp_min(self.near)
            t_far = torch.where(hit, t_far, t_near).clamp_min(t_near)
        rounds = None
        if self.proposal is not None:
            to_field = self.contraction.to_field if self.contraction is not None else (lambda x: x.clamp(0.0, 1.0))

            def density_fn(field):
                def sigma_fn(t0, t1):
                    return field(to_field(o[:, None] + d[:, None] * ((t0 + t1) / 2)[..., None]))
                return sigma_fn

            update = training and proposal_update_due(int(self.global_step), cfg.proposal_update_every,
                                                      cfg.proposal_warmup)
            bins, rounds = self.proposal_sampler.sampling(
                [density_fn(f) for f in self.proposal.fields], t_near, t_far, stratified=training, generator=generator,
                update=update,
            )
            rounds = rounds if update else None
        else:
            bins = uniform_bins(t_near, t_far, cfg.n_samples, stratified=training, generator=generator)
        t0, t1 = bins[:, :-1], bins[:, 1:]

        def rgb_sigma_fn(t0, t1, _):
            mid = (t0 + t1) / 2
            per_sample = None if codes is None else codes[:, None].expand(-1, mid.shape[1], -1)
            x = o[:, None] + d[:, None] * mid[..., None]
            return self.field(x, d[:, None].expand(-1, mid.shape[1], -1), per_sample)

        out = render(t0, t1, None, n, rgb_sigma_fn, background)
        out.extras.update(t_starts=t0, t_ends=t1, ray_indices=None, n_samples=t0.numel(), bins=bins, rounds=rounds)
        return out

    # --- training ------------------------------------------------------------------------------------
    def occ_eval(self, x: torch.Tensor) -> torch.Tensor:
        return self.field.density(x) * self.step_size

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        cfg: RadianceRender = self.scene.render
        generator = self.step_generator()
        if self.grid is not None:
            self.grid.update_every_n_steps(
                int(self.global_step),
                self.occ_eval,
                cfg.occ_thre,
                cfg.ema_decay,
                cfg.grid_warmup_steps,
                cfg.grid_update_every,
                generator,
            )
        encoder = self.field.encoder
        if cfg.coarse_to_fine > 0 and hasattr(encoder, "level_weights"):
            progress = self.schedule_progress(int(self.global_step))
            encoder.level_weights = coarse_to_fine_weights(encoder.config.n_levels, progress,
                                                           cfg.coarse_to_fine)
        rays, target, background, _ = self.random_batch(int(self.next_rays), generator)
        out = self.render_rays(rays, background, training=True, generator=generator)
        loss = regression_loss(self.scene.train.loss, out.rgb, target)
        self.log("train/psnr", psnr_from_mse(torch.mean((out.rgb.detach() - target) ** 2), 1e-10), prog_bar=True)
        e = out.extras
        if cfg.distortion_weight > 0 and e["n_samples"]:
            t0, t1 = e["t_starts"], e["t_ends"]
            if self.contraction is not None:  # measured in normalised spacing, as mip-NeRF 360: far plane free
                t0, t1 = normalized_spacing(t0, 0.5), normalized_spacing(t1, 0.5)
            distortion = distortion_loss(out.weights, t0, t1, e["ray_indices"], len(rays)).mean()
            loss = loss + cfg.distortion_weight * distortion
        if self.proposal is not None and e["rounds"] is not None:
            loss = loss + cfg.proposal_weight * self.proposal_sampler.loss(e["bins"], out.weights, e["rounds"])
        if self.appearance is not None and cfg.appearance_spread_weight > 0:
            loss = loss + cfg.appearance_spread_weight * self.appearance.spread()
        if self.camera_opt is not None:
            loss = loss + self.camera_opt.penalty()
            self.log("train/camera_rotation_deg", self.camera_opt.errors()[0])
        self.samples_seen += e["n_samples"]
        if cfg.target_samples:
            self.next_rays.fill_(
                dynamic_batch_size(
                    len(rays), e["n_samples"], cfg.target_samples, max_rays=16 * self.scene.train.batch_size
                )
            )
            self.log("train/rays", float(len(rays)))
        self.log("train/loss", loss)
        self.log("train/samples_per_ray", e["n_samples"] / len(rays), prog_bar=True)
        if self.grid is not None:
            self.log("train/occupied", self.grid.occupancy_fraction())
        return loss
