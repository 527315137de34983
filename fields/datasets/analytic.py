"""Generated shapes with analytic signed distance functions (negative inside), for tests and examples.

Primitives (sphere, box, torus, capsule) are exact SDFs and know their volume and surface area. Unions
(``min``) are exact outside and a bound inside; smooth blends (polynomial smooth-min, Quilez) are bounds:
sign and zero level set are exact, magnitudes only approximately. ``PRESETS`` names shapes that fit in
the unit cube; a scene file picks one as ``data: {mesh: "shape:torus"}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch

from fields.datasets.names import SHAPE_PREFIX  # noqa: F401  (shape:NAME)
from fields.datasets.mesh import mesh_from_arrays
from fields.export.marching_cubes import extract_surface


def _vec(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(values, dtype=like.dtype, device=like.device)


class Shape:
    """A shape: ``sdf(x (..., 3)) -> (...,)``. ``volume``/``area`` are ``None`` where not closed-form."""

    volume: Optional[float] = None
    area: Optional[float] = None
    exact = True

    def sdf(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.sdf(x)


@dataclass
class Sphere(Shape):
    center: tuple[float, float, float] = (0.5, 0.5, 0.5)
    radius: float = 0.3

    def __post_init__(self):
        self.volume = 4.0 / 3.0 * math.pi * self.radius**3
        self.area = 4.0 * math.pi * self.radius**2

    def sdf(self, x):
        return (x - _vec(self.center, x)).norm(dim=-1) - self.radius


@dataclass
class Box(Shape):
    center: tuple[float, float, float] = (0.5, 0.5, 0.5)
    half_size: tuple[float, float, float] = (0.3, 0.2, 0.25)

    def __post_init__(self):
        a, b, c = self.half_size
        self.volume = 8.0 * a * b * c
        self.area = 8.0 * (a * b + b * c + a * c)

    def sdf(self, x):
        q = (x - _vec(self.center, x)).abs() - _vec(self.half_size, x)
        return q.clamp_min(0).norm(dim=-1) + q.max(dim=-1).values.clamp_max(0)


@dataclass
class Torus(Shape):
    """Ring in the plane through ``center`` normal to z: major radius ``R``, tube radius ``r``."""

    center: tuple[float, float, float] = (0.5, 0.5, 0.5)
    R: float = 0.28
    r: float = 0.1

    def __post_init__(self):
        self.volume = 2.0 * math.pi**2 * self.R * self.r**2
        self.area = 4.0 * math.pi**2 * self.R * self.r

    def sdf(self, x):
        p = x - _vec(self.center, x)
        ring = torch.sqrt(p[..., 0] ** 2 + p[..., 1] ** 2 + 1e-20) - self.R
        return torch.sqrt(ring**2 + p[..., 2] ** 2 + 1e-20) - self.r


@dataclass
class Capsule(Shape):
    a: tuple[float, float, float] = (0.3, 0.5, 0.5)
    b: tuple[float, float, float] = (0.7, 0.5, 0.5)
    radius: float = 0.15

    def __post_init__(self):
        length = math.dist(self.a, self.b)
        self.volume = math.pi * self.radius**2 * (length + 4.0 / 3.0 * self.radius)
        self.area = 2.0 * math.pi * self.radius * (length + 2.0 * self.radius)

    def sdf(self, x):
        a, b = _vec(self.a, x), _vec(self.b, x)
        pa, ba = x - a, b - a
        h = ((pa * ba).sum(-1) / (ba * ba).sum()).clamp(0, 1)
        return (pa - h[..., None] * ba).norm(dim=-1) - self.radius


class Union(Shape):
    """``min`` of the parts: exact outside, a bound inside."""

    exact = False

    def __init__(self, *parts: Shape):
        self.parts = parts

    def sdf(self, x):
        return torch.stack([p.sdf(x) for p in self.parts]).min(dim=0).values


class SmoothUnion(Shape):
    """Polynomial smooth minimum with blend radius ``k`` (Quilez): a bound, not an exact SDF."""

    exact = False

    def __init__(self, a: Shape, b: Shape, k: float = 0.08):
        self.a, self.b, self.k = a, b, k

    def sdf(self, x):
        d1, d2 = self.a.sdf(x), self.b.sdf(x)
        h = (0.5 + 0.5 * (d2 - d1) / self.k).clamp(0, 1)
        return torch.lerp(d2, d1, h) - self.k * h * (1 - h)


PRESETS: dict[str, Callable[[], Shape]] = {
    "sphere": lambda: Sphere(),
    "box": lambda: Box(),
    "torus": lambda: Torus(),
    "capsule": lambda: Capsule(),
    "union": lambda: Union(Sphere((0.38, 0.5, 0.5), 0.2), Box((0.64, 0.5, 0.5), (0.14, 0.14, 0.14))),
    "blend": lambda: SmoothUnion(Sphere((0.36, 0.5, 0.45), 0.18), Torus((0.6, 0.5, 0.55), 0.18, 0.07), 0.08),
}


def preset(name: str) -> Shape:
    if name not in PRESETS:
        raise ValueError(f"no generated shape '{name}'; valid: {', '.join(PRESETS)}")
    return PRESETS[name]()


def shape_mesh(shape: Shape, resolution: int = 128):
    """The shape's surface in the unit cube as a trimesh (marching cubes of its SDF)."""
    def fn(x: torch.Tensor) -> torch.Tensor:
        return shape.sdf(x.double()).float()

    vertices, faces = extract_surface(fn, resolution, coarse_to_fine=False)
    return mesh_from_arrays(vertices, faces, name=type(shape).__name__)
