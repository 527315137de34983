"""Encoders: coordinates in [0, 1] -> features. One file per family; each registers its name."""

from fields.encoders.base import ENCODERS, Encoder
from fields.encoders.frequency import FourierFeatures, FrequencyEncoding
from fields.encoders.hashgrid import HashGrid
from fields.encoders.densegrid import DenseGrid
from fields.encoders.triplane import KPlanes, TriPlane
from fields.encoders.sh import SphericalHarmonics
from fields.encoders.identity import IdentityEncoding
from fields.encoders.neurbf import NeuRBF
from fields.encoders.gnf import GNFGrid

__all__ = [
    "ENCODERS",
    "Encoder",
    "HashGrid",
    "FrequencyEncoding",
    "FourierFeatures",
    "DenseGrid",
    "TriPlane",
    "KPlanes",
    "SphericalHarmonics",
    "IdentityEncoding",
    "NeuRBF",
    "GNFGrid",
]
