"""Turntable renders of an SDF field: shaded PNG frames, an MP4 (imageio-ffmpeg), and the depth and
normal images of the first view."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from fields.render.orbit import look_at_rays, orbit_eye
from fields.render.sphere_tracing import SDFFn, depth_image, normal_image, sdf_normals, shade, sphere_trace

log = logging.getLogger("fields")


def render_view(sdf: SDFFn, eye, width: int, height: int, lipschitz: float = 1.0, step_scale: float = 0.9) -> dict[str, torch.Tensor]:
    """One view looking at the cube's centre: ``shaded``, ``normals`` ``(H, W, 3)``, ``depth`` ``(H, W)``
    in [0, 1], and ``hit`` ``(H, W)``."""
    origins, directions = look_at_rays(eye, (0.5, 0.5, 0.5), width, height)
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


def _to_uint8(image: torch.Tensor) -> np.ndarray:
    return (image.clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy()


def write_turntable(sdf: SDFFn, folder: Path, width: int = 256, height: int = 256, frames: int = 24,
                    fps: int = 12, lipschitz: float = 1.0) -> list[Path]:
    """Render ``frames`` views around the z axis into ``folder``: ``frame_000.png``..., ``turntable.mp4``
    (skipped with a log line without imageio-ffmpeg), ``depth.png`` and ``normals.png``."""
    import imageio.v3 as iio

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths, images = [], []
    for k in range(frames):
        view = render_view(sdf, orbit_eye(360.0 * k / frames - 60.0), width, height, lipschitz=lipschitz)
        image = _to_uint8(view["shaded"])
        path = folder / f"frame_{k:03d}.png"
        iio.imwrite(path, image)
        paths.append(path)
        images.append(image)
        if k == 0:
            iio.imwrite(folder / "depth.png", _to_uint8(view["depth"]))
            iio.imwrite(folder / "normals.png", _to_uint8(view["normals"]))
            paths += [folder / "depth.png", folder / "normals.png"]
    video = write_mp4(folder / "turntable.mp4", images, fps)
    if video is not None:
        paths.append(video)
    return paths


def write_mp4(path: Path, frames: list[np.ndarray], fps: int) -> Path | None:
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        log.info("imageio-ffmpeg not installed: no mp4 (pip install imageio-ffmpeg)")
        return None
    # H.264 with yuv420p needs even sides
    frames = [np.pad(f, ((0, f.shape[0] % 2), (0, f.shape[1] % 2), (0, 0)), mode="edge") for f in frames]
    with imageio.get_writer(path, fps=fps, codec="libx264", quality=8, macro_block_size=1,
                            output_params=["-pix_fmt", "yuv420p"]) as writer:
        for frame in frames:
            writer.append_data(frame)
    return path
