"""From photos or a video to a reconstructed capture folder that ``fields fit`` reads.

Everything is built in a temporary folder next to the output and moved into place at the end, so a
failed or interrupted run never leaves a half-written result under the output name. The result::

    OUT/images/          undistorted (pinhole) frames
    OUT/sparse/0/        the COLMAP model of the undistorted frames (binary)
    OUT/transforms.json  the same cameras in the nerfstudio / instant-ngp layout
    OUT/sparse_pc.ply    the sparse points
    OUT/capture.json     the processing summary
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

from fields.datasets.capture.frames import copy_images, extract_video_frames, list_images
from fields.datasets.capture.sfm import Matching, SfmResult, import_pycolmap, run_sfm
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
        start = time.perf_counter()
        if stage:
            stage("writing")
        import pycolmap

        model = pycolmap.Reconstruction(result / "sparse" / "0")
        write_transforms(model, result / "transforms.json")
        write_points_ply(model, result / "sparse_pc.ply")
        seconds["writing"] = time.perf_counter() - start
        summary = CaptureSummary.of(str(source), sfm, seconds)
        atomic_write_text(result / SUMMARY_NAME, json.dumps(asdict(summary), indent=1))
        _publish(result, out)
        return summary
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
