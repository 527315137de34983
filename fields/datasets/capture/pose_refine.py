"""Refining given camera poses by feature tracks and bundle adjustment (``fields process poses``).

Why: poses from a phone's tracking (ARKit, ARCore), a rig or an older reconstruction are often off by a
degree or a few percent of the scene, and photometric refinement during the fit (``render.camera_opt``)
removes only part of such an error, because the field learns the scene from the wrong poses while they
move (benchmarks/RESULTS.md: garden perturbed by 1 degree / 2%, 0.99 -> 0.6 degrees in 3000 steps). Feature
tracks pin the poses to a fraction of a pixel instead. This is COLMAP's workflow for known poses
(``point_triangulator``, then ``bundle_adjuster``), repeated:

1. tracks are triangulated from the current poses (a track is created within an angle of 2 degrees, so a
   pose a degree off still triangulates; the pixel tolerances follow the frame size, ``sfm_options``);
2. poses and points are bundle-adjusted (Cauchy loss, intrinsics fixed, the gauge fixed by three points);
   points that still reproject worse than the tolerance are dropped;
3. the next round triangulates again from the better poses, which joins tracks the first one could not.

The pixel tolerance of triangulation and filtering starts at ``FIRST_TOLERANCE`` times the frame-size one
and halves each round: a degree is 4 px on a 320-pixel frame, so at the final 1 px the first round kept
few tracks, and a camera left with a handful of them was once turned by 14 degrees.

It stops when a round moves no camera by more than ``STOP_DEG`` / ``STOP_FRACTION`` of the extent, or after
``rounds``. At the end the similarity that best maps the refined camera centres onto the given ones
(Umeyama) is applied, so the result keeps the frame and scale of the given poses. Garden walk, 150 frames
at 320x240, perturbed by 1 degree / 2% of the extent: 0.88 -> 0.05 degrees and 1.7 -> 0.03% in 4 rounds
(structure from motion from scratch on the same images: 0.08 degrees).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from fields.datasets.capture.align import umeyama
from fields.datasets.capture.matching import Matching, extract_features, match_pairs, threads
from fields.datasets.capture.sfm import import_pycolmap, native_log
from fields.datasets.capture.sfm_options import mapper_options
from fields.datasets.capture.writers import camera_to_world
from fields.errors import UserError

log = logging.getLogger("fields")
STOP_DEG = 0.02
STOP_FRACTION = 5e-4
MAX_TURN_DEG, MAX_MOVE = 10.0, 0.2  # larger changes: the given poses were wrong, not slightly off
FIRST_TOLERANCE = 8.0  # times the frame-size tolerance in the first round, halved each round down to 1


@dataclass
class PoseRefineResult:
    """Of ``n_images`` given, ``n_refined`` had feature tracks (the others keep their given pose).
    ``rotation_change_deg`` / ``position_change``: (mean, max) change from the given poses (position as a
    fraction of the extent of the camera centres)."""

    n_images: int
    n_refined: int
    n_points: int
    mean_reprojection_error: float
    rounds: int
    rotation_change_deg: tuple[float, float]
    position_change: tuple[float, float]
    seconds: dict[str, float] = field(default_factory=dict)


def _c2w(model, names: list[str]) -> np.ndarray:
    """``(n, 4, 4)`` OpenCV camera-to-world of ``names``' images in a pycolmap reconstruction."""
    return np.stack([camera_to_world(model.find_image_with_name(name)) for name in names])


def pose_change(before: np.ndarray, after: np.ndarray, extent: float) -> tuple[np.ndarray, np.ndarray]:
    """``(n, >=3, 4)`` camera-to-world pairs -> per-camera rotation (degrees) and move (/ ``extent``)."""
    relative = np.einsum("nji,njk->nik", before[:, :3, :3], after[:, :3, :3])
    angle = np.degrees(np.arccos(np.clip((np.trace(relative, axis1=1, axis2=2) - 1) / 2, -1.0, 1.0)))
    return angle, np.linalg.norm(after[:, :3, 3] - before[:, :3, 3], axis=1) / extent


def _model(pycolmap, database: Path, names: list[str], c2w: np.ndarray):
    """A reconstruction of the database's camera and images, posed by ``c2w (n, 4, 4)`` (OpenCV), no points."""
    model = pycolmap.Reconstruction()
    with pycolmap.Database.open(database) as db:
        camera = db.read_all_cameras()[0]
        ids = {image.name: image.image_id for image in db.read_all_images()}
    model.add_camera_with_trivial_rig(camera)
    for name, pose in zip(names, c2w):
        w2c = np.linalg.inv(pose)
        image = pycolmap.Image(name=name, camera_id=camera.camera_id, image_id=ids[name])
        model.add_image_with_trivial_frame(image, pycolmap.Rigid3d(pycolmap.Rotation3d(w2c[:3, :3]), w2c[:3, 3]))
    return model


def _adjust(pycolmap, model, max_error: float) -> None:
    """Bundle adjustment of every posed image and point (intrinsics fixed), then drop the points that
    reproject worse than ``max_error`` pixels."""
    options = pycolmap.BundleAdjustmentOptions()
    options.print_summary = False
    options.ceres.loss_function_type = pycolmap.LossFunctionType.CAUCHY
    config = pycolmap.BundleAdjustmentConfig()
    for image_id in model.reg_image_ids():
        if model.image(image_id).num_points3D > 0:
            config.add_image(image_id)
    for camera_id in model.cameras:
        config.set_constant_cam_intrinsics(camera_id)
    config.fix_gauge(pycolmap.BundleAdjustmentGauge.THREE_POINTS)
    pycolmap.create_default_bundle_adjuster(options, config, model).solve()
    model.update_point_3d_errors()
    for point_id in [i for i, point in model.points3D.items() if not point.error < max_error]:
        model.delete_point3D(point_id)


def refine_poses(images: Path, names: list[str], c2w: np.ndarray, intrinsics: tuple[float, float, float, float],
                 work: Path, matching: Matching = "auto", rounds: int = 6, max_features: int = 4096,
                 stage: Optional[Callable[[str], None]] = None,
                 progress: Optional[Callable[[int, int], None]] = None):
    """Refine the poses ``c2w (n, 4, 4)`` (OpenCV camera-to-world) of ``names`` in ``images``, all taken with
    one pinhole camera ``intrinsics`` (fx, fy, cx, cy; pixels). Scratch files (the database, COLMAP's log)
    go to ``work``. -> ``(model, PoseRefineResult)``, the model a pycolmap reconstruction in the given frame.
    Raises ``UserError`` when fewer than half the images get feature tracks, or a camera moves by more than
    ``MAX_TURN_DEG`` / ``MAX_MOVE`` of the extent (a refinement, not a reconstruction: such poses are wrong)."""
    pycolmap = import_pycolmap()
    work.mkdir(parents=True, exist_ok=True)
    with native_log(work / "colmap.log"):
        return _refine(pycolmap, images, names, np.asarray(c2w, np.float64), intrinsics, work, matching, rounds,
                       max_features, stage or (lambda name: None), progress)


def _refine(pycolmap, images, names, c2w, intrinsics, work, matching, rounds, max_features, stage, progress):
    seconds, database, n = {}, work / "database.db", len(names)
    t = time.perf_counter()
    stage("features")
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = "PINHOLE"
    reader.camera_params = ",".join(repr(float(v)) for v in intrinsics)
    tolerance = extract_features(pycolmap, images, names, database, reader, max_features, progress)
    seconds["features"] = time.perf_counter() - t

    t = time.perf_counter()
    stage("matching")
    match_pairs(pycolmap, names, database, work, tolerance, matching, progress)
    seconds["matching"] = time.perf_counter() - t

    t = time.perf_counter()
    stage("bundle adjustment")
    extent = float(np.linalg.norm(c2w[:, :3, 3].max(0) - c2w[:, :3, 3].min(0))) or 1.0
    model, done, current = _model(pycolmap, database, names, c2w), 0, c2w
    for done in range(1, rounds + 1):
        px = tolerance.verification * max(1.0, FIRST_TOLERANCE / 2 ** (done - 1))
        options = mapper_options(pycolmap, replace(tolerance, verification=px), threads())
        before = current
        round_dir = work / f"round{done}"
        round_dir.mkdir(exist_ok=True)
        model = pycolmap.triangulate_points(model, database, images, round_dir, clear_points=True, options=options)
        _adjust(pycolmap, model, px)
        if progress:
            progress(done, rounds)
        current = _c2w(model, names)
        turn, move = pose_change(before, current, extent)
        log.debug("pose refinement round %d: largest change %.4f degrees, %.5f of the extent", done, turn.max(),
                  move.max())
        if px == tolerance.verification and turn.max() < STOP_DEG and move.max() < STOP_FRACTION:
            break
    refined = [name for name in names if model.find_image_with_name(name).num_points3D > 0]
    if len(refined) < (n + 1) // 2:
        raise UserError(f"only {len(refined)} of {n} frames have feature tracks from the given poses; the "
                        "poses may be far off (more than a few degrees): try `fields process images` on the frames")
    gauge = umeyama(current[:, :3, 3], c2w[:, :3, 3])
    model.transform(pycolmap.Sim3d(gauge.scale, pycolmap.Rotation3d(gauge.rotation), gauge.translation))
    turn, move = pose_change(c2w, _c2w(model, names), extent)
    worst = int(np.argmax(turn / MAX_TURN_DEG + move / MAX_MOVE))
    if turn[worst] > MAX_TURN_DEG or move[worst] > MAX_MOVE:
        raise UserError(f"the given poses are far from what the images show ({names[worst]} turned by "
                        f"{turn[worst]:.1f} degrees, moved by {100 * move[worst]:.0f}% of the extent); check the "
                        "pose convention (OpenGL / OpenCV), or reconstruct with `fields process images`")
    seconds["bundle adjustment"] = time.perf_counter() - t
    if progress:
        progress(rounds, rounds)
    result = PoseRefineResult(n, len(refined), model.num_points3D(), float(model.compute_mean_reprojection_error()),
                              done, (float(turn.mean()), float(turn.max())), (float(move.mean()), float(move.max())),
                              seconds)
    return model, result
