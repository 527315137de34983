"""The scene file's ``model`` section: encoder -> decoder -> output activation."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SerializeAsAny, field_validator

from fields.config.base import ComponentConfig, StrictModel
from fields.decoders import DECODERS
from fields.encoders import ENCODERS

Activation = Literal["none", "sigmoid", "relu", "softplus", "exp", "tanh"]


class ModelConfig(StrictModel):
    """A field: encoder -> decoder -> output activation."""

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
