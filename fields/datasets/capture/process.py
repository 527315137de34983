"""From photos or a video to a reconstructed capture folder that ``fields fit`` reads.

Everything is built in a temporary folder next to the output and moved into place at the end, so a
failed or interrupted run never leaves a half-written result under the output name. The result::

    OUT/images/          undistorted (pinhole) frames
    OUT/sparse/0/        the COLMAP model of the undistorted frames (binary)
    OUT/transforms.json  the same cameras in the nerfstudio / instant-ngp layout
    OUT/sparse_pc.ply    the sparse points
    OUT/capture.json     the processing summary

``process_posed`` starts from a capture that has poses (transforms.json, COLMAP or LLFF) and refines them
by feature tracks and bundle adjustment (``pose_refine``); its output has the same layout.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Literal, Optional

import numpy as np

from fields.datasets.capture.frames import copy_images, extract_video_frames, list_images
from fields.datasets.capture.pose_refine import refine_poses
from fields.datasets.capture.matching import Matching
from fields.datasets.capture.sfm import SfmResult, import_pycolmap, run_sfm
from fields.datasets.capture.writers import write_points_ply, write_transforms
from fields.errors import UserError
from fields.io.atomic import atomic_write_text

SUMMARY_NAME = "capture.json"


@dataclass
class CaptureSummary:
    source: str
    n_frames: int
    n_registered: int
    n_points: int
    mean_reprojection_error: float
    seconds: dict[str, float]
    poses: Optional[dict] = None  # process_posed: rounds, and the change from the given poses

    @classmethod
    def of(cls, source: str, sfm: SfmResult, seconds: dict[str, float]) -> "CaptureSummary":
        return cls(source, sfm.n_images, sfm.n_registered, sfm.n_points, sfm.mean_reprojection_error, seconds)


def _check_output(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise UserError(f"{out}: folder exists and is not empty; choose another output or pass --overwrite")


def _publish(built: Path, out: Path) -> None:
    """Move ``built`` to ``out``; an existing ``out`` is replaced only once the new one is complete."""
    old = None
    if out.exists():
        old = out.with_name(f".old-{out.name}-{int(time.time())}")
        out.rename(old)
    built.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _finish(model, result: Path, out: Path, summary: CaptureSummary,
            stage: Optional[Callable[[str], None]]) -> CaptureSummary:
    """Write ``transforms.json``, the points and the summary of ``model`` into ``result``; publish it as ``out``."""
    start = time.perf_counter()
    if stage:
        stage("writing")
    write_transforms(model, result / "transforms.json")
    write_points_ply(model, result / "sparse_pc.ply")
    summary.seconds["writing"] = time.perf_counter() - start
    atomic_write_text(result / SUMMARY_NAME, json.dumps(asdict(summary), indent=1))
    _publish(result, out)
    return summary


def process_capture(kind: Literal["images", "video"], source: Path, out: Path, frames: int = 150,
                    max_size: Optional[int] = None, matching: Matching = "auto", overwrite: bool = False,
                    stage: Optional[Callable[[str], None]] = None,
                    progress: Optional[Callable[[int, int], None]] = None) -> CaptureSummary:
    """Frames (copied photos, or the sharpest video frames), SfM, undistortion, writers; -> the summary.

    ``stage(name)`` announces each stage; ``progress(done, total)`` reports frame-level progress.
    """
    source, out = Path(source), Path(out)
    _check_output(out, overwrite)
    import_pycolmap()  # fail before any work when pycolmap is missing
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{out.name}-", dir=out.parent))
    try:
        raw, result = tmp / "input", tmp / "result"
        result.mkdir()
        seconds = {}
        start = time.perf_counter()
        if stage:
            stage("frames")
        if kind == "video":
            extract_video_frames(source, raw, frames, max_size, progress)
            matching = "sequential" if matching == "auto" else matching
        else:
            copy_images(list_images(source), raw, max_size, progress)
        seconds["frames"] = time.perf_counter() - start
        try:
            sfm = run_sfm(raw, tmp / "work", result, matching, stage=stage, progress=progress)
        except UserError as err:
            raise UserError(f"{source}: {err}") from None
        seconds.update(sfm.seconds)
        import pycolmap

        model = pycolmap.Reconstruction(result / "sparse" / "0")
        return _finish(model, result, out, CaptureSummary.of(str(source), sfm, seconds), stage)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)


def _posed_views(source: Path, max_size: Optional[int]):
    """The views of a posed capture (any format ``fields fit`` reads), downscaled to ``max_size``; one
    undistorted pinhole camera is required."""
    import torch

    from fields.datasets.scene_data import PosedViewsData
    from fields.datasets.views import load_views

    views = load_views(PosedViewsData(path=str(source)))
    cameras = views.cameras
    if max_size and max(cameras.width, cameras.height) > max_size:
        views = views.downscaled(max(cameras.width, cameras.height) / max_size)
        cameras = views.cameras
    intrinsics = torch.stack([cameras.fx, cameras.fy, cameras.cx, cameras.cy], 1).double()
    if not torch.allclose(intrinsics, intrinsics[:1].expand_as(intrinsics), rtol=1e-6, atol=1e-6):
        raise UserError(f"{source}: the views have different intrinsics; `fields process poses` needs one camera")
    if cameras.distortion is not None and bool(cameras.distortion.abs().max() > 0):
        raise UserError(f"{source}: the camera has lens distortion; undistort the images first "
                        "(or reconstruct them with `fields process images`)")
    return views, tuple(float(v) for v in intrinsics[0])


def process_posed(source: Path, out: Path, max_size: Optional[int] = None, matching: Matching = "auto",
                  overwrite: bool = False, stage: Optional[Callable[[str], None]] = None,
                  progress: Optional[Callable[[int, int], None]] = None) -> CaptureSummary:
    """A capture with poses -> the same views with the poses refined (``pose_refine``); -> the summary."""
    import imageio.v3 as iio

    source, out = Path(source), Path(out)
    _check_output(out, overwrite)
    import_pycolmap()
    if stage:
        stage("frames")
    start = time.perf_counter()
    views, intrinsics = _posed_views(source, max_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{out.name}-", dir=out.parent))
    try:
        result = tmp / "result"
        (result / "images").mkdir(parents=True)
        names = [f"frame_{i:05d}.png" for i in range(len(views.images))]  # the given order sorts the same
        for i, name in enumerate(names):
            iio.imwrite(result / "images" / name, views.images[i].numpy())
            if progress:
                progress(i + 1, len(names))
        seconds = {"frames": time.perf_counter() - start}
        c2w = views.cameras.to_opencv().c2w.double().numpy()
        c2w = np.concatenate([c2w, np.tile([[[0.0, 0.0, 0.0, 1.0]]], (len(c2w), 1, 1))], 1)
        try:
            model, refined = refine_poses(result / "images", names, c2w, intrinsics, tmp / "work", matching,
                                          stage=stage, progress=progress)
        except UserError as err:
            raise UserError(f"{source}: {err}") from None
        seconds.update(refined.seconds)
        (result / "sparse" / "0").mkdir(parents=True)
        model.write(result / "sparse" / "0")
        poses = {"rounds": refined.rounds, "rotation_change_deg": refined.rotation_change_deg,
                 "position_change_of_extent": refined.position_change}
        summary = CaptureSummary(str(source), refined.n_images, refined.n_refined, refined.n_points,
                                 refined.mean_reprojection_error, seconds, poses)
        return _finish(model, result, out, summary, stage)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
