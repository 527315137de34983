"""COLMAP's matching and mapping options, with its pixel thresholds scaled to the frame size.

COLMAP's defaults (4 px for two-view RANSAC, triangulation and track filtering, 12 px for absolute pose)
suit megapixel photos. On small frames (a video downscaled to 320x240) 4 px is over 1% of the width: wrong
matches on repeated texture (tiles, bricks, a fence) that land near the epipolar line pass, join tracks and
bend the reconstruction (the generated ``plaza`` walk, 150 frames at 320x240: 1.46 degrees mean rotation
error with COLMAP's defaults, 0.31 with the settings here). So the tolerance is 1 px per 320 px of the
longer side, at least 1 px (SIFT keypoints are good to about 0.3 px at any size) and at most COLMAP's
4 px; absolute pose gets twice that. Lowe's ratio test is stricter than COLMAP's 0.8 for the same reason:
0.7 drops the ambiguous matches of repeated texture.
SIFT's contrast threshold (``peak_threshold``, COLMAP's 0.02 / 3 scales per octave) relaxes in proportion for
frames under 960 px: small frames have few keypoints (a 320x240 brick pavement about 640, 990 with it, and
its walk 0.34 degrees of rotation error instead of 0.40).
Structure from motion keeps points seen under a triangulation angle down to 0.2 degrees (COLMAP: 1.5). A video's
neighbouring frames are close, and an outdoor scene reaches the horizon: the far ground seen from a few metres of
walk spans well under 1.5 degrees, and those points are what pin the cameras' yaw apart from their sideways
position when the near texture is sparse (``plaza``, six runs over two walks: mean rotation error 0.33 -> 0.27
degrees, worst frame 0.69 -> 0.52 on average; quarry unchanged; garden mixed, one walk's worst frame 0.15-0.21 ->
0.29, another's 0.38-0.39 -> 0.29-0.33). A far point's depth is uncertain, its direction is not; bundle
adjustment uses the direction. The refinement of given poses (``pose_refine``), which starts a degree off, keeps
COLMAP's angle.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_RATIO = 0.7
PIXELS_PER_TOLERANCE = 320.0
PEAK_THRESHOLD = 0.02 / 3
FULL_CONTRAST_SIZE = 960.0
COLMAP_MIN_TRI_ANGLE = 1.5
SFM_MIN_TRI_ANGLE = 0.2


@dataclass(frozen=True)
class SfmTolerance:
    """Pixel thresholds of one reconstruction: ``verification`` (two-view RANSAC, track creation, merging and
    completion, filtering, initial pair) and ``absolute_pose`` (registering a new frame); SIFT's
    ``peak_threshold``."""

    verification: float
    absolute_pose: float
    peak_threshold: float = PEAK_THRESHOLD

    @classmethod
    def for_size(cls, width: int, height: int) -> "SfmTolerance":
        size = max(width, height)
        px = min(4.0, max(1.0, size / PIXELS_PER_TOLERANCE))
        return cls(px, min(12.0, 2.0 * px), PEAK_THRESHOLD * min(1.0, size / FULL_CONTRAST_SIZE))


def extraction_options(pycolmap, tolerance: SfmTolerance, threads: int, max_features: int):
    """-> ``FeatureExtractionOptions`` (SIFT on the CPU)."""
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.num_threads = threads
    extraction.sift.max_num_features = max_features
    extraction.sift.peak_threshold = tolerance.peak_threshold
    return extraction


def matching_options(pycolmap, tolerance: SfmTolerance, threads: int):
    """-> ``(FeatureMatchingOptions, TwoViewGeometryOptions)``."""
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = threads
    matching.sift.max_ratio = MAX_RATIO
    verification = pycolmap.TwoViewGeometryOptions()
    verification.ransac.max_error = tolerance.verification
    return matching, verification


def mapper_options(pycolmap, tolerance: SfmTolerance, threads: int, min_tri_angle: float = COLMAP_MIN_TRI_ANGLE):
    """-> ``IncrementalPipelineOptions`` for a reproducible run (seeded) that may start several models (a bad
    first initial pair, a planar ground or a wrong focal prior, can leave a 2-view model; the next succeeds).
    ``min_tri_angle`` (degrees): the smallest triangulation angle a point is created or kept with."""
    mapper = pycolmap.IncrementalPipelineOptions()
    mapper.num_threads = threads
    mapper.multiple_models = True
    mapper.random_seed = 0
    px = tolerance.verification
    mapper.mapper.init_max_error = px
    mapper.mapper.filter_max_reproj_error = px
    mapper.mapper.abs_pose_max_error = tolerance.absolute_pose
    mapper.triangulation.merge_max_reproj_error = px
    mapper.triangulation.complete_max_reproj_error = px
    mapper.mapper.filter_min_tri_angle = min_tri_angle
    mapper.triangulation.min_angle = min_tri_angle
    return mapper
