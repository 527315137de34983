"""Decoders: features (and optionally coordinates) -> signal. One file per family."""

from fields.decoders.base import DECODERS, Decoder
from fields.decoders.mlp import MLP

__all__ = ["DECODERS", "Decoder", "MLP"]
