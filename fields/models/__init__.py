"""Field models: an encoder composed with a decoder and an output activation."""

from fields.models.field import Field
from fields.models.gaussians import Gaussians
from fields.models.neus import NeuSField
from fields.models.radiance import RadianceField

__all__ = ["Field", "Gaussians", "NeuSField", "RadianceField"]
