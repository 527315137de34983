"""Level-set meshes of the 3D tasks' fields (radiance density, NeuS SDF), written as a binary PLY in world
units. The grid is evaluated and triangulated slab by slab, coarse to fine
(``fields.export.marching_cubes.extract_surface``), so memory stays bounded at any resolution."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from fields.export.marching_cubes import extract_surface
from fields.io import write_mesh_ply
from fields.render.rays import SceneTransform

log = logging.getLogger("fields")



def extract_mesh(fn: Callable[[torch.Tensor], torch.Tensor], resolution: int, level: float, box: tuple[float, float],
                 transform: SceneTransform, path: Path, device: torch.device, flip: bool = False,
                 lipschitz: Optional[float] = None) -> Optional[Path]:
    """Mesh the level set ``fn == level`` over the unit-frame cube ``[lo, lo + size]^3`` (``resolution``
    cells per axis) and write it to ``path`` in world units, faces wound outward; returns the path, or
    None when there is no surface.

    fn: unit-frame points ``(N, 3)`` -> ``(N,)``, below ``level`` inside (an SDF); ``flip``: above
    ``level`` inside (a density), negated first. ``lipschitz``: a bound on ``|grad fn|`` (SDFs) that lets
    a coarse pass skip blocks far from the surface; None (densities, whose thin parts a coarse pass can
    miss) evaluates every sample, still slab by slab.
    """
    sign = -1.0 if flip else 1.0
    lo, size = box

    def values(x: torch.Tensor) -> torch.Tensor:
        return sign * fn(x.to(device)).reshape(-1)

    verts, faces = extract_surface(values, resolution, ((lo,) * 3, (lo + size,) * 3), sign * level,
                                  coarse_to_fine=lipschitz is not None, lipschitz=lipschitz,
                                  progress=f"marching cubes {resolution}^3")
    if len(faces) == 0:
        log.info("no surface at level %g: no mesh written", level)
        return None
    world = transform.points_to_world(torch.from_numpy(verts.astype(np.float32))).numpy()
    write_mesh_ply(Path(path), world, np.ascontiguousarray(faces))
    return Path(path)
