"""Video fitting on a short generated clip: quality, per-frame metrics, MP4 outputs, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fields.engine.scene import load_scene
from fields.datasets.video import load_video
from fields.io import write_video
from fields.engine.run import fit, load_run
from fields.errors import UserError
from tests.conftest import run_cli

FRAMES, SIZE = 12, 32


def make_clip(path: Path) -> torch.Tensor:
    """A smooth colour blob moving across a gradient background: ``(T, H, W, 3)``."""
    t = torch.arange(FRAMES, dtype=torch.float32)[:, None, None]
    y = torch.linspace(0, 1, SIZE)[None, :, None]
    x = torch.linspace(0, 1, SIZE)[None, None, :]
    cx = 0.2 + 0.6 * t / (FRAMES - 1)
    blob = torch.exp(-((x - cx) ** 2 + (y - 0.5) ** 2) / 0.02)
    frames = torch.stack((0.2 + 0.6 * blob, 0.3 + 0.4 * x.expand_as(blob), 0.8 - 0.6 * blob * y), -1)
    write_video(path, frames, fps=12)
    return frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    make_clip(path)
    return path


def scene_file(tmp_path: Path, clip: Path, model: str, steps: int = 150, data: str = "") -> Path:
    path = tmp_path / "video.yaml"
    path.write_text(f"""
task: video
data: {{video: {clip}{data}}}
model:
{model}
  output_activation: sigmoid
train: {{steps: {steps}, batch_size: 4096, progress: false, checkpoint_every: 1000, threads: 1}}
output: {{dir: {tmp_path / 'runs'}}}
""")
    return path


HASH = """  encoder: {type: hashgrid, n_levels: 6, n_features_per_level: 2, log2_hashmap_size: 14,
            base_resolution: 4, max_resolution: 32}
  decoder: {type: mlp, n_neurons: 32, n_hidden_layers: 1}"""

CAM_T = """  encoder: {type: fourier, n_features: 64, sigma: 4.0}
  decoder: {type: cam_mlp, n_neurons: 64, n_hidden_layers: 2, cam_coords: [2], grid_resolution: [12],
            per_channel: true}"""


def test_clip_round_trip_and_frame_range(clip: Path):
    video = load_video(clip)
    assert video.frames.shape == (FRAMES, SIZE, SIZE, 3) and video.fps == pytest.approx(12)
    part = load_video(clip, start=2, stop=9, stride=3, max_size=16)
    assert part.frame_indices == [2, 5, 8] and part.frames.shape == (3, 16, 16, 3)
    torch.testing.assert_close(part.frames[0].mean(), video.frames[2].mean(), atol=0.01, rtol=0)


def test_video_fit_reaches_high_psnr_and_writes_mp4(clip: Path, tmp_path: Path):
    scene = load_scene(scene_file(tmp_path, clip, HASH, steps=100))
    run_dir, metrics = fit(scene, tmp_path / "run")
    # a constant colour gets about 14 dB on this clip, a field that ignores t about 20 dB
    assert metrics["psnr"] > 30.0, metrics["psnr"]
    assert len(metrics["psnr_per_frame"]) == FRAMES and metrics["psnr_min_frame"] > 27.0
    out = load_video(run_dir / "reconstruction.mp4")
    assert out.frames.shape == (FRAMES, SIZE, SIZE, 3)
    _, task = load_run(run_dir)
    (path,) = task.render(run_dir, width=48)
    assert load_video(path).frames.shape == (FRAMES, 48, 48, 3)


def test_cam_along_time_fits_a_video(clip: Path, tmp_path: Path):
    scene = load_scene(scene_file(tmp_path, clip, CAM_T, steps=100))
    _, metrics = fit(scene, tmp_path / "cam")
    assert metrics["psnr"] > 28.0, metrics["psnr"]


def test_bad_videos_are_user_errors(clip: Path, tmp_path: Path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x01 not a video" * 100)
    with pytest.raises(UserError, match="broken.mp4"):
        load_video(broken)
    with pytest.raises(UserError, match="no frames"):
        load_video(clip, start=FRAMES + 5)
    with pytest.raises(UserError, match="not found"):
        load_video(tmp_path / "missing.mp4")
    result = run_cli("fit", str(scene_file(tmp_path, broken, HASH)))
    assert result.returncode == 2 and "cannot read video" in result.stderr, result.stderr
    with pytest.raises(UserError, match="nope.mp4"):
        load_scene(scene_file(tmp_path, tmp_path / "nope.mp4", HASH))
    with pytest.raises(UserError, match="stop"):
        load_scene(scene_file(tmp_path, clip, HASH, data=", start: 5, stop: 3"))
