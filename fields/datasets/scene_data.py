"""The ``data:`` sections of the scene file (image, video, geometry, posed views), torch-free: a scene is
validated before torch loads, so a bad data path answers at once. The loaders read these configs."""

from __future__ import annotations

from typing import Literal, Optional, Union

import pydantic
from pydantic import Field, ValidationInfo, field_validator, model_validator

from fields.config.base import StrictModel
from fields.datasets.cgal import CGAL_PREFIX, resolve_cgal
from fields.datasets.names import (
    POVRAY_PREFIX,
    SHAPE_NAMES,
    SHAPE_PREFIX,
    SKIMAGE_PREFIX,
    SYNTHETIC_PREFIX,
    SYNTHETIC_SCENES,
    skimage_names,
)
from fields.datasets.paths import resolve_data_path


class ImageData(StrictModel):
    image: str = "skimage:astronaut"
    channels: Literal["auto", "rgb", "grey"] = "auto"
    max_size: Optional[int] = pydantic.Field(None, ge=2, description="downscale so the longer side is at most this")

    @field_validator("image")
    @classmethod
    def _exists(cls, value: str, info: ValidationInfo) -> str:
        if value.startswith(SKIMAGE_PREFIX):
            name = value[len(SKIMAGE_PREFIX) :]
            if name not in skimage_names():
                raise ValueError(f"no scikit-image image '{name}'; valid: {', '.join(skimage_names())}")
            return value
        return resolve_data_path(value, (info.context or {}).get("base_dir"))


class VideoData(StrictModel):
    video: str
    start: int = pydantic.Field(0, ge=0, description="first frame (index in the file)")
    stop: Optional[int] = pydantic.Field(None, ge=1, description="frames before this index (exclusive)")
    stride: int = pydantic.Field(1, ge=1)
    max_size: Optional[int] = pydantic.Field(None, ge=2, description="downscale so the longer side is at most this")
    channels: Literal["auto", "rgb", "grey"] = "auto"
    fps: Optional[float] = pydantic.Field(
        None, gt=0, description="frame rate of written videos; default the file's / stride"
    )

    @field_validator("video")
    @classmethod
    def _exists(cls, value: str, info: ValidationInfo) -> str:
        return resolve_data_path(value, (info.context or {}).get("base_dir"))

    @model_validator(mode="after")
    def _range(self) -> "VideoData":
        if self.stop is not None and self.stop <= self.start:
            raise ValueError(f"stop ({self.stop}) must be greater than start ({self.start})")
        return self


class SampleConfig(StrictModel):
    pool_size: int = Field(2**20, ge=1024, description="samples drawn once before training")
    surface: float = Field(0.5, ge=0)
    near: float = Field(0.375, ge=0)
    uniform: float = Field(0.125, ge=0)
    near_sigmas: list[float] = Field(default_factory=lambda: [0.01], min_length=1, description="unit-cube units")
    sign_rays: int = Field(1, ge=1, description="rays voting for inside/outside (odd)")

    @field_validator("sign_rays")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"sign_rays must be odd, got {value}")
        return value

    @field_validator("near_sigmas")
    @classmethod
    def _positive(cls, value: list[float]) -> list[float]:
        if any(not s > 0 for s in value):
            raise ValueError("near_sigmas must be positive")
        return value

    @model_validator(mode="after")
    def _some(self) -> "SampleConfig":
        if self.surface + self.near + self.uniform <= 0:
            raise ValueError("the sample proportions surface + near + uniform must be positive")
        return self

    def fractions(self) -> tuple[float, float, float]:
        total = self.surface + self.near + self.uniform
        return self.surface / total, self.near / total, self.uniform / total


class GeometryLosses(StrictModel):
    """Loss weights. ``eikonal`` and ``normal`` need ``d field / dx`` (and its derivative): they are
    computed on ``gradient_fraction`` of each batch. Point-cloud SDFs also use ``surface`` (|f| on the
    points), ``off_surface`` (SIREN's ``exp(-alpha |f|)`` on uniform samples) and ``pseudo_distance``."""

    eikonal: float = pydantic.Field(0.1, ge=0)
    normal: float = pydantic.Field(0.0, ge=0)
    surface: float = pydantic.Field(1.0, ge=0)
    off_surface: float = pydantic.Field(0.1, ge=0)
    off_surface_alpha: float = pydantic.Field(100.0, gt=0)
    pseudo_distance: float = pydantic.Field(1.0, ge=0, description="point clouds: L1 to Hoppe's distance estimate")
    gradient_fraction: float = pydantic.Field(0.125, gt=0, le=1)


class GeometryEval(StrictModel):
    points: int = pydantic.Field(2**18, ge=1024, description="samples for each IoU (uniform, near-surface)")
    near_sigma: float = pydantic.Field(0.01, gt=0, description="near-surface IoU offsets, unit-cube units")
    mesh_resolution: int = pydantic.Field(256, ge=8, description="marching cubes cells per axis for Chamfer")
    surface_points: int = pydantic.Field(100_000, ge=100, description="samples per surface for Chamfer")
    fscore_threshold: float = pydantic.Field(0.01, gt=0, description="fraction of the longest bounding-box side")
    export_resolution: int = pydantic.Field(256, ge=8, description="mesh written by fields fit")
    export_format: Literal["ply", "obj", "glb", "stl", "off"] = "ply"
    render_frames: int = pydantic.Field(24, ge=1)
    render_size: int = pydantic.Field(256, ge=8)
    render_up: Literal["auto", "x", "y", "z"] = pydantic.Field(
        "auto", description="turntable axis; auto: y for mesh files (their usual convention), z otherwise")
    seed: int = 0


class GeometryData(StrictModel):
    mesh: Optional[str] = pydantic.Field(None, description="mesh file, or shape:NAME for a generated shape")
    points: Optional[str] = pydantic.Field(None, description="point cloud file (an SDF from oriented points)")
    reference: Optional[str] = pydantic.Field(None, description="mesh for the metrics of a point-cloud fit")
    padding: float = pydantic.Field(0.1, ge=0, lt=0.5, description="margin in the unit cube on each side")
    shape_resolution: int = pydantic.Field(128, ge=16, description="marching cubes of shape:NAME meshes")
    poisson_depth: int = pydantic.Field(8, ge=4, le=12, description="occupancy from a point cloud")
    samples: SampleConfig = pydantic.Field(default_factory=SampleConfig)
    losses: GeometryLosses = pydantic.Field(default_factory=GeometryLosses)
    eval: GeometryEval = pydantic.Field(default_factory=GeometryEval)

    @field_validator("mesh", "points", "reference")
    @classmethod
    def _exists(cls, value: Optional[str], info: ValidationInfo) -> Optional[str]:
        if value is None:
            return None
        if value.startswith(SHAPE_PREFIX):
            if info.field_name == "points":
                raise ValueError("generated shapes are meshes: use data.mesh")
            name = value[len(SHAPE_PREFIX) :]
            if name not in SHAPE_NAMES:
                raise ValueError(f"no generated shape '{name}'; valid: {', '.join(SHAPE_NAMES)}")
            return value
        if value.startswith(CGAL_PREFIX):
            return resolve_cgal(value)
        return resolve_data_path(value, (info.context or {}).get("base_dir"))

    @model_validator(mode="after")
    def _one_source(self) -> "GeometryData":
        if (self.mesh is None) == (self.points is None):
            raise ValueError("give data.mesh (a mesh file or shape:NAME) or data.points (a point cloud), one of them")
        if self.reference is not None and self.mesh is not None:
            raise ValueError("data.reference is for point-cloud fits; a mesh is its own reference")
        return self


class SyntheticSceneConfig(StrictModel):
    """Settings of the generated demo scene (``path: synthetic:NAME``)."""

    n_train: int = Field(100, ge=1)
    n_test: int = Field(20, ge=1)
    size: int = Field(200, ge=8, description="image width and height in pixels")
    seed: int = 0


class PosedViewsData(StrictModel):
    path: str = Field(
        "synthetic:objects", description="dataset folder, a transforms.json, synthetic:objects|sphere or povray:NAME"
    )
    format: Literal["auto", "blender", "colmap", "llff"] = "auto"
    convention: Literal["auto", "opengl", "opencv"] = Field("auto", description="pose convention; auto: the format's")
    downscale: float = Field(1.0, ge=1.0)
    background: Union[Literal["white", "black", "random"], tuple[float, float, float]] = "white"
    aabb: Optional[tuple[float, float, float, float, float, float]] = Field(None, description="scene box (world)")
    test_every: int = Field(8, ge=2, description="hold out every n-th view when the data has no test split")
    max_test_views: Optional[int] = Field(None, ge=1)
    synthetic: SyntheticSceneConfig = Field(default_factory=SyntheticSceneConfig)

    @field_validator("path")
    @classmethod
    def _exists(cls, value: str, info: ValidationInfo) -> str:
        if value.startswith(SYNTHETIC_PREFIX):
            name = value[len(SYNTHETIC_PREFIX):]
            if name not in SYNTHETIC_SCENES:
                raise ValueError(f"no synthetic scene '{name}'; valid: {', '.join(SYNTHETIC_SCENES)}")
            return value
        if value.startswith(POVRAY_PREFIX):
            from fields.datasets.povray import SCENES as POVRAY_SCENES

            if value[len(POVRAY_PREFIX):] not in POVRAY_SCENES:
                raise ValueError(f"no POV-Ray scene '{value[len(POVRAY_PREFIX):]}'; valid: {', '.join(POVRAY_SCENES)}")
            return value
        return resolve_data_path(value, (info.context or {}).get("base_dir"))

