"""Structure from motion with pycolmap: SIFT features, matching, incremental mapping, bundle adjustment and
undistortion to pinhole images.

Features and matching (``matching``: sequential for videos, exhaustive for small photo sets) advance the
display per chunk; mapping reports each registered frame through pycolmap's callbacks. One shared
camera (a video, or a photo set from one camera setting), SIMPLE_RADIAL model (COLMAP's default; OPENCV's
extra parameters made initial pairs diverge on the generated captures), refined during
mapping and removed by the undistortion that ends the pipeline. A camera that does not move (``motion``) is
an error before mapping. The pixel thresholds of matching and mapping follow the frame size
(``sfm_options``). Of several models (frames that could not be joined) the largest is kept and the others
are logged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from fields.datasets.capture.matching import Matching, extract_features, match_pairs
from fields.datasets.capture.matching import threads as n_threads
from fields.datasets.capture.motion import require_motion
from fields.datasets.capture.sfm_options import SFM_MIN_TRI_ANGLE, mapper_options
from fields.errors import UserError

log = logging.getLogger("fields")
_LOGGED: list[bool] = []


@dataclass
class SfmResult:
    """The undistorted model in ``folder/sparse/0`` with its images in ``folder/images``."""

    n_images: int
    n_registered: int
    n_points: int
    mean_reprojection_error: float
    seconds: dict[str, float] = field(default_factory=dict)


def import_pycolmap():
    try:
        import pycolmap
    except ImportError:
        raise UserError("structure from motion needs pycolmap: pip install 'fields-toolkit[capture]'") from None
    if not _LOGGED:
        _LOGGED.append(True)
        log.info("structure from motion: pycolmap %s (%s)", pycolmap.__version__,
                 "CUDA" if getattr(pycolmap, "has_cuda", False) else "CPU")
    return pycolmap


@contextlib.contextmanager
def native_log(path: Path):
    """Send what COLMAP prints to the process's stderr (glog, Ceres) into ``path`` for the duration."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2
        yield
        return
    try:
        with open(path, "a") as handle:
            os.dup2(handle.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def run_sfm(images: Path, work: Path, out: Path, matching: Matching = "auto", max_features: int = 4096,
            stage: Optional[Callable[[str], None]] = None,
            progress: Optional[Callable[[int, int], None]] = None) -> SfmResult:
    """Reconstruct the images of ``images`` (scratch files in ``work``), write the undistorted result to ``out``.

    ``stage(name)`` is called as each stage starts, ``progress(done, total)`` as images are read (features),
    pairs matched (matching) and frames registered (mapping). Raises ``UserError`` when fewer than half the images
    register (a model of part of the capture is no result). COLMAP's own log goes to ``work/colmap.log``.
    """
    pycolmap = import_pycolmap()
    work.mkdir(parents=True, exist_ok=True)
    with native_log(work / "colmap.log"):
        return _run_sfm(pycolmap, images, work, out, matching, max_features, stage, progress)


def _run_sfm(pycolmap, images: Path, work: Path, out: Path, matching: Matching, max_features: int,
             stage: Optional[Callable[[str], None]], progress: Optional[Callable[[int, int], None]]) -> SfmResult:
    names = sorted(p.name for p in images.iterdir() if p.is_file())
    n, seconds = len(names), {}
    database, sparse = work / "database.db", work / "sparse"
    sparse.mkdir(parents=True, exist_ok=True)
    threads = n_threads()

    def begin(name: str) -> float:
        if stage:
            stage(name)
        return time.perf_counter()

    t = begin("features")
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = "SIMPLE_RADIAL"
    tolerance = extract_features(pycolmap, images, names, database, reader, max_features, progress)
    seconds["features"] = time.perf_counter() - t

    t = begin("matching")
    match_pairs(pycolmap, names, database, work, tolerance, matching, progress)
    seconds["matching"] = time.perf_counter() - t
    require_motion(pycolmap, database, tolerance.verification)

    t = begin("mapping")
    mapper = mapper_options(pycolmap, tolerance, threads, SFM_MIN_TRI_ANGLE)
    registered_now = [0]

    def on_registered(count: int) -> None:
        registered_now[0] = count
        if progress:
            progress(min(count, n), n)

    models = pycolmap.incremental_mapping(
        database, images, sparse, options=mapper, initial_image_pair_callback=lambda: on_registered(2),
        next_image_callback=lambda: on_registered(registered_now[0] + 1))
    seconds["mapping"] = time.perf_counter() - t
    if not models:
        raise UserError("structure from motion registered no frames; the frames need more overlap "
                        "and texture (try more frames, slower camera motion, or --matching exhaustive)")
    model = max(models.values(), key=lambda m: m.num_reg_images())
    if len(models) > 1:
        log.info("structure from motion: %d separate models of %s frames; keeping the largest",
                 len(models), "+".join(str(m.num_reg_images()) for m in models.values()))
    if progress:
        progress(model.num_reg_images(), n)

    t = begin("bundle adjustment")
    ba = pycolmap.BundleAdjustmentOptions()
    ba.print_summary = False
    pycolmap.bundle_adjustment(model, ba)
    seconds["bundle adjustment"] = time.perf_counter() - t
    registered = model.num_reg_images()
    if registered < (n + 1) // 2:
        raise UserError(f"only {registered} of {n} frames registered; try more frames with more overlap "
                        "(slower motion, --frames higher), sharper frames, or --matching exhaustive")

    t = begin("undistortion")
    final = sparse / "final"
    final.mkdir(exist_ok=True)
    model.write(final)
    pycolmap.undistort_images(out, final, images, output_type="COLMAP", num_threads=threads)
    seconds["undistortion"] = time.perf_counter() - t
    undistorted = pycolmap.Reconstruction(out / "sparse")
    (out / "sparse" / "0").mkdir(exist_ok=True)
    for item in ("cameras.bin", "images.bin", "points3D.bin", "frames.bin", "rigs.bin"):
        if (out / "sparse" / item).is_file():
            (out / "sparse" / item).rename(out / "sparse" / "0" / item)
    for leftover in ("stereo", "run-colmap-geometric.sh", "run-colmap-photometric.sh"):
        path = out / leftover
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    return SfmResult(n, registered, undistorted.num_points3D(), float(undistorted.compute_mean_reprojection_error()),
                     seconds)
