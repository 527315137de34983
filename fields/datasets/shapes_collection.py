"""A procedural collection of 3D shapes: parametric primitives and compositions with analytic SDFs.

Every shape lives in the cube ``[-1, 1]^3``. A shape is a class (sphere, box, torus, ...), a vector of
class parameters drawn from class-specific ranges, a random rotation, scale and translation, and a
small smooth surface noise (three random plane waves added to the SDF). All evaluation is batched over
shapes: ``ShapeBatch.sdf(points (S, N, 3)) -> (S, N)`` loops over the (few) classes, never over shapes.

The SDFs are exact for the primitives (sphere, box, torus, cylinder, capsule) and bounds or
approximations for the rest (ellipsoid, cone, CSG compositions); occupancy (``sdf < 0``) is exact for
all of them, which is what the tri-plane fits use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from fields.datasets.names import SHAPE_CLASSES

CLASSES = SHAPE_CLASSES
N_PARAMS = 6


def _length(v: torch.Tensor) -> torch.Tensor:
    return v.norm(dim=-1)


def _box(p: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Box with half extents ``b (S, 1, 3)``."""
    q = p.abs() - b
    return _length(q.clamp_min(0)) + q.max(dim=-1).values.clamp_max(0)


def _cylinder(p: torch.Tensor, r: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Capped cylinder along y, radius ``r``, half height ``h`` (``(S, 1)`` each)."""
    d = torch.stack((_length(p[..., 0::2]) - r, p[..., 1].abs() - h), dim=-1)
    return d.max(dim=-1).values.clamp_max(0) + _length(d.clamp_min(0))


def _sdf_local(name: str, p: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """SDF of class ``name`` at local points ``p (S, N, 3)``; ``a (S, N_PARAMS)`` in [0, 1] picks the
    class parameters inside its range. Local shapes fit in the unit ball."""
    a = a[:, None, :]  # (S, 1, K)

    def lerp(i: int, lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * a[..., i]

    y = p[..., 1]
    rxz = _length(p[..., 0::2])
    if name == "sphere":
        return _length(p) - lerp(0, 0.6, 0.9)
    if name == "box":
        b = torch.stack((lerp(0, 0.45, 0.65), lerp(1, 0.3, 0.55), lerp(2, 0.2, 0.45)), dim=-1)
        return _box(p, b)
    if name == "torus":
        big, small = lerp(0, 0.55, 0.7), lerp(1, 0.12, 0.25)
        return _length(torch.stack((rxz - big, y), dim=-1)) - small
    if name == "cylinder":
        return _cylinder(p, lerp(0, 0.3, 0.5), lerp(1, 0.5, 0.75))
    if name == "cone":
        r, h = lerp(0, 0.45, 0.65), lerp(1, 0.55, 0.75)
        radius = r * (h - y) / (2 * h)  # base at y = -h, apex at y = +h
        slope = 2 * h / torch.sqrt(4 * h * h + r * r)  # cos of the half angle: distance to the slant side
        return torch.maximum(y.abs() - h, (rxz - radius) * slope)
    if name == "capsule":
        h, r = lerp(0, 0.35, 0.5), lerp(1, 0.25, 0.35)
        q = torch.stack((p[..., 0], y - torch.clamp(y, -h, h), p[..., 2]), dim=-1)
        return _length(q) - r
    if name == "ellipsoid":
        radii = torch.stack((lerp(0, 0.8, 0.95), lerp(1, 0.45, 0.6), lerp(2, 0.25, 0.38)), dim=-1)
        k0 = _length(p / radii)
        k1 = _length(p / (radii * radii)).clamp_min(1e-6)
        return k0 * (k0 - 1.0) / k1
    if name == "two_spheres":
        r1, r2 = lerp(0, 0.35, 0.45), lerp(1, 0.25, 0.35)
        c1 = torch.zeros_like(p)
        c1[..., 0] = -0.4
        c2 = torch.zeros_like(p)
        c2[..., 0] = 0.45
        return torch.minimum(_length(p - c1) - r1, _length(p - c2) - r2)
    if name == "box_with_hole":
        b = torch.stack((lerp(0, 0.55, 0.65), lerp(1, 0.25, 0.35), lerp(2, 0.55, 0.65)), dim=-1)
        return torch.maximum(_box(p, b), lerp(2, 0.22, 0.32) - rxz)
    if name == "l_shape":
        t = lerp(0, 0.14, 0.2)
        z = torch.zeros_like(t)
        arm1 = torch.stack((lerp(1, 0.5, 0.65), t, lerp(2, 0.15, 0.25)), dim=-1)
        arm2 = torch.stack((t, lerp(1, 0.5, 0.65), lerp(2, 0.15, 0.25)), dim=-1)
        o1 = torch.stack((z, -arm2[..., 1] + t, z), dim=-1)
        o2 = torch.stack((-arm1[..., 0] + t, z, z), dim=-1)
        return torch.minimum(_box(p - o1, arm1), _box(p - o2, arm2))
    if name == "cross":
        t, length = lerp(0, 0.13, 0.2), lerp(1, 0.6, 0.75)
        arms = [torch.stack([length if i == j else t for j in range(3)], dim=-1) for i in range(3)]
        return torch.minimum(torch.minimum(_box(p, arms[0]), _box(p, arms[1])), _box(p, arms[2]))
    if name == "tube":
        r_out, h = lerp(0, 0.45, 0.6), lerp(1, 0.4, 0.65)
        return torch.maximum(_cylinder(p, r_out, h), r_out * lerp(2, 0.6, 0.75) - rxz)
    raise ValueError(f"unknown shape class '{name}'; valid: {', '.join(CLASSES)}")


def random_rotations(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniform random rotation matrices ``(n, 3, 3)`` from normalised Gaussian quaternions."""
    q = torch.randn(n, 4, generator=generator)
    w, x, y, z = (q / q.norm(dim=-1, keepdim=True)).unbind(-1)
    return torch.stack((
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ), dim=-1).reshape(n, 3, 3)


@dataclass
class ShapeBatch:
    """``S`` shapes. ``labels (S,)`` index ``classes``; ``params (S, N_PARAMS)`` in [0, 1]; world point
    ``x`` maps to local ``R^T (x - t) / s`` with ``rotation (S, 3, 3)``, ``translation (S, 3)``,
    ``scale (S,)``; ``noise`` holds plane waves ``(S, 3, 5)``: direction (3), frequency, phase."""

    labels: torch.Tensor
    params: torch.Tensor
    rotation: torch.Tensor
    translation: torch.Tensor
    scale: torch.Tensor
    noise: torch.Tensor
    noise_amplitude: float
    classes: tuple[str, ...] = CLASSES

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, index: torch.Tensor | slice) -> "ShapeBatch":
        return ShapeBatch(self.labels[index], self.params[index], self.rotation[index], self.translation[index],
                          self.scale[index], self.noise[index], self.noise_amplitude, self.classes)

    def to_local(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("snj,sji->sni", x - self.translation[:, None, :], self.rotation) / self.scale[:, None, None]

    def sdf(self, x: torch.Tensor) -> torch.Tensor:
        """World points ``(S, N, 3)`` in [-1, 1] -> signed distances ``(S, N)`` (negative inside)."""
        if x.ndim != 3 or x.shape[0] != len(self) or x.shape[2] != 3:
            raise ValueError(f"expected points (S={len(self)}, N, 3), got {tuple(x.shape)}")
        p = self.to_local(x)
        out = x.new_zeros(x.shape[:2])
        for c in self.labels.unique().tolist():
            mask = self.labels == c
            out = out.index_put((mask.nonzero()[:, 0],), _sdf_local(self.classes[c], p[mask], self.params[mask]))
        waves = self.noise[:, None, :, :]  # (S, 1, 3, 5)
        phase = (p[:, :, None, :] * waves[..., :3]).sum(-1) * waves[..., 3] + waves[..., 4]
        out = out + self.noise_amplitude * torch.sin(phase).sum(-1)
        return out * self.scale[:, None]

    def occupancy(self, x: torch.Tensor) -> torch.Tensor:
        """``(S, N, 3) -> (S, N)`` bool, True inside."""
        return self.sdf(x) < 0

    def surface_points(self, n: int, generator: torch.Generator | None = None, candidates: int = 16384,
                       band: float = 0.08, iterations: int = 6) -> torch.Tensor:
        """``(S, n, 3)`` points on the surfaces: uniform candidates within ``band`` of the surface,
        chosen at random and projected along the SDF gradient ``iterations`` times."""
        S = len(self)
        x = torch.rand(S, candidates, 3, generator=generator) * 2 - 1
        with torch.no_grad():
            near = (self.sdf(x).abs() < band).float() + 1e-9
        pick = torch.multinomial(near, n, replacement=True, generator=generator)
        p = torch.gather(x, 1, pick[..., None].expand(-1, -1, 3))
        for _ in range(iterations):
            p = p.detach().requires_grad_(True)
            d = self.sdf(p)
            (g,) = torch.autograd.grad(d.sum(), p)
            p = p - d[..., None] * g / g.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        return p.detach().clamp(-1, 1)


def sample_shapes(n: int, generator: torch.Generator | None = None, classes: tuple[str, ...] = CLASSES,
                  noise_amplitude: float = 0.015, balanced: bool = True) -> ShapeBatch:
    """Draw ``n`` random shapes (classes cycled in order when ``balanced``, else drawn at random)."""
    unknown = [c for c in classes if c not in CLASSES]
    if unknown:
        raise ValueError(f"unknown shape classes {unknown}; valid: {', '.join(CLASSES)}")
    k = len(classes)
    labels = torch.arange(n) % k if balanced else torch.randint(k, (n,), generator=generator)
    params = torch.rand(n, N_PARAMS, generator=generator)
    rotation = random_rotations(n, generator)
    scale = 0.7 + 0.25 * torch.rand(n, generator=generator)
    translation = (torch.rand(n, 3, generator=generator) * 2 - 1) * (0.98 - scale).clamp(0, 0.1)[:, None]
    direction = torch.randn(n, 3, 3, generator=generator)
    direction = direction / direction.norm(dim=-1, keepdim=True)
    freq = 3.0 + 4.0 * torch.rand(n, 3, 1, generator=generator)
    phase = 2 * math.pi * torch.rand(n, 3, 1, generator=generator)
    noise = torch.cat((direction, freq, phase), dim=-1)
    return ShapeBatch(labels, params, rotation, translation, scale, noise, noise_amplitude, tuple(classes))
