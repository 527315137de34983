"""SDF and occupancy fields in the viewer: the surface found by sphere tracing, shaded, as normals, or
as depth.

The viewer's world is the task's unit cube moved to the origin (``world = unit - 0.5``). Occupancy
fields give logits, not distances: ``SurfaceTracer`` skips empty space on a coarse grid of the field and
steps through the band around the sign change in short fixed steps.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from fields.apps.viewer.camera import ViewCamera
from fields.apps.viewer.colormaps import normalise_depth, turbo
from fields.apps.viewer.surface_tracer import SurfaceTracer
from fields.apps.viewer.views import Overlay, Render, View, register_view, to_uint8
from fields.modules import eval_mode
from fields.render.shading import shade

BACKGROUND = 0.12


@register_view("sdf", "occupancy")
class GeometryView(View):
    modes = ("shaded", "normals", "depth")
    up = (0.0, 0.0, 1.0)

    def __init__(self, task, chunk: int = 32768):
        super().__init__(task, chunk)
        self.tracer = SurfaceTracer(self._sdf, lambda: list(task.field.parameters()), task.lipschitz, chunk=chunk)

    def home(self) -> ViewCamera:
        return ViewCamera.look_at((1.1, -1.3, 0.8), (0.0, 0.0, 0.0), self.up, math.radians(45.0))

    def _sdf(self, x: torch.Tensor) -> torch.Tensor:
        with eval_mode(self.task.field):  # per batch: a live training run may step between batches
            return self.task._query(x)

    @staticmethod
    def grid_resolution(width: int, height: int) -> int:
        """The coarse grid for empty-space skipping: finer for large frames (fewer wasted queries near
        the surface), coarser for previews (a live run rebuilds it every frame)."""
        return 64 if max(width, height) > 192 else 32

    def coarse_start(self, camera: ViewCamera, width: int, height: int, factor: int = 4):
        """Trace a ``1/factor`` frame; each full-size ray is traced only where one of the 3x3 coarse rays
        around it came near the surface (passed a candidate cell), and starts, where all 9 hit, a few
        coarse footprints before the nearest of their hits. Returns ``start, traced``, each ``(H * W,)``."""
        w, h = max(1, width // factor), max(1, height // factor)
        origins, directions = camera.rays(w, h)
        coarse = yield from self.tracer.trace(origins.reshape(-1, 3) + 0.5, directions.reshape(-1, 3),
                                              self.grid_resolution(w, h), camera.fov / h)

        def pool(x: torch.Tensor) -> torch.Tensor:  # 3x3 max, then nearest upsampling to the full frame
            pooled = F.max_pool2d(x.reshape(1, 1, h, w).float(), 3, 1, 1)
            return F.interpolate(pooled, size=(height, width), mode="nearest").reshape(-1)

        depth = torch.where(coarse.hit, coarse.depth, torch.zeros_like(coarse.depth))
        nearest = -pool(-torch.where(coarse.hit, depth, torch.full_like(depth, 1e9)))
        all_hit = pool((~coarse.hit).float()) == 0
        margin = 4.0 * camera.fov / h * nearest
        start = torch.where(all_hit, nearest - margin, torch.zeros_like(nearest))
        return start, pool(coarse.touched.float()) > 0

    def render(self, mode: str, camera: ViewCamera, width: int, height: int) -> Render:
        self.check_mode(mode)
        origins, directions = camera.rays(width, height)
        origins, directions = origins.reshape(-1, 3) + 0.5, directions.reshape(-1, 3)
        start, traced = None, None
        if max(width, height) > 192:  # coarse to fine: a quarter-size trace says where to look
            start, traced = yield from self.coarse_start(camera, width, height)
        trace = yield from self.tracer.trace(origins, directions, self.grid_resolution(width, height),
                                             camera.fov / height, start, traced)
        hit, depth = trace.hit, trace.depth
        normals = torch.zeros_like(origins)
        if mode != "depth" and hit.any():
            normals[hit] = yield from self.tracer.normals(trace.points[hit])
        if mode == "shaded":
            image = shade(normals, directions, hit, background=BACKGROUND)
        elif mode == "normals":
            image = torch.where(hit[:, None], 0.5 * normals + 0.5, torch.full_like(normals, BACKGROUND))
        else:
            image = torch.where(
                hit[:, None], turbo(normalise_depth(depth, hit)), torch.full((len(depth), 3), BACKGROUND)
            )
        return to_uint8(image.reshape(height, width, 3))

    def _world(self, vertices_input: np.ndarray) -> np.ndarray:
        return self.task.transform.to_unit(np.asarray(vertices_input)) - 0.5

    def overlays(self) -> list[Overlay]:
        task = self.task
        if task.mesh is not None and task.cloud is None:
            return [Overlay("input_mesh", vertices=self._world(task.mesh.vertices), faces=np.asarray(task.mesh.faces))]
        if task.cloud is not None:
            points = task.cloud.points
            keep = np.random.default_rng(0).permutation(len(points))[:50000]
            return [Overlay("input_points", points=self._world(points[keep]))]
        return []

    def export_mesh(self, path: Path) -> tuple[Path, Optional[Overlay]]:
        import trimesh

        path = self.task.export_mesh(Path(path), resolution=256)
        mesh = trimesh.load(path, force="mesh", process=False)
        return path, Overlay("exported_mesh", vertices=self._world(mesh.vertices), faces=np.asarray(mesh.faces))
