"""The occupancy grid of an unbounded scene: one level of cells over the *contracted* space (``to_field``:
unit-frame points -> ``[0, 1]^3``, e.g. ``fields.models.contraction.SceneContraction``; ``to_unit`` its
inverse; passed in as functions, the renderer builds no models), so a 128^3 grid covers everything out
to infinity with the foreground at half its resolution per axis.

Marching steps from ``near_plane`` to ``far_plane`` (growing as ``t * cone_angle``: Instant-NGP's
exponential stepping keeps the count logarithmic in the far plane) and keeps the steps whose midpoint
falls in an occupied cell. Straight rays curve in contracted space, so the empty-block jumps of the
bounded grid do not apply: every step is tested (in chunks of rays), then early ray termination as in
the bounded grid. Output: the packed layout, as ``OccupancyGrid.sampling``.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch

from fields.render.occupancy_grid import OccupancyGrid, _steps_at, early_stop, step_edges


class ContractedOccupancyGrid(OccupancyGrid):
    def __init__(self, to_field: Callable[[torch.Tensor], torch.Tensor],
                 to_unit: Callable[[torch.Tensor], torch.Tensor], resolution: int = 128, far_plane: float = 500.0):
        super().__init__(resolution, 1)
        self.to_field, self.to_unit, self.far_plane = to_field, to_unit, far_plane

    def _cells(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        u = self.to_field(x)
        cell = (u * self.resolution).floor().long().clamp(0, self.resolution - 1)
        zeros = torch.zeros(len(x), dtype=torch.long, device=x.device)
        return zeros, torch.ones(len(x), dtype=torch.bool, device=x.device), cell

    def occupied_aabb(self) -> Optional[torch.Tensor]:
        return None

    @torch.no_grad()
    def update_every_n_steps(self, step: int, occ_eval_fn: Callable[[torch.Tensor], torch.Tensor], *args,
                             **kwargs) -> bool:
        """As the bounded grid's; cell points are contracted coordinates, evaluated at their unit-frame point."""
        return super().update_every_n_steps(step, lambda u: occ_eval_fn(self.to_unit(u)), *args, **kwargs)

    @torch.no_grad()
    def sampling(self, origins: torch.Tensor, directions: torch.Tensor,
                 sigma_fn: Optional[Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = None,
                 render_step_size: float = 1e-3, near_plane: float = 0.0, far_plane: Optional[float] = None,
                 early_stop_eps: float = 1e-4, alpha_thre: float = 0.0, cone_angle: float = 0.0,
                 stratified: bool = False, generator: Optional[torch.Generator] = None,
                 chunk: int = 1 << 20, round_samples: int = 32, **_: object
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Rays ``(R, 3)`` (unit frame) -> packed ``ray_indices, t_starts, t_ends (N,)`` sorted by ray and ``t``."""
        n_rays = origins.shape[0]
        far = min(far_plane or self.far_plane, self.far_plane)
        edges = step_edges(near_plane, far, render_step_size, cone_angle).to(origins)
        n_steps = len(edges) - 1
        shift = (torch.rand(n_rays, generator=generator).to(origins) if stratified
                 else torch.full((n_rays,), 0.5).to(origins))
        grid = self.binaries.reshape(-1)
        rays_out, steps_out = [], []
        per = max(1, chunk // max(n_steps, 1))
        for start in range(0, n_rays, per):
            rays = torch.arange(start, min(start + per, n_rays), device=origins.device)
            r = rays[:, None].expand(-1, n_steps).reshape(-1)
            k = torch.arange(n_steps, device=origins.device).repeat(len(rays))
            _, _, x = _steps_at(origins, directions, edges, shift, r, k)
            _, _, cell = self._cells(x)
            occ = grid[(cell[:, 0] * self.resolution + cell[:, 1]) * self.resolution + cell[:, 2]]
            rays_out.append(r[occ])
            steps_out.append(k[occ])
        ray_indices = torch.cat(rays_out) if rays_out else torch.zeros(0, dtype=torch.long, device=origins.device)
        steps = torch.cat(steps_out) if steps_out else ray_indices.clone()
        t_starts, t_ends, _ = _steps_at(origins, directions, edges, shift, ray_indices, steps)
        if sigma_fn is not None and len(ray_indices):
            keep = early_stop(ray_indices, t_starts, t_ends, sigma_fn, n_rays, early_stop_eps, alpha_thre,
                              round_samples)
            ray_indices, t_starts, t_ends = ray_indices[keep], t_starts[keep], t_ends[keep]
        return ray_indices, t_starts, t_ends
