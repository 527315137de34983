"""Interactive ray casting of SDF and occupancy fields for the viewer: ``fields.render.sphere_tracing``
with empty-space skipping on a coarse grid (``fields.render.coarse_grid``), driven in chunks of field
queries with a yield between chunks so the viewer's scheduler can interleave training, and normals by
finite differences at the hits only.

Querying the field at every step of every ray, most of them rays that miss, took tens of seconds for a
512x512 frame on a loaded 2-core CPU; the coarse grid (cached while the weights do not change: the
parameters' in-place version counters) leaves the queries to the rays near the surface.
"""

from __future__ import annotations

from typing import Callable, Generator, Optional

import torch

from fields.render.coarse_grid import CoarseGrid, coarse_grid, lattice_points
from fields.render.shading import tetrahedron_normals, tetrahedron_points
from fields.render.sphere_tracing import Steps, TraceResult, sphere_trace_steps

SurfaceFn = Callable[[torch.Tensor], torch.Tensor]  # (N, 3) unit coordinates -> (N,), negative inside


class SurfaceTracer:
    """Traces ``surface_value`` (negative inside) of the field whose ``parameters`` it watches.
    ``lipschitz``: slope bound of an SDF (the coarse grid's candidate band), ``None`` for occupancy logits;
    an SDF steps ``step_scale f / march_lipschitz`` (1 by default: the band, not the step, carries the
    task's slope bound). Methods are generators that yield between batches of at most ``chunk`` field
    queries and return their result."""

    def __init__(self, surface_value: SurfaceFn, parameters: Callable[[], list[torch.Tensor]],
                 lipschitz: Optional[float], chunk: int = 32768, step_scale: float = 0.9,
                 hit_epsilon: float = 1e-3, refine_steps: int = 5, max_iterations: int = 256,
                 march_lipschitz: float = 1.0, max_queries_per_ray: int = 64):
        self.surface_value, self.parameters, self.lipschitz, self.chunk = surface_value, parameters, lipschitz, chunk
        self.options = dict(lipschitz=None if lipschitz is None else march_lipschitz, step_scale=step_scale,
                            hit_epsilon=hit_epsilon, refine_steps=refine_steps, max_iterations=max_iterations,
                            max_steps=max_queries_per_ray)
        self._grids: dict[int, tuple[tuple, CoarseGrid]] = {}

    def query(self, x: torch.Tensor) -> Generator[None, None, torch.Tensor]:
        """``surface_value`` of ``x (N, 3)`` in pieces of ``chunk`` points: ``(N,)``. An empty ``x`` still
        yields once (a round of empty-space jumps gives the scheduler its turn too)."""
        out = []
        for start in range(0, x.shape[0], self.chunk):
            with torch.no_grad():
                out.append(self.surface_value(x[start : start + self.chunk]).reshape(-1).float().cpu())
            yield
        if not out:
            yield
        return torch.cat(out) if out else x.new_zeros(0)

    def drive(self, steps: Steps) -> Generator[None, None, TraceResult]:
        """Run a tracing coroutine, answering its requests with ``query``."""
        try:
            x = next(steps)
            while True:
                x = steps.send((yield from self.query(x)))
        except StopIteration as stop:
            return stop.value

    def grid(self, resolution: int) -> Generator[None, None, CoarseGrid]:
        """The coarse grid of the current weights (rebuilt when an optimiser step changed them)."""
        key = tuple((p.data_ptr(), p._version) for p in self.parameters())
        cached = self._grids.get(resolution)
        if cached is not None and cached[0] == key:
            return cached[1]
        values = yield from self.query(lattice_points(resolution))
        grid = coarse_grid(values.reshape((resolution + 1,) * 3), self.lipschitz)
        self._grids[resolution] = (key, grid)
        return grid

    def trace(self, origins: torch.Tensor, directions: torch.Tensor, grid_resolution: int = 64,
              pixel_angle: float = 0.0, start: Optional[torch.Tensor] = None,
              traced: Optional[torch.Tensor] = None) -> Generator[None, None, TraceResult]:
        """Rays ``origins, directions (R, 3)`` in unit coordinates (unit directions) -> ``TraceResult``.
        ``pixel_angle`` (radians a pixel spans): an SDF ray stops once the surface is within half its
        pixel's footprint and never steps less than the footprint (cone tracing: no work on detail that
        the image cannot show). ``start (R,)``: distances to start from (no surface before them);
        ``traced (R,)`` bool: the rays to trace (the others miss)."""
        grid = yield from self.grid(grid_resolution)
        steps = sphere_trace_steps(origins, directions, grid, pixel_angle=pixel_angle, start=start, traced=traced,
                                   **self.options)
        return (yield from self.drive(steps))

    def normals(self, points: torch.Tensor, delta: float = 1e-3) -> Generator[None, None, torch.Tensor]:
        """Unit gradients ``(N, 3)`` at ``points (N, 3)`` by finite differences on a tetrahedron
        (4 queries a point)."""
        values = yield from self.query(tetrahedron_points(points, delta))
        return tetrahedron_normals(values)
