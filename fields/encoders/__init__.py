"""Encoders: coordinates in [0, 1] -> features. One file per family; each registers its name."""

from fields.encoders.base import ENCODERS, Encoder
from fields.encoders.frequency import FourierFeatures, FrequencyEncoding
from fields.encoders.hashgrid import HashGrid

__all__ = ["ENCODERS", "Encoder", "HashGrid", "FrequencyEncoding", "FourierFeatures"]
