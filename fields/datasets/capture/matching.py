"""Features and matches of a capture's images in a COLMAP database, shared by structure from motion
(``sfm``) and the refinement of given poses (``pose_refine``).

SIFT in chunks of images and matching in chunks of pairs, so a display advances per chunk. Pairs:
``sequential`` (each frame against its ``overlap`` successors plus a quadratic tail; videos),
``exhaustive`` (every pair; small photo sets), or ``auto`` (exhaustive up to ``EXHAUSTIVE_MAX`` images).
The pixel thresholds follow the frame size (``sfm_options``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator, Literal, Optional

from fields.datasets.capture.sfm_options import SfmTolerance, extraction_options, matching_options

Matching = Literal["auto", "sequential", "exhaustive"]
EXHAUSTIVE_MAX = 100


def threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


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


def chunks(items: list, updates: int = 40) -> Iterator[tuple[int, list]]:
    """``items`` in about ``updates`` consecutive chunks -> (items done after the chunk, chunk)."""
    size = max(1, -(-len(items) // updates))
    for start in range(0, len(items), size):
        yield min(start + size, len(items)), items[start:start + size]


def extract_features(pycolmap, images: Path, names: list[str], database: Path, reader,
                     max_features: int, progress: Optional[Callable[[int, int], None]]) -> SfmTolerance:
    """Import ``names`` of ``images`` as one shared camera (``reader``: ``ImageReaderOptions``) into a new
    ``database`` and extract their SIFT features; -> the frame-size tolerances."""
    with pycolmap.Database.open(database):  # import_images needs the file
        pass
    pycolmap.import_images(database, images, camera_mode=pycolmap.CameraMode.SINGLE, image_names=names,
                           options=reader)
    with pycolmap.Database.open(database) as db:
        camera = db.read_all_cameras()[0]  # one shared camera
    tolerance = SfmTolerance.for_size(camera.width, camera.height)
    extraction = extraction_options(pycolmap, tolerance, threads(), max_features)
    for done, chunk in chunks(names):
        pycolmap.extract_features(database, images, image_names=chunk, camera_mode=pycolmap.CameraMode.SINGLE,
                                  reader_options=reader, extraction_options=extraction, device=pycolmap.Device.cpu)
        if progress:
            progress(done, len(names))
    return tolerance


def match_pairs(pycolmap, names: list[str], database: Path, work: Path, tolerance: SfmTolerance,
                matching: Matching, progress: Optional[Callable[[int, int], None]]) -> None:
    """Match and geometrically verify the pairs of ``names`` that ``matching`` lists (pair lists in ``work``)."""
    options, verification = matching_options(pycolmap, tolerance, threads())
    sequential = matching == "sequential" or (matching == "auto" and len(names) > EXHAUSTIVE_MAX)
    pairs = sequential_pairs(names) if sequential else exhaustive_pairs(names)
    pairing = pycolmap.ImportedPairingOptions()
    pairing.match_list_path = work / "pairs.txt"
    for done, chunk in chunks(pairs):
        (work / "pairs.txt").write_text("".join(f"{a} {b}\n" for a, b in chunk))
        pycolmap.match_image_pairs(database, matching_options=options, pairing_options=pairing,
                                   verification_options=verification, device=pycolmap.Device.cpu)
        if progress:
            progress(done, len(pairs))
