"""Structure from motion with pycolmap: SIFT features, matching, incremental mapping, bundle adjustment and
undistortion to pinhole images.

Matching: ``sequential`` (each frame against its ``overlap`` successors plus a quadratic tail; videos),
``exhaustive`` (every pair; small photo sets), or ``auto`` (exhaustive up to 100 images). The pairs are
listed here and matched in chunks (``match_image_pairs``), and features are extracted in chunks, so the
display advances per chunk; mapping reports each registered frame through pycolmap's callbacks. One shared
camera (a video, or a photo set from one camera setting), SIMPLE_RADIAL model (COLMAP's default; OPENCV's
extra parameters made initial pairs diverge on the generated captures), refined during
mapping and removed by the undistortion that ends the pipeline. The pixel thresholds of matching and mapping
follow the frame size (``sfm_options``). Of several models (frames that could not be joined) the largest is
kept and the others are logged.
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
from typing import Callable, Iterator, Literal, Optional

from fields.datasets.capture.sfm_options import SfmTolerance, extraction_options, mapper_options, matching_options
from fields.errors import UserError

log = logging.getLogger("fields")
Matching = Literal["auto", "sequential", "exhaustive"]
EXHAUSTIVE_MAX = 100
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


def _threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


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


def sequential_pairs(names: list[str], overlap: int = 10) -> list[tuple[str, str]]:
    """COLMAP's sequential pairing: each image with its ``overlap`` successors and those ``2**k`` after it."""
    pairs: dict[tuple[str, str], None] = {}
    for i in range(len(names)):
        for j in [i + k + 1 for k in range(overlap)] + [i + 2**k for k in range(overlap)]:
            if j < len(names):
                pairs[(names[i], names[j])] = None
    return list(pairs)


def exhaustive_pairs(names: list[str]) -> list[tuple[str, str]]:
    return [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]


def _chunks(items: list, updates: int = 40) -> Iterator[tuple[int, list]]:
    """``items`` in about ``updates`` consecutive chunks -> (items done after the chunk, chunk)."""
    size = max(1, -(-len(items) // updates))
    for start in range(0, len(items), size):
        yield min(start + size, len(items)), items[start:start + size]


def _run_sfm(pycolmap, images: Path, work: Path, out: Path, matching: Matching, max_features: int,
             stage: Optional[Callable[[str], None]], progress: Optional[Callable[[int, int], None]]) -> SfmResult:
    names = sorted(p.name for p in images.iterdir() if p.is_file())
    n, seconds = len(names), {}
    database, sparse = work / "database.db", work / "sparse"
    sparse.mkdir(parents=True, exist_ok=True)
    threads = _threads()

    def begin(name: str) -> float:
        if stage:
            stage(name)
        return time.perf_counter()

    t = begin("features")
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = "SIMPLE_RADIAL"
    # the images (and their one shared camera) first, then SIFT in chunks: a progress step per chunk
    with pycolmap.Database.open(database):  # import_images needs the file
        pass
    pycolmap.import_images(database, images, camera_mode=pycolmap.CameraMode.SINGLE, image_names=names,
                           options=reader)
    with pycolmap.Database.open(database) as db:
        camera = db.read_all_cameras()[0]  # one shared camera
    tolerance = SfmTolerance.for_size(camera.width, camera.height)
    extraction = extraction_options(pycolmap, tolerance, threads, max_features)
    for done, chunk in _chunks(names):
        pycolmap.extract_features(database, images, image_names=chunk, camera_mode=pycolmap.CameraMode.SINGLE,
                                  reader_options=reader, extraction_options=extraction, device=pycolmap.Device.cpu)
        if progress:
            progress(done, n)
    seconds["features"] = time.perf_counter() - t

    t = begin("matching")
    options, verification = matching_options(pycolmap, tolerance, threads)
    sequential = matching == "sequential" or (matching == "auto" and n > EXHAUSTIVE_MAX)
    pairs = sequential_pairs(names) if sequential else exhaustive_pairs(names)
    pairing = pycolmap.ImportedPairingOptions()
    pairing.match_list_path = work / "pairs.txt"
    for done, chunk in _chunks(pairs):
        (work / "pairs.txt").write_text("".join(f"{a} {b}\n" for a, b in chunk))
        pycolmap.match_image_pairs(database, matching_options=options, pairing_options=pairing,
                                   verification_options=verification, device=pycolmap.Device.cpu)
        if progress:
            progress(done, len(pairs))
    seconds["matching"] = time.perf_counter() - t

    t = begin("mapping")
    mapper = mapper_options(pycolmap, tolerance, threads)
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
