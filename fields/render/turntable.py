"""Turntable renders of an SDF field: shaded PNG frames, an MP4 (imageio-ffmpeg), and the depth and
normal images of the first view."""

from __future__ import annotations

from pathlib import Path

import torch

from fields.io import save_image, to_uint8, write_video
from fields.io.progress import track
from fields.render.orbit import look_at_rays, orbit_eye, up_vector
from fields.render.shading import depth_image, normal_image, sdf_normals, shade
from fields.render.sphere_tracing import SDFFn, sphere_trace


def render_view(
    sdf: SDFFn, eye, width: int, height: int, lipschitz: float = 1.0, step_scale: float = 0.9, up: str = "z"
) -> dict[str, torch.Tensor]:
    """One view looking at the cube's centre: ``shaded``, ``normals`` ``(H, W, 3)``, ``depth`` ``(H, W)``
    in [0, 1], and ``hit`` ``(H, W)``."""
    origins, directions = look_at_rays(eye, (0.5, 0.5, 0.5), width, height, up=up_vector(up))
    trace = sphere_trace(sdf, origins, directions, lipschitz=lipschitz, step_scale=step_scale,
                         hit_epsilon=0.5 / max(width, height))
    normals = torch.zeros_like(origins)
    if trace.hit.any():
        normals[trace.hit] = sdf_normals(sdf, trace.points[trace.hit])
    return {
        "shaded": shade(normals, directions, trace.hit).reshape(height, width, 3),
        "normals": normal_image(normals, trace.hit).reshape(height, width, 3),
        "depth": depth_image(trace.depth, trace.hit).reshape(height, width),
        "hit": trace.hit.reshape(height, width),
    }


def write_turntable(sdf: SDFFn, folder: Path, width: int = 256, height: int = 256, frames: int = 24,
                    fps: int = 12, lipschitz: float = 1.0, up: str = "z") -> list[Path]:
    """Render ``frames`` views around the ``up`` axis into ``folder``: ``frame_0000.png``..., ``depth.png`` and
    ``normals.png`` of the first, and the video ``folder.mp4`` beside it (skipped with a log line without
    imageio-ffmpeg), named as the camera paths of the multi-view tasks."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths, images = [], []
    for k in track(range(frames), "rendering the turntable"):
        eye = orbit_eye(360.0 * k / frames - 60.0, up=up)
        view = render_view(sdf, eye, width, height, lipschitz=lipschitz, up=up)
        image = to_uint8(view["shaded"])
        path = save_image(folder / f"frame_{k:04d}.png", image)
        paths.append(path)
        images.append(image)
        if k == 0:
            save_image(folder / "depth.png", view["depth"])
            save_image(folder / "normals.png", view["normals"])
            paths += [folder / "depth.png", folder / "normals.png"]
    video = write_video(folder.with_suffix(".mp4"), images, fps)
    if video is not None:
        paths.append(video)
    return paths
