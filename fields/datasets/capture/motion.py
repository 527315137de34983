"""Does the camera move? A check between matching and mapping.

A camera on a tripod (a surveillance clip, a window view) matches well between frames, but its features do
not move, so there is nothing to triangulate: COLMAP's mapper would spend minutes and register nothing. On
verified pairs the median distance that inlier features move is a fraction of a pixel for a fixed camera
(0.2-0.5 px on OpenCV's ``vtest.avi`` and ``tree.avi`` at 320-384 px) and many pixels for a walk (10-25 px at
320 px between frames up to 10 apart), so the check takes the 90th percentile over pairs and compares it
with the frame-size tolerance of verification (1 px per 320 px).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from fields.errors import UserError

MIN_INLIERS = 15  # pairs with fewer verified matches say nothing about the motion


def feature_motion(pycolmap, database: Path) -> Optional[float]:
    """The 90th percentile, over verified pairs in ``database``, of the median distance (pixels) that their
    inlier features move; ``None`` when no pair has ``MIN_INLIERS`` inliers."""
    medians = []
    with pycolmap.Database.open(database) as db:
        keypoints = {image.image_id: db.read_keypoints(image.image_id)[:, :2] for image in db.read_all_images()}
        pair_ids, geometries = db.read_two_view_geometries()
    for pair_id, geometry in zip(pair_ids, geometries, strict=True):
        matches = geometry.inlier_matches
        if matches is None or len(matches) < MIN_INLIERS:
            continue
        first, second = pycolmap.pair_id_to_image_pair(pair_id)
        moved = keypoints[first][matches[:, 0]] - keypoints[second][matches[:, 1]]
        medians.append(float(np.median(np.linalg.norm(moved, axis=1))))
    return float(np.percentile(medians, 90)) if medians else None


def require_motion(pycolmap, database: Path, tolerance_px: float) -> None:
    """Raise a one-line ``UserError`` when the matched features of ``database`` hardly move."""
    moved = feature_motion(pycolmap, database)
    if moved is not None and moved < tolerance_px:
        raise UserError(f"the camera does not move: matched features shift {moved:.2f} px between frames; "
                        "structure from motion needs views from different places (walk around the scene, "
                        "not a camera on a tripod)")
