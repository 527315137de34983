"""16-bit colour PNGs: Pillow (imageio's PNG reader) keeps only their high bytes, so they are decoded here.

Only what Pillow gets wrong is handled: 16-bit RGB and RGBA (colour types 2 and 6), not interlaced. Grey
16-bit PNGs Pillow reads in full. The format: an 8-byte signature, chunks ``length, type, data, crc``;
IHDR gives the size, the IDAT chunks together are one zlib stream of filtered scanlines.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Optional

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {2: 3, 6: 4}


def is_png16_colour(path: str | Path) -> bool:
    """True for a 16-bit RGB or RGBA PNG (reads the first 26 bytes only)."""
    with open(path, "rb") as handle:
        head = handle.read(26)
    header = len(head) == 26 and head[:8] == SIGNATURE and head[12:16] == b"IHDR"
    return header and head[24] == 16 and head[25] in _CHANNELS


def read_png16(path: str | Path) -> np.ndarray:
    """A 16-bit RGB(A) PNG -> uint16 ``(H, W, 3|4)``; raises ``ValueError`` on a malformed file."""
    data = Path(path).read_bytes()
    pos, idat, header = 8, [], None
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise ValueError("truncated chunk")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None or not idat:
        raise ValueError("no IHDR or IDAT chunk")
    width, height, depth, colour, _, _, interlace = header
    if depth != 16 or colour not in _CHANNELS or interlace != 0:
        raise ValueError("not a non-interlaced 16-bit RGB(A) PNG")
    bpp = 2 * _CHANNELS[colour]
    stride = width * bpp
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8)
    if raw.size < height * (stride + 1):
        raise ValueError("image data shorter than the header says")
    rows = raw[: height * (stride + 1)].reshape(height, stride + 1)
    out = np.zeros((height, stride), np.uint8)
    previous = np.zeros(stride, np.uint8)
    for y in range(height):
        out[y] = _unfilter(int(rows[y, 0]), rows[y, 1:], previous, bpp)
        previous = out[y]
    return out.view(">u2").astype(np.uint16).reshape(height, width, _CHANNELS[colour])


def _unfilter(kind: int, line: np.ndarray, up: np.ndarray, bpp: int) -> np.ndarray:
    if kind == 0:
        return line
    if kind == 2:
        return line + up  # uint8 arithmetic wraps modulo 256, as the format wants
    if kind == 1:  # Sub: a running sum per byte position within the pixel
        pixels = line.reshape(-1, bpp).astype(np.uint32)
        return (np.cumsum(pixels, axis=0) % 256).astype(np.uint8).reshape(-1)
    if kind not in (3, 4):
        raise ValueError(f"unknown scanline filter {kind}")
    out = np.zeros_like(line)
    left: Optional[np.ndarray] = None
    upper = up.reshape(-1, bpp).astype(np.int32)
    cur = line.reshape(-1, bpp).astype(np.int32)
    result = out.reshape(-1, bpp)
    zero = np.zeros(bpp, np.int32)
    for x in range(cur.shape[0]):
        a = left if left is not None else zero
        b = upper[x]
        if kind == 3:
            value = (cur[x] + (a + b) // 2) % 256
        else:
            c = upper[x - 1] if x > 0 else zero
            p = a + b - c
            pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
            predictor = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
            value = (cur[x] + predictor) % 256
        result[x] = value
        left = value
    return out
