"""Frames of a variable-frame-rate video (as phones record) span the whole video, each frame once."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

iio2 = pytest.importorskip("imageio.v2")
imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")

from fields.datasets.capture.frames import count_frames, extract_video_frames  # noqa: E402

N = 16


def _square_column(image: np.ndarray) -> float:
    """Mean column of the bright square: ``2 + 3 k + 5.5`` in source frame ``k``."""
    bright = image[..., :3].mean(-1) > 200
    return float(np.nonzero(bright)[1].mean())


@pytest.fixture(scope="module")
def vfr_video(tmp_path_factory) -> Path:
    """16 frames, a square moving 3 px a frame, shown alternately for 0.04 s and 0.5 s (H.264, VFR)."""
    folder = tmp_path_factory.mktemp("vfr")
    rng = np.random.default_rng(0)
    lines = []
    for k in range(N):
        image = (rng.random((48, 64, 3)) * 60).astype(np.uint8)
        image[10:30, 2 + 3 * k:14 + 3 * k] = 255
        iio2.imwrite(folder / f"f{k:02d}.png", image)
        lines += [f"file 'f{k:02d}.png'", f"duration {0.5 if k % 2 else 0.04}"]
    (folder / "list.txt").write_text("\n".join(lines + [f"file 'f{N - 1:02d}.png'"]) + "\n")
    video = folder / "vfr.mp4"
    result = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-f", "concat", "-safe", "0",
                             "-i", "list.txt", "-fps_mode", "vfr", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                             "-crf", "10", video.name], cwd=folder, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"this ffmpeg cannot write a variable-frame-rate video: {result.stderr.strip()[-200:]}")
    return video


def test_the_default_reader_repeats_frames_of_this_video(vfr_video):
    """The case the extraction guards against: ffmpeg's nominal-rate output holds more frames than the file."""
    with iio2.get_reader(str(vfr_video), format="FFMPEG") as reader:
        n_output = sum(1 for _ in reader)
    assert n_output > 2 * count_frames(vfr_video)


def test_frames_span_the_whole_variable_rate_video(vfr_video, tmp_path):
    names = extract_video_frames(vfr_video, tmp_path / "all", target=150)
    columns = [_square_column(iio2.imread(tmp_path / "all" / name)) for name in names]
    assert N <= len(names) <= N + 1  # each frame once (the concat list ends by repeating the last)
    assert columns[0] == pytest.approx(7.5, abs=1) and columns[-1] == pytest.approx(2 + 3 * (N - 1) + 5.5, abs=1)
    assert np.all(np.diff(columns) > -0.5)

    names = extract_video_frames(vfr_video, tmp_path / "four", target=4)
    columns = [_square_column(iio2.imread(tmp_path / "four" / name)) for name in names]
    assert len(names) == 4 and columns[-1] > 2 + 3 * 11 + 5.5 - 1  # the last neighbourhood: frames 12-16
