"""The decoders' configs (``model.decoder:``) and the ``DECODERS`` registry, torch-free (see
``fields.config.encoders``: the classes in ``fields.decoders.*`` take their ``Config`` from here)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from fields.config.base import ComponentConfig
from fields.errors import SettingError
from fields.registry import Registry

DECODERS: Registry = Registry("decoder", user_error=SettingError)
# the names of fields.decoders.activations.ACTIVATIONS and fields.decoders.selectable.FAMILIES (tests check both)
ACTIVATION_NAMES = ("none", "relu", "leaky_relu", "softplus", "softplus100", "sigmoid", "tanh", "gelu", "silu", "sine",
                    "exp")
FAMILIES = ("silu", "chebyshev", "rbf", "fourier", "wavelet")


def _check_activation(name: str) -> None:
    if name not in ACTIVATION_NAMES:
        raise ValueError(f"unknown activation '{name}'; valid: {', '.join(ACTIVATION_NAMES)}")


class MLPConfig(ComponentConfig):
    type: Literal["mlp"] = "mlp"
    n_neurons: int = Field(64, ge=1, le=65536)
    n_hidden_layers: int = Field(2, ge=0, le=1024)
    activation: str = "relu"
    output_activation: str = "none"
    bias: bool = True
    init: Literal["default", "siren", "geometric"] = "default"
    siren_omega_0: float = Field(30.0, gt=0)
    geometric_radius: float = 0.5
    geometric_inputs: Optional[int] = Field(
        None, ge=1, description="geometric: leading features that are coordinates"
    )
    geometric_center: float = Field(0.0, description="geometric: sphere centre, in every coordinate")
    weight_norm: bool = False

    def model_post_init(self, _ctx) -> None:
        for name in (self.activation, self.output_activation):
            _check_activation(name)


class HourglassMLPConfig(ComponentConfig):
    type: Literal["hourglass"] = "hourglass"
    skip_width: int = Field(256, ge=1, description="width of the residual stream (the wide skips)")
    bottleneck_width: int = Field(32, ge=1, description="width inside each block (the narrow waist)")
    n_blocks: int = Field(3, ge=0)
    activation: str = "relu"
    norm: Literal["layernorm", "none"] = "layernorm"
    train_input_projection: bool = False
    output_activation: str = "none"
    seed: int = Field(0, description="seed of the fixed input projection")

    def model_post_init(self, _ctx) -> None:
        for name in (self.activation, self.output_activation):
            _check_activation(name)


class GRKANDecoderConfig(ComponentConfig):
    type: Literal["gr_kan"] = "gr_kan"
    n_neurons: int = Field(64, ge=1)
    n_hidden_layers: int = Field(1, ge=0)
    n_groups: int = Field(8, ge=1)
    hidden_init: Literal["swish", "gelu", "identity"] = "swish"
    q_form: Literal["sum_abs", "abs_sum"] = "sum_abs"
    output_activation: str = "none"

    def model_post_init(self, _ctx) -> None:
        _check_activation(self.output_activation)


class SelectableKANDecoderConfig(ComponentConfig):
    type: Literal["s_kan"] = "s_kan"
    n_neurons: int = Field(32, ge=1)
    n_hidden_layers: int = Field(1, ge=0)
    families: list[str] = Field(default_factory=lambda: list(FAMILIES), min_length=1)
    n_basis: int = Field(6, ge=1, le=32, description="basis functions per family")
    selection: Literal["soft", "hard"] = "soft"
    temperature: float = Field(1.0, gt=0)
    output_activation: str = "none"

    def model_post_init(self, _ctx) -> None:
        _check_activation(self.output_activation)
        for name in self.families:
            if name not in FAMILIES:
                raise ValueError(f"unknown activation family '{name}'; valid: {', '.join(FAMILIES)}")


class CAMMLPConfig(ComponentConfig):
    type: Literal["cam_mlp"] = "cam_mlp"
    n_neurons: int = Field(256, ge=1)
    n_hidden_layers: int = Field(3, ge=1)
    activation: str = "relu"
    output_activation: str = "none"
    cam_coords: list[int] = Field(default_factory=lambda: [0, 1], description="input coordinates the grids span")
    grid_resolution: list[int] = Field(
        default_factory=lambda: [32], description="points per coordinate (one value: all)"
    )
    per_channel: bool = False
    norm: Literal["layer", "none"] = "layer"
    lr_multiplier: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> "CAMMLPConfig":
        if not self.cam_coords or len(set(self.cam_coords)) != len(self.cam_coords) or min(self.cam_coords) < 0:
            raise ValueError("cam_coords must list distinct non-negative coordinate indices")
        if len(self.grid_resolution) not in (1, len(self.cam_coords)) or min(self.grid_resolution) < 1:
            raise ValueError("grid_resolution: one positive value, or one per cam coordinate")
        return self

    def resolutions(self) -> list[int]:
        res = self.grid_resolution
        return res * len(self.cam_coords) if len(res) == 1 else list(res)


class GaussianRBFConfig(ComponentConfig):
    type: Literal["gaussian_rbf"] = "gaussian_rbf"
    n_units: int = Field(64, ge=1, description="N Gaussian neurons (64 image/SDF, 32 NeRF)")
    mu_init: float = Field(1e-4, ge=0)
    log_beta_init: float = 0.0
    output_activation: str = "none"


class NeuRBFDecoderConfig(ComponentConfig):
    type: Literal["neurbf_mlp"] = "neurbf_mlp"
    n_neurons: int = Field(64, ge=1)
    n_hidden_layers: int = Field(2, ge=1)
    sin_frequency_range: tuple[float, float] = (10.0, 100.0)
    activation: str = "relu"
    output_activation: str = "none"


DECODERS.declare("mlp", MLPConfig, "fields.decoders.mlp:MLP", aliases=("FullyFusedMLP", "CutlassMLP", "MLP"))
DECODERS.declare("hourglass", HourglassMLPConfig, "fields.decoders.hourglass:HourglassMLP", aliases=("hourglass_mlp",))
DECODERS.declare("gr_kan", GRKANDecoderConfig, "fields.decoders.kan:GRKANDecoder", aliases=("grkan", "kat"))
DECODERS.declare("s_kan", SelectableKANDecoderConfig, "fields.decoders.kan:SelectableKANDecoder",
                 aliases=("skan", "selectable_kan"))
DECODERS.declare("cam_mlp", CAMMLPConfig, "fields.decoders.cam:CAMMLP", aliases=("cam",))
DECODERS.declare("gaussian_rbf", GaussianRBFConfig, "fields.decoders.gaussian_rbf:GaussianRBF",
                 aliases=("gnf", "rbf_layer"))
DECODERS.declare("neurbf_mlp", NeuRBFDecoderConfig, "fields.decoders.neurbf_decoder:NeuRBFDecoder",
                 aliases=("neurbf_decoder",))
