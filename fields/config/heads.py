"""The heads' skeleton configs (``head:`` of the classify and restore tasks) and the ``BACKBONES`` registry,
torch-free (the classes in ``fields.heads`` take their ``Config`` from here), with each task's head rule."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, field_validator, model_validator

from fields.config.base import ComponentConfig
from fields.config.mixers import validate_mixers
from fields.registry import Registry

BACKBONES: Registry = Registry("backbone")
CHANNEL_MLPS = ("mlp", "glu", "gr_kan", "s_kan", "hourglass")  # fields.heads.channel_mlp builds these
CLASSIFIERS = ("channel_set", "pyramid", "isotropic", "pointnet")
RESTORE_HEAD = {"type": "unet", "dims": [32, 64, 96], "depths": [1, 1, 1], "skip": "cross_gating",
                "mixer": {"type": "maxim", "grid_size": 4, "block_size": 4}, "global_residual": True}


class StageOptions(ComponentConfig):
    """Options shared by the skeletons' blocks."""

    mixer: Any = Field("pool", description="mixer spec (name or {type: name, ...}), or a list with one per stage")
    channel_mlp: Any = Field("mlp", description="mlp | glu | gr_kan | s_kan | hourglass, or {type: ..., options}")
    mlp_ratio: float = Field(4.0, gt=0)
    layer_scale: Optional[float] = Field(None, description="initial layer-scale factor; None: no layer scale")
    drop_path: float = Field(0.0, ge=0, lt=1, description="stochastic depth rate, increasing linearly to this")

    @field_validator("channel_mlp")
    @classmethod
    def _channel_mlp(cls, value: Any) -> Any:
        name = value if isinstance(value, str) else (value or {}).get("type") if isinstance(value, dict) else value
        if value is not None and name not in CHANNEL_MLPS:
            raise ValueError(f"unknown channel MLP '{name}'; valid choices: {', '.join(CHANNEL_MLPS)}")
        return value



class PyramidClassifierConfig(StageOptions):
    type: Literal["pyramid"] = "pyramid"
    dims: list[int] = Field(default_factory=lambda: [32, 64, 128])
    depths: list[int] = Field(default_factory=lambda: [2, 2, 2])
    stem_kernel: int = Field(7, ge=1, description="MetaFormer's 7x7 overlapping stem")
    stem_stride: int = Field(2, ge=1)
    downsample: Literal["merge", "conv"] = Field("merge", description="Swin's 2x2 merging or MetaFormer's 3x3 conv")

    @model_validator(mode="after")
    def _stages(self) -> "PyramidClassifierConfig":
        if len(self.dims) != len(self.depths) or not self.dims:
            raise ValueError(f"dims and depths need the same non-zero length, got {self.dims} and {self.depths}")
        self.__dict__["mixer"] = validate_mixers(self.mixer, len(self.dims))
        return self


class IsotropicClassifierConfig(StageOptions):
    type: Literal["isotropic"] = "isotropic"
    dim: int = Field(64, ge=1)
    depth: int = Field(6, ge=1)
    patch_size: int = Field(4, ge=1, description="non-overlapping patches of patch_size x patch_size pixels")

    @model_validator(mode="after")
    def _mixer(self) -> "IsotropicClassifierConfig":
        self.__dict__["mixer"] = validate_mixers(self.mixer, 1)[0]
        return self


class MetaFormerUNetConfig(StageOptions):
    type: Literal["unet"] = "unet"
    dims: list[int] = Field(default_factory=lambda: [32, 64, 128], description="width per level; last: bottleneck")
    depths: list[int] = Field(
        default_factory=lambda: [1, 1, 2], description="blocks per level (encoder and decoder)"
    )
    skip: Literal["concat", "add", "cross_gating"] = "concat"
    global_residual: bool = True

    @model_validator(mode="after")
    def _levels(self) -> "MetaFormerUNetConfig":
        if len(self.dims) != len(self.depths) or not self.dims:
            raise ValueError(f"dims and depths need the same non-zero length, got {self.dims} and {self.depths}")
        self.__dict__["mixer"] = validate_mixers(self.mixer, len(self.dims))
        return self


class ChannelSetTransformerConfig(ComponentConfig):
    type: Literal["channel_set"] = "channel_set"
    tokens: Literal["channel", "channel_triplet"] = "channel"
    dim: int = Field(128, ge=1)
    depth: int = Field(4, ge=0)
    heads: int = Field(4, ge=1)
    mlp_ratio: float = Field(2.0, gt=0)
    dropout: float = Field(0.0, ge=0, lt=1)
    normalize: bool = Field(True, description="L2-normalise each pixel over the 3C channels first")
    n_planes: int = Field(3, ge=1, description="planes stacked in the input (3 for a tri-plane)")


class PointNetConfig(ComponentConfig):
    type: Literal["pointnet"] = "pointnet"
    widths: list[int] = Field(default_factory=lambda: [64, 128, 256], min_length=1)
    head_widths: list[int] = Field(default_factory=lambda: [128])
    dropout: float = Field(0.3, ge=0, lt=1)


BACKBONES.declare("pyramid", PyramidClassifierConfig, "fields.heads.pyramid:PyramidClassifier")
BACKBONES.declare("isotropic", IsotropicClassifierConfig, "fields.heads.isotropic:IsotropicClassifier")
BACKBONES.declare("unet", MetaFormerUNetConfig, "fields.heads.unet:MetaFormerUNet")
BACKBONES.declare("channel_set", ChannelSetTransformerConfig, "fields.heads.channel_set:ChannelSetTransformer")
BACKBONES.declare("pointnet", PointNetConfig, "fields.heads.pointnet:PointNet")


def classifier_head(value: Any) -> ComponentConfig:
    """``head:`` of ``task: classify`` (default: the channel-set Transformer)."""
    config = BACKBONES.validate(value if value is not None else {"type": "channel_set"})
    if config.type not in CLASSIFIERS:
        raise ValueError(f"classify needs a classifier head ({', '.join(CLASSIFIERS)}), got '{config.type}'")
    return config


def restore_head(value: Any) -> ComponentConfig:
    """``head:`` of ``task: restore`` (default: a MAXIM-style UNet)."""
    config = BACKBONES.validate(value if value is not None else dict(RESTORE_HEAD))
    if config.type != "unet":
        raise ValueError(f"restore needs an image-to-image head (unet), got '{config.type}'")
    return config
