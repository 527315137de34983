"""The heat-map modes (depth, the image error) show their colour key in the panel; the other modes hide it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fields.apps.viewer.colormaps import colour_bar, legend
from tests.viewer.browser_helpers import free_port


def test_colour_bar_runs_from_dark_blue_to_dark_red():
    bar = colour_bar(200, 10)
    assert bar.shape == (10, 200, 3) and bar.dtype == np.uint8
    assert bar[0, 30, 2] > bar[0, 30, 0] and bar[0, -10, 0] > bar[0, -10, 2]  # blue near/low, red far/high


def test_legend_names_the_scale():
    assert "near" in legend("depth", object()) and "far" in legend("depth", object())

    class ImageView:
        error_scale = 0.1

    assert "0.1" in legend("error", ImageView())
    assert legend("rgb", object()) is None and legend("shaded", object()) is None


def test_the_key_follows_the_mode(image_run: Path):
    pytest.importorskip("viser")
    from fields.apps.viewer.run import open_run

    viewer = open_run(image_run, port=free_port())
    try:
        assert not viewer.colour_key.visible
        viewer.mode.value = "error"
        viewer._mode_changed()
        assert viewer.colour_key.visible and "absolute error" in viewer.colour_text.content
        viewer.mode.value = "reconstruction"
        viewer._mode_changed()
        assert not viewer.colour_key.visible and not viewer.colour_text.visible
    finally:
        viewer.close()
