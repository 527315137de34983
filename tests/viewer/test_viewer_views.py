"""Viewer pieces without a browser: camera rays, the image view's modes, the progressive scheduler."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from fields.apps.viewer import ViewCamera, finish, view_for
from fields.apps.viewer.scheduler import RenderScheduler, Request
from fields.apps.viewer.views import View
from fields.errors import UserError


def test_camera_rays_point_where_they_should():
    camera = ViewCamera.look_at((0.0, -3.0, 0.0), (0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0), fov=math.radians(60.0))
    origins, directions = camera.rays(101, 81)
    assert origins.shape == directions.shape == (81, 101, 3)
    assert torch.allclose(directions[40, 50], torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)
    # the top row's centre is (almost) fov/2 above the axis, and up in the image is +z in the world
    top = directions[0, 50]
    assert top[2] > 0 and math.isclose(
        math.atan2(top[2], top[1]), math.atan(40 / 40.5 * math.tan(math.radians(30))), rel_tol=1e-5
    )
    assert directions[40, 100, 0] > 0  # right in the image is +x here
    assert torch.allclose(directions.norm(dim=-1), torch.ones(81, 101), atol=1e-6)


def test_camera_from_viser_quaternion_matches_rotation():
    vtf = pytest.importorskip("viser.transforms")
    camera = ViewCamera.look_at((1.0, 2.0, 0.5), (0.2, -0.3, 0.1), up=(0.0, 0.0, 1.0))
    wxyz = vtf.SO3.from_matrix(np.asarray(camera.rotation)).wxyz
    again = ViewCamera.from_wxyz(wxyz, camera.position, camera.fov)
    assert np.allclose(np.asarray(again.rotation), np.asarray(camera.rotation), atol=1e-9)


def filling_camera(view) -> ViewCamera:
    """A camera looking straight at the image plane with the image exactly filling its view."""
    fov = math.radians(40.0)
    distance = 0.5 * view.size[1] / math.tan(0.5 * fov)
    return ViewCamera.look_at((0.0, 0.0, distance), (0.0, 0.0, 0.0), view.up, fov)


def test_image_view_modes(image_run: Path):
    from fields.engine.run import load_run

    _, task = load_run(image_run)
    view = view_for(task, chunk=1000)
    camera = filling_camera(view)
    height, width = task.height, task.width
    target = finish(view.render("target", camera, width, height))
    expected = (task.pixels.reshape(height, width, -1).numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
    assert np.array_equal(target, expected)  # pixel centres land on the pixels themselves

    reconstruction = finish(view.render("reconstruction", camera, width, height)).astype(np.float64)
    mse = np.mean((reconstruction / 255 - expected / 255) ** 2)
    assert -10 * math.log10(mse) > 25.0

    error = finish(view.render("error", camera, width, height))
    assert error.shape == (height, width, 3) and not np.array_equal(error, target)
    # zoom: a camera 4x closer sees a quarter of the image at the same pixel count, so finer detail
    near = ViewCamera.look_at((0.0, 0.0, camera.position[2] / 4), (0.0, 0.0, 0.0), view.up, camera.fov)
    zoomed = finish(view.render("reconstruction", near, 256, 256))
    assert zoomed.shape == (256, 256, 3) and zoomed.std() > 5.0
    with pytest.raises(UserError, match="unknown render mode"):
        finish(view.render("nope", camera, 8, 8))


class CountingView(View):
    """Renders a constant image in chunks of rows, sleeping ``delay`` per chunk; records its sizes."""

    modes = ("a", "b")

    def __init__(self, delay: float = 0.0):
        super().__init__(task=None, chunk=1)
        self.delay = delay
        self.sizes: list[tuple[int, int]] = []
        self.chunks = 0

    def render(self, mode, camera, width, height):
        self.sizes.append((width, height))
        for _ in range(4):
            time.sleep(self.delay)
            self.chunks += 1
            yield
        return np.full((height, width, 3), 10 if mode == "a" else 200, np.uint8)


def test_scheduler_preview_then_full_and_budget():
    view = CountingView(delay=0.01)
    frames = []
    scheduler = RenderScheduler(view, lambda key, frame: frames.append((key, frame)), preview_scale=0.25, settle_s=0.1)
    camera = ViewCamera.look_at((0, 0, 1), (0, 0, 0))
    scheduler.request("c", Request("a", camera, 400, 200))
    assert scheduler.step(0.0) and view.chunks == 1  # a budget of nothing still renders one chunk
    scheduler.step(1.0)
    assert [f.level for _, f in frames] == ["preview"] and frames[0][1].image.shape == (50, 100, 3)
    assert not scheduler.step(1.0)  # the camera may still move: the full render waits for it to settle
    time.sleep(0.12)
    scheduler.step(1.0)
    assert [f.level for _, f in frames] == ["preview", "full"] and frames[1][1].image.shape == (200, 400, 3)
    assert not scheduler.pending()

    # a newer request replaces an unfinished one: its frame is never sent
    frames.clear()
    scheduler.request("c", Request("a", camera, 40, 20), preview=False)
    scheduler.step(0.0)
    scheduler.request("c", Request("b", camera, 40, 20), preview=False)
    scheduler.step(1.0)
    assert [f.request.mode for _, f in frames] == ["b"] and frames[0][1].image[0, 0, 0] == 200


def test_scheduler_thread_yields_to_training():
    view = CountingView()
    frames = []
    scheduler = RenderScheduler(view, lambda key, frame: frames.append(frame), settle_s=0.0)
    scheduler.start()
    try:
        with scheduler.hold():
            scheduler.training_active = True
        scheduler.request("c", Request("a", ViewCamera.look_at((0, 0, 1), (0, 0, 0)), 8, 8), preview=False)
        time.sleep(0.2)
        assert view.chunks == 0  # while training, only the training loop renders
        scheduler.training_active = False
        deadline = time.monotonic() + 5
        while not frames and time.monotonic() < deadline:
            time.sleep(0.01)
        assert frames and frames[0].level == "full"
    finally:
        scheduler.stop()
