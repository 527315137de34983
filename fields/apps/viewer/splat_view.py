"""Gaussian splats in the viewer: colour, depth and opacity drawn by the rasterizer, and the Gaussians'
centres (a render mode that draws each one as a small opaque dot, and a point-cloud overlay). The
viewer's world is the dataset's world, as for radiance fields."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fields.apps.viewer.camera import ViewCamera
from fields.apps.viewer.colormaps import normalise_depth, turbo
from fields.apps.viewer.radiance_view import RadianceView
from fields.apps.viewer.views import Overlay, Render, register_view, to_uint8
from fields.modules import eval_mode
from fields.render.cameras import Cameras
from fields.render.splat import rasterize_gaussians, view_matrices


def view_camera_as_cameras(camera: ViewCamera, width: int, height: int):
    """The viewer's camera as a one-camera ``fields.render.cameras.Cameras`` (OpenCV convention)."""
    c2w = torch.zeros(1, 3, 4)
    c2w[0, :, :3] = torch.tensor(camera.rotation, dtype=torch.float32)
    c2w[0, :, 3] = torch.tensor(camera.position, dtype=torch.float32)
    focal = torch.tensor([camera.focal(height)], dtype=torch.float32)
    return Cameras(
        c2w, focal, focal.clone(), torch.tensor([0.5 * width]), torch.tensor([0.5 * height]), width, height, "opencv"
    )


@register_view("splat")
class SplatView(RadianceView):
    modes = ("rgb", "depth", "opacity", "centres")

    def render(self, mode: str, camera: ViewCamera, width: int, height: int) -> Render:
        self.check_mode(mode)
        task = self.task
        cameras = view_camera_as_cameras(camera, width, height)
        yield
        with torch.no_grad(), eval_mode(task):
            if mode == "centres":
                image = self._centres(cameras)
            else:
                out = task.render_view(cameras, 0)
                if mode == "rgb":
                    image = out["rgb"]
                elif mode == "opacity":
                    image = out["opacity"]
                else:
                    solid = out["opacity"].reshape(-1) > 0.5
                    depth = turbo(normalise_depth(out["depth"].reshape(-1), solid))
                    image = torch.where(solid[:, None], depth, torch.zeros_like(depth)).reshape(height, width, 3)
        return to_uint8(image)

    def _centres(self, cameras) -> torch.Tensor:
        """Each Gaussian as an opaque dot about two pixels wide at the scene's centre distance."""
        g, task = self.task.field, self.task
        viewmat, k = view_matrices(cameras, 0)
        distance = float((cameras.origins[0] - task.views.aabb.reshape(2, 3).mean(0)).norm())
        size = distance / float(k[0, 0])
        device = g.means.device
        colors = g.colors(cameras.origins[0].to(device), g.config.sh_degree).clamp(0, 1)
        out = rasterize_gaussians(
            g.means,
            g.rotations,
            torch.full_like(g.means, size),
            torch.ones_like(g.opacity_logits),
            colors,
            viewmat.to(device),
            k.to(device),
            cameras.width,
            cameras.height,
            background=task.eval_background,
            backend=task.scene.render.backend,
        )
        return out.rgb.float().cpu()

    def overlays(self) -> list[Overlay]:
        g = self.task.field
        colors = g.colors(g.means.detach().mean(0), 0).detach().clamp(0, 1).cpu().numpy()
        return [
            Overlay("gaussian_centres", points=g.means.detach().cpu().numpy(), colors=(colors * 255).astype(np.uint8))
        ]

    def export_mesh(self, path: Path) -> tuple[Path, Overlay | None]:
        import trimesh

        written = self.task.export_mesh(Path(path))
        mesh = trimesh.load(written, force="mesh", process=False)
        return Path(written), Overlay("exported_mesh", vertices=np.asarray(mesh.vertices), faces=np.asarray(mesh.faces))
