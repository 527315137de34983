"""Captures with wrong cameras, for checking pose refinement: the training views' poses of a
``transforms.json`` turned by a fixed angle about random axes and moved by a fixed share of the extent of
the camera centres (the held-out views, every ``test_every``-th, keep their poses)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np


def rotation_about(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues: ``(3,)`` axis (any length), angle in radians -> ``(3, 3)``."""
    a = axis / np.linalg.norm(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)


def perturb_transforms(folder: str | Path, out: str | Path, degrees: float, extent_fraction: float, seed: int = 0,
                       test_every: int = 8) -> Path:
    """``folder/transforms.json`` (and its images, linked) -> ``out`` with the training views' poses turned
    by ``degrees`` and moved by ``extent_fraction`` of the extent (the diagonal of the centres' box). A
    Blender split (``transforms_train.json`` and ``transforms_test.json``): every training frame is moved."""
    folder, out = Path(folder), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    split = (folder / "transforms_train.json").is_file()
    name = "transforms_train.json" if split else "transforms.json"
    meta = json.loads((folder / name).read_text())
    test_meta = folder / "transforms_test.json"
    frames = meta["frames"] + (json.loads(test_meta.read_text())["frames"] if split and test_meta.is_file() else [])
    paths = [Path(f["file_path"]) for f in frames]
    # only the folders the frames name are linked: ``out`` may lie inside ``folder`` (a link to itself loops)
    for top in sorted({p.parts[0] for p in paths if len(p.parts) > 1 and not p.is_absolute()}):
        item = folder / top
        if item.is_dir() and item.resolve() != out.resolve() and not (out / top).exists():
            (out / top).symlink_to(item.resolve())
    if split and test_meta.is_file():
        (out / "transforms_test.json").write_text(test_meta.read_text())
    centres = np.array([f["transform_matrix"] for f in meta["frames"]])[:, :3, 3]
    extent = float(np.linalg.norm(centres.max(0) - centres.min(0)))
    rng = np.random.default_rng(seed)
    for i, frame in enumerate(meta["frames"]):
        if i % test_every == 0 and not split:
            continue
        c2w = np.array(frame["transform_matrix"], dtype=np.float64)
        c2w[:3, :3] = rotation_about(rng.normal(size=3), math.radians(degrees)) @ c2w[:3, :3]
        shift = rng.normal(size=3)
        c2w[:3, 3] += extent_fraction * extent * shift / np.linalg.norm(shift)
        frame["transform_matrix"] = c2w.tolist()
    (out / name).write_text(json.dumps(meta, indent=1))
    return out
