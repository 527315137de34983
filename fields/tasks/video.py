"""Fitting a field to a video: ``(x, y, t) in [0, 1]^3 -> colour``.

Pixel centres ``x = (col + 0.5) / W``, ``y = (row + 0.5) / H``, frame centres ``t = (i + 0.5) / T`` over
the kept frames. Each step draws ``batch_size`` random pixels of random frames. Any encoder works;
CAM along time (``decoder: {type: cam_mlp, cam_coords: [2], ...}``) is the CAM paper's video setting.
Metrics: PSNR of every frame (``psnr_per_frame``) and their mean (``psnr``). Outputs:
``reconstruction.mp4``; ``fields render`` writes ``render_WxH.mp4`` at any spatial size.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from fields.datasets.video import load_video
from fields.encoders.rbf_init import sobel_magnitude
from fields.io import write_video
from fields.metrics.psnr import psnr
from fields.models import Field
from fields.modules import eval_mode
from fields.tasks.base import FieldTask
from fields.tasks.registry import TASKS

if TYPE_CHECKING:
    from fields.engine.scene import SceneConfig


@TASKS.register("video")
class VideoTask(FieldTask):
    def __init__(self, scene: "SceneConfig"):
        super().__init__(scene)
        d = scene.data
        video = load_video(d.video, d.start, d.stop, d.stride, d.max_size, d.channels)
        self.n_frames, self.height, self.width, self.channels = video.frames.shape
        self.fps = d.fps or video.fps / d.stride
        self.register_buffer("pixels", video.frames.reshape(-1, self.channels), persistent=False)
        self.field = Field.from_config(scene.model, in_dim=3, out_dim=self.channels)

    def voxel_coords(self, index: torch.Tensor) -> torch.Tensor:
        """Flat indices ``(B,)`` into ``(T, H, W)`` -> ``(B, 3)`` coordinates ``(x, y, t)`` in [0, 1]."""
        hw = self.height * self.width
        frame = torch.div(index, hw, rounding_mode="floor")
        rest = index - frame * hw
        row = torch.div(rest, self.width, rounding_mode="floor")
        col = rest - row * self.width
        return torch.stack(
            ((col + 0.5) / self.width, (row + 0.5) / self.height, (frame + 0.5) / self.n_frames), -1
        ).float()

    def initialisation_samples(self) -> tuple[torch.Tensor, torch.Tensor]:
        # every voxel, weighted by its spatial gradient magnitude + temporal change (NeuRBF)
        frames = self.pixels.reshape(self.n_frames, self.height, self.width, self.channels).float()
        weights = torch.stack([sobel_magnitude(f) for f in frames])
        if self.n_frames > 1:
            change = (frames[1:] - frames[:-1]).abs().sum(-1)
            weights[1:] += change
            weights[:-1] += change
        coords = self.voxel_coords(torch.arange(self.pixels.shape[0], device=self.pixels.device))
        return coords, weights.reshape(-1)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self.regression_step(self.pixels, self.voxel_coords)

    @torch.no_grad()
    def predict_video(self, height: int | None = None, width: int | None = None) -> torch.Tensor:
        """Render every frame at ``height x width`` (default: the video's): ``(T, H, W, C)`` in [0, 1]."""
        height, width = height or self.height, width or self.width
        device = self.pixels.device
        dtype = next(self.field.parameters()).dtype
        ys = (torch.arange(height, device=device, dtype=dtype) + 0.5) / height
        xs = (torch.arange(width, device=device, dtype=dtype) + 0.5) / width
        ts = (torch.arange(self.n_frames, device=device, dtype=dtype) + 0.5) / self.n_frames
        t, y, x = torch.meshgrid(ts, ys, xs, indexing="ij")
        with eval_mode(self.field):
            out = self.field.query(torch.stack((x, y, t), -1), chunk=self.scene.train.eval_chunk,
                                   progress=f"rendering {self.n_frames} frames of {width}x{height}")
        return out.float().clamp(0.0, 1.0)

    def evaluate(self) -> dict[str, Any]:
        pred = self.predict_video()
        target = self.pixels.reshape(self.n_frames, self.height, self.width, self.channels).float()
        per_frame = psnr(pred, target).tolist()
        return {"psnr": sum(per_frame) / len(per_frame), "psnr_min_frame": min(per_frame),
                "frames": self.n_frames, "psnr_per_frame": [round(p, 3) for p in per_frame]}

    def write_outputs(self, run_dir: Path) -> list[Path]:
        path = Path(run_dir) / "reconstruction.mp4"
        write_video(path, self.predict_video(), self.fps, required=True)
        return [path]

    def render(self, run_dir: Path, width: int | None = None, height: int | None = None) -> list[Path]:
        """Render every frame at ``width x height`` (default: the video's size; one given keeps the aspect)."""
        if width and not height:
            height = max(1, round(width * self.height / self.width))
        if height and not width:
            width = max(1, round(height * self.width / self.height))
        width, height = width or self.width, height or self.height
        path = Path(run_dir) / f"render_{width}x{height}.mp4"
        write_video(path, self.predict_video(height, width), self.fps, required=True)
        return [path]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "frames": self.n_frames, "height": self.height, "width": self.width}
