"""The ``render:`` sections of the multi-view tasks (radiance, surface), torch-free: validated with the scene
before torch loads. ``ViewRenderConfig`` holds what every multi-view task shares (the splat task extends it)."""

from __future__ import annotations

import logging
from typing import Any, Literal, Optional

from pydantic import Field, field_validator, model_validator

from fields.config.base import StrictModel

log = logging.getLogger("fields")


class ViewRenderConfig(StrictModel):
    """Rendering settings shared by the multi-view tasks."""

    chunk: int = Field(4096, ge=1, description="rays per chunk when rendering whole views")
    n_frames: int = Field(60, ge=1, description="frames of a rendered camera path")
    fps: int = Field(24, ge=1)
    save_test_views: int = Field(4, ge=0, description="test views written as PNGs (prediction | truth)")


class CameraRefineSettings(StrictModel):
    """The ``render.camera_opt*`` keys of the multi-view tasks."""

    camera_opt: Literal["off", "SO3xR3"] = Field("off", description="refine each training camera's pose")
    camera_opt_lr: float = Field(1e-3, gt=0, description="peak learning rate of the pose corrections")
    camera_opt_lr_final: float = Field(1e-5, gt=0, description="learning rate at the end of the run (exponential)")
    camera_opt_delay: int = Field(100, ge=0, description="steps before the poses move (then as many to ramp up)")
    camera_opt_rot_l2: float = Field(1e-3, ge=0, description="penalty on the squared rotation vector")
    camera_opt_trans_l2: float = Field(1e-2, ge=0, description="penalty on the squared translation (unit frame)")
    camera_opt_accumulate: int = Field(
        1, ge=1, description="steps whose pose gradients are averaged into one update of the corrections (each "
        "camera sees only batch / cameras rays a step: K steps give an update K times the rays)")

    @field_validator("camera_opt", mode="before")
    @classmethod
    def _camera_opt(cls, value: Any) -> Any:
        # YAML reads a bare `off` as false (and `on` as true)
        return {False: "off", True: "SO3xR3"}.get(value, value) if isinstance(value, bool) else value



class RadianceRender(ViewRenderConfig, CameraRefineSettings):
    sampler: Literal["occupancy_grid", "uniform", "proposal"] = "occupancy_grid"
    marcher: Literal["auto", "cpp", "torch"] = Field(
        "auto",
        description="occupancy grid marching: the C++ loop (CPU), rounds of torch ops, or auto (cpp where it builds)",
    )
    n_samples: int = Field(64, ge=1, description="uniform: samples per ray; proposal: final samples per ray")
    max_steps: int = Field(512, ge=8, description="occupancy grid: steps across the unit cube's diagonal")
    render_step_size: Optional[float] = Field(
        None, gt=0, description="occupancy grid step (unit frame); default from max_steps"
    )
    grid_resolution: int = Field(128, ge=8)
    grid_levels: int = Field(1, ge=1, le=8)
    grid_update_every: int = Field(16, ge=1)
    grid_warmup_steps: int = Field(256, ge=0)
    occ_thre: float = Field(0.01, ge=0)
    ema_decay: float = Field(0.95, gt=0, lt=1)
    alpha_thre: float = Field(0.0, ge=0)
    early_stop_eps: float = Field(1e-4, ge=0)
    coarse_to_fine: float = Field(
        0.0,
        ge=0,
        le=1,
        description="the share of the run over which the field's finer hash-grid levels fade in (BARF's "
        "coarse-to-fine: a smooth field first, which pose refinement needs and high-contrast captures train "
        "faster with); 0 off",
    )

    eval_pose_align: int = Field(
        0, ge=0, description="steps of test-time pose alignment before scoring the held-out views (BARF's protocol "
        "for refined cameras, whose frame is not the given poses'): metrics gain psnr_aligned and ssim_aligned; 0 off")
    view_early_stop_eps: float = Field(
        0.01,
        ge=0,
        description="viewer frames: rays stop once transmittance falls below this (instant-ngp's viewer "
        "default; frames agree with early_stop_eps to about 50 dB, for a fifth fewer samples)",
    )
    round_samples: int = Field(
        32,
        ge=0,
        description="occupancy grid: the most steps per ray in a round of early-stop density evaluations "
        "(rounds grow 8, 16, ... up to it; 0: all in one)",
    )
    target_samples: int = Field(
        0,
        ge=0,
        description="samples per training step: rays per step adapt to it "
        "(nerfacc's dynamic batch, from train.batch_size); 0 keeps train.batch_size rays",
    )
    cone_angle: float = Field(0.0, ge=0)
    near_plane: float = Field(0.0, ge=0, description="unit frame")
    proposal_samples: tuple[int, ...] = (128, 64)
    proposal_max_resolutions: tuple[int, ...] = Field((128, 256), description="finest grid of each proposal field")
    contraction: Literal["none", "linf", "l2"] = Field("none", description="unbounded scenes: squeeze space beyond the "
                                                       "scene box (linf: nerfacto's, suits grids; l2: mip-NeRF 360's)")
    far_plane: float = Field(1000.0, gt=1, description="with a contraction: ray length in scene-box half-sides")
    appearance_dim: int = Field(0, ge=0, description="per-image appearance code (GLO; nerfacto: 32); test views "
                                "get the training mean; 0: none")
    appearance_lr: Optional[float] = Field(None, gt=0, description="learning rate of the codes (None: a tenth of "
                                           "the decoder's: a code sees ~1/n_views of a step's rays, and at the "
                                           "decoder's rate its noise held training ~9 dB down)")
    appearance_spread_weight: float = Field(0.0, ge=0, description="penalty on the codes' spread about their mean "
                                            "(the code test views get): a code departs only for what the "
                                            "field cannot explain for every view")
    proposal_weight: float = Field(1.0, ge=0)
    proposal_update_every: int = Field(5, ge=1, description="proposal fields train every k-th step once warmed up "
                                       "(nerfacto); in between they only propose, without gradients")
    proposal_warmup: int = Field(5000, ge=0, description="steps over which that interval grows from 1 to k")
    distortion_weight: float = Field(0.0, ge=0)
    mesh_resolution: int = Field(128, ge=0, description="cells per axis of the exported mesh's grid; 0 skips it")
    mesh_density: float = Field(15.0, gt=0, description="density level of the exported mesh (unit frame)")

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data: Any) -> Any:
        # camera_opt_coarse_to_fine, the window when it needed camera_opt: saved runs still load
        if isinstance(data, dict) and "camera_opt_coarse_to_fine" in data:
            data = {k: v for k, v in data.items() if k != "camera_opt_coarse_to_fine"} | {
                "coarse_to_fine": data["camera_opt_coarse_to_fine"]}
        return data

    @model_validator(mode="before")
    @classmethod
    def _removed_backend(cls, data: Any) -> Any:
        # render.backend (auto|torch|nerfacc) never reached the renderer; older scene files still load
        if isinstance(data, dict) and "backend" in data:
            data = {k: v for k, v in data.items() if k != "backend"}
            log.info(
                "render.backend is ignored: rendering runs torch (Triton kernels on CUDA); nerfacc was never wired"
            )
        return data



class SurfaceRender(ViewRenderConfig):
    # CPU-sized (issue 18): 24 + 16 samples per ray, finite-difference gradients, a ReLU SDF network of one
    # hidden layer; measured about 7x the steps per second of 48 + 32 samples with analytic gradients
    n_samples: int = Field(24, ge=2)
    n_importance: int = Field(16, ge=0)
    up_sample_steps: int = Field(1, ge=0)
    eikonal_weight: float = Field(0.1, ge=0)
    eikonal_points: int = Field(256, ge=0, description="random points per step for the eikonal loss")
    mask_weight: float = Field(0.1, ge=0, description="opacity vs. the images' alpha (ignored without alpha)")
    anneal_steps: int = Field(500, ge=0, description="steps of the cosine annealing; 0: none")
    mesh_resolution: int = Field(128, ge=8)

