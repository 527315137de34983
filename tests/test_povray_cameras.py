"""The POV-Ray renderer's cameras (``fields.datasets.povray_render``): a small sphere rendered by POV-Ray lands
on the pixel where the written camera-to-world projects its centre, for the look-at cameras of
``povray:NAME`` scenes and captures and for the explicit cameras of the radiance tuning scenes."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from fields.datasets.povray_render import (explicit_camera, homogeneous, look_at_pose, orbit_poses, run_povray,
                                           sphere_locations)

pytestmark = pytest.mark.skipif(shutil.which("povray") is None, reason="needs POV-Ray (apt-get install povray)")
SIZE = 96
OPTIONS = ("+UA", "-A", "+FN8", "-D", "-V", "-GA")


def projected(pose: np.ndarray, point: np.ndarray, angle_x: float) -> np.ndarray:
    """Pixel ``(x, y)`` of a world ``point`` seen by an OpenGL camera-to-world ``pose`` (square image)."""
    p = pose[:3, :3].T @ (point - pose[:3, 3])  # camera frame: x right, y up, z back
    focal = 0.5 * SIZE / math.tan(angle_x / 2)
    return np.array([SIZE / 2 + focal * p[0] / -p[2], SIZE / 2 - focal * p[1] / -p[2]])


def sphere_centre(path: Path) -> np.ndarray:
    """Centroid ``(x, y)`` of the opaque pixels (pixel centres at ``i + 0.5``)."""
    alpha = iio.imread(path)[..., 3] > 127
    ys, xs = np.nonzero(alpha)
    assert 10 < len(xs) < alpha.size / 4, len(xs)
    return np.array([xs.mean() + 0.5, ys.mean() + 0.5])


def render(tmp_path: Path, text: str, declares=None) -> Path:
    source, out = tmp_path / "scene.pov", tmp_path / "view.png"
    source.write_text(text)
    run_povray(source, out, SIZE, SIZE, OPTIONS, tmp_path, declares)
    assert out.is_file() and not list(tmp_path.glob(".*.tmp.png"))
    return out


def test_look_at_cameras_project_as_their_written_pose(tmp_path: Path):
    centre_pov = np.array([0.6, 0.3, -0.4])  # POV-Ray coordinates: y up, left-handed
    scene = ("camera { perspective location <CX, CY, CZ> look_at <0, 0, 0> sky <0, 1, 0> right x up y angle 40 }\n"
             "sphere { <0.6, 0.3, -0.4>, 0.08 pigment { rgb 1 } finish { ambient 1 } }\n")
    for location in sphere_locations(3, 4.5, seed=1):
        view = render(tmp_path, scene, dict(zip(("CX", "CY", "CZ"), location)))
        pose = homogeneous(look_at_pose(location))
        expected = projected(pose, centre_pov[[0, 2, 1]], math.radians(40.0))
        assert np.abs(sphere_centre(view) - expected).max() < 0.75, (sphere_centre(view), expected)
        opencv = look_at_pose(location, axes="opencv")  # the captures' truth.json: y and z axes flipped
        assert np.allclose(opencv[:, [0, 3]], pose[:3, [0, 3]]) and np.allclose(opencv[:, 1:3], -pose[:3, 1:3])


def test_explicit_cameras_project_as_their_pose(tmp_path: Path):
    centre = np.array([0.3, -0.5, 0.2])  # the scene written in world coordinates (z up)
    angle_x = 0.69
    for pose in orbit_poses(3, 4.0, np.random.default_rng(2)):
        sphere = "sphere { <0.3, -0.5, 0.2>, 0.08 pigment { rgb 1 } finish { ambient 1 } }\n"
        view = render(tmp_path, explicit_camera(pose, angle_x) + sphere)
        expected = projected(pose, centre, angle_x)
        assert np.abs(sphere_centre(view) - expected).max() < 0.75, (sphere_centre(view), expected)
