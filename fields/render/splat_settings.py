"""The ``render:`` section of ``task: splat`` and its densification strategies' configs, torch-free (validated
with the scene before torch loads; the strategies in ``fields.tasks.splat_strategy`` and ``splat_mcmc`` take
their ``Config`` from here)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SerializeAsAny, field_validator, model_validator

from fields.config.base import ComponentConfig
from fields.registry import Registry
from fields.render.view_settings import CameraRefineSettings, ViewRenderConfig

STRATEGIES: Registry = Registry("densification strategy")


class DefaultStrategyConfig(ComponentConfig):
    type: Literal["default"] = "default"
    refine_start: int = Field(300, ge=0, description="first step that densifies")
    refine_stop: int = Field(3000, ge=0, description="no densification from this step on")
    refine_every: int = Field(100, ge=1)
    reset_every: int = Field(
        1500, ge=1, description="steps between opacity resets (the last one before refine_stop)"
    )
    grad_threshold: float = Field(2e-4, gt=0, description="mean view-space gradient norm (NDC) that densifies")
    grow_scale3d: float = Field(0.01, gt=0, description="clone below, split above this largest axis (x extent)")
    prune_opacity: float = Field(0.005, gt=0, lt=0.5)
    prune_scale3d: float = Field(
        0.1, gt=0, description="prune Gaussians larger than this (x extent) after the first reset"
    )
    max_gaussians: int | None = Field(None, ge=1, description="no growth beyond this many Gaussians")

    @model_validator(mode="after")
    def _order(self) -> DefaultStrategyConfig:
        if self.refine_stop < self.refine_start:
            raise ValueError(
                f"refine_stop ({self.refine_stop}) must be at least refine_start ({self.refine_start})"
            )
        return self


class MCMCStrategyConfig(ComponentConfig):
    type: Literal["mcmc"] = "mcmc"
    cap: int = Field(50_000, ge=1, description="most Gaussians")
    grow_rate: float = Field(0.05, ge=0, description="fraction added at each refinement until the cap")
    refine_start: int = Field(300, ge=0)
    refine_stop: int = Field(4000, ge=0)
    refine_every: int = Field(100, ge=1)
    min_opacity: float = Field(0.005, gt=0, lt=1, description="Gaussians at or under this are relocated")
    noise_lr: float = Field(5e5, ge=0, description="position noise: this times the position learning rate")
    opacity_reg: float = Field(0.01, ge=0)
    scale_reg: float = Field(0.01, ge=0)


STRATEGIES.declare("default", DefaultStrategyConfig, "fields.tasks.splat_strategy:DefaultStrategy",
                   aliases=("3dgs", "adaptive"))
STRATEGIES.declare("mcmc", MCMCStrategyConfig, "fields.tasks.splat_mcmc:MCMCStrategy")


class SplatSettings(ViewRenderConfig, CameraRefineSettings):
    """``render:`` of ``task: splat``: rasterizer, loss, learning rates, densification, meshing."""

    backend: Literal["auto", "torch", "cpp", "triton", "gsplat"] = "auto"
    antialiased: bool = Field(False, description="Mip-Splatting's opacity compensation of the 2D low-pass")
    ssim_weight: float = Field(0.2, ge=0, le=1, description="lambda of (1 - lambda) L1 + lambda (1 - SSIM)")
    lr_means: float = Field(1.6e-4, gt=0, description="position learning rate at the start, times the scene extent")
    lr_means_final: float = Field(1.6e-6, gt=0, description="position learning rate at the end, times the scene extent")
    lr_scales: float = Field(5e-3, gt=0)
    lr_quats: float = Field(1e-3, gt=0)
    lr_opacities: float = Field(5e-2, gt=0)
    lr_sh_dc: float = Field(2.5e-3, gt=0)
    lr_sh_rest: float = Field(1.25e-4, gt=0)
    strategy: SerializeAsAny[ComponentConfig] = Field(default_factory=lambda: STRATEGIES.validate("default"))
    mesh_voxels: int = Field(256, ge=8, description="fields export mesh: TSDF voxels across the scene box (default)")

    @field_validator("strategy", mode="before")
    @classmethod
    def _strategy(cls, value: Any) -> Any:
        return STRATEGIES.validate(value, default="default")

