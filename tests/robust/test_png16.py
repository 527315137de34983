"""16-bit colour PNGs keep their low bytes (Pillow alone reads them as 8-bit)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from fields.datasets.image import load_image
from fields.datasets.png16 import read_png16
from fields.errors import UserError


def write_png16(path: Path, image: np.ndarray, filters: tuple[int, ...]) -> None:
    """A reference encoder: each scanline with the next of ``filters`` (0 none ... 4 Paeth)."""
    height, width, channels = image.shape
    bpp = 2 * channels
    raw = image.astype(">u2").reshape(height, -1).view(np.uint8).reshape(height, width * bpp).astype(np.int32)
    lines, previous = [], np.zeros(width * bpp, np.int32)
    for y in range(height):
        kind, line = filters[y % len(filters)], raw[y]
        encoded = np.zeros_like(line)
        for x in range(len(line)):
            a = line[x - bpp] if x >= bpp else 0
            b, c = previous[x], previous[x - bpp] if x >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            paeth = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            encoded[x] = (line[x] - (0, a, b, (a + b) // 2, paeth)[kind]) % 256
        lines.append(bytes([kind]) + bytes(encoded.astype(np.uint8)))
        previous = line

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, {3: 2, 4: 6}[channels], 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(lines)))
                     + chunk(b"IEND", b""))


@pytest.mark.parametrize("channels", [3, 4])
def test_every_filter_round_trips(tmp_path: Path, channels: int):
    image = np.random.default_rng(channels).integers(0, 65536, (7, 9, channels)).astype(np.uint16)
    write_png16(tmp_path / "a.png", image, (0, 1, 2, 3, 4))
    assert np.array_equal(read_png16(tmp_path / "a.png"), image)


def test_load_image_keeps_16_bits(tmp_path: Path):
    image = (np.arange(4 * 5 * 3).reshape(4, 5, 3) * 1000 + 7).astype(np.uint16)
    write_png16(tmp_path / "a.png", image, (4,))
    loaded = load_image(str(tmp_path / "a.png")).numpy()
    assert np.abs(loaded - image / 65535.0).max() < 1e-6  # 8 bits would be off by up to 1/510


def test_truncated_16_bit_png_is_a_user_error(tmp_path: Path):
    image = np.zeros((4, 4, 3), np.uint16)
    write_png16(tmp_path / "a.png", image, (0,))
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "a.png").write_bytes(data[:40])
    with pytest.raises(UserError, match="cannot read image"):
        load_image(str(tmp_path / "a.png"))
