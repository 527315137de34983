"""Flow-guided matching of a video's neighbouring frames: more of the features that SIFT finds get matched.

Lowe's ratio test compares a feature's best match with its second best over the whole frame. On repeated
texture (tiles, bricks, a grid of joints) the second best is the next tile, so the ratio test drops most
ground features: of about 1000 SIFT features per frame of the generated ``plaza`` walk (150 frames at
320x240), 200 survive to the next frame. Between neighbouring frames of a video, though, a feature moves
little and like its neighbours. So, for each pair ``gap`` frames apart or less, after COLMAP's matching and
geometric verification:

- each feature of the first frame is predicted in the second by the median motion of its ``neighbours``
  nearest verified matches;
- candidates lie within ``radius`` pixels of the prediction and within the verification tolerance of the
  epipolar line of the pair's fundamental matrix;
- the best candidate is kept when its descriptor is close (COLMAP's angle 0.7), it passes a ratio test
  against the other candidates (only those, not the whole frame) and it is the mutual best of the reverse
  search.

The new matches join the pair's verified (inlier) matches, which are what the mapper builds tracks from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from scipy.spatial import cKDTree

MAX_ANGLE = 0.7  # COLMAP's sift.max_distance: the angle (radians) between matched descriptors


@dataclass(frozen=True)
class LocalMatching:
    gap: int = 1
    neighbours: int = 8
    radius: float = 3.0  # pixels at 320 px; scales with the frame
    max_ratio: float = 0.7
    min_inliers: int = 30  # a pair with fewer verified matches has no motion to predict from


def epipolar_distance(F: np.ndarray, xa: np.ndarray, xb: np.ndarray) -> np.ndarray:
    """Matched ``(P, 2)`` points -> ``(P,)`` pixel distances of ``xb`` from the epipolar lines ``F xa``."""
    lines = np.concatenate([xa, np.ones((len(xa), 1))], 1) @ F.T  # (P, 3)
    return np.abs((lines[:, :2] * xb).sum(1) + lines[:, 2]) / np.linalg.norm(lines[:, :2], axis=1).clip(1e-12)


def predict(xa: np.ndarray, anchors_a: np.ndarray, anchors_b: np.ndarray, k: int) -> np.ndarray:
    """Positions ``(A, 2)`` moved by the median motion of their ``k`` nearest anchors ``(M, 2)`` -> ``(A, 2)``."""
    k = min(k, len(anchors_a))
    _, nearest = cKDTree(anchors_a).query(xa, k)
    nearest = nearest.reshape(len(xa), k)
    return xa + np.median((anchors_b - anchors_a)[nearest], axis=1)


def candidates(predicted: np.ndarray, x: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)`` with ``x[j]`` within ``radius`` of ``predicted[i]`` -> two ``(P,)`` arrays."""
    near = cKDTree(x).query_ball_point(predicted, radius)
    counts = np.fromiter((len(n) for n in near), int, len(near))
    j = np.fromiter((k for n in near for k in n), int, int(counts.sum()))
    return np.repeat(np.arange(len(predicted)), counts), j


def best_candidates(i: np.ndarray, j: np.ndarray, similarity: np.ndarray, n: int, max_ratio: float) -> np.ndarray:
    """Candidate pairs ``(P,)`` with descriptor cosines ``(P,)`` -> ``(n,)``: each ``i``'s match ``j`` or -1
    (close enough, COLMAP's angle, and passing the ratio test against ``i``'s other candidates)."""
    angle = np.arccos(np.clip(similarity, -1.0, 1.0))
    order = np.lexsort((angle, i))
    i, j, angle = i[order], j[order], angle[order]
    first = np.ones(len(i), bool)
    first[1:] = i[1:] != i[:-1]
    second = np.full(len(i), np.pi)  # the runner-up's angle, for each first candidate
    has_second = np.flatnonzero(first[:-1] & ~first[1:])
    second[has_second] = angle[has_second + 1]
    ok = first & (angle <= MAX_ANGLE) & (angle < max_ratio * second)
    match = np.full(n, -1)
    match[i[ok]] = j[ok]
    return match


def match_pair(xa, xb, da, db, F, inliers: np.ndarray, tolerance: float, config: LocalMatching) -> np.ndarray:
    """Keypoints ``(A, 2)``/``(B, 2)``, unit descriptors ``(A, 128)``/``(B, 128)``, the pair's fundamental matrix
    and verified matches ``(M, 2)`` -> the verified matches and the new ones ``(M', 2)``, each feature once."""
    radius = config.radius * tolerance  # the tolerance is 1 px per 320 px

    def search(xa, xb, da, db, F, anchors_a, anchors_b):
        i, j = candidates(predict(xa, anchors_a, anchors_b, config.neighbours), xb, radius)
        keep = epipolar_distance(F, xa[i], xb[j]) <= tolerance
        i, j = i[keep], j[keep]
        return best_candidates(i, j, (da[i] * db[j]).sum(1), len(xa), config.max_ratio)

    forward = search(xa, xb, da, db, F, xa[inliers[:, 0]], xb[inliers[:, 1]])
    reverse = search(xb, xa, db, da, F.T, xb[inliers[:, 1]], xa[inliers[:, 0]])
    a = np.flatnonzero(forward >= 0)
    a = a[reverse[forward[a]] == a]
    new = np.stack([a, forward[a]], 1)
    fresh = ~np.isin(new[:, 0], inliers[:, 0]) & ~np.isin(new[:, 1], inliers[:, 1])
    return np.concatenate([inliers, new[fresh]]).astype(np.uint32)


def unit_descriptors(database, image_id: int) -> np.ndarray:
    d = np.asarray(database.read_descriptors(image_id).data, dtype=np.float32)
    return d / np.linalg.norm(d, axis=1, keepdims=True).clip(1e-12)


def add_local_matches(pycolmap, database: Path, names: list[str], tolerance: float,
                      config: LocalMatching = LocalMatching(),
                      progress: Optional[Callable[[int, int], None]] = None) -> tuple[int, int]:
    """Add flow-guided matches to the verified pairs of ``names`` (frames in order) at most ``config.gap``
    apart -> (verified matches before, after) over those pairs."""
    fundamental = {pycolmap.TwoViewGeometryConfiguration.CALIBRATED,
                   pycolmap.TwoViewGeometryConfiguration.UNCALIBRATED}
    before = after = 0
    with pycolmap.Database.open(database) as db:
        ids = {image.name: image.image_id for image in db.read_all_images()}
        order = [ids[n] for n in names]
        cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

        def features(image_id: int):
            if image_id not in cache:
                xy = db.read_keypoints(image_id)[:, :2].astype(np.float64)
                cache[image_id] = (xy, unit_descriptors(db, image_id))
            return cache[image_id]

        for i, a in enumerate(order):
            for b in order[i + 1:i + 1 + config.gap]:
                if not db.exists_two_view_geometry(a, b):
                    continue
                geometry = db.read_two_view_geometry(a, b)
                inliers = np.asarray(geometry.inlier_matches)
                F = np.asarray(geometry.F)
                if geometry.config not in fundamental or len(inliers) < config.min_inliers or not F.any():
                    continue
                (xa, da), (xb, dbs) = features(a), features(b)
                matches = match_pair(xa, xb, da, dbs, F, inliers, tolerance, config)
                before, after = before + len(inliers), after + len(matches)
                geometry.inlier_matches = matches
                db.update_two_view_geometry(a, b, geometry)
            cache.pop(a, None)
            if progress:
                progress(i + 1, len(order))
    return before, after
