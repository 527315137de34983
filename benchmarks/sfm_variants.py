"""Structure from motion with one COLMAP option changed per row, on a generated walk's video.

    python -m benchmarks.captures --scenes plaza --no-fits --out DIR      # render a walk (DIR/captures-*/plaza)
    python -m benchmarks.sfm_variants DIR/captures-*/plaza --variants none tri-1.5 ratio-0.8 --runs 2

Each row runs ``run_sfm`` on the MP4's frames (``--frames``, extracted once) with the settings of
``sfm_options`` and one change (``VARIANTS``), and prints the rotation and position errors after the
similarity alignment to ``truth.json``, as ``benchmarks.captures`` does. COLMAP's threads make runs
differ: give each variant two or more ``--runs``. ``none`` changes nothing (the current settings, with a
0.2-degree triangulation angle); ``tri-1.5`` is COLMAP's angle, the settings before that.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def _angle(degrees: float):
    def change(mapper):
        mapper.mapper.filter_min_tri_angle = degrees
        mapper.triangulation.min_angle = degrees
    return change


def _set(path: str, value):
    def change(options):
        *head, last = path.split(".")
        for name in head:
            options = getattr(options, name)
        setattr(options, last, value)
    return change


# name -> (which options: extraction, matching, mapper or pairs, the change)
VARIANTS = {
    "none": ("mapper", lambda mapper: None),
    "tri-1.5": ("mapper", _angle(1.5)),
    "tri-0.5": ("mapper", _angle(0.5)),
    "tri-0.2": ("mapper", _angle(0.2)),
    "tri-0.1": ("mapper", _angle(0.1)),
    "dsp-sift": ("extraction", _set("sift.domain_size_pooling", True)),
    "affine": ("extraction", _set("sift.estimate_affine_shape", True)),
    "guided": ("matching", _set("guided_matching", True)),
    "cross-check": ("matching", _set("sift.cross_check", True)),
    "ratio-0.8": ("matching", _set("sift.max_ratio", 0.8)),
    "ratio-0.6": ("matching", _set("sift.max_ratio", 0.6)),
    "overlap-20": ("pairs", 20),
    "refinements-3": ("mapper", _set("ba_global_max_refinements", 3)),
    "scales-4": ("extraction", _set("sift.octave_resolution", 4)),
    "upright": ("extraction", _set("sift.upright", True)),
}


def patched(variant: str):
    """Patch ``matching``/``sfm``'s option builders so that ``run_sfm`` uses ``variant``; -> undo."""
    import fields.datasets.capture.matching as matching
    import fields.datasets.capture.sfm as sfm

    kind, change = VARIANTS[variant]
    saved = (matching.extraction_options, matching.matching_options, sfm.mapper_options, matching.sequential_pairs)
    extraction, match, mapper, pairs = saved
    if kind == "extraction":
        matching.extraction_options = lambda *a: _changed(extraction(*a), change)
    elif kind == "matching":
        def changed_matching(*a):
            options, verification = match(*a)
            return _changed(options, change), verification
        matching.matching_options = changed_matching
    elif kind == "mapper":
        sfm.mapper_options = lambda *a: _changed(mapper(*a), change)
    else:
        matching.sequential_pairs = lambda names, overlap=10: pairs(names, change)

    def undo():
        matching.extraction_options, matching.matching_options, sfm.mapper_options, matching.sequential_pairs = saved
    return undo


def _changed(options, change):
    change(options)
    return options


def errors(model_dir: Path, truth: dict) -> tuple:
    """-> (registered, rotation mean, max (degrees), position mean, max (% of the extent))."""
    import pycolmap

    from fields.datasets.capture.align import pose_errors

    model = pycolmap.Reconstruction(model_dir)
    est = {Path(im.name).stem: im.cam_from_world().inverse().matrix() for im in model.images.values()}
    frames = [f for f in truth["frames"] if Path(f["file_path"]).stem in est]
    e = pose_errors(np.stack([est[Path(f["file_path"]).stem] for f in frames]),
                    np.stack([np.array(f["c2w"])[:3] for f in frames]))
    return (len(frames), e.rotation_mean_deg, e.rotation_max_deg, 100 * e.position_mean, 100 * e.position_max)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", type=Path, help="a folder of benchmarks.captures: capture.mp4, truth.json")
    parser.add_argument("--variants", nargs="+", default=["none", "tri-1.5"], choices=sorted(VARIANTS))
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--frames", type=int, default=150)
    args = parser.parse_args()
    from fields.datasets.capture.frames import extract_video_frames
    from fields.datasets.capture.sfm import run_sfm

    truth = json.loads((args.capture / "truth.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        frames = Path(tmp) / "frames"
        extract_video_frames(args.capture / "capture.mp4", frames, args.frames)
        print("| variant | run | registered | rotation mean/max (deg) | position mean/max (%) | points | seconds |")
        print("|---|---|---|---|---|---|---|")
        for variant in args.variants:
            for run in range(args.runs):
                work = Path(tmp) / f"{variant}-{run}"
                undo = patched(variant)
                try:
                    started = time.perf_counter()
                    result = run_sfm(frames, work / "work", work / "out", "sequential")
                    seconds = time.perf_counter() - started
                finally:
                    undo()
                n, r_mean, r_max, p_mean, p_max = errors(work / "out" / "sparse" / "0", truth)
                print(f"| {variant} | {run + 1} | {n}/{args.frames} | {r_mean:.3f}/{r_max:.3f} | "
                      f"{p_mean:.3f}/{p_max:.3f} | {result.n_points} | {seconds:.0f} |", flush=True)
                shutil.rmtree(work)


if __name__ == "__main__":
    main()
