"""Spherical harmonics of directions, with tiny-cuda-nn's ``SphericalHarmonics`` conventions.

``degree`` is tiny-cuda-nn's: the number of bands, so the output has ``degree**2`` values (``degree: 4``
gives bands l = 0..3 and 16 values, Instant-NGP's NeRF direction encoding; up to ``degree: 5``, l <= 4).
Real, orthonormal harmonics (the integral of ``Y_i * Y_j`` over the unit sphere is ``delta_ij``) in
tiny-cuda-nn's order and signs (``l`` major, ``m = -l..l``; the Condon-Shortley phase, e.g.
``Y_1 = (-c y, c z, -c x)``), as generated from the recurrences of Sloan's "Stupid SH tricks".

Input: like tiny-cuda-nn, directions in [0, 1]^3; the unit vector is ``d = x * 2 - 1`` (map a direction
``v`` with ``(v + 1) / 2``). ``d`` is not renormalised unless ``normalize: true`` (tiny-cuda-nn never
renormalises); inputs outside [0, 1] are used as they are (polynomials: no lookup, nothing to clamp).
No parameters.
"""

from __future__ import annotations

import math

import torch

from fields.config.encoders import MAX_DEGREE, SphericalHarmonicsConfig
from fields.encoders.base import ENCODERS, Encoder

_R = 1.0 / math.sqrt(math.pi)  # every coefficient below carries 1/sqrt(pi)


def spherical_harmonics(d: torch.Tensor, degree: int) -> torch.Tensor:
    """``d (..., 3)`` unit directions -> ``(..., degree**2)`` real SH values (tiny-cuda-nn's order)."""
    if not 1 <= degree <= MAX_DEGREE:
        raise ValueError(f"spherical harmonics degree must be 1 to {MAX_DEGREE}, got {degree}")
    x, y, z = d.unbind(-1)
    out = [torch.full_like(x, 0.5 * _R)]
    if degree > 1:
        c = math.sqrt(3.0) / 2.0 * _R
        out += [-c * y, c * z, -c * x]
    if degree > 2:
        x2, y2, z2 = x * x, y * y, z * z
        c = math.sqrt(15.0) / 2.0 * _R
        out += [
            c * x * y,
            -c * y * z,
            math.sqrt(5.0) / 4.0 * _R * (3.0 * z2 - 1.0),
            -c * x * z,
            c / 2.0 * (x2 - y2),
        ]
    if degree > 3:
        out += [
            math.sqrt(70.0) / 8.0 * _R * y * (y2 - 3.0 * x2),
            math.sqrt(105.0) / 2.0 * _R * x * y * z,
            math.sqrt(42.0) / 8.0 * _R * y * (1.0 - 5.0 * z2),
            math.sqrt(7.0) / 4.0 * _R * z * (5.0 * z2 - 3.0),
            math.sqrt(42.0) / 8.0 * _R * x * (1.0 - 5.0 * z2),
            math.sqrt(105.0) / 4.0 * _R * z * (x2 - y2),
            math.sqrt(70.0) / 8.0 * _R * x * (3.0 * y2 - x2),
        ]
    if degree > 4:
        x4, y4, z4 = x2 * x2, y2 * y2, z2 * z2
        out += [
            3.0 * math.sqrt(35.0) / 4.0 * _R * x * y * (x2 - y2),
            3.0 * math.sqrt(70.0) / 8.0 * _R * y * z * (y2 - 3.0 * x2),
            3.0 * math.sqrt(5.0) / 4.0 * _R * x * y * (7.0 * z2 - 1.0),
            3.0 * math.sqrt(10.0) / 8.0 * _R * y * z * (3.0 - 7.0 * z2),
            3.0 / 16.0 * _R * (35.0 * z4 - 30.0 * z2 + 3.0),
            3.0 * math.sqrt(10.0) / 8.0 * _R * x * z * (3.0 - 7.0 * z2),
            3.0 * math.sqrt(5.0) / 8.0 * _R * (x2 - y2) * (7.0 * z2 - 1.0),
            3.0 * math.sqrt(70.0) / 8.0 * _R * x * z * (3.0 * y2 - x2),
            3.0 * math.sqrt(35.0) / 16.0 * _R * (x4 - 6.0 * x2 * y2 + y4),
        ]
    return torch.stack(out, dim=-1)


@ENCODERS.register("sh", aliases=("SphericalHarmonics", "spherical_harmonics"))
class SphericalHarmonics(Encoder):
    """``x (..., 3)`` in [0, 1]^3 (direction ``x * 2 - 1``) -> ``(..., degree**2)``."""

    Config = SphericalHarmonicsConfig

    def __init__(self, config: "SphericalHarmonics.Config", in_dim: int):
        super().__init__()
        if in_dim != 3:
            raise ValueError(f"spherical harmonics encode 3D directions, got in_dim={in_dim}")
        self.config = config
        self.in_dim = 3
        self.out_dim = config.degree**2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != 3:
            raise ValueError(f"expected directions with last dimension 3, got shape {tuple(x.shape)}")
        d = x * 2.0 - 1.0
        if self.config.normalize:
            d = d / d.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return spherical_harmonics(d, self.config.degree)


__all__ = ["SphericalHarmonics", "spherical_harmonics"]
