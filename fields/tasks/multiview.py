"""The shared base of tasks trained on posed images (radiance, surface).

It owns the views (kept on the CPU, pixels moved per batch), the world -> unit-frame transform, random
ray batches, chunked rendering of whole views (memory bounded at any size), held-out evaluation
(PSNR and SSIM averaged over test views), camera-path videos and point clouds. Subclasses define the
field, ``render_rays`` and the loss.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np
import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from fields.datasets.views import load_views
from fields.errors import UserError
from fields.io import save_image, to_uint8, write_point_cloud, write_video
from fields.io.panels import comparison
from fields.io.progress import track
from fields.models.camera_optimizer import CameraOptimizer
from fields.tasks.camera_refine import PoseGradientAverage
from fields.modules import eval_mode
from fields.render.camera_paths import orbit_path, path_cameras, spiral_path
from fields.render.cameras import Cameras, generate_rays, image_rays
from fields.render.rays import Rays, SceneTransform
from fields.render.volume_rendering import RenderOutput
from fields.tasks.base import FieldTask
from fields.tasks.held_out_align import aligned_cameras, align_views
from fields.tasks.step_guard import NonFiniteStepGuard
from fields.tasks.view_exports import export_cameras, export_rendered_points, export_tsdf_mesh

if TYPE_CHECKING:
    from fields.engine.scene import SceneConfig

log = logging.getLogger("fields")
PATHS = ("orbit", "spiral", "dataset")


class MultiViewTask(FieldTask):
    depth_along_axis = False  # render_view's depth: distance along the ray (False) or the optical axis (True)

    def __init__(self, scene: "SceneConfig"):
        super().__init__(scene)
        # per-camera pose corrections (render.camera_opt; an instance attribute: nn.Module keeps submodules
        # out of __dict__, so a class attribute would hide them) and the world length of their translation unit
        self.camera_opt: Optional[CameraOptimizer] = None
        self.camera_scale = 1.0
        self._pose_gradients = PoseGradientAverage()  # render.camera_opt_accumulate
        self._step_guard = NonFiniteStepGuard()
        self.views = load_views(scene.data)
        self.cameras: Cameras = self.views.cameras
        self.transform = SceneTransform.from_aabb(self.views.aabb)
        self.images = self.views.images  # uint8, stays on the CPU: not a buffer
        bg = scene.data.background
        colour = (
            {"white": (1.0, 1.0, 1.0), "black": (0.0, 0.0, 0.0), "random": (1.0, 1.0, 1.0)}.get(bg, bg)
            if isinstance(bg, str)
            else bg
        )
        self.register_buffer("eval_background", torch.tensor(colour, dtype=torch.float32), persistent=False)
        log.info(
            "%d training and %d test views of %dx%d from %s",
            len(self.views.train),
            len(self.views.test),
            self.cameras.width,
            self.cameras.height,
            self.views.source,
        )

    def schedule_progress(self, step: int) -> float:
        """How far the run is, in [0, 1]: the larger of ``step / train.steps`` and the time budget's share."""
        progress = step / max(self.scene.train.steps, 1)
        if self.scene.train.max_time:
            progress = max(progress, float(self.train_seconds) / self.scene.train.max_time)
        return min(progress, 1.0)

    def on_before_optimizer_step(self, optimizer) -> None:
        if self._step_guard(optimizer, int(self.global_step)):  # non-finite gradients: step dropped
            return
        if self.camera_opt is not None:
            self._pose_gradients(self.camera_opt.parameters(), int(self.global_step),
                                 getattr(self.scene.render, "camera_opt_accumulate", 1))

    @torch.no_grad()
    def refined_cameras(self) -> Cameras:
        """The views' cameras with the pose corrections applied (the given ones without refinement)."""
        if self.camera_opt is None:
            return self.cameras
        c2w = self.camera_opt.corrected_c2w(self.cameras.c2w.double(), self.camera_scale).to(self.cameras.c2w)
        return replace(self.cameras, c2w=c2w)

    # --- data ----------------------------------------------------------------------------------------
    def unit_rays(self, cameras: Cameras, camera_index: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> Rays:
        rays = self.transform.rays_to_unit(generate_rays(cameras, camera_index, u, v))
        return rays.to(self.device)

    def target_rgb(self, pixels: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
        """uint8 ``(B, 3|4)`` -> float ``(B, 3)`` composited over ``background (3,)`` or ``(B, 3)``."""
        x = pixels.to(self.device, torch.float32) / 255.0
        if x.shape[-1] == 4:
            return x[:, :3] * x[:, 3:] + background * (1.0 - x[:, 3:])
        return x[:, :3]

    def random_batch(
        self, n_rays: int, generator: torch.Generator
    ) -> tuple[Rays, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``n_rays`` random pixels of random training views -> rays, target rgb ``(B, 3)``, background
        ``(B, 3)`` and alpha ``(B,)`` (ones without an alpha channel)."""
        train = torch.tensor(self.views.train)
        view = train[torch.randint(len(train), (n_rays,), generator=generator)]
        x = torch.randint(self.cameras.width, (n_rays,), generator=generator)
        y = torch.randint(self.cameras.height, (n_rays,), generator=generator)
        pixels = self.images[view, y, x]
        if self.scene.data.background == "random":
            background = torch.rand(n_rays, 3, generator=generator).to(self.device)
        else:
            background = self.eval_background.expand(n_rays, 3)
        rays = self.unit_rays(self.cameras, view, x.float() + 0.5, y.float() + 0.5)
        alpha = (
            pixels[:, 3].to(self.device, torch.float32) / 255.0
            if pixels.shape[-1] == 4
            else torch.ones(n_rays, device=self.device)
        )
        return rays, self.target_rgb(pixels, background), background, alpha

    # --- rendering -----------------------------------------------------------------------------------
    def render_rays(
        self, rays: Rays, background: torch.Tensor, training: bool = False, generator: Optional[torch.Generator] = None
    ) -> RenderOutput:
        raise NotImplementedError

    @torch.no_grad()
    def render_view(self, cameras: Cameras, index: int) -> dict[str, torch.Tensor]:
        """Render one view in chunks of ``render.chunk`` rays: ``rgb (H, W, 3)``, ``depth (H, W)`` (world
        units), ``opacity (H, W)``, and the world ``points (H, W, 3)`` at the expected depth."""
        rays = image_rays(cameras, index)
        if cameras is not self.cameras:  # a camera path or moved cameras: no view's pose correction or code
            rays = Rays(rays.origins, rays.directions, None)
        unit = self.transform.rays_to_unit(rays)
        chunk = self.scene.render.chunk
        rgb, depth, opacity = [], [], []
        with eval_mode(self):
            for i in range(0, len(unit), chunk):
                part = unit[i : i + chunk].to(self.device)
                out = self.render_rays(part, self.eval_background.expand(len(part), 3))
                rgb.append(out.rgb.float().cpu())
                opacity.append(out.opacity.float().cpu())
                depth.append(out.depth.float().cpu() / out.opacity.float().cpu().clamp_min(1e-6))
        h, w = cameras.height, cameras.width
        depth_unit = torch.cat(depth)[:, 0]
        origins, directions = unit.origins, unit.directions
        if self.camera_opt is not None and unit.cameras is not None:  # the rays as rendered
            origins, directions = self.camera_opt.apply(origins, directions, unit.cameras)
            origins, directions = origins.cpu(), directions.cpu()
        points = self.transform.points_to_world(origins + directions * depth_unit[:, None])
        return {
            "rgb": torch.cat(rgb).clamp(0, 1).reshape(h, w, 3),
            "depth": (depth_unit * self.transform.scale).reshape(h, w),
            "opacity": torch.cat(opacity).reshape(h, w),
            "points": points.reshape(h, w, 3),
        }

    def test_target(self, index: int) -> torch.Tensor:
        pixels = self.images[index].reshape(-1, self.images.shape[-1])
        return (
            self.target_rgb(pixels, self.eval_background.to(self.device))
            .cpu()
            .reshape(self.cameras.height, self.cameras.width, 3)
        )

    def evaluate(self) -> dict[str, float]:
        """PSNR and SSIM over the test views, each rendered once (twice with ``render.eval_pose_align``: at the
        given and at the aligned poses): the renders of the first
        ``render.save_test_views`` are kept for ``write_outputs`` (until the field changes)."""
        scores, kept = {"psnr": [], "ssim": []}, {}
        keep = set(self.views.test[: self.scene.render.save_test_views])
        metrics: dict[str, float] = {}
        passes = [("", self.cameras)]
        align_steps = getattr(self.scene.render, "eval_pose_align", 0)
        if align_steps and self.views.test:  # BARF's protocol (held_out_align.py); the given poses are scored too
            corrections = align_views(self, self.views.test, align_steps,
                                      progress=lambda steps: self._progress(steps, "aligning test views' poses"))
            passes.append(("_aligned", aligned_cameras(self, self.views.test, corrections)))
            scores.update(psnr_aligned=[], ssim_aligned=[])
            metrics["test_pose_alignment_deg"] = float(corrections[:, :3].norm(dim=-1).mean()) * 180 / math.pi
        for index in self._progress(self.views.test, "evaluating test views"):
            target = self.test_target(index).permute(2, 0, 1)[None]
            for suffix, cameras in passes:
                out = self.render_view(cameras, index)
                p = out["rgb"].permute(2, 0, 1)[None]
                scores["psnr" + suffix].append(float(peak_signal_noise_ratio(p, target, data_range=1.0)))
                scores["ssim" + suffix].append(float(structural_similarity_index_measure(p, target, data_range=1.0)))
                if index in keep and not suffix:
                    kept[index] = out
        self._kept_renders = (self._field_state(), kept)
        metrics.update({key: float(np.mean(values)) for key, values in scores.items()}, test_views=len(self.views.test))
        if self._step_guard.skipped:
            metrics["skipped_steps"] = self._step_guard.skipped
        return metrics

    def _field_state(self) -> tuple:
        """Changes whenever training changes the parameters (in-place updates bump a tensor's version)."""
        return (int(self.global_step), float(self.train_seconds), tuple(p._version for p in self.parameters()))

    def _progress(self, items: list[int], description: str):
        """``items``, with a transient progress bar on the terminal when ``train.progress`` is on."""
        return track(items, description) if items else items

    # --- exports (fields export) ----------------------------------------------------------------------
    def export_cameras(self, path: Path) -> Path:
        return export_cameras(self, Path(path))

    def export_pointcloud(self, path: Path) -> Path:
        return export_rendered_points(self, Path(path))

    def export_tsdf(self, path: Path, voxels: int) -> Path:
        return export_tsdf_mesh(self, Path(path), voxels)

    # --- outputs -------------------------------------------------------------------------------------
    def write_outputs(self, run_dir: Path) -> list[Path]:
        run_dir = Path(run_dir)
        paths, points, colours = [], [], []
        state, kept = getattr(self, "_kept_renders", (None, {}))
        kept = kept if state == self._field_state() else {}
        self._kept_renders = (None, {})
        for k, index in enumerate(
            self._progress(self.views.test[: self.scene.render.save_test_views], "saving test renders")
        ):
            out = kept.get(index) or self.render_view(self.cameras, index)
            paths.append(save_image(run_dir / "renders" / f"test_{k:04d}.png", self.test_comparison(out, index)))
            solid = out["opacity"] > 0.95
            points.append(out["points"][solid])
            colours.append(out["rgb"][solid])
        if points and sum(len(p) for p in points):
            path = run_dir / "pointcloud.ply"
            write_point_cloud(path, torch.cat(points), torch.cat(colours))
            paths.append(path)
        return paths

    def test_comparison(self, out: dict[str, torch.Tensor], index: int, extra=()) -> np.ndarray:
        """prediction | truth | error of test view ``index`` (``out``: its ``render_view``), labelled."""
        pred, target = out["rgb"].float().cpu(), self.test_target(index).float()
        psnr = float(peak_signal_noise_ratio(pred, target, data_range=1.0))
        return comparison(pred.numpy(), target.numpy(), f"{self.scene.task} {psnr:.2f} dB",
                          f"truth (test view {index})", extra)

    def render(
        self,
        run_dir: Path,
        width: int | None = None,
        height: int | None = None,
        path: str = "orbit",
        frames: int | None = None,
    ) -> list[Path]:
        """Render a camera path (``orbit|spiral|dataset``) into ``renders/<path>/`` PNGs and an MP4."""
        if path not in PATHS:
            raise UserError(f"unknown camera path '{path}'; valid: {', '.join(PATHS)}")
        cams = self.cameras
        if width and not height:
            height = max(1, round(width * cams.height / cams.width))
        if height and not width:
            width = max(1, round(height * cams.width / cams.height))
        width, height = width or cams.width, height or cams.height
        n = frames or self.scene.render.n_frames
        train_cams = cams[self.views.train]
        if path == "orbit":
            poses = orbit_path(train_cams, self.transform.center, n)
        elif path == "spiral":
            focus = float((self.transform.center - train_cams.origins.mean(0)).norm())
            poses = spiral_path(train_cams, n, focus)
        else:
            poses = cams[self.views.test].to_opencv().c2w
            poses = poses.clone()
            poses[:, :, 1:3] *= -1  # OpenCV -> OpenGL
        path_cams = path_cameras(cams, poses, width, height)
        folder = Path(run_dir) / "renders" / path
        written = []
        frames_rgb = []
        for k in track(range(len(path_cams)), f"rendering the {path} path"):
            rgb = self.render_view(path_cams, k)["rgb"]
            target = folder / f"frame_{k:04d}.png"
            save_image(target, rgb)
            written.append(target)
            frames_rgb.append(to_uint8(rgb))
        video = write_video(folder.with_suffix(".mp4"), frames_rgb, self.scene.render.fps)
        return written + ([video] if video else [])
