"""Training samples for SDF and occupancy fields: exact signed distances from open3d's raycasting scene,
drawn from a precomputed pool.

**Sign rule.** open3d's ``RaycastingScene`` gives the exact unsigned distance to the triangles (BVH
closest-point query) and decides inside/outside by the parity of the ray's crossings with the mesh:
odd is inside. With ``sign_rays = k > 1`` it casts ``k`` rays in different directions and takes the
majority. This is exact for watertight, non-self-intersecting meshes. For meshes with holes (scans,
"triangle soups") a ray that leaves through a hole flips the sign: points seen through a hole can come
out inside-out, and shells with a gap have no inside at all. More rays (``sign_rays: 5``) reduce the
errors where holes are small; distances (the magnitude) stay exact in every case. A non-watertight
mesh is reported in the log.

**Samples** (Instant-NGP / NeuRBF style): on the surface (distance 0, with the face normal), near the
surface (surface points plus Gaussian offsets with the standard deviations ``near_sigmas``, in
unit-cube units, one group per sigma) and uniform in the unit cube, in the proportions ``surface``,
``near``, ``uniform`` (normalised). A pool of ``pool_size`` samples is drawn once; every training batch
picks from each group in the same proportions, so the data step costs an index draw.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import numpy as np
import torch

from fields.datasets.scene_data import SampleConfig  # noqa: F401  (data.samples)
from fields.datasets.mesh import import_open3d, sample_surface

if TYPE_CHECKING:
    import trimesh

log = logging.getLogger("fields")
SURFACE, NEAR, UNIFORM = 0, 1, 2


class MeshDistance:
    """Exact signed distance and occupancy of a triangle mesh (open3d ``RaycastingScene``)."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, sign_rays: int = 1):
        o3d = import_open3d()
        self._o3d = o3d
        self.scene = o3d.t.geometry.RaycastingScene()
        self.scene.add_triangles(
            o3d.core.Tensor(np.ascontiguousarray(vertices, dtype=np.float32)),
            o3d.core.Tensor(np.ascontiguousarray(faces, dtype=np.uint32)),
        )
        self.sign_rays = sign_rays

    def _query(self, points) -> "object":
        array = points.detach().cpu().numpy() if isinstance(points, torch.Tensor) else np.asarray(points)
        return self._o3d.core.Tensor(np.ascontiguousarray(array, dtype=np.float32))

    def signed_distance(self, points) -> np.ndarray:
        """``(N, 3)`` -> ``(N,)`` float32, negative inside (see the module docstring for the sign)."""
        if len(points) == 0:
            return np.zeros(0, dtype=np.float32)
        return self.scene.compute_signed_distance(self._query(points), nsamples=self.sign_rays).numpy()

    def unsigned_distance(self, points) -> np.ndarray:
        if len(points) == 0:
            return np.zeros(0, dtype=np.float32)
        return self.scene.compute_distance(self._query(points)).numpy()

    def occupancy(self, points) -> np.ndarray:
        """``(N, 3)`` -> ``(N,)`` bool, True inside."""
        if len(points) == 0:
            return np.zeros(0, dtype=bool)
        return self.scene.compute_occupancy(self._query(points), nsamples=self.sign_rays).numpy() > 0.5


@dataclass
class SamplePool:
    """Samples grouped by kind: ``points (N, 3)``, ``sdf (N,)`` (NaN where unknown), ``normals (N, 3)``
    (zero off the surface), ``kind (N,)`` (0 surface, 1 near, 2 uniform), ``starts`` of each group."""

    points: torch.Tensor
    sdf: torch.Tensor
    normals: torch.Tensor
    kind: torch.Tensor
    fractions: tuple[float, float, float]
    starts: tuple[int, int, int, int]

    def batch(self, size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``size`` samples, each group in its proportion, drawn with replacement from the pool."""
        counts = _split(size, self.fractions, [self.starts[i + 1] - self.starts[i] for i in range(3)])
        index = torch.cat([
            torch.randint(self.starts[g], self.starts[g + 1], (c,), generator=generator)
            for g, c in enumerate(counts) if c > 0
        ])
        return {
            "points": self.points[index],
            "sdf": self.sdf[index],
            "normals": self.normals[index],
            "kind": self.kind[index],
        }


def _split(size: int, fractions, available) -> list[int]:
    weights = [f if a > 0 else 0.0 for f, a in zip(fractions, available)]
    total = sum(weights)
    counts = [int(size * w / total) for w in weights]
    order = sorted(range(3), key=lambda g: -weights[g])
    counts[order[0]] += size - sum(counts)
    return counts


def _counts(n: int, fractions) -> list[int]:
    counts = [int(round(n * f)) for f in fractions]
    counts[int(np.argmax(fractions))] += n - sum(counts)
    return counts


def mesh_sample_pool(
    mesh: "trimesh.Trimesh", distance: Optional[MeshDistance], config: SampleConfig, seed: int = 0
) -> SamplePool:
    """A pool of samples of a mesh in unit-cube coordinates, with exact signed distances."""
    rng = np.random.default_rng(seed)
    n_surface, n_near, n_uniform = _counts(config.pool_size, config.fractions())
    surface, normals = sample_surface(mesh, n_surface + n_near, rng)
    near = _near(surface[n_surface:], config.near_sigmas, rng)
    uniform = rng.random((n_uniform, 3))
    off = np.concatenate([near, uniform])
    sdf_off = distance.signed_distance(off) if distance is not None else np.full(len(off), np.nan, dtype=np.float32)
    return _pool(surface[:n_surface], normals[:n_surface], near, uniform, sdf_off, config.fractions())


def cloud_sample_pool(points: np.ndarray, normals: np.ndarray, config: SampleConfig, seed: int = 0) -> SamplePool:
    """A pool for an oriented point cloud (unit-cube coordinates): surface samples are the cloud's
    points with their normals; near and uniform samples get Hoppe et al.'s (1992) signed distance
    estimate ``(q - p) . n_p`` to their nearest cloud point ``p``: exact near a smooth, densely sampled
    surface, a guess far from it (its sign follows the nearest normal)."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    n_surface, n_near, n_uniform = _counts(config.pool_size, config.fractions())
    pick = rng.integers(0, len(points), n_surface + n_near)
    near = _near(points[pick[n_surface:]], config.near_sigmas, rng)
    uniform = rng.random((n_uniform, 3))
    off = np.concatenate([near, uniform])
    _, nearest = cKDTree(points).query(off, k=1, workers=-1)
    sdf_off = ((off - points[nearest]) * normals[nearest]).sum(-1).astype(np.float32)
    return _pool(points[pick[:n_surface]], normals[pick[:n_surface]], near, uniform, sdf_off, config.fractions())


def _near(base: np.ndarray, sigmas: list[float], rng: np.random.Generator) -> np.ndarray:
    scale = np.asarray(sigmas)[np.arange(len(base)) % len(sigmas)]
    return base + rng.normal(size=base.shape) * scale[:, None]


def _pool(surface, normals, near, uniform, sdf_off, fractions) -> SamplePool:
    ns, nn, nu = len(surface), len(near), len(uniform)
    points = torch.from_numpy(np.concatenate([surface, near, uniform]).astype(np.float32))
    sdf = torch.cat([torch.zeros(ns), torch.from_numpy(np.asarray(sdf_off, dtype=np.float32))])
    all_normals = torch.zeros(ns + nn + nu, 3)
    all_normals[:ns] = torch.from_numpy(normals.astype(np.float32))
    kind = torch.cat([torch.full((ns,), SURFACE), torch.full((nn,), NEAR), torch.full((nu,), UNIFORM)]).to(torch.uint8)
    return SamplePool(points, sdf, all_normals, kind, fractions, (0, ns, ns + nn, ns + nn + nu))
