"""Occupancy-grid estimator (Instant-NGP; nerfacc's ``OccGridEstimator``): torch, with a C++ marcher on CPU.

A multi-level binary grid over the unit frame: level ``l`` covers the cube of side ``2**l`` centred on
``(0.5, 0.5, 0.5)`` at ``resolution**3`` cells. Each cell keeps an exponential moving average of the
field's opacity ``sigma * step``; every ``n`` training steps a set of cells (all of them during warm-up,
then a random quarter plus the occupied ones) is re-evaluated at a jittered point, and cells above
``min(occ_thre, mean)`` are marked occupied.

Marching: every ray is cut into steps of ``render_step_size`` (growing as ``t * cone_angle`` when that
is larger) from ``near_plane``; steps inside the ray's part of the box around the occupied cells whose
midpoint lies in an occupied cell are kept, and with a ``sigma_fn`` those behind spent transmittance
(``T < early_stop_eps``) or with ``alpha < alpha_thre`` are dropped (densities evaluated in rounds of
steps, only for rays still alive: Instant-NGP's early ray termination, ``render/early_stop.py``).
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import torch
from torch import nn

from fields.kernels import march_cpu
from fields.render.early_stop import early_stop, march_with_early_stop
from fields.render.steps import ray_steps, step_edges, steps_at

__all__ = ["OccupancyGrid", "early_stop", "step_edges", "steps_at"]
_steps_at = steps_at  # the name render/contracted_grid.py imports


class OccupancyGrid(nn.Module):
    """``marcher``: ``cpp`` (the C++ loop of ``fields.kernels.march_cpu``), ``torch`` (rounds of torch ops,
    any device) or ``auto`` (cpp for float32 CPU rays when it builds, else torch)."""

    def __init__(self, resolution: int = 128, levels: int = 1, marcher: str = "auto"):
        super().__init__()
        self.resolution, self.levels, self.marcher = resolution, levels, marcher
        cells = resolution**3
        # opacity EMA (-1: never seen) and the binary grid; persistent, so checkpoints keep them
        self.register_buffer("occs", torch.full((levels, cells), -1.0))
        self.register_buffer("binaries", torch.ones(levels, resolution, resolution, resolution, dtype=torch.bool))
        coords = torch.stack(torch.meshgrid(*[torch.arange(resolution)] * 3, indexing="ij"), -1).reshape(-1, 3)
        self.register_buffer("_grid_coords", coords, persistent=False)
        half = 0.5 * 2.0 ** torch.arange(levels, dtype=torch.float32)
        self.register_buffer("aabb", torch.tensor([0.5 - half[-1]] * 3 + [0.5 + half[-1]] * 3))

    # --- updates -------------------------------------------------------------------------------------
    def level_box(self, level: int) -> tuple[float, float]:
        half = 0.5 * 2.0**level
        return 0.5 - half, 2.0 * half

    @torch.no_grad()
    def update_every_n_steps(
        self,
        step: int,
        occ_eval_fn: Callable[[torch.Tensor], torch.Tensor],
        occ_thre: float = 0.01,
        ema_decay: float = 0.95,
        warmup_steps: int = 256,
        n: int = 16,
        generator: Optional[torch.Generator] = None,
        chunk: int = 65536,
    ) -> bool:
        """Update when ``step % n == 0``. occ_eval_fn: unit-frame points ``(P, 3)`` -> opacity ``(P,)``."""
        if step % n != 0:
            return False
        device = self.occs.device
        cells = self.resolution**3
        for level in range(self.levels):
            if step < warmup_steps:
                index = torch.arange(cells, device=device)
            else:
                uniform = torch.randint(cells, (cells // 4,), generator=generator).to(device)
                occupied = self.binaries[level].reshape(-1).nonzero().flatten()
                if len(occupied) > cells // 4:
                    occupied = occupied[torch.randint(len(occupied), (cells // 4,), generator=generator).to(device)]
                index = torch.cat((uniform, occupied))
            jitter = torch.rand(len(index), 3, generator=generator).to(device)
            lo, size = self.level_box(level)
            x = (self._grid_coords[index] + jitter) / self.resolution * size + lo
            occ = torch.cat([occ_eval_fn(x[i : i + chunk]).reshape(-1) for i in range(0, len(x), chunk)])
            current = self.occs[level]
            current[index] = torch.maximum(current[index] * ema_decay, occ.to(current))
        seen = self.occs[self.occs >= 0]
        threshold = min(occ_thre, float(seen.mean())) if len(seen) else occ_thre
        self.binaries.copy_((self.occs > threshold).reshape(self.binaries.shape))
        return True

    # --- queries -------------------------------------------------------------------------------------
    def occupied(self, x: torch.Tensor) -> torch.Tensor:
        """``(P, 3)`` unit-frame points -> ``(P,)`` bool: inside the box and in an occupied cell of the finest
        level that contains them."""
        level, inside, cell = self._cells(x)
        return inside & self.binaries.reshape(-1)[_flat(level, cell, self.resolution)]

    def occupancy_fraction(self) -> float:
        return float(self.binaries.float().mean())

    def occupied_aabb(self) -> Optional[torch.Tensor]:
        """``(6,)`` unit-frame box around every occupied cell of every level (None when none is): rays
        are clipped to it before marching, so steps in the empty margin of the scene box cost nothing."""
        key = (self.binaries.data_ptr(), self.binaries._version, self.aabb.device)
        if getattr(self, "_aabb_key", None) == key:
            return self._aabb_cache
        lo_all, hi_all = [], []
        for level in range(self.levels):
            grid = self.binaries[level]
            if not grid.any():
                continue
            lo, size = self.level_box(level)
            low, high = [], []
            for axis in range(3):
                other = tuple(a for a in range(3) if a != axis)
                index = grid.any(dim=other[1]).any(dim=other[0]).nonzero().flatten()
                low.append(int(index[0]))
                high.append(int(index[-1]) + 1)
            cell = size / self.resolution
            lo_all.append(torch.tensor(low, dtype=torch.float32) * cell + lo)
            hi_all.append(torch.tensor(high, dtype=torch.float32) * cell + lo)
        box = None
        if lo_all:
            box = torch.cat((torch.stack(lo_all).amin(0), torch.stack(hi_all).amax(0))).to(self.aabb.device)
        self._aabb_cache, self._aabb_key = box, key  # the grid changes only every few training steps
        return box

    # --- marching ------------------------------------------------------------------------------------
    @torch.no_grad()
    def sampling(
        self,
        origins: torch.Tensor,
        directions: torch.Tensor,
        sigma_fn: Optional[Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = None,
        render_step_size: float = 1e-3,
        near_plane: float = 0.0,
        far_plane: float = 1e10,
        early_stop_eps: float = 1e-4,
        alpha_thre: float = 0.0,
        cone_angle: float = 0.0,
        stratified: bool = False,
        generator: Optional[torch.Generator] = None,
        block: int = 8,
        round_samples: int = 32,
        carry: bool = False,
    ) -> tuple[torch.Tensor, ...]:
        """March rays ``(R, 3)`` (unit frame, unit directions) through occupied cells.

        sigma_fn(t_starts, t_ends, ray_indices) -> sigmas: optional, for early stopping and ``alpha_thre``;
        it is called on the next steps of the rays still alive, in rounds growing to ``round_samples``, so
        the steps behind an opaque surface are never evaluated (0: every step in one call).
        Returns the packed ``ray_indices (N,)``, ``t_starts (N,)``, ``t_ends (N,)``, sorted by ray and ``t``;
        with ``carry``, ``sigma_fn`` returns ``(n, 1 + C)`` (density first) and those of the kept samples
        come fourth (``None`` when no sample is kept).
        """
        n_rays = origins.shape[0]
        edges, first, count, shift = ray_steps(origins, directions, self.occupied_aabb(), render_step_size,
                                               near_plane, far_plane, cone_angle, stratified, generator)
        if self.uses_cpp(origins):
            steps = (edges, first, count, shift, self.binaries, self._blocks(), self._blocks(16))
            if sigma_fn is not None and round_samples > 0:
                marcher = march_cpu.Marcher(origins, directions, *steps)
                return march_with_early_stop(
                    marcher, sigma_fn, n_rays, early_stop_eps, alpha_thre, round_samples, carry
                )
            ray_indices, _, t_starts, t_ends = march_cpu.march(origins, directions, *steps)
        else:
            ray_indices, steps = self._march(origins, directions, edges, first, count, shift, block)
            t_starts, t_ends, _ = steps_at(origins, directions, edges, shift, ray_indices, steps)
        if sigma_fn is not None and len(ray_indices):
            density_fn = (lambda *a: sigma_fn(*a)[:, 0]) if carry else sigma_fn
            keep = early_stop(
                ray_indices, t_starts, t_ends, density_fn, n_rays, early_stop_eps, alpha_thre, round_samples
            )
            ray_indices, t_starts, t_ends = ray_indices[keep], t_starts[keep], t_ends[keep]
        if carry:  # the values of the kept samples, in a second pass (the C++ marcher keeps those of the first)
            values = sigma_fn(t_starts, t_ends, ray_indices) if len(ray_indices) else None
            return ray_indices, t_starts, t_ends, values
        return ray_indices, t_starts, t_ends

    def step_marcher(self, origins: torch.Tensor, directions: torch.Tensor, render_step_size: float = 1e-3,
                near_plane: float = 0.0, far_plane: float = 1e10, cone_angle: float = 0.0):
        """The C++ incremental ``Marcher`` (``fields.kernels.march_cpu``) of these rays' occupied steps,
        unjittered (inference); needs ``uses_cpp(origins)``."""
        from fields.kernels.march_cpu import Marcher

        steps = ray_steps(origins, directions, self.occupied_aabb(), render_step_size, near_plane, far_plane,
                          cone_angle)
        return Marcher(origins, directions, *steps, self.binaries, self._blocks(), self._blocks(16))

    def uses_cpp(self, origins: torch.Tensor) -> bool:
        """Whether ``sampling`` of these rays runs the C++ marcher."""
        if self.marcher == "torch":
            return False
        usable = march_cpu.supports(origins) and march_cpu.available()
        if not usable and self.marcher == "cpp":
            raise RuntimeError("marcher cpp needs float32 rays on the CPU and its kernel built")
        return usable

    def _cells(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(P, 3)`` points -> finest containing ``level (P,)``, ``inside (P,)`` and ``cell (P, 3)`` at it."""
        extent = (x - 0.5).abs().amax(-1) * 2.0  # side of the smallest centred cube holding x
        level = torch.ceil(torch.log2(extent.clamp_min(1e-12))).clamp_min(0).long()
        inside = level < self.levels
        level = level.clamp_max(self.levels - 1)
        size = 2.0 ** level.to(x.dtype)
        cell = ((x - 0.5) / size[:, None] + 0.5) * self.resolution
        return level, inside, cell.floor().long().clamp(0, self.resolution - 1)

    def _mips(self) -> list[torch.Tensor]:
        """Max-pooled binaries: ``mips[m] (levels, res >> m, ...)`` is True where a block of ``2**m`` cells
        per axis holds an occupied cell. Only blocks that never straddle the next finer level's cube
        (``res >> m`` divisible by 4 when ``levels > 1``) are kept, so one block is ruled by one level."""
        key = (self.binaries.data_ptr(), self.binaries._version)
        if getattr(self, "_mip_key", None) != key:
            mips, grid, res = [self.binaries], self.binaries.float()[:, None], self.resolution
            while res % 2 == 0 and (res // 2) % (4 if self.levels > 1 else 1) == 0 and res > 1:
                grid, res = torch.nn.functional.max_pool3d(grid, 2), res // 2
                mips.append(grid[:, 0] > 0)
            self._mip_cache, self._mip_key = mips, key
        return self._mip_cache

    def _blocks(self, side: int = 4) -> torch.Tensor | None:
        """Blocks of ``side`` (4 or 16) cells per axis (``_mips()[log2 side]``, the C++ marcher crosses an empty
        one in one skip) or None."""
        mips, m = self._mips(), side.bit_length() - 1
        return mips[m] if len(mips) > m else None

    def _march(self, origins, directions, edges, first, count, shift, block):
        """The steps whose midpoint is in an occupied cell -> packed ``(ray, step number)`` sorted by both.

        Rounds over the still-active rays only: each tests its next ``block`` steps; when the last is empty,
        the ray jumps to the exit of the coarsest empty mip block around it, less one step for rounding.
        The skipped steps are provably empty: cell numbers along a ray are monotone in ``t`` (also in
        float arithmetic), so when the last skipped step lies in the same block as the tested one, every
        step between them does too (else the ray only moves on by one step). Same samples as testing
        every step, up to float rounding within an ulp of a level's cube face."""
        device, res = origins.device, self.resolution
        mips = self._mips()
        flat_mips = [m.reshape(-1) for m in mips]
        n_steps = len(edges) - 1
        k, end = first.clone(), first + count
        active = (count > 0).nonzero().flatten()
        offsets = torch.arange(block, device=device)
        out_rays, out_steps = [], []
        while len(active):
            kk = k[active, None] + offsets
            valid = kk < end[active, None]
            rays = active[:, None].expand_as(kk)
            _, _, x = steps_at(
                origins, directions, edges, shift, rays.reshape(-1), kk.clamp_max(n_steps - 1).reshape(-1)
            )
            level, inside, cell = self._cells(x)
            occ = inside & self.binaries.reshape(-1)[_flat(level, cell, res)]
            occ = occ.reshape(kk.shape) & valid
            out_rays.append(rays[occ])
            out_steps.append(kk[occ])
            # jump from the last tested step when it lies in an empty cell
            j = torch.minimum(k[active] + block, end[active]) - 1
            last = (j - k[active]).reshape(-1, 1)
            idx = torch.arange(len(active), device=device) * block + last.flatten()
            k_next = j + 1
            can = inside[idx] & ~occ.gather(1, last).flatten()
            if can.any():
                sel = can.nonzero().flatten()
                r, lv, c = active[sel], level[idx[sel]], cell[idx[sel]]
                m = torch.zeros_like(lv)
                for i in range(1, len(mips)):  # coarsest empty block (emptiness is nested)
                    cm = c >> i
                    m += ~flat_mips[i][_flat(lv, cm, res >> i)]
                size = 2.0 ** (lv + m).to(origins.dtype) / res  # side of the empty block
                lo = 0.5 - 0.5 * 2.0 ** lv.to(origins.dtype)
                box_lo = lo[:, None] + (c >> m[:, None]).to(origins.dtype) * size[:, None]
                o, d = origins[r], directions[r]
                bound = torch.where(d > 0, box_lo + size[:, None], box_lo)
                t_exit = torch.where(d != 0, (bound - o) / d, torch.full_like(d, math.inf)).amin(-1)
                # the first step whose midpoint is past the block's exit
                target = (torch.searchsorted(edges, t_exit.contiguous()) - 1).clamp(0, len(edges) - 2)
                t0, t1, _ = steps_at(origins, directions, edges, shift, r, target)
                target = target + ((t0 + t1) / 2 < t_exit).long()
                target = torch.minimum(torch.maximum(target, j[sel] + 1), end[r])
                ok = torch.zeros_like(target, dtype=torch.bool)
                for _ in range(2):  # the last step skipped must lie in the same block and level (else one less)
                    check = target - 1
                    _, _, xv = steps_at(origins, directions, edges, shift, r, check.clamp_max(len(edges) - 2))
                    lv2, inside2, c2 = self._cells(xv)
                    same = inside2 & (lv2 == lv) & ((c2 >> m[:, None]) == (c >> m[:, None])).all(-1)
                    same |= check <= j[sel]
                    target = torch.where(ok | same, target, target - 1)
                    ok |= same
                k_next[sel] = torch.where(ok, target, j[sel] + 1)
            k[active] = k_next
            active = active[k_next < end[active]]
        ray_ids = torch.cat(out_rays) if out_rays else first.new_zeros(0)
        steps = torch.cat(out_steps) if out_steps else first.new_zeros(0)
        order = torch.argsort(ray_ids * (n_steps + 1) + steps)
        return ray_ids[order], steps[order]


def _flat(level: torch.Tensor, cell: torch.Tensor, res: int) -> torch.Tensor:
    return ((level * res + cell[:, 0]) * res + cell[:, 1]) * res + cell[:, 2]
