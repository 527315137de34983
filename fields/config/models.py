"""The scene file's ``model`` section: the whole field, picked by ``model.type`` from ``MODELS`` (torch-free: the
classes in ``fields.models`` take their ``Config`` from here and are imported when a field is built).

``field`` (image, video, SDF, occupancy): encoder -> decoder -> output activation. ``radiance``
(Instant-NGP): adds the density decoder, the geometry features and the view-direction encoder. ``neus``:
adds the SDF network, the direction encoder and the initial sphere and sharpness. ``render:`` keeps only
sampling and rendering settings.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, SerializeAsAny, field_validator, model_validator

from fields.config.base import ComponentConfig
from fields.config.decoders import DECODERS
from fields.config.encoders import ENCODERS
from fields.registry import Registry

Activation = Literal["none", "sigmoid", "relu", "softplus", "exp", "tanh"]
MODELS: Registry = Registry("model")


def default_direction_encoder() -> Any:
    return ENCODERS.validate(
        {"type": "sh", "degree": 4} if "sh" in ENCODERS.names() else {"type": "frequency", "n_frequencies": 4}
    )


class ModelConfig(ComponentConfig):
    """A field: encoder -> decoder -> output activation."""

    type: Literal["field"] = "field"
    encoder: SerializeAsAny[ComponentConfig] = Field(default_factory=lambda: ENCODERS.validate("hashgrid"))
    decoder: SerializeAsAny[ComponentConfig] = Field(default_factory=lambda: DECODERS.validate("mlp"))
    output_activation: Activation = "sigmoid"

    @field_validator("encoder", mode="before")
    @classmethod
    def _encoder(cls, value: Any) -> Any:
        return ENCODERS.validate(value, default="hashgrid")

    @field_validator("decoder", mode="before")
    @classmethod
    def _decoder(cls, value: Any) -> Any:
        return DECODERS.validate(value, default="mlp")


class DirectionalModelConfig(ModelConfig):
    """A field rendered along rays: the colour decoder also reads the encoded view direction."""

    geo_feat_dim: int = Field(15, ge=0, description="geometry features passed to the colour decoder")
    direction_encoder: SerializeAsAny[ComponentConfig] = Field(default_factory=default_direction_encoder)

    @field_validator("direction_encoder", mode="before")
    @classmethod
    def _direction(cls, value: Any) -> Any:
        return ENCODERS.validate(value)


class RadianceModelConfig(DirectionalModelConfig):
    """Instant-NGP's radiance field: ``encoder`` -> density decoder -> (density, geometry features);
    ``decoder`` is the colour decoder."""

    type: Literal["radiance"] = "radiance"  # type: ignore[assignment]
    density_neurons: int = Field(64, ge=1)
    density_hidden_layers: int = Field(1, ge=0)
    density_decoder: Optional[SerializeAsAny[ComponentConfig]] = Field(
        None, description="density decoder; default an MLP of density_neurons x density_hidden_layers")

    @field_validator("density_decoder", mode="before")
    @classmethod
    def _density(cls, value: Any) -> Any:
        return None if value is None else DECODERS.validate(value)


class NeuSModelConfig(DirectionalModelConfig):
    """NeuS: ``[p, encoder(x)]`` -> SDF network -> (sdf, geometry features); ``decoder`` is the colour decoder."""

    type: Literal["neus"] = "neus"  # type: ignore[assignment]
    sdf_neurons: int = Field(64, ge=1)
    sdf_hidden_layers: int = Field(1, ge=1)
    sdf_activation: Literal["softplus", "relu"] = Field(
        "relu", description="hidden activation of the SDF network; relu only with gradient_step > 0"
    )
    gradient_step: float = Field(
        0.004,
        ge=0,
        description="SDF gradient by central finite differences of this step "
        "(unit frame; Neuralangelo's numerical gradient, no second derivatives); 0: analytic",
    )
    init_radius: float = Field(0.25, gt=0, description="initial sphere radius (unit frame)")
    init_variance: float = 0.3

    @model_validator(mode="after")
    def _relu_needs_finite_differences(self) -> "NeuSModelConfig":
        if self.sdf_activation == "relu" and self.gradient_step == 0:
            raise ValueError(
                "model.sdf_activation relu needs model.gradient_step > 0 (finite differences): "
                "analytic second derivatives of a ReLU network are zero"
            )
        return self


class GaussiansConfig(ComponentConfig):
    type: Literal["gaussians"] = "gaussians"
    init: Literal["auto", "sfm", "ply", "random"] = Field(
        "auto", description="auto: the COLMAP points3D when the data has them, else init_path if set, else random"
    )
    init_path: str | None = Field(
        None, description="init: ply: a point cloud .ply (xyz, optional rgb) or a 3DGS .ply"
    )
    n_random: int = Field(5000, ge=1, description="init: random: Gaussians drawn in the scene box")
    max_init_points: int = Field(100_000, ge=1, description="SfM / point-cloud init: a random subset above this")
    sh_degree: int = Field(3, ge=0, le=3)
    sh_increase_every: int = Field(500, ge=1, description="steps between raising the SH degree by one band")
    init_opacity: float = Field(0.1, gt=0, lt=1)
    init_scale: float = Field(1.0, gt=0, description="factor on the initial scale (mean distance to 3 neighbours)")


MODELS.declare("field", ModelConfig, "fields.models.field:Field")
MODELS.declare("radiance", RadianceModelConfig, "fields.models.radiance:RadianceField")
MODELS.declare("neus", NeuSModelConfig, "fields.models.neus:NeuSField")
MODELS.declare("gaussians", GaussiansConfig, "fields.models.gaussians:Gaussians", aliases=("3dgs", "splats"))
