"""Image fields in the viewer: the image lies on the plane z = 0 and the camera looks at it.

Each pixel's ray meets the plane at a point whose (x, y) is queried from the field, so moving the camera
closer zooms into the field at any resolution. Modes: the field's reconstruction, the target image
(nearest pixel, so its pixels show when zoomed) and the absolute error as a heat map.
"""

from __future__ import annotations

import math

import torch

from fields.apps.viewer.camera import ViewCamera
from fields.apps.viewer.colormaps import turbo
from fields.apps.viewer.views import Render, View, chunked, field_device_dtype, register_view, to_uint8

BACKGROUND = 0.12


@register_view("image")
class ImageView(View):
    modes = ("reconstruction", "target", "error")
    up = (0.0, 1.0, 0.0)
    error_scale = 0.25  # an absolute error of this much is the top of the heat map

    def __init__(self, task, chunk: int = 32768):
        super().__init__(task, chunk)
        longest = max(task.height, task.width)
        self.size = (task.width / longest, task.height / longest)  # plane extent in world units

    def home(self) -> ViewCamera:
        fov = math.radians(50.0)
        distance = 1.05 * 0.5 * max(self.size[1], self.size[0] * 0.75) / math.tan(0.5 * fov)
        return ViewCamera.look_at((0.0, 0.0, distance), (0.0, 0.0, 0.0), self.up, fov)

    def plane_coords(self, camera: ViewCamera, width: int, height: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Field coordinates ``(N, 2)`` of the pixels whose rays hit the image, and those pixels' mask
        ``(height, width)``."""
        origins, directions = camera.rays(width, height)
        dz = directions[..., 2]
        t = -origins[..., 2] / torch.where(dz.abs() > 1e-9, dz, torch.full_like(dz, 1e-9))
        hit = origins[..., :2] + t[..., None] * directions[..., :2]
        u = hit[..., 0] / self.size[0] + 0.5
        v = 0.5 - hit[..., 1] / self.size[1]
        mask = (t > 0) & (u >= 0) & (u < 1) & (v >= 0) & (v < 1)
        return torch.stack((u[mask], v[mask]), dim=-1), mask

    def target_at(self, coords: torch.Tensor) -> torch.Tensor:
        task = self.task
        col = (coords[:, 0] * task.width).long().clamp_(0, task.width - 1)
        row = (coords[:, 1] * task.height).long().clamp_(0, task.height - 1)
        index = (row * task.width + col).to(task.pixels.device)
        return task.pixels[index].float().cpu()

    def reconstruction_at(self, coords: torch.Tensor) -> Render:
        device, dtype = field_device_dtype(self.task.field)

        def query(chunk: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return self.task.field(chunk.to(device=device, dtype=dtype)).float().cpu().clamp(0.0, 1.0)

        return (yield from chunked(query, coords, self.chunk))

    def render(self, mode: str, camera: ViewCamera, width: int, height: int) -> Render:
        self.check_mode(mode)
        coords, mask = self.plane_coords(camera, width, height)
        if mode == "target":
            values = self.target_at(coords)
            yield
        else:
            values = yield from self.reconstruction_at(coords)
            if mode == "error":
                error = (values - self.target_at(coords)).abs().mean(dim=-1)
                values = turbo(error / self.error_scale)
        if values.shape[-1] == 1:
            values = values.expand(-1, 3)
        image = torch.full((height, width, 3), BACKGROUND)
        image[mask] = values[:, :3]
        return to_uint8(image)
