"""Helpers of the browser tests: page screenshots as arrays, waiting for the viewer's frames."""

from __future__ import annotations

import io
import socket
import time

import numpy as np


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def screenshot(page, clip: dict | None = None) -> np.ndarray:
    """The page (or ``clip``) as an ``(H, W, 3)`` uint8 array."""
    import imageio.v3 as iio

    return iio.imread(io.BytesIO(page.screenshot(clip=clip)))[..., :3]


def wait_for_frame(page, mode: str, after: int = 0, timeout_s: float = 60.0) -> int:
    """Wait until the viewer's status line shows a full-resolution ``mode`` frame numbered above
    ``after``; returns its number."""
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        text = page.evaluate("document.body.innerText")
        for line in text.splitlines():
            if line.startswith("frame ") and f"· {mode} ·" in line and "(full)" in line:
                number = int(line.split()[1])
                if number > after:
                    return number
        time.sleep(0.1)
    raise AssertionError(f"no full {mode} frame after frame {after} within {timeout_s} s; page says: {text[:300]!r}")


def settled_screenshot(page, clip: dict | None = None, timeout_s: float = 20.0) -> np.ndarray:
    """A screenshot once the page stopped changing (three equal shots in a row): the status line can
    announce a frame a moment before the browser has decoded and painted it."""
    deadline = time.monotonic() + timeout_s
    shots = [screenshot(page, clip)]
    while time.monotonic() < deadline:
        time.sleep(0.15)
        shots.append(screenshot(page, clip))
        if len(shots) >= 3 and np.array_equal(shots[-1], shots[-2]) and np.array_equal(shots[-2], shots[-3]):
            break
    return shots[-1]
