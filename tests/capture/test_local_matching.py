"""Flow-guided matching of neighbouring frames (``local_matching``) on a repeated grid, where the ratio test
over the whole frame cannot match anything."""

from __future__ import annotations

import numpy as np
import pytest

from fields.datasets.capture.local_matching import (LocalMatching, best_candidates, epipolar_distance,
                                                    match_pair, predict)

# a camera moving along x: epipolar lines are the image rows (y' = y)
F_SIDEWAYS = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def grid(spacing: float = 10.0, n: int = 12) -> np.ndarray:
    ys, xs = np.meshgrid(np.arange(n) * spacing + 20, np.arange(n) * spacing + 20, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)


def test_epipolar_distance_and_prediction():
    xa = np.array([[10.0, 20.0], [50.0, 60.0]])
    assert np.allclose(epipolar_distance(F_SIDEWAYS, xa, xa + [[7.0, 0.0], [0.0, 2.5]]), [0.0, 2.5])
    anchors = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [100.0, 100.0]])
    moved = anchors + [[1.0, 0.0], [1.0, 0.0], [5.0, 0.0], [5.0, 0.0]]
    # the median motion of the 2 nearest anchors: top row moves 1 px, bottom row 5 px
    assert np.allclose(predict(np.array([[50.0, 1.0], [50.0, 99.0]]), anchors, moved, 2), [[51.0, 1.0], [55.0, 99.0]])


def test_ratio_test_is_among_the_candidates_only():
    i, j = np.array([0, 0, 1, 2, 2]), np.array([3, 4, 5, 6, 7])
    similarity = np.cos(np.array([0.2, 0.6, 0.3, 0.4, 0.45]))  # descriptor angles
    match = best_candidates(i, j, similarity, 4, max_ratio=0.7)
    # 0: 0.2 < 0.7 * 0.6; 1: alone; 2: ambiguous (0.4 vs 0.45); 3: no candidate
    assert match.tolist() == [3, 5, -1, -1]
    assert best_candidates(np.array([0]), np.array([1]), np.cos(np.array([0.8])), 1, 0.7).tolist() == [-1]


def test_repeated_grid_is_matched_by_its_motion():
    """Every grid point looks the same (one descriptor): a global ratio test matches none. The frame moves
    3 px sideways; 20 verified matches give the motion, and the rest are matched one to one, except where a
    look-alike lies next to the true position."""
    xa = grid()
    n = len(xa)
    xb = xa + [3.0, 0.0]
    rng = np.random.default_rng(0)
    descriptor = rng.uniform(size=128)
    da = np.tile(descriptor / np.linalg.norm(descriptor), (n, 1))
    distractor = np.array([[xb[50, 0] + 1.0, xb[50, 1]]])  # a look-alike 1 px from point 50's true position
    xb_all, db_all = np.concatenate([xb, distractor]), np.concatenate([da, da[:1]])
    seeds = rng.choice(np.setdiff1d(np.arange(n), [50]), 20, replace=False)
    inliers = np.stack([seeds, seeds], 1)
    matches = match_pair(xa, xb_all, da, db_all, F_SIDEWAYS, inliers, 1.0, LocalMatching())
    assert (matches[:, 0] == matches[:, 1]).all()  # each one right
    assert set(matches[:, 0].tolist()) == set(range(n)) - {50}  # all but the ambiguous one
    assert len(np.unique(matches[:, 1])) == len(matches)
    # off the epipolar line (a 2 px vertical step at a 1 px tolerance) nothing new is matched
    off = match_pair(xa, xb + [0.0, 2.0], da, da, F_SIDEWAYS, inliers, 1.0, LocalMatching())
    assert len(off) == len(inliers)


@pytest.mark.parametrize("gap", [1, 2])
def test_pairs_further_apart_than_the_gap_are_left_alone(tmp_path, gap):
    pycolmap = pytest.importorskip("pycolmap")
    from fields.datasets.capture.local_matching import add_local_matches

    xa = grid()
    n = len(xa)
    rng = np.random.default_rng(1)
    database = tmp_path / "d.db"
    seeds = rng.choice(n, 40, replace=False)
    with pycolmap.Database.open(database) as db:
        camera = db.write_camera(pycolmap.Camera.create_from_model_id(
            1, pycolmap.CameraModelId.SIMPLE_PINHOLE, 200.0, 320, 240))
        ids = []
        for k in range(4):
            image_id = db.write_image(pycolmap.Image(name=f"{k}.png", camera_id=camera))
            ids.append(image_id)
            db.write_keypoints(image_id, (xa + [3.0 * k, 0.0]).astype(np.float32))
            db.write_descriptors(image_id, pycolmap.FeatureDescriptors(
                type=pycolmap.FeatureExtractorType.SIFT, data=np.full((n, 128), 20, np.uint8)))
        for a in range(4):
            for b in range(a + 1, 4):
                geometry = pycolmap.TwoViewGeometry()
                geometry.config = pycolmap.TwoViewGeometryConfiguration.UNCALIBRATED
                geometry.F = F_SIDEWAYS
                geometry.inlier_matches = np.stack([seeds, seeds], 1).astype(np.uint32)
                db.write_two_view_geometry(ids[a], ids[b], geometry)
    before, after = add_local_matches(pycolmap, database, [f"{k}.png" for k in range(4)], 1.0, LocalMatching(gap=gap))
    pairs = sum(1 for a in range(4) for b in range(a + 1, min(a + gap, 3) + 1))
    assert before == 40 * pairs and after == n * pairs
    with pycolmap.Database.open(database) as db:
        far = db.read_two_view_geometry(ids[0], ids[3])
        assert len(far.inlier_matches) == 40
