"""Field models: an encoder composed with a decoder and an output activation."""

from fields.models.field import Field

__all__ = ["Field"]
