"""Structure from motion on repeated texture: the generated ``plaza`` walk (a brick pavement, one period
repeated to the horizon) at 320x240, 48 frames over 100 degrees. With COLMAP's megapixel thresholds (4 px,
ratio 0.8) its wrong matches bend the model: 3.8 degrees mean and 5.2 at worst of rotation error (4.1 / 5.6 with
another seed); the settings scaled to the frame size (``sfm_options``) give 0.41 / 0.67."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fields.datasets.capture.align import pose_errors
from fields.datasets.capture.sfm_options import SfmTolerance


def test_tolerance_follows_the_frame_size():
    small, medium, tiny, large = (SfmTolerance.for_size(*size) for size in ((320, 240), (240, 640), (160, 120),
                                                                            (4000, 3000)))
    assert (small.verification, small.absolute_pose) == (1.0, 2.0)
    assert (medium.verification, medium.absolute_pose) == (2.0, 4.0)
    assert (tiny.verification, tiny.absolute_pose) == (1.0, 2.0)  # keypoints are no better than ~0.3 px
    assert (large.verification, large.absolute_pose) == (4.0, 8.0)  # COLMAP's own for large photos
    assert large.peak_threshold == pytest.approx(0.02 / 3) and small.peak_threshold == pytest.approx(0.02 / 9)


@pytest.mark.skipif(shutil.which("povray") is None, reason="needs POV-Ray (apt-get install povray)")
def test_repeated_texture_walk_registers_with_small_rotation_error(tmp_path):
    pytest.importorskip("pycolmap")
    from fields.datasets.capture.povray import render_capture
    from fields.datasets.capture.process import process_capture

    capture = render_capture(tmp_path / "plaza", "plaza", n_frames=48, width=320, height=240, arc=100, video=False)
    summary = process_capture("images", capture / "images", tmp_path / "out", matching="sequential")
    assert summary.n_registered == summary.n_frames == 48
    truth = {Path(f["file_path"]).name: np.array(f["c2w"]) for f in
             json.loads((capture / "truth.json").read_text())["frames"]}
    frames = json.loads((tmp_path / "out" / "transforms.json").read_text())["frames"]
    est = np.stack([np.array(f["transform_matrix"])[:3] for f in frames])
    est[:, :, 1:3] *= -1  # OpenGL -> OpenCV camera axes, as the truth
    errors = pose_errors(est, np.stack([truth[Path(f["file_path"]).name] for f in frames]))
    assert errors.rotation_mean_deg < 1.0 and errors.rotation_max_deg < 1.5 and errors.position_max < 0.01, errors


def test_structure_from_motion_keeps_far_points_and_pose_refinement_colmaps_angle():
    pycolmap = pytest.importorskip("pycolmap")
    from fields.datasets.capture.sfm_options import SFM_MIN_TRI_ANGLE, mapper_options

    tolerance = SfmTolerance.for_size(320, 240)
    sfm, refine = mapper_options(pycolmap, tolerance, 1, SFM_MIN_TRI_ANGLE), mapper_options(pycolmap, tolerance, 1)
    assert sfm.mapper.filter_min_tri_angle == pytest.approx(0.2) == sfm.triangulation.min_angle
    assert refine.mapper.filter_min_tri_angle == pytest.approx(1.5) == refine.triangulation.min_angle
