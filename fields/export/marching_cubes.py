"""Marching cubes of a field, evaluated in slabs so that memory stays bounded at any resolution.

``resolution`` is the number of cells per axis (``resolution + 1`` samples). The grid is processed in
slabs along x, each one evaluated, triangulated (PyMCubes, or scikit-image without it) and shifted into
place; vertices on the planes shared by two slabs are merged. Peak memory is that of one slab (about
``2**25`` samples) plus the output mesh: resolution 1024 needs well under 2 GB.

Coarse-to-fine: the field is first evaluated at every ``block``-th sample; a block of ``block**3`` cells
is refined only where it may hold the surface: with ``lipschitz`` given (SDFs), where every corner value
is within the block's diagonal times ``lipschitz`` (a zero inside is that close to each corner);
without (occupancy logits), where the corner values change sign, and the neighbours of such blocks. Elsewhere the fine
values are the trilinear interpolation of the coarse ones, which has
the sign of the corners and so yields no triangles there. Thin parts that fall between coarse samples of
a field without a distance bound (occupancy logits) can be missed; turn it off for those.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from fields.io.progress import track

FieldFn = Callable[[torch.Tensor], torch.Tensor]  # (N, 3) -> (N,), negative inside
SLAB_SAMPLES = 2**25


def _evaluate(fn: FieldFn, points: torch.Tensor, chunk: int) -> torch.Tensor:
    out = torch.empty(points.shape[0], dtype=torch.float32)
    with torch.no_grad():
        for i in range(0, points.shape[0], chunk):
            out[i : i + chunk] = fn(points[i : i + chunk]).reshape(-1).float().cpu()
    return out


def _grid_points(lo: np.ndarray, step: np.ndarray, ix: torch.Tensor, ny: int, nz: int, stride: int = 1) -> torch.Tensor:
    """Coordinates ``(len(ix) * ny * nz, 3)`` of the samples with x-indices ``ix`` (x slowest)."""
    iy = torch.arange(ny, dtype=torch.float64) * stride
    iz = torch.arange(nz, dtype=torch.float64) * stride
    grid = torch.stack(torch.meshgrid(ix.double(), iy, iz, indexing="ij"), dim=-1).reshape(-1, 3)
    return (grid * torch.as_tensor(step) + torch.as_tensor(lo)).float()


def _triangulate(volume: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes of ``volume (X, Y, Z)``; vertices in index units, faces wound outward (towards
    larger values)."""
    if not (volume.min() < level < volume.max()):
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    try:
        import mcubes
    except ImportError:
        mcubes = None
    if mcubes is not None:
        vertices, faces = mcubes.marching_cubes(volume.astype(np.float64, copy=False), float(level))
        return vertices, faces.astype(np.int64)[:, ::-1]  # PyMCubes winds the other way
    from skimage.measure import marching_cubes

    vertices, faces, _, _ = marching_cubes(volume, level)
    return vertices.astype(np.float64), faces.astype(np.int64)


def _block_flags(coarse: torch.Tensor, level: float, margin: Optional[float]) -> torch.Tensor:
    """``coarse (bx+1, by+1, bz+1)`` -> ``(bx, by, bz)`` bool: blocks that may hold the surface. With a
    ``margin`` (Lipschitz bound times the block diagonal), every block whose corners all lie within it;
    without, blocks whose corners change sign and their neighbours."""
    c = coarse - level
    corners = [c[i : c.shape[0] - 1 + i, j : c.shape[1] - 1 + j, k : c.shape[2] - 1 + k]
               for i in (0, 1) for j in (0, 1) for k in (0, 1)]
    stack = torch.stack(corners)
    flags = (stack.min(0).values < 0) & (stack.max(0).values > 0)
    if margin is not None:
        # a zero inside the block is within one diagonal of every corner
        return flags | (stack.abs().max(0).values < margin)
    dilated = F.max_pool3d(flags[None, None].float(), kernel_size=3, stride=1, padding=1)[0, 0]
    return dilated > 0


def extract_surface(
    fn: FieldFn,
    resolution: int,
    bounds: Optional[tuple[Sequence[float], Sequence[float]]] = None,
    level: float = 0.0,
    chunk: int = 2**18,
    coarse_to_fine: bool = True,
    block: int = 8,
    lipschitz: Optional[float] = 1.0,
    slab_samples: int = SLAB_SAMPLES,
    progress: Optional[str] = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Triangle mesh of ``{x : fn(x) = level}`` in the box ``bounds = (lo, hi)`` (default ``[0, 1]^3``).

    fn: ``(N, 3)`` float32 points -> ``(N,)`` values, below ``level`` inside. Returns ``vertices (V, 3)``
    float64 in the coordinates of ``bounds`` and ``faces (F, 3)`` int64, wound outward. ``lipschitz``:
    a bound on ``|grad fn|`` used by coarse-to-fine (``None`` for fields with no bound). ``progress`` names a
    bar over the slabs.
    """
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
    lo = np.zeros(3) if bounds is None else np.asarray(bounds[0], dtype=np.float64)
    hi = np.ones(3) if bounds is None else np.asarray(bounds[1], dtype=np.float64)
    step = (hi - lo) / resolution
    n = resolution + 1
    if coarse_to_fine:
        while block > 1 and resolution % block:
            block //= 2
        coarse_to_fine = block > 1 and resolution // block >= 4
    if not coarse_to_fine:
        block = 1
    nb = resolution // block
    flags = coarse = None
    if coarse_to_fine:
        coarse_points = _grid_points(lo, step, torch.arange(nb + 1) * block, nb + 1, nb + 1, stride=block)
        coarse = _evaluate(fn, coarse_points, chunk).reshape(nb + 1, nb + 1, nb + 1)
        margin = None if lipschitz is None else float(np.linalg.norm(step * block)) * lipschitz
        flags = _block_flags(coarse, level, margin)
    slab_blocks = max(1, slab_samples // (n * n * block))
    all_vertices, all_faces, n_vertices = [], [], 0
    slabs = range(0, nb, slab_blocks)
    for b0 in track(slabs, progress, total=len(slabs)) if progress else slabs:
        b1 = min(nb, b0 + slab_blocks)
        ix = torch.arange(b0 * block, b1 * block + 1)
        y0 = z0 = 0
        if coarse_to_fine:
            slab_flags = flags[b0:b1]
            if not slab_flags.any():
                continue
            # crop y and z to the flagged blocks: outside them there are no triangles
            (ys,), (zs,) = (
                slab_flags.any(2).any(0).nonzero(as_tuple=True),
                slab_flags.any(1).any(0).nonzero(as_tuple=True),
            )
            y0, y1, z0, z1 = int(ys[0]), int(ys[-1]) + 1, int(zs[0]), int(zs[-1]) + 1
            values = _refine_slab(fn, lo + step * np.array([0, y0 * block, z0 * block]), step, ix, block,
                                  coarse[b0 : b1 + 1, y0 : y1 + 1, z0 : z1 + 1], slab_flags[:, y0:y1, z0:z1], chunk)
        else:
            values = _evaluate(fn, _grid_points(lo, step, ix, n, n), chunk).reshape(len(ix), n, n)
        vertices, faces = _triangulate(values.numpy(), level)
        if len(faces) == 0:
            continue
        vertices += np.array([b0 * block, y0 * block, z0 * block], dtype=np.float64)
        all_vertices.append(vertices)
        all_faces.append(faces + n_vertices)
        n_vertices += len(vertices)
    if not all_faces:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    vertices, faces = _merge_seams(np.concatenate(all_vertices), np.concatenate(all_faces))
    return vertices * step + lo, faces


def _refine_slab(fn, lo, step, ix, block, coarse, flags, chunk) -> torch.Tensor:
    """Fine values of one slab (``lo``: its y/z origin): trilinear from ``coarse`` everywhere, evaluated
    in flagged blocks."""
    size = tuple((s - 1) * block + 1 for s in coarse.shape)
    values = F.interpolate(coarse[None, None], size=size, mode="trilinear", align_corners=True)[0, 0]
    cells = flags.repeat_interleave(block, 0).repeat_interleave(block, 1).repeat_interleave(block, 2)
    mask = torch.zeros(values.shape, dtype=torch.bool)
    for i in (0, 1):
        for j in (0, 1):
            for k in (0, 1):
                mask[i : i + cells.shape[0], j : j + cells.shape[1], k : k + cells.shape[2]] |= cells
    index = mask.nonzero()
    if len(index):
        points = (index.double() + torch.tensor([float(ix[0]), 0.0, 0.0])) * torch.as_tensor(step) + torch.as_tensor(lo)
        values[mask] = _evaluate(fn, points.float(), chunk)
    return values


def _merge_seams(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge vertices computed twice on the planes shared by two slabs. They agree up to float rounding
    (offsets are added to differently cropped slabs), so they are matched on a 2**-16 lattice."""
    keys = np.round(vertices * 65536.0).astype(np.int64)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    unique = vertices[first]
    faces = inverse.reshape(-1)[faces]
    keep = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    return unique, faces[keep]


def grid_memory_bytes(resolution: int) -> int:
    """Bytes of one full float32 grid at this resolution (what slabs avoid allocating)."""
    return 4 * (resolution + 1) ** 3


__all__ = ["extract_surface", "grid_memory_bytes"]
