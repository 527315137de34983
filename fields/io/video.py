"""H.264 MP4 files through imageio's ffmpeg plugin (imageio-ffmpeg, the ``video`` extra)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Sequence

import imageio.v2 as iio2
import numpy as np
import torch

from fields.errors import UserError
from fields.io.atomic import atomic_path
from fields.io.images import to_uint8

log = logging.getLogger("fields")


def write_video(path: str | Path, frames: torch.Tensor | Sequence[np.ndarray], fps: float,
                required: bool = False) -> Optional[Path]:
    """Write frames as an H.264 MP4 (yuv420p), atomically. ``frames``: ``(T, H, W, C)`` floats in [0, 1]
    or a sequence of uint8 ``(H, W, C)``; one channel is repeated to three and odd sides are padded by
    one replicated pixel (yuv420p needs even sides). Without imageio-ffmpeg: a ``UserError`` when
    ``required``, else a log line and None."""
    try:
        import imageio_ffmpeg  # noqa: F401 - optional (the video extra); the plugin needs it
    except ImportError:
        if required:
            raise UserError("writing video needs imageio-ffmpeg: pip install 'fields-toolkit[video]'") from None
        log.info("imageio-ffmpeg not installed (pip install 'fields-toolkit[video]'): no MP4 written")
        return None
    if isinstance(frames, torch.Tensor):
        frames = list(to_uint8(frames))
    padded = []
    for frame in frames:
        frame = np.repeat(frame, 3, axis=-1) if frame.ndim == 3 and frame.shape[-1] == 1 else frame
        padded.append(np.pad(frame, ((0, frame.shape[0] % 2), (0, frame.shape[1] % 2), (0, 0)), mode="edge"))
    with atomic_path(path) as tmp:
        # pixelformat sets -pix_fmt once (a second one in output_params makes ffmpeg warn on every write)
        writer = iio2.get_writer(tmp, format="FFMPEG", fps=fps, codec="libx264", quality=8, macro_block_size=1,
                                 pixelformat="yuv420p", ffmpeg_log_level="error")
        try:
            for frame in padded:
                writer.append_data(frame)
        finally:
            writer.close()
    return Path(path)
