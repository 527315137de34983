"""8-bit image files from float tensors in [0, 1]."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch

from fields.io.atomic import atomic_path


def to_uint8(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """``(..., C)`` or ``(...)`` floats in [0, 1] -> uint8 of the same shape (rounded)."""
    array = image.detach().float().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image, np.float32)
    return (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def save_image(path: str | Path, image: torch.Tensor | np.ndarray) -> Path:
    """Write ``(H, W)`` or ``(H, W, C)`` (floats in [0, 1], or uint8) as an 8-bit image (PNG or JPEG by
    extension), atomically. Two channels are grey + alpha."""
    array = image if isinstance(image, np.ndarray) and image.dtype == np.uint8 else to_uint8(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    elif array.ndim == 3 and array.shape[2] == 2:
        array = np.concatenate([array[:, :, :1]] * 3 + [array[:, :, 1:]], axis=2)
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, array, extension=Path(path).suffix)
    return Path(path)
