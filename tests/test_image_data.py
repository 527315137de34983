"""Image loading: bit depths, channel layouts, formats, and bad files."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from fields.datasets.image import load_image, pixel_grid
from fields.errors import UserError


def test_8_bit_rgb_png(tmp_path: Path):
    array = np.random.default_rng(0).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    iio.imwrite(tmp_path / "a.png", array)
    image = load_image(str(tmp_path / "a.png"))
    assert image.shape == (6, 5, 3) and image.dtype == torch.float32
    assert torch.allclose(image, torch.from_numpy(array).float() / 255)


def test_16_bit_grey_png(tmp_path: Path):
    array = np.array([[0, 65535], [32768, 1]], dtype=np.uint16)
    iio.imwrite(tmp_path / "g.png", array)
    image = load_image(str(tmp_path / "g.png"))
    assert image.shape == (2, 2, 1)
    assert image[0, 1, 0] == 1.0 and abs(float(image[1, 0, 0]) - 32768 / 65535) < 1e-6


def test_rgba_kept_or_dropped(tmp_path: Path):
    array = np.zeros((4, 4, 4), dtype=np.uint8)
    array[..., 3] = 255
    iio.imwrite(tmp_path / "rgba.png", array)
    assert load_image(str(tmp_path / "rgba.png")).shape[-1] == 4
    assert load_image(str(tmp_path / "rgba.png"), channels="rgb").shape[-1] == 3


def test_float_tiff_and_exr(tmp_path: Path):
    array = np.random.default_rng(1).random((5, 7, 3)).astype(np.float32)
    iio.imwrite(tmp_path / "f.tiff", array)
    assert torch.allclose(load_image(str(tmp_path / "f.tiff")), torch.from_numpy(array))
    import OpenEXR

    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with OpenEXR.File(header, {"RGB": array}) as handle:
        handle.write(str(tmp_path / "f.exr"))
    assert torch.allclose(load_image(str(tmp_path / "f.exr")), torch.from_numpy(array))


def test_nan_pixels_are_refused(tmp_path: Path):
    array = np.ones((4, 4), dtype=np.float32)
    array[1, 2] = np.nan
    iio.imwrite(tmp_path / "nan.tiff", array)
    with pytest.raises(UserError, match="NaN"):
        load_image(str(tmp_path / "nan.tiff"))


def test_skimage_and_downscale():
    image = load_image("skimage:camera", max_size=64)
    assert image.shape == (64, 64, 1) and 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    with pytest.raises(UserError, match="not a scikit-image image"):
        load_image("skimage:nothing")


def test_pixel_grid_centres():
    grid = pixel_grid(2, 4)
    assert grid.shape == (2, 4, 2)
    assert torch.allclose(grid[0, 0], torch.tensor([0.125, 0.25])) and torch.allclose(
        grid[1, 3], torch.tensor([0.875, 0.75])
    )
