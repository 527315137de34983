"""The encoders' configs (``model.encoder:`` and friends) and the ``ENCODERS`` registry, torch-free.

Each encoder class (``fields.encoders.*``) takes its config from here as ``Config``; the registry declares the
names with the config and the class's module, so that a scene is validated without importing torch (a bad
scene file answers at once) and the class is imported when a field is built.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Optional

from pydantic import Field, SerializeAsAny, field_validator, model_validator

from fields.config.base import ComponentConfig
from fields.errors import SettingError
from fields.registry import Registry

ENCODERS: Registry = Registry("encoder", user_error=SettingError)
MAX_DEGREE = 5  # spherical harmonics bands
Aggregation = Literal["sum", "product", "concat"]


def level_resolutions(
    n_levels: int, base_resolution: int, per_level_scale: Optional[float], max_resolution: Optional[int]
) -> list[int]:
    """Vertices per axis of each level (at least 2)."""
    if max_resolution is not None:
        b = 1.0 if n_levels == 1 else (max_resolution / base_resolution) ** (1.0 / (n_levels - 1))
    else:
        b = 2.0 if per_level_scale is None else per_level_scale
    return [max(2, round(base_resolution * b**level)) for level in range(n_levels)]


class FrequencyEncodingConfig(ComponentConfig):
    type: Literal["frequency"] = "frequency"
    n_frequencies: int = Field(10, ge=1, le=32)
    include_input: bool = True


class FourierFeaturesConfig(ComponentConfig):
    type: Literal["fourier"] = "fourier"
    n_features: int = Field(256, ge=1)
    sigma: float = Field(10.0, gt=0)
    trainable: bool = False
    seed: int = 0


class HashGridConfig(ComponentConfig):
    type: Literal["hashgrid"] = "hashgrid"
    n_levels: int = Field(16, ge=1, le=64)
    n_features_per_level: int = Field(2, ge=1, le=64)
    log2_hashmap_size: int = Field(19, ge=3, le=30)
    base_resolution: int = Field(16, ge=1)
    per_level_scale: Optional[float] = Field(None, gt=0, description="default 2.0, or from max_resolution")
    max_resolution: Optional[int] = Field(None, ge=1, description="alternative to per_level_scale")
    interpolation: Literal["linear", "smoothstep"] = "linear"
    backend: Literal["auto", "torch", "cpp", "tcnn", "triton"] = "auto"

    @model_validator(mode="after")
    def _one_scale(self) -> "HashGridConfig":
        if self.per_level_scale is not None and self.max_resolution is not None:
            raise ValueError("give per_level_scale or max_resolution, not both")
        return self

    def level_scale_factor(self) -> float:
        if self.max_resolution is not None:
            if self.n_levels == 1:
                return 1.0
            return math.exp((math.log(self.max_resolution) - math.log(self.base_resolution)) / (self.n_levels - 1))
        return 2.0 if self.per_level_scale is None else self.per_level_scale


class DenseGridConfig(ComponentConfig):
    type: Literal["densegrid"] = "densegrid"
    n_levels: int = Field(4, ge=1, le=32)
    n_features_per_level: int = Field(2, ge=1, le=64)
    base_resolution: int = Field(16, ge=2, description="vertices per axis of the coarsest level")
    per_level_scale: Optional[float] = Field(None, gt=0, description="default 2.0, or from max_resolution")
    max_resolution: Optional[int] = Field(None, ge=2, description="vertices per axis of the finest level")
    interpolation: Literal["linear", "smoothstep"] = "linear"
    init_scale: float = Field(1e-4, ge=0, description="tables start at U(-init_scale, init_scale)")
    backend: Literal["auto", "torch", "triton"] = "auto"

    @model_validator(mode="after")
    def _one_scale(self) -> "DenseGridConfig":
        if self.per_level_scale is not None and self.max_resolution is not None:
            raise ValueError("give per_level_scale or max_resolution, not both")
        return self

    def resolutions(self) -> list[int]:
        return level_resolutions(self.n_levels, self.base_resolution, self.per_level_scale, self.max_resolution)


class TriPlaneConfig(ComponentConfig):
    type: Literal["triplane"] = "triplane"
    resolution: int = Field(64, ge=2, description="vertices per axis of the coarsest level")
    n_features: int = Field(16, ge=1, le=256)
    n_levels: int = Field(1, ge=1, le=8)
    per_level_scale: float = Field(2.0, gt=0)
    aggregation: Aggregation = "sum"
    init_std: float = Field(0.1, ge=0, description="std of the initial values (sum, concat)")
    sampler: Literal["gather", "grid_sample"] = "gather"

    def resolutions(self) -> list[int]:
        return [max(2, round(self.resolution * self.per_level_scale**level)) for level in range(self.n_levels)]


class KPlanesConfig(ComponentConfig):
    type: Literal["kplanes"] = "kplanes"
    resolution: int = Field(64, ge=2, description="spatial vertices per axis of the coarsest level")
    time_resolution: Optional[int] = Field(None, ge=2, description="4D input: time vertices (default: resolution)")
    n_features: int = Field(16, ge=1, le=256)
    n_levels: int = Field(4, ge=1, le=8)
    per_level_scale: float = Field(2.0, gt=0)
    aggregation: Aggregation = "product"
    sampler: Literal["gather", "grid_sample"] = "gather"

    def level_resolutions(self, in_dim: int) -> list[list[int]]:
        levels = []
        for level in range(self.n_levels):
            res = [max(2, round(self.resolution * self.per_level_scale**level))] * in_dim
            if in_dim == 4:
                res[3] = self.time_resolution or self.resolution
            levels.append(res)
        return levels


class SphericalHarmonicsConfig(ComponentConfig):
    type: Literal["sh"] = "sh"
    degree: int = Field(4, ge=1, le=MAX_DEGREE, description="number of bands (tiny-cuda-nn); output degree**2")
    normalize: bool = Field(False, description="renormalise x * 2 - 1 to unit length first")


class IdentityEncodingConfig(ComponentConfig):
    type: Literal["identity"] = "identity"
    scale: float = 1.0
    offset: float = 0.0


class NeuRBFConfig(ComponentConfig):
    type: Literal["neurbf"] = "neurbf"
    n_kernels: int = Field(4096, ge=1)
    kernel: Literal["inverse_quadric", "gaussian", "tent"] = "inverse_quadric"
    tent_shape: Literal["isotropic", "axis"] = Field(
        "isotropic", description="tent widths from k-means: one per kernel (the authors' nlin_s) or per axis")
    n_neighbours: int = Field(4, ge=1, description="K nearest kernels per query (4 images, 8 SDFs)")
    n_frequencies: int = Field(32, ge=1, description="P: feature size per kernel and number of frequencies")
    frequency_range: tuple[float, float] = Field((2.0**-3, 2.0**12), description="m, log-spaced (SDF: [1, 8])")
    sinusoidal: bool = True
    normalise: bool = True
    learn_centres: bool = False
    learn_shapes: bool = False
    feature_init: float = Field(1e-4, ge=0)
    grid: Optional[SerializeAsAny[ComponentConfig]] = Field(
        None, description="grid branch, e.g. {type: hashgrid, ...}"
    )
    neighbour_resolution: Optional[int] = Field(None, ge=1, description="cells per side; default from n_kernels")
    max_candidates: int = Field(32, ge=1)
    kmeans_iterations: int = Field(10, ge=0)
    shape_alpha: float = Field(0.5, gt=0, description="S = alpha * Cov^-1 (0.5 images/SDF, 0.3 NeRF)")
    init_samples: int = Field(2**18, ge=1, description="at most this many samples go into k-means")
    seed: int = 0

    @field_validator("grid", mode="before")
    @classmethod
    def _grid(cls, value: Any) -> Any:
        return None if value is None else ENCODERS.validate(value)

    @model_validator(mode="after")
    def _enough_kernels(self) -> "NeuRBFConfig":
        if self.n_neighbours > self.n_kernels:
            raise ValueError(f"n_neighbours ({self.n_neighbours}) exceeds n_kernels ({self.n_kernels})")
        low, high = self.frequency_range
        if not 0 < low <= high:
            raise ValueError("frequency_range must be (low, high) with 0 < low <= high")
        return self


class GNFGridConfig(ComponentConfig):
    type: Literal["gnf_grid"] = "gnf_grid"
    channels: list[int] = Field(default_factory=lambda: [4, 4, 4, 2, 2, 2])
    min_resolution: int = Field(32, ge=2)
    max_resolution: int = Field(128, ge=2)
    resolutions: Optional[list[int]] = Field(None, description="explicit per-level resolutions")
    frequencies: Optional[list[float]] = Field(None, description="sawtooth frequency per level; default 1")
    init: float = Field(0.1, ge=0)

    @model_validator(mode="after")
    def _check(self) -> "GNFGridConfig":
        n = len(self.channels)
        if n == 0 or min(self.channels) < 1:
            raise ValueError("channels must list at least one positive count")
        for name in ("resolutions", "frequencies"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"{name} needs one entry per level ({n})")
        if self.resolutions is not None and min(self.resolutions) < 2:
            raise ValueError("resolutions must be at least 2")
        if self.frequencies is not None and min(self.frequencies) <= 0:
            raise ValueError("frequencies must be positive")
        return self

    def level_resolutions(self) -> list[int]:
        if self.resolutions is not None:
            return list(self.resolutions)
        n = len(self.channels)
        if n == 1:
            return [self.max_resolution]
        lo, hi = math.log(self.min_resolution), math.log(self.max_resolution)
        return [round(math.exp(lo + (hi - lo) * l / (n - 1))) for l in range(n)]


ENCODERS.declare("frequency", FrequencyEncodingConfig, "fields.encoders.frequency:FrequencyEncoding",
                 aliases=("Frequency", "positional", "nerf_pe"))
ENCODERS.declare("fourier", FourierFeaturesConfig, "fields.encoders.frequency:FourierFeatures",
                 aliases=("ffn", "random_fourier"))
ENCODERS.declare("hashgrid", HashGridConfig, "fields.encoders.hashgrid:HashGrid", aliases=("HashGrid", "hash", "ngp"))
ENCODERS.declare("densegrid", DenseGridConfig, "fields.encoders.densegrid:DenseGrid", aliases=("DenseGrid", "dense"))
ENCODERS.declare("triplane", TriPlaneConfig, "fields.encoders.triplane:TriPlane", aliases=("TriPlane", "tri_plane"))
ENCODERS.declare("kplanes", KPlanesConfig, "fields.encoders.triplane:KPlanes",
                 aliases=("KPlanes", "k_planes", "hexplane"))
ENCODERS.declare("sh", SphericalHarmonicsConfig, "fields.encoders.sh:SphericalHarmonics",
                 aliases=("SphericalHarmonics", "spherical_harmonics"))
ENCODERS.declare("identity", IdentityEncodingConfig, "fields.encoders.identity:IdentityEncoding", aliases=("Identity",))
ENCODERS.declare("neurbf", NeuRBFConfig, "fields.encoders.neurbf:NeuRBF", aliases=("NeuRBF", "rbf"))
ENCODERS.declare("gnf_grid", GNFGridConfig, "fields.encoders.gnf:GNFGrid", aliases=("dif_grid",))
