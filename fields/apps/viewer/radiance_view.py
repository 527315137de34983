"""Radiance fields (NeRF) and NeuS surfaces in the viewer: colour, depth and opacity by volume rendering,
with the dataset's cameras drawn as frustums. The viewer's world is the dataset's world."""

from __future__ import annotations

import math
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from fields.apps.viewer.camera import ViewCamera
from fields.apps.viewer.colormaps import normalise_depth, turbo
from fields.apps.viewer.views import Frustum, Overlay, Render, View, register_view, to_uint8
from fields.errors import UserError
from fields.modules import eval_mode
from fields.render.rays import Rays


@register_view("radiance", "surface")
class RadianceView(View):
    modes = ("rgb", "depth", "opacity")
    up = (0.0, 0.0, 1.0)

    def __init__(self, task, chunk: int = 32768):
        # the occupancy grid's inference evaluates the field in cache-sized blocks whatever the chunk: larger
        # chunks only cut the per-round overhead (7% of a frame from 16384 to 65536 rays; a 512x512 frame
        # still yields 4 times to the scheduler); batched samplers keep render.chunk: memory
        marching = getattr(task, "grid", None) is not None
        super().__init__(task, max(chunk, 65536) if marching else min(chunk, task.scene.render.chunk))
        self.bfloat16 = hasattr(task, "inference_bfloat16") and _bfloat16_fast()

    def _opencv(self):
        return self.task.cameras.to_opencv()

    def home(self) -> ViewCamera:
        cameras = self._opencv()
        index = self.task.views.train[0] if len(self.task.views.train) else 0
        c2w = cameras.c2w[index].double().numpy()
        fov = 2 * math.atan(0.5 * cameras.height / float(cameras.fy[index]))
        return ViewCamera(tuple(map(float, c2w[:, 3])), tuple(tuple(map(float, row)) for row in c2w[:, :3]), fov)

    def render(self, mode: str, camera: ViewCamera, width: int, height: int) -> Render:
        self.check_mode(mode)
        task = self.task
        origins, directions = camera.rays(width, height)
        unit = task.transform.rays_to_unit(Rays(origins.reshape(-1, 3), directions.reshape(-1, 3)))
        background = task.eval_background
        rgb, depth, opacity = [], [], []
        for start in range(0, len(unit), self.chunk):
            part = unit[start : start + self.chunk].to(task.device)
            with torch.no_grad(), eval_mode(task), _frame_settings(task, self.bfloat16):
                out = task.render_rays(part, background.expand(len(part), 3))
            rgb.append(out.rgb.float().cpu())
            opacity.append(out.opacity.float().cpu().reshape(-1))
            depth.append(out.depth.float().cpu().reshape(-1))
            yield
        rgb, opacity, depth = torch.cat(rgb), torch.cat(opacity), torch.cat(depth)
        if mode == "rgb":
            image = rgb
        elif mode == "opacity":
            image = opacity
        else:
            solid = opacity > 0.5
            image = torch.where(solid[:, None], turbo(normalise_depth(depth / opacity.clamp_min(1e-6), solid)),
                                torch.zeros(len(depth), 3))
        return to_uint8(image.reshape(height, width, -1))

    def frustums(self) -> list[Frustum]:
        cameras = self._opencv()
        scale = 0.05 * self.task.transform.scale
        out = []
        for index in range(len(cameras)):
            c2w = np.eye(4)
            c2w[:3, :] = cameras.c2w[index].double().numpy()
            image = self.task.images[index].numpy()[..., :3]
            step = max(1, max(image.shape[:2]) // 64)
            out.append(Frustum(c2w, 2 * math.atan(0.5 * cameras.height / float(cameras.fy[index])),
                               cameras.width / cameras.height, np.ascontiguousarray(image[::step, ::step]), scale))
        return out

    def export_mesh(self, path: Path) -> tuple[Path, Optional[Overlay]]:
        if not hasattr(self.task, "extract_mesh"):
            return super().export_mesh(path)
        written = self.task.extract_mesh(Path(path))
        if written is None:
            raise UserError("the field has no surface to export")
        import trimesh

        mesh = trimesh.load(written, force="mesh", process=False)
        return Path(written), Overlay("exported_mesh", vertices=np.asarray(mesh.vertices), faces=np.asarray(mesh.faces))


def _bfloat16_fast() -> bool:
    """bfloat16 matrix products run natively here (AVX512-BF16); elsewhere they are emulated and slower."""
    is_supported = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(is_supported and is_supported())


@contextmanager
def _frame_settings(task, bfloat16: bool):
    """For one chunk of a frame: the viewer's early stop (``render.view_early_stop_eps``) and, where fast, the
    density and colour decoders in bfloat16 (a live run's evaluation between chunks keeps its own settings)."""
    if not hasattr(task, "inference_for_view"):
        yield
        return
    task.inference_bfloat16, task.inference_for_view = bfloat16, True
    try:
        yield
    finally:
        task.inference_bfloat16, task.inference_for_view = False, False
