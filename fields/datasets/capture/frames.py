"""Frames of a capture: the photos of a folder, or frames picked from a video.

Video: ``target`` frames spread evenly over the file; of each neighbourhood (the frames between two
picks) the sharpest is kept, sharpness being the variance of the Laplacian of the grey image (motion blur
and defocus lower it). ``max_size`` downscales frames so the longer side is at most that (area-averaged).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import imageio.v3 as iio
import numpy as np
from PIL import Image

from fields.datasets.video import _ffmpeg_reader
from fields.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
Progress = Callable[[int, int], None]


def laplacian_variance(image: np.ndarray) -> float:
    """Sharpness of an ``(H, W)`` or ``(H, W, C)`` image: the variance of its 4-neighbour Laplacian."""
    grey = image.astype(np.float32)
    if grey.ndim == 3:
        grey = grey[..., :3].mean(-1)
    lap = grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1] - 4 * grey[1:-1, 1:-1]
    return float(lap.var())


def downscale(image: np.ndarray, max_size: Optional[int]) -> np.ndarray:
    """Area-average ``(H, W, C)`` uint8 so that its longer side is at most ``max_size``."""
    if max_size is None or max(image.shape[:2]) <= max_size:
        return image
    h, w = image.shape[:2]
    scale = max_size / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BOX))


def list_images(folder: Path) -> list[Path]:
    """The image files of ``folder`` (sorted by name); at least two, all readable and of one size."""
    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UserError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)})")
    if len(files) < 2:
        raise UserError(f"{folder}: one image only; structure from motion needs several overlapping photos")
    sizes = {}
    for path in files:
        try:
            with Image.open(path) as image:
                image.load()
                sizes.setdefault(image.size, path)
        except Exception as err:
            raise UserError(f"{path}: cannot read image ({type(err).__name__})") from None
    if len(sizes) > 1:
        (a, pa), (b, pb) = list(sizes.items())[:2]
        raise UserError(f"{folder}: images of different sizes ({pa.name} is {a[0]}x{a[1]}, {pb.name} is "
                        f"{b[0]}x{b[1]}); use one camera setting or resize them")
    return files


def copy_images(files: list[Path], out: Path, max_size: Optional[int],
                progress: Optional[Progress] = None) -> list[str]:
    """Copy (and downscale) ``files`` into ``out`` as PNG; -> the new names."""
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for i, path in enumerate(files):
        image = np.asarray(iio.imread(path))
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, 2)
        name = f"{path.stem}.png"
        iio.imwrite(out / name, downscale(image[..., :3], max_size))
        names.append(name)
        if progress:
            progress(i + 1, len(files))
    return names


def count_frames(path: Path) -> int:
    import imageio_ffmpeg

    try:
        n, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    except Exception as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{path}: cannot read video ({reason})") from None
    if n < 2:
        raise UserError(f"{path}: the video has {n} frame(s); structure from motion needs several views")
    return n


def extract_video_frames(path: Path, out: Path, target: int = 150, max_size: Optional[int] = None,
                         progress: Optional[Progress] = None) -> list[str]:
    """Keep the sharpest frame of each of ``target`` even neighbourhoods of ``path``; write PNGs to ``out``.

    Neighbourhoods are of the frames the file holds (its packets): a frame identical to the one before
    (ffmpeg repeats frames to fill a variable frame rate when it cannot pass them through) is skipped, so
    a phone video's neighbourhoods still span the whole video."""
    if not path.is_file():
        raise UserError(f"{path}: video file not found")
    total = count_frames(path)
    n_bins = min(target, total)
    best: dict[int, tuple[float, np.ndarray]] = {}
    reader = _ffmpeg_reader(path, passthrough=True)
    i, decoded, previous = 0, 0, None
    try:
        for raw in reader:
            raw = np.asarray(raw)
            decoded += 1
            if previous is not None and np.array_equal(raw, previous):
                continue
            previous = raw
            frame = downscale(raw[..., :3], max_size)
            b, score = min(i * n_bins // total, n_bins - 1), laplacian_variance(frame)
            if b not in best or score > best[b][0]:
                best[b] = (score, frame)
            i += 1
            if progress:
                progress(min(i, total), total)
    except Exception as err:  # ffmpeg failing halfway through a corrupt file
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{path}: cannot decode video ({reason})") from None
    finally:
        reader.close()
    frames = [best[b][1] for b in sorted(best)]
    if decoded < 2:
        raise UserError(f"{path}: fewer than two frames could be decoded")
    change = max((float(np.abs(a.astype(np.float32) - b).mean()) for a, b in zip(frames[:-1], frames[1:], strict=True)),
                 default=0.0)
    if change < 0.5:
        raise UserError(f"{path}: the frames do not change (a still camera?); structure from motion needs a "
                        "moving camera")
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for i, frame in enumerate(frames):
        names.append(f"frame_{i:05d}.png")
        iio.imwrite(out / names[-1], frame)
    return names
