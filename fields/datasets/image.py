"""Images: scikit-image's bundled images (``skimage:NAME``), any file imageio reads, and OpenEXR.

Images become float32 tensors ``(H, W, C)`` in [0, 1]: 8- and 16-bit integers are divided by their
maximum, floating-point files (TIFF, EXR where a plugin is installed) are kept as they are.
"""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch

from fields.datasets.names import SKIMAGE_PREFIX, skimage_names
from fields.datasets.png16 import is_png16_colour, read_png16
from fields.errors import UserError


def read_image_array(source: str) -> np.ndarray:
    if source.startswith(SKIMAGE_PREFIX):
        import skimage.data

        name = source[len(SKIMAGE_PREFIX) :]
        if name not in skimage_names():
            raise UserError(f"{source}: not a scikit-image image; valid: {', '.join(skimage_names())}")
        try:
            return np.asarray(getattr(skimage.data, name)())
        except Exception as err:  # e.g. images that need a download
            raise UserError(f"{source}: cannot load ({type(err).__name__}: {err})") from None
    path = Path(source)
    if not path.is_file():
        raise UserError(f"{source}: image file not found")
    try:
        if path.suffix.lower() == ".exr":
            return read_exr(path)
        if is_png16_colour(path):
            return read_png16(path)  # Pillow would keep only the high bytes
        return np.asarray(iio.imread(path))
    except Exception as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserError(f"{source}: cannot read image ({reason})") from None


def read_exr(path: Path) -> np.ndarray:
    """OpenEXR through its official bindings (imported here: an optional package for one format)."""
    import OpenEXR

    with OpenEXR.File(str(path)) as handle:
        channels = handle.channels()
        for name in ("RGBA", "RGB", "Y"):
            if name in channels:
                return np.array(channels[name].pixels, dtype=np.float32)
        names = [n for n in ("R", "G", "B", "A") if n in channels] or sorted(channels)[:4]
        if not names:
            raise ValueError("no channels")
        return np.stack([np.array(channels[n].pixels, dtype=np.float32) for n in names], axis=-1)


def to_float_image(array: np.ndarray, source: str = "image") -> torch.Tensor:
    """``(H, W)`` or ``(H, W, C)`` array -> float32 ``(H, W, C)`` tensor in [0, 1]."""
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4) or min(array.shape[:2]) < 2:
        raise UserError(f"{source}: expected a 2D image with 1 to 4 channels, got shape {array.shape}")
    if np.issubdtype(array.dtype, np.integer):
        image = array.astype(np.float32) / float(np.iinfo(array.dtype).max)
    elif np.issubdtype(array.dtype, np.floating):
        image = array.astype(np.float32)
    else:
        raise UserError(f"{source}: unsupported pixel type {array.dtype}")
    if not np.isfinite(image).all():
        raise UserError(f"{source}: image contains NaN or infinite values")
    return torch.from_numpy(np.ascontiguousarray(image))


def load_image(source: str, channels: str = "auto", max_size: int | None = None) -> torch.Tensor:
    """Load ``source`` as a float32 ``(H, W, C)`` tensor; ``channels``: auto (keep), rgb, grey;
    ``max_size``: downscale (area-averaged) so that the longer side is at most this."""
    image = to_float_image(read_image_array(source), source)
    height, width = image.shape[:2]
    if max_size is not None and max(height, width) > max_size:
        scale = max_size / max(height, width)
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        image = torch.nn.functional.interpolate(image.permute(2, 0, 1)[None], size=size, mode="area")[0].permute(
            1, 2, 0
        )
        image = image.contiguous()
    if channels == "rgb" and image.shape[2] in (1, 2):
        image = image[:, :, :1].expand(-1, -1, 3).contiguous()
    elif channels == "rgb" and image.shape[2] == 4:
        image = image[:, :, :3].contiguous()
    elif channels == "grey" and image.shape[2] >= 3:
        image = (image[:, :, :3] @ torch.tensor([0.2126, 0.7152, 0.0722]))[:, :, None].contiguous()
    return image


def pixel_grid(height: int, width: int) -> torch.Tensor:
    """Pixel-centre coordinates in [0, 1]: ``(H, W, 2)`` holding ``(x, y)``."""
    ys = (torch.arange(height, dtype=torch.float32) + 0.5) / height
    xs = (torch.arange(width, dtype=torch.float32) + 0.5) / width
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((grid_x, grid_y), dim=-1)
