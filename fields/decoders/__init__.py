"""Decoders: features (and optionally coordinates) -> signal. One file per family."""

from fields.decoders.base import DECODERS, Decoder
from fields.decoders.mlp import MLP
from fields.decoders.hourglass import HourglassMLP
from fields.decoders.kan import GRKAN, GRKANDecoder, GRKANLayer, SelectableKANDecoder, SelectableKANLayer
from fields.decoders.cam import CAMMLP
from fields.decoders.gaussian_rbf import GaussianRBF
from fields.decoders.neurbf_decoder import NeuRBFDecoder

__all__ = [
    "DECODERS",
    "Decoder",
    "MLP",
    "CAMMLP",
    "GaussianRBF",
    "NeuRBFDecoder",
    "HourglassMLP",
    "GRKAN",
    "GRKANLayer",
    "GRKANDecoder",
    "SelectableKANLayer",
    "SelectableKANDecoder",
]
