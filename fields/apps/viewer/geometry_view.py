"""SDF and occupancy fields in the viewer: the surface found by sphere tracing, shaded, as normals, or
as depth.

The viewer's world is the task's unit cube moved to the origin (``world = unit - 0.5``). Occupancy
fields give logits, not distances: they are traced with a large Lipschitz bound (short steps) and the
tracer's secant refinement finds the sign change.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from fields.apps.viewer.camera import ViewCamera
from fields.apps.viewer.colormaps import normalise_depth, turbo
from fields.apps.viewer.views import Overlay, Render, View, eval_mode, register_view, to_uint8

BACKGROUND = 0.12


@register_view("sdf", "occupancy")
class GeometryView(View):
    modes = ("shaded", "normals", "depth")
    up = (0.0, 0.0, 1.0)
    max_steps = 96

    def __init__(self, task, chunk: int = 32768):
        super().__init__(task, max(1024, chunk // 8))  # a ray costs up to max_steps queries
        self.lipschitz = task.lipschitz or 20.0

    def home(self) -> ViewCamera:
        return ViewCamera.look_at((1.1, -1.3, 0.8), (0.0, 0.0, 0.0), self.up, math.radians(45.0))

    def _sdf(self, x: torch.Tensor) -> torch.Tensor:
        return self.task._query(x)

    def render(self, mode: str, camera: ViewCamera, width: int, height: int) -> Render:
        from fields.render.sphere_tracing import sdf_normals, shade

        self.check_mode(mode)
        origins, directions = camera.rays(width, height)
        origins, directions = origins.reshape(-1, 3) + 0.5, directions.reshape(-1, 3)
        depth, hit, normals = [], [], []
        for start in range(0, origins.shape[0], self.chunk):
            o, d = origins[start : start + self.chunk], directions[start : start + self.chunk]
            with eval_mode(self.task.field):
                from fields.render.sphere_tracing import sphere_trace

                trace = sphere_trace(self._sdf, o, d, max_steps=self.max_steps, step_scale=0.9,
                                     lipschitz=self.lipschitz, hit_epsilon=1e-3)
                n = torch.zeros_like(o)
                if mode != "depth" and trace.hit.any():
                    with torch.enable_grad():
                        n[trace.hit] = sdf_normals(self._sdf, trace.points[trace.hit]).float().cpu()
            depth.append(trace.depth.float().cpu())
            hit.append(trace.hit.cpu())
            normals.append(n)
            yield
        depth, hit, normals = torch.cat(depth), torch.cat(hit), torch.cat(normals)
        if mode == "shaded":
            image = shade(normals, directions, hit, background=BACKGROUND)
        elif mode == "normals":
            image = torch.where(hit[:, None], 0.5 * normals + 0.5, torch.full_like(normals, BACKGROUND))
        else:
            image = torch.where(hit[:, None], turbo(normalise_depth(depth, hit)), torch.full((len(depth), 3), BACKGROUND))
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
