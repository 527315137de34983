"""The 48 axis flips and permutations of the cube, acting on tri-planes and on point clouds.

A shape's class does not change when its coordinates are flipped or swapped, and such a transform maps
a tri-plane to a tri-plane: planes are re-indexed, transposed and flipped. Used as data augmentation for
every classifier alike (planes for the plane heads, points for the point baseline).

Plane layout (``triplane_fit.sample_planes``): plane 0 is indexed ``[.., y, x]`` (height y, width x),
plane 1 ``[.., z, x]``, plane 2 ``[.., z, y]``: the pair ``(a, b)``, ``a < b``, is stored with ``b`` along
the height and ``a`` along the width.
"""

from __future__ import annotations

import itertools

import torch

PAIRS = ((0, 1), (0, 2), (1, 2))


def transform_points(points: torch.Tensor, perm: tuple[int, ...], flips: tuple[bool, ...]) -> torch.Tensor:
    """``(..., 3)``: new coordinate ``i`` is old coordinate ``perm[i]``, negated where ``flips[i]``."""
    out = points[..., list(perm)]
    sign = torch.tensor([-1.0 if f else 1.0 for f in flips], dtype=points.dtype, device=points.device)
    return out * sign


def transform_planes(planes: torch.Tensor, perm: tuple[int, ...], flips: tuple[bool, ...]) -> torch.Tensor:
    """``(..., 3, C, R, R)`` planes of a field ``f(x)`` -> planes of ``f'(x') = f(x)`` with ``x'`` given by
    ``transform_points(x, perm, flips)``."""
    out = []
    for i, j in PAIRS:
        a, b = perm[i], perm[j]  # new axes (i, j) read old axes (a, b)
        plane = planes[..., PAIRS.index((min(a, b), max(a, b))), :, :, :]
        if a > b:  # old plane has a along the height: swap to put new i (old a) along the width
            plane = plane.transpose(-1, -2)
        dims = [d for d, flip in ((-1, flips[i]), (-2, flips[j])) if flip]
        out.append(plane.flip(dims) if dims else plane)
    return torch.stack(out, dim=-4)


def random_symmetries(
    n: int, generator: torch.Generator | None = None
) -> list[tuple[tuple[int, ...], tuple[bool, ...]]]:
    """``n`` random elements of the 48-element group of axis permutations and flips."""
    perms = list(itertools.permutations(range(3)))
    p = torch.randint(len(perms), (n,), generator=generator).tolist()
    f = torch.randint(2, (n, 3), generator=generator).bool().tolist()
    return [(perms[a], tuple(b)) for a, b in zip(p, f)]


__all__ = ["transform_points", "transform_planes", "random_symmetries"]
