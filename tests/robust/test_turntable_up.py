"""Turntables turn about the chosen up axis: an object standing along that axis stays upright."""

from __future__ import annotations

import pytest
import torch

from fields.render.orbit import orbit_eye, up_vector
from fields.render.turntable import render_view


def capsule_along(axis: int):
    """SDF of a capsule through the cube's centre along ``axis`` (half length 0.3, radius 0.08)."""

    def sdf(x: torch.Tensor) -> torch.Tensor:
        p = x - 0.5
        along = p[:, axis].clamp(-0.3, 0.3)
        q = p.clone()
        q[:, axis] = p[:, axis] - along
        return q.norm(dim=-1) - 0.08

    return sdf


def silhouette(hit: torch.Tensor) -> tuple[int, int]:
    rows, cols = hit.any(1).nonzero(), hit.any(0).nonzero()
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


@pytest.mark.parametrize("up, axis", [("y", 1), ("z", 2), ("x", 0)])
def test_object_along_up_stands_upright(up: str, axis: int):
    for angle in (0.0, 130.0):
        view = render_view(capsule_along(axis), orbit_eye(angle, up=up), 48, 48, up=up)
        height, width = silhouette(view["hit"])
        assert height > 2 * width, (up, angle, height, width)


def test_z_up_orbit_lays_a_y_capsule_down():
    """The bug of issue 17: a y-up mesh in a z-up turntable lies on its side in some frames."""
    widths = []
    for angle in (0.0, 90.0):
        height, width = silhouette(render_view(capsule_along(1), orbit_eye(angle), 48, 48)["hit"])
        widths.append(width > height)
    assert any(widths)


def test_up_vectors():
    assert up_vector("y") == (0.0, 1.0, 0.0) and up_vector("z") == (0.0, 0.0, 1.0)
    eye = orbit_eye(0.0, radius=1.0, elevation_degrees=90.0, up="y")
    assert abs(eye[1] - 1.5) < 1e-6  # straight above the centre along y
