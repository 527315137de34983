"""Field models, each built from ``model:`` alone and registered in ``MODELS`` by ``model.type``."""

from fields.models.base import FieldBase
from fields.config.models import MODELS, ModelConfig, NeuSModelConfig, RadianceModelConfig
from fields.models.field import Field
from fields.models.gaussians import Gaussians
from fields.models.neus import NeuSField
from fields.models.radiance import RadianceField

__all__ = ["MODELS", "Field", "FieldBase", "Gaussians", "ModelConfig", "NeuSField", "NeuSModelConfig",
           "RadianceField", "RadianceModelConfig"]
