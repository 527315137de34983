"""The POV-Ray renderer and cameras shared by the generated scenes (``fields.datasets.povray``: posed views
for splats and radiance fields; ``fields.datasets.capture.povray``: hand-held walks for structure from
motion; ``benchmarks/povray_scenes.py``: radiance tuning scenes). The scenes themselves are data (scene
description text, camera settings, render options) in those modules.

Axes: POV-Ray is left-handed with y up; the world of the written cameras is right-handed with z up,
POV-Ray's ``(x, z, y)`` (``POV_TO_WORLD``, a swap of y and z). A POV-Ray ``look_at`` camera at ``location``
with ``sky`` has image right ``sky x direction`` and image up ``direction x right`` (in POV-Ray's
left-handed frame); ``look_at_pose`` gives its camera-to-world in the world, OpenGL axes (right, up,
back) or OpenCV axes (right, down, forward). A camera written with explicit vectors (``explicit_camera``)
takes them as given, so a scene may also be written in world coordinates directly.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, Optional

import numpy as np
from rich.progress import Progress

from fields.errors import UserError
from fields.io.atomic import atomic_write_text

INCLUDES = '#include "colors.inc"\n#include "textures.inc"\n#include "stones.inc"\n#include "woods.inc"\n'
POV_TO_WORLD = [0, 2, 1]  # world = pov[POV_TO_WORLD] and back (a swap of y and z: its own inverse)
INCLUDE_PATH = "+L/usr/share/povray-3.7/include"


def require_povray(purpose: str = "POV-Ray scenes") -> str:
    """The ``povray`` program, or a one-line error naming the Debian packages."""
    program = shutil.which("povray")
    if program is None:
        raise UserError(f"{purpose} need the povray program (apt-get install povray povray-includes)")
    return program


def run_povray(source: Path, output: Path, width: int, height: int, options: Sequence[str], cwd: Optional[Path] = None,
               declares: Optional[dict[str, float]] = None, animation: bool = False) -> None:
    """Render ``source`` to ``output`` (``width x height``; ``options``: antialiasing, format, animation...;
    ``declares``: ``Declare=NAME=value`` identifiers). One image goes to a hidden temporary beside
    ``output``, renamed when complete; an ``animation`` writes POV-Ray's numbered frames. A failure raises
    a one-line ``UserError``."""
    tmp = output if animation else output.with_name(f".{output.stem}.tmp.png")
    command = [require_povray(), f"+I{source}", f"+O{tmp}", f"+W{width}", f"+H{height}", *options]
    command += [f"Declare={name}={value:.6f}" for name, value in (declares or {}).items()]
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, check=False)
    if result.returncode != 0 or not (animation or tmp.is_file()):
        last = result.stderr.strip().splitlines()[-1:] or [f"exit code {result.returncode}"]
        raise UserError(f"povray failed on {Path(source).name}: {last[0]}")
    if not animation:
        tmp.replace(output)


def render_all(jobs: Sequence[Callable[[], None]], description: str, workers: int = 2) -> None:
    """Run render ``jobs`` on ``workers`` threads (each job runs one povray process) with a progress bar."""
    with Progress(transient=True) as progress, ThreadPoolExecutor(workers) as pool:
        bar = progress.add_task(description, total=len(jobs))
        for _ in pool.map(lambda job: job(), jobs):
            progress.advance(bar)


def look_at_pose(location: np.ndarray, target: np.ndarray = np.zeros(3),
                 axes: Literal["opengl", "opencv"] = "opengl") -> np.ndarray:
    """The camera-to-world ``(3, 4)`` in the world of a POV-Ray ``look_at`` camera (``sky <0, 1, 0>``) at
    ``location`` looking at ``target``, both in POV-Ray coordinates; columns right, up, back, position
    (OpenGL) or right, down, forward, position (OpenCV)."""
    direction = (target - location) / np.linalg.norm(target - location)
    right = np.cross([0.0, 1.0, 0.0], direction)
    right /= np.linalg.norm(right)
    up = np.cross(direction, right)
    r, u, d, p = (np.asarray(v)[POV_TO_WORLD] for v in (right, up, direction, location))
    rotation = np.stack([r, u, -d] if axes == "opengl" else [r, -u, d], 1)
    return np.concatenate([rotation, p[:, None]], 1)


def homogeneous(pose: np.ndarray) -> np.ndarray:
    """``(3, 4)`` -> ``(4, 4)`` with the last row ``0 0 0 1``."""
    out = np.eye(4)
    out[:3] = pose
    return out


def sphere_locations(n: int, radius: float, seed: int, elevation: tuple[float, float] = (10.0, 70.0)) -> np.ndarray:
    """``n`` POV-Ray locations ``(n, 3)`` on a sphere around the origin (y up), elevation uniform in degrees."""
    rng = np.random.default_rng(seed)
    azimuth = rng.uniform(0, 2 * math.pi, n)
    elev = np.radians(rng.uniform(*elevation, n))
    return radius * np.stack([np.cos(elev) * np.cos(azimuth), np.sin(elev), np.cos(elev) * np.sin(azimuth)], 1)


def orbit_poses(n: int, radius: float, rng: np.random.Generator, sine: tuple[float, float] = (0.1, 0.85)) -> np.ndarray:
    """``(n, 4, 4)`` OpenGL camera-to-world matrices in the world (z up) on a sphere's upper part (the sine of
    the elevation uniform in ``sine``), looking at the centre; drawn from ``rng`` camera after camera."""
    poses = []
    for _ in range(n):
        azimuth, elevation = rng.uniform(0, 2 * math.pi), math.asin(rng.uniform(*sine))
        eye = radius * np.array(
            [math.cos(elevation) * math.cos(azimuth), math.cos(elevation) * math.sin(azimuth), math.sin(elevation)]
        )
        back = eye / np.linalg.norm(eye)
        right = np.cross([0.0, 0.0, 1.0], back)
        right /= np.linalg.norm(right)
        up = np.cross(back, right)
        pose = np.eye(4)
        pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, up, back, eye
        poses.append(pose)
    return np.stack(poses)


def explicit_camera(pose: np.ndarray, angle_x: float) -> str:
    """A POV-Ray camera statement with explicit vectors from an OpenGL camera-to-world ``pose`` (the scene's
    own coordinates) and horizontal field of view ``angle_x`` (radians) of a square image: its rays are the
    pinhole rays of ``pose``."""
    right, up, back, eye = pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3]
    direction = -back * 0.5 / math.tan(angle_x / 2)  # the image plane spans 1 unit of right and up

    def vec(v: np.ndarray) -> str:
        return "<" + ", ".join(f"{float(c):.9f}" for c in v) + ">"

    return f"camera {{ perspective location {vec(eye)} right {vec(right)} up {vec(up)} direction {vec(direction)} }}\n"


def write_transforms(folder: Path, split: str, camera_angle_x: float, poses: Sequence[np.ndarray], **meta) -> Path:
    """``folder/transforms_{split}.json`` in the Blender layout (``./{split}/r_K`` images), atomically."""
    frames = [{"file_path": f"./{split}/r_{k}", "transform_matrix": np.asarray(pose).tolist()}
              for k, pose in enumerate(poses)]
    path = folder / f"transforms_{split}.json"
    atomic_write_text(path, json.dumps({"camera_angle_x": camera_angle_x, **meta, "frames": frames}, indent=1))
    return path
