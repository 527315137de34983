"""Scene contraction for unbounded scenes (mip-NeRF 360; nerfstudio's ``SceneContraction``).

``contract(x) = x`` if ``|x| <= 1`` else ``(2 - 1/|x|) x / |x|``: the foreground ball (or cube) of radius
1 is kept, everything beyond is squeezed into the shell between radius 1 and 2. ``linf`` uses the
L-infinity norm (nerfacto's choice for hash grids: the contracted space is the cube ``[-2, 2]^3``, which a
grid fills), ``l2`` the Euclidean norm (mip-NeRF 360, Zip-NeRF: a ball of radius 2).

Frames: the unit frame maps the scene box (the foreground) to ``[0, 1]^3``; ``c = (x - 0.5) * 2`` puts it
in ``[-1, 1]^3``; the field reads ``(contract(c) + 2) / 4`` in ``[0, 1]^3``.
"""

from __future__ import annotations

from typing import Literal

import torch

ContractionKind = Literal["none", "linf", "l2"]


def _norm(x: torch.Tensor, kind: str) -> torch.Tensor:
    return x.abs().amax(-1, keepdim=True) if kind == "linf" else x.norm(dim=-1, keepdim=True)


def contract(x: torch.Tensor, kind: ContractionKind) -> torch.Tensor:
    """``(..., 3)`` -> ``(..., 3)`` with norm below 2 (``kind``: ``linf`` or ``l2``)."""
    if kind == "none":
        return x
    n = _norm(x, kind).clamp_min(1e-12)
    return torch.where(n <= 1.0, x, (2.0 - 1.0 / n) * x / n)


def uncontract(y: torch.Tensor, kind: ContractionKind) -> torch.Tensor:
    """The inverse of :func:`contract` for ``|y| < 2``: ``|y| = 2 - 1/|x|`` gives ``|x| = 1 / (2 - |y|)``."""
    if kind == "none":
        return y
    m = _norm(y, kind).clamp(1e-12, 2.0 - 1e-6)
    return torch.where(m <= 1.0, y, y / m / (2.0 - m))


class SceneContraction:
    """Unit-frame points -> field coordinates in ``[0, 1]^3`` (and back), for a ``kind`` of contraction."""

    def __init__(self, kind: ContractionKind = "linf"):
        self.kind = kind

    def to_field(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., 3)`` unit-frame points -> ``(..., 3)`` in ``[0, 1]^3``."""
        return ((contract((x - 0.5) * 2.0, self.kind) + 2.0) / 4.0).clamp(0.0, 1.0)

    def to_unit(self, u: torch.Tensor) -> torch.Tensor:
        """``(..., 3)`` field coordinates -> unit-frame points (inverse of :meth:`to_field`)."""
        return uncontract(u * 4.0 - 2.0, self.kind) / 2.0 + 0.5

    def __repr__(self) -> str:
        return f"SceneContraction({self.kind})"
