"""Videos: read with imageio's ffmpeg plugin (imageio-ffmpeg; MP4, AVI and whatever ffmpeg reads),
written as H.264 MP4.

Frames become a float32 tensor ``(T, H, W, C)`` in [0, 1]. ``start``/``stop``/``stride`` pick frames
(``stop`` exclusive, like a slice) and reading stops after the last one; ``max_size`` downscales each
frame (area-averaged) so its longer side is at most that.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import imageio.v2 as iio2
import numpy as np
import torch
import torch.nn.functional as F

from fields.errors import UserError


@dataclass
class Video:
    frames: torch.Tensor  # (T, H, W, C) float32 in [0, 1]
    fps: float
    frame_indices: list[int]  # indices of the kept frames in the file


def _ffmpeg_reader(path: Path, passthrough: bool = False):
    """imageio's ffmpeg reader. By default ffmpeg outputs at the stream's nominal rate, repeating frames of a
    variable-frame-rate video (a phone's); ``passthrough`` asks for each decoded frame once (ffmpeg 5.1+;
    an older ffmpeg falls back to the default)."""
    try:
        import imageio_ffmpeg  # noqa: F401  (the plugin needs it; say so clearly if missing)
    except ImportError:
        raise UserError("reading video needs imageio-ffmpeg: pip install 'fields-toolkit[video]'") from None
    if passthrough:
        try:
            return iio2.get_reader(str(path), format="FFMPEG", output_params=["-fps_mode", "passthrough"])
        except Exception:  # an ffmpeg without -fps_mode; a file it cannot read fails again below
            pass
    try:
        return iio2.get_reader(str(path), format="FFMPEG")
    except Exception as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{path}: cannot read video ({reason})") from None


def load_video(source: str | Path, start: int = 0, stop: int | None = None, stride: int = 1,
               max_size: int | None = None, channels: str = "auto") -> Video:
    """Load frames ``start, start + stride, ... < stop`` of ``source``; ``channels``: auto, rgb, grey."""
    path = Path(source)
    if not path.is_file():
        raise UserError(f"{source}: video file not found")
    reader = _ffmpeg_reader(path)
    frames, indices = [], []
    try:
        fps = float(reader.get_meta_data().get("fps") or 25.0)
        for i, frame in enumerate(reader):
            if stop is not None and i >= stop:
                break
            if i < start or (i - start) % stride:
                continue
            frames.append(_to_float(np.asarray(frame), path, max_size))
            indices.append(i)
    except UserError:
        raise
    except Exception as err:  # ffmpeg failing halfway through a corrupt file
        if not frames:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(f"{source}: cannot decode video ({reason})") from None
    finally:
        reader.close()
    if not frames:
        raise UserError(f"{source}: no frames in range start={start}, stop={stop}, stride={stride}")
    video = torch.stack(frames)
    if channels == "rgb" and video.shape[-1] == 1:
        video = video.expand(-1, -1, -1, 3).contiguous()
    elif channels == "grey" and video.shape[-1] >= 3:
        video = (video[..., :3] @ torch.tensor([0.2126, 0.7152, 0.0722]))[..., None].contiguous()
    return Video(video, fps, indices)


def _to_float(frame: np.ndarray, path: Path, max_size: int | None) -> torch.Tensor:
    if frame.ndim == 2:
        frame = frame[:, :, None]
    if frame.ndim != 3 or frame.shape[2] not in (1, 3, 4) or frame.dtype != np.uint8:
        raise UserError(f"{path}: unexpected frame of shape {frame.shape} and type {frame.dtype}")
    image = torch.from_numpy(frame[:, :, :3].astype(np.float32) / 255.0)
    height, width = image.shape[:2]
    if max_size is not None and max(height, width) > max_size:
        scale = max_size / max(height, width)
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        image = F.interpolate(image.permute(2, 0, 1)[None], size=size, mode="area")[0].permute(1, 2, 0).contiguous()
    return image
