"""The token mixers' configs and the ``MIXERS`` registry, torch-free (the mixers in ``fields.heads.mixers`` take
their ``Config`` from here; a head's ``mixer:`` is validated before torch loads). A mixer spec is a name or
``{type: name, **options}``; a skeleton takes one for all stages or a list with one per stage."""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import Field, ValidationInfo, field_validator

from fields.config.base import ComponentConfig
from fields.registry import Registry

MIXERS: Registry = Registry("token mixer")


def mixer_spec(spec: Union[str, dict[str, Any], ComponentConfig]) -> tuple[str, dict[str, Any]]:
    """``"pool"`` / ``{type: pool, pool_size: 3}`` / a mixer Config -> ``(name, options)``."""
    if isinstance(spec, ComponentConfig):
        spec = spec.model_dump()
    if isinstance(spec, str):
        spec = {"type": spec}
    spec = dict(spec)
    name = MIXERS.canonical(spec.pop("type"))
    return name, spec


def validate_mixers(value: Any, n_stages: int, what: str = "mixer") -> list[dict[str, Any]]:
    """A skeleton's ``mixer:`` (one spec for all stages, or a list with one per stage) -> checked specs.

    Names and options are validated now (config time); resolutions are checked when the model is built.
    """
    specs = list(value) if isinstance(value, (list, tuple)) else [value] * n_stages
    if len(specs) != n_stages:
        raise ValueError(f"{what}: expected one mixer or a list of {n_stages} (one per stage), got {len(specs)}")
    out = []
    for spec in specs:
        name, options = mixer_spec(spec)
        config = MIXERS.config(name).model_validate({"type": name, **options})
        out.append(config.model_dump())
    return out


class ActivatorGLUConfig(ComponentConfig):
    type: Literal["activator"] = "activator"
    hidden_ratio: float = Field(1.0, gt=0, description="hidden width of the GLU, as a multiple of C")


class GatedAssociativeMemoryConfig(ComponentConfig):
    type: Literal["gam"] = "gam"
    kernel_size: int = Field(3, ge=1)
    n_slots: int = Field(64, ge=1, description="rows of the associative memory bank")
    causal: bool = True


class GatedAttentionConfig(ComponentConfig):
    type: Literal["gated_attention"] = "gated_attention"
    head_dim: int = Field(16, ge=1)
    gate: Literal["elementwise", "headwise"] = "elementwise"
    qkv_bias: bool = True


class GnConvConfig(ComponentConfig):
    type: Literal["gnconv"] = "gnconv"
    order: int = Field(3, ge=1, le=6)
    kernel_size: int = Field(7, ge=1)
    scale: float = Field(1.0 / 3.0, gt=0, description="s: factor on the depthwise conv output")


def _odd_window(value: int, info: ValidationInfo) -> int:
    """A window of odd size keeps the resolution (same padding on both sides)."""
    if value % 2 == 0:
        raise ValueError(f"{info.field_name} must be odd to keep the resolution, got {value}")
    return value


class HyperZZWConfig(ComponentConfig):
    type: Literal["hyperzzw"] = "hyperzzw"
    kernel_size: int = Field(9, ge=1)
    hidden: int = Field(32, ge=1, description="width of the kernel-generating coordinate MLP")
    omega: float = Field(10.0, gt=0, description="frequency of the coordinate MLP's first sine layer")

    _odd = field_validator("kernel_size")(_odd_window)


class MultiAxisGatedMLPConfig(ComponentConfig):
    type: Literal["maxim"] = "maxim"
    grid_size: int = Field(4, ge=1, description="g: global mixing over a g x g dilated grid")
    block_size: int = Field(4, ge=1, description="b: local mixing inside b x b blocks")


class MixShiftConfig(ComponentConfig):
    type: Literal["ms_mlp"] = "ms_mlp"
    groups: int = Field(5, ge=1, description="channel groups; shifts -(groups//2)..groups//2")
    kernel_size: int = Field(3, ge=1, description="depthwise mixing conv before each shift")


class PartialConvAttentionConfig(ComponentConfig):
    type: Literal["pat"] = "pat"
    partial_ratio: float = Field(0.25, gt=0, lt=1)
    attention: Literal["channel", "self"] = "channel"
    spatial_gate: bool = True


class PfLayerConfig(ComponentConfig):
    type: Literal["pflayer"] = "pflayer"
    expansion: int = Field(3, ge=1)
    pool_size: int = Field(3, ge=1)

    _odd = field_validator("pool_size")(_odd_window)


class PoolingConfig(ComponentConfig):
    type: Literal["pool"] = "pool"
    pool_size: int = Field(3, ge=1, description="odd pooling window")

    _odd = field_validator("pool_size")(_odd_window)


class RaftTokenMixerConfig(ComponentConfig):
    type: Literal["raft_mlp"] = "raft_mlp"
    raft_size: int = Field(2, ge=1, description="r: channels mixed jointly with a column or a row")
    expansion: float = Field(2.0, gt=0)


class ScalingMLPConfig(ComponentConfig):
    type: Literal["scaling_mlp"] = "scaling_mlp"
    hidden_dim: int = Field(256, ge=1)


class DynamicSpectrumMixerConfig(ComponentConfig):
    type: Literal["spectrum"] = "spectrum"
    n_filters: int = Field(4, ge=1, description="K: learned spectral filters mixed per sample")


class StripMLPConfig(ComponentConfig):
    type: Literal["strip_mlp"] = "strip_mlp"
    groups: int = Field(2, ge=1, description="channel groups sharing one strip MLP (of C/2 channels)")


class ShiftedWindowAttentionConfig(ComponentConfig):
    type: Literal["swin"] = "swin"
    window_size: int = Field(4, ge=1, description="M: windows of M x M tokens (Swin uses 7 on 224 images)")
    head_dim: int = Field(16, ge=1)
    shift: Optional[bool] = Field(None, description="null: alternate regular/shifted blocks in a stage")
    qkv_bias: bool = True


class ViGMixerConfig(ComponentConfig):
    type: Literal["vig"] = "vig"
    head_dim: int = Field(16, ge=1)
    chunk_size: int = Field(32, ge=1, description="GLA chunk length of the parallel form")
    gate_rank: int = Field(16, ge=1)
    gate_normaliser: float = Field(16.0, gt=0)


MIXERS.declare("activator", ActivatorGLUConfig, "fields.heads.mixers.activator:ActivatorGLU", aliases=("glu",))
MIXERS.declare("gam", GatedAssociativeMemoryConfig, "fields.heads.mixers.gam:GatedAssociativeMemory",
               aliases=("gated_associative_memory",))
MIXERS.declare("gated_attention", GatedAttentionConfig, "fields.heads.mixers.gated_attention:GatedAttention",
               aliases=("gated_sdpa",))
MIXERS.declare("gnconv", GnConvConfig, "fields.heads.mixers.gnconv:GnConv", aliases=("hornet",))
MIXERS.declare("hyperzzw", HyperZZWConfig, "fields.heads.mixers.hyperzzw:HyperZZW", aliases=("hyper_kernel", "hyperz"))
MIXERS.declare("maxim", MultiAxisGatedMLPConfig, "fields.heads.mixers.maxim:MultiAxisGatedMLP",
               aliases=("multi_axis_gmlp",))
MIXERS.declare("ms_mlp", MixShiftConfig, "fields.heads.mixers.ms_mlp:MixShift", aliases=("mix_shift",))
MIXERS.declare("pat", PartialConvAttentionConfig, "fields.heads.mixers.pat:PartialConvAttention",
               aliases=("patnet", "partial_conv"))
MIXERS.declare("pflayer", PfLayerConfig, "fields.heads.mixers.pflayer:PfLayer", aliases=("maxpool", "parameter_free"))
MIXERS.declare("pool", PoolingConfig, "fields.heads.mixers.pool:Pooling", aliases=("poolformer", "pooling"))
MIXERS.declare("raft_mlp", RaftTokenMixerConfig, "fields.heads.mixers.raft_mlp:RaftTokenMixer", aliases=("raftmlp",))
MIXERS.declare("scaling_mlp", ScalingMLPConfig, "fields.heads.mixers.scaling_mlp:ScalingMLP", aliases=("plain_mlp",))
MIXERS.declare("spectrum", DynamicSpectrumMixerConfig, "fields.heads.mixers.spectrum:DynamicSpectrumMixer",
               aliases=("dsm", "dynamic_spectrum"))
MIXERS.declare("strip_mlp", StripMLPConfig, "fields.heads.mixers.strip_mlp:StripMLP", aliases=("stripmlp",))
MIXERS.declare("swin", ShiftedWindowAttentionConfig, "fields.heads.mixers.swin:ShiftedWindowAttention",
               aliases=("window_attention", "swin_transformer"))
MIXERS.declare("vig", ViGMixerConfig, "fields.heads.mixers.vig:ViGMixer", aliases=("gla", "gated_linear_attention"))
