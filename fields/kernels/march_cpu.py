"""The ``cpp`` marcher of the occupancy grid (``march_cpu.cpp``): every step of every ray tested in one
C++ loop per ray, instead of rounds of torch ops over the active rays (the marching was over half of a
CPU radiance step, mostly per-op overhead). Same samples as the torch marcher up to float rounding at a
level's cube face; ``fields.render.occupancy_grid`` falls back to torch when it cannot be built.
"""

from __future__ import annotations

import ctypes
import math
from pathlib import Path

import torch

from fields.kernels.cpp_build import load_library

SOURCE = Path(__file__).with_name("march_cpu.cpp")
NAME = "fields_march_cpu"
_fn = None
_next_fn = None
_pack_fn = None
_composite_fn = None


def available() -> bool:
    """Build (or load) the kernel on first call; False when it cannot be built."""
    global _fn, _next_fn, _pack_fn, _composite_fn
    if _fn is None:
        lib = load_library(NAME, SOURCE)
        if lib is None:
            return False
        p, i64 = ctypes.c_void_p, ctypes.c_int64
        fn = lib.fields_march_f32
        fn.argtypes = [p, p, p, p, p, p, p, i64, i64, p, p, i64, p, p, p, p, p, p]
        fn.restype = ctypes.c_int
        next_fn = lib.fields_march_next_f32
        next_fn.argtypes = [p, p, p, p, p, i64, i64, p, p, p, i64, p, p, i64, p, p, p, p]
        next_fn.restype = ctypes.c_int
        pack_fn = lib.fields_pack_f32
        pack_fn.argtypes = [p, p, p, i64, i64, p, p, p, p, p, p, p, p]
        pack_fn.restype = ctypes.c_int
        f64 = ctypes.c_double
        composite_fn = lib.fields_composite_f32
        composite_fn.argtypes = [p, i64, p, p, p, p, p, p, p, p, p, p, f64, f64, f64, f64, p, p, p]
        composite_fn.restype = ctypes.c_int
        _fn, _next_fn, _pack_fn, _composite_fn = fn, next_fn, pack_fn, composite_fn
    return True


def supports(origins: torch.Tensor) -> bool:
    return origins.device.type == "cpu" and origins.dtype == torch.float32


def march(
    origins: torch.Tensor,
    directions: torch.Tensor,
    edges: torch.Tensor,
    first: torch.Tensor,
    count: torch.Tensor,
    shift: torch.Tensor,
    binaries: torch.Tensor,
    blocks: torch.Tensor | None = None,
    blocks16: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rays ``(R, 3)`` float32 with steps ``[first, first + count)`` of ``edges (K + 1,)`` jittered by
    ``shift (R,)``; ``binaries (L, res, res, res)`` bool -> packed ``ray_indices, steps (N,)`` int64 and
    ``t_starts, t_ends (N,)`` of the steps whose midpoint lies in an occupied cell, sorted by ray and step.
    ``blocks (L, res / 4, res / 4, res / 4)`` bool, optional (``_blocks``): whether any cell of each 4x4x4
    block is occupied; an empty block is crossed in one skip (same samples)."""
    if not available():
        raise RuntimeError("march called without a built kernel (check available())")
    o, d = origins.contiguous(), directions.contiguous()
    e = edges.to(torch.float32).contiguous()
    first, count = first.to(torch.int64).contiguous(), count.to(torch.int64).contiguous()
    shift = shift.to(torch.float32).contiguous()
    grid = binaries.contiguous().view(torch.uint8)
    levels, res, n = binaries.shape[0], binaries.shape[1], o.shape[0]
    coarse, coarse16 = _blocks(blocks, binaries), _blocks(blocks16, binaries, 16)
    counts = torch.zeros(n, dtype=torch.int64)

    def call(offsets, rays, steps, t0, t1) -> None:
        ptr = [None if t is None else t.data_ptr() for t in (offsets, rays, steps, t0, t1)]
        rc = _fn(
            o.data_ptr(),
            d.data_ptr(),
            e.data_ptr(),
            first.data_ptr(),
            count.data_ptr(),
            shift.data_ptr(),
            grid.data_ptr(),
            levels,
            res,
            None if coarse is None else coarse.data_ptr(),
            None if coarse16 is None else coarse16.data_ptr(),
            n,
            counts.data_ptr(),
            *ptr,
        )
        if rc != 0:
            raise RuntimeError(f"cpp march kernel failed (code {rc})")

    call(None, None, None, None, None)
    offsets = torch.cumsum(counts, 0) - counts
    total = int(counts.sum())
    rays, steps = torch.empty(total, dtype=torch.int64), torch.empty(total, dtype=torch.int64)
    t0, t1 = torch.empty(total), torch.empty(total)
    if total:
        call(offsets, rays, steps, t0, t1)
    return rays, steps, t0, t1


class Marcher:
    """Incremental marching for early ray termination: ``next_steps(rays, k)`` returns the next ``k``
    occupied steps of each listed ray from where it stopped. Rays ``(R, 3)`` float32 on the CPU, steps
    ``[first, first + count)`` of ``edges``, jitter ``shift (R,)``, ``binaries (L, res, res, res)`` bool and
    optionally their 4x4x4 ``blocks`` and 16x16x16 ``blocks16`` (as in ``march``)."""

    def __init__(self, origins, directions, edges, first, count, shift, binaries, blocks=None, blocks16=None):
        if not available():
            raise RuntimeError("Marcher needs the built kernel (check available())")
        self.o, self.d = origins.contiguous(), directions.contiguous()
        self.edges = edges.to(torch.float32).contiguous()
        self.shift = shift.to(torch.float32).contiguous()
        self.grid = binaries.contiguous().view(torch.uint8)
        self.levels, self.res = binaries.shape[0], binaries.shape[1]
        self.blocks = _blocks(blocks, binaries)
        self.blocks16 = _blocks(blocks16, binaries, 16)
        self.next = first.to(torch.int64).clone().contiguous()
        self.end = (first + count).to(torch.int64).contiguous()

    def done(self, rays: torch.Tensor) -> torch.Tensor:
        """``(A,)`` bool: the listed rays have no steps left."""
        return self.next[rays] >= self.end[rays]

    def next_steps(self, rays: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Rays ``(A,)`` int64 -> ``steps (A, k)``, ``t_starts, t_ends (A, k)`` and ``n (A,)``: row ``a``
        holds ``n[a]`` valid entries, in step order."""
        rays = rays.to(torch.int64).contiguous()
        a = rays.shape[0]
        steps = torch.empty(a, k, dtype=torch.int64)
        t0, t1 = torch.empty(a, k), torch.empty(a, k)
        n = torch.empty(a, dtype=torch.int64)
        rc = _next_fn(
            self.o.data_ptr(),
            self.d.data_ptr(),
            self.edges.data_ptr(),
            self.shift.data_ptr(),
            self.grid.data_ptr(),
            self.levels,
            self.res,
            None if self.blocks is None else self.blocks.data_ptr(),
            None if self.blocks16 is None else self.blocks16.data_ptr(),
            rays.data_ptr(),
            a,
            self.next.data_ptr(),
            self.end.data_ptr(),
            k,
            steps.data_ptr(),
            t0.data_ptr(),
            t1.data_ptr(),
            n.data_ptr(),
        )
        if rc != 0:
            raise RuntimeError(f"cpp march kernel failed (code {rc})")
        return steps, t0, t1, n

    def next_samples(self, rays: torch.Tensor, k: int) -> tuple[torch.Tensor, ...]:
        """``next_steps`` packed: rays ``(A,)`` int64 -> ``ray_indices, t_starts, t_ends (M,)``, midpoints
        ``x (M, 3)`` (``o + d (t0 + t1) / 2``), ``n (A,)`` steps per listed ray and their ``offsets (A,)``."""
        rays = rays.to(torch.int64).contiguous()
        _, t0, t1, n = self.next_steps(rays, k)
        offsets = torch.cumsum(n, 0) - n
        m = int(n.sum())
        ray_out, t0_out, t1_out = torch.empty(m, dtype=torch.int64), torch.empty(m), torch.empty(m)
        x = torch.empty(m, 3)
        if m:
            _check(_pack_fn(self.o.data_ptr(), self.d.data_ptr(), rays.data_ptr(), len(rays), k, t0.data_ptr(),
                            t1.data_ptr(), n.data_ptr(), offsets.data_ptr(), ray_out.data_ptr(), t0_out.data_ptr(),
                            t1_out.data_ptr(), x.data_ptr()))
        return ray_out, t0_out, t1_out, x, n, offsets

    def composite(self, rays, n, offsets, t0, t1, sigma, optical, opacity, depth, early_stop_eps: float,
                  alpha_thre: float, min_weight: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One round of front-to-back compositing of ``next_samples``' densities ``sigma (M,)`` float32:
        updates ``optical (R,)`` float64, ``opacity, depth (R,)`` float32 in place; returns ``weights (M,)``,
        ``shows (M,)`` bool (weight >= ``min_weight``: the colour pass) and ``alive (A,)`` bool (the ray
        goes on: transmittance above ``early_stop_eps`` and steps left)."""
        sigma = sigma.to(torch.float32).contiguous()
        weights = torch.empty_like(t0)
        shows = torch.empty(len(t0), dtype=torch.bool)
        alive = torch.empty(len(rays), dtype=torch.bool)
        limit = -math.log(early_stop_eps) if early_stop_eps > 0 else math.inf
        _check(_composite_fn(rays.data_ptr(), len(rays), n.data_ptr(), offsets.data_ptr(), t0.data_ptr(),
                             t1.data_ptr(), sigma.data_ptr(), optical.data_ptr(), opacity.data_ptr(), depth.data_ptr(),
                             self.next.data_ptr(), self.end.data_ptr(), early_stop_eps, alpha_thre, min_weight, limit,
                             weights.data_ptr(), shows.view(torch.uint8).data_ptr(),
                             alive.view(torch.uint8).data_ptr()))
        return weights, shows, alive


def _blocks(blocks: torch.Tensor | None, binaries: torch.Tensor, side: int = 4) -> torch.Tensor | None:
    """``blocks`` of ``side`` cells per axis as the kernel reads them (uint8, contiguous), or ``None`` where
    they cannot be used: a block must lie in one level (``res`` divisible by ``4 * side`` with several levels,
    by ``side`` with one)."""
    levels, res = binaries.shape[0], binaries.shape[1]
    if blocks is None or res % (4 * side if levels > 1 else side) != 0:
        return None
    expected = (levels, res // side, res // side, res // side)
    if tuple(blocks.shape) != expected:
        raise ValueError(f"blocks {tuple(blocks.shape)} do not match binaries {tuple(binaries.shape)} (side {side})")
    return blocks.contiguous().view(torch.uint8)


def _check(rc: int) -> None:
    if rc != 0:
        raise RuntimeError(f"cpp march kernel failed (code {rc})")
