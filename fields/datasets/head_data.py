"""The ``data:`` sections of the head tasks (classify: a tri-plane dataset or the procedural collection to fit;
restore: the image pairs), torch-free like ``scene_data``: validated with the scene before torch loads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, ValidationInfo, field_validator, model_validator

from fields.config.base import StrictModel
from fields.datasets.names import SHAPE_CLASSES, skimage_names
from fields.datasets.paths import resolve_data_path


class TriplaneFitConfig(StrictModel):
    resolution: int = Field(32, ge=2, description="plane side R")
    channels: int = Field(16, ge=1, description="channels C per plane")
    pe_frequencies: int = Field(10, ge=0, description="positional encoding octaves L (3 + 6L values)")
    hidden: int = Field(64, ge=1)
    hidden_layers: int = Field(3, ge=1)
    activation: str = Field("sine", pattern="^(sine|relu)$")
    steps: int = Field(400, ge=1)
    points_per_step: int = Field(4096, ge=1, description="points per shape per step")
    pool_points: int = Field(32768, ge=16, description="labelled points kept per shape to draw steps from")
    surface_fraction: float = Field(0.5, ge=0, le=1, description="pool share of jittered surface points")
    surface_jitter: float = Field(0.03, gt=0, description="std of the jitter of surface points")
    plane_lr: float = Field(3e-2, gt=0)
    mlp_lr: float = Field(2e-3, gt=0)
    plane_init_std: float = Field(1e-3, gt=0)
    shared_init: bool = Field(True, description="every shape starts from the same planes and MLP weights")
    batch_shapes: int = Field(64, ge=1, description="shapes fitted together in one vectorised batch")
    iou_points: int = Field(32768, ge=16, description="uniform points per shape for the IoU")



class TriplaneDatasetConfig(StrictModel):
    classes: list[str] = Field(default_factory=lambda: list(SHAPE_CLASSES), min_length=2)
    train_per_class: int = Field(16, ge=1)
    test_per_class: int = Field(8, ge=1)
    seed: int = 0
    noise_amplitude: float = Field(0.015, ge=0, description="amplitude of the smooth surface noise (local units)")
    surface_points: int = Field(1024, ge=1, description="surface samples per shape for the point baseline")
    fit: TriplaneFitConfig = Field(
        default_factory=lambda: TriplaneFitConfig(hidden=32, hidden_layers=2, points_per_step=1024, steps=150)
    )

    @field_validator("classes")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in SHAPE_CLASSES]
        if unknown:
            raise ValueError(f"unknown shape classes {unknown}; valid: {', '.join(SHAPE_CLASSES)}")
        if len(set(value)) != len(value):
            raise ValueError("shape classes are listed twice")
        return value

    def key(self) -> str:
        return hashlib.sha1(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]



class ClassifyData(StrictModel):
    dataset: Optional[str] = Field(None, description="a tri-plane dataset file; default: fit data.shapes")
    shapes: TriplaneDatasetConfig = Field(default_factory=TriplaneDatasetConfig)
    cache_dir: str = Field("~/.cache/fields/triplanes", description="where fitted collections are kept")
    normalize: bool = Field(True, description="L2-normalise plane pixels over the 3C channels")
    augment_permutation: bool = Field(False, description="random shared channel permutation per example "
                                                          "(for fits from independent inits)")
    augment_symmetry: bool = Field(True, description="random axis flips and permutations of the cube per example")
    train_points: int = Field(512, ge=1, description="pointnet: points drawn per shape and step")

    @field_validator("dataset")
    @classmethod
    def _exists(cls, value: Optional[str], info: ValidationInfo) -> Optional[str]:
        return None if value is None else resolve_data_path(value, (info.context or {}).get("base_dir"))



class PairsConfig(StrictModel):
    source: Literal["synthetic", "renders"] = "synthetic"
    size: int = Field(64, ge=8, description="images are cut to size x size")
    noise_std: float = Field(0.1, ge=0, description="synthetic: Gaussian noise std")
    blur_sigma: float = Field(0.0, ge=0, description="synthetic: Gaussian blur std in pixels")
    early_steps: int = Field(25, ge=1, description="renders: steps of the early-stopped field")
    converged_steps: int = Field(400, ge=2, description="renders: steps of the converged field")
    seed: int = 0



class RestoreData(StrictModel):
    images: list[str] = Field(
        default_factory=lambda: [
            "astronaut",
            "coffee",
            "chelsea",
            "rocket",
            "immunohistochemistry",
            "hubble_deep_field",
            "brick",
            "gravel",
        ],
        min_length=1,
    )
    test_images: list[str] = Field(default_factory=lambda: ["camera", "retina"], min_length=1)
    pairs: PairsConfig = Field(default_factory=PairsConfig)
    patch: int = Field(32, ge=4, description="training crop size (the head's divisibility applies)")
    cache_dir: str = Field("~/.cache/fields/restore", description="where render pairs are kept")

    @field_validator("images", "test_images")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        names = skimage_names()
        for name in value:
            if ":" not in name and not Path(name).suffix and name not in names:
                raise ValueError(f"no scikit-image image '{name}'; valid: {', '.join(names)}")
        return value

    @model_validator(mode="after")
    def _patch_fits(self) -> "RestoreData":
        if self.patch > self.pairs.size:
            raise ValueError(f"patch {self.patch} is larger than the images ({self.pairs.size})")
        return self

