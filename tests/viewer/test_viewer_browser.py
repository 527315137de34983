"""The viewer in a real browser (headless Chromium driven by playwright): the page loads, the field's
render arrives, and it changes with the render mode and the camera; the buttons work."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from tests.viewer.browser_helpers import free_port, settled_screenshot as screenshot, wait_for_frame

VIEWPORT = {"width": 1000, "height": 700}
CANVAS = {"x": 0, "y": 170, "width": 640, "height": 520}  # left of the panel, below the notifications


@pytest.fixture
def viewer(image_run: Path):
    from fields.apps.viewer.run import open_run

    viewer = open_run(image_run, port=free_port(), resolution=256)
    yield viewer
    viewer.close()


def open_page(browser, url: str):
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(url)
    page.wait_for_selector("canvas", timeout=30000)
    return page


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def test_render_modes_and_camera_in_browser(browser, viewer, image_run: Path):
    page = open_page(browser, viewer.url)
    try:
        frame = wait_for_frame(page, "reconstruction")
        reconstruction = screenshot(page, CANVAS)
        assert reconstruction.std() > 20.0, "the reconstruction looks blank"
        assert len(np.unique(reconstruction.reshape(-1, 3), axis=0)) > 500

        # change the render mode in the page's own dropdown
        page.get_by_role("combobox", name="Mode").click()
        page.get_by_role("option", name="error").click()
        frame = wait_for_frame(page, "error", after=frame)
        error = screenshot(page, CANVAS)
        assert error.std() > 5.0
        assert mean_abs_diff(error, reconstruction) > 30.0, "the error heat map looks like the reconstruction"

        page.get_by_role("combobox", name="Mode").click()
        page.get_by_role("option", name="target").click()
        frame = wait_for_frame(page, "target", after=frame)
        target = screenshot(page, CANVAS)
        # the fitted field resembles its target far more than its error map does
        assert mean_abs_diff(target, reconstruction) < 0.5 * mean_abs_diff(error, reconstruction)

        # orbit the camera with the mouse: the server sees the new camera and the image changes
        client = next(iter(viewer.server.get_clients().values()))
        before = np.array(client.camera.position)
        page.mouse.move(320, 430)
        page.mouse.down()
        page.mouse.move(420, 380, steps=12)
        page.mouse.up()
        frame = wait_for_frame(page, "target", after=frame)
        time.sleep(0.5)
        frame = wait_for_frame(page, "target", after=frame - 1)
        assert np.linalg.norm(np.array(client.camera.position) - before) > 1e-3
        moved = screenshot(page, CANVAS)
        assert moved.std() > 20.0
        assert mean_abs_diff(moved, target) > 10.0, "the image did not follow the camera"

        # zoom in with the wheel: the field is queried at a finer scale
        page.mouse.move(320, 430)
        page.mouse.wheel(0, -600)
        frame = wait_for_frame(page, "target", after=frame)
        time.sleep(0.5)
        wait_for_frame(page, "target", after=frame - 1)
        assert mean_abs_diff(screenshot(page, CANVAS), moved) > 5.0
    finally:
        page.close()


def test_screenshot_and_export_buttons(browser, viewer, image_run: Path):
    page = open_page(browser, viewer.url)
    try:
        wait_for_frame(page, "reconstruction")
        page.get_by_role("button", name="Save screenshot").click()
        deadline = time.monotonic() + 30
        shots: list[Path] = []
        while time.monotonic() < deadline and not shots:
            shots = sorted((image_run / "screenshots").glob("reconstruction-*.png"))
            time.sleep(0.1)
        assert shots, "no screenshot written"
        import imageio.v3 as iio

        image = iio.imread(shots[-1])
        assert max(image.shape[:2]) == 256 and image.std() > 20.0
        page.wait_for_function("document.body.innerText.includes('screenshot saved')", timeout=30000)

        # an image field has no mesh: the page says so instead of failing silently
        page.get_by_role("button", name="Export mesh").click()
        page.wait_for_function("document.body.innerText.includes('no mesh export')", timeout=30000)
    finally:
        page.close()



class Gate:
    """Test-only callback: holds training at step ``at`` (rendering meanwhile) until ``event`` is set."""

    def __init__(self, viewer, at: int):
        import threading

        self.viewer, self.at, self.event = viewer, at, threading.Event()

    def on_train_batch_end(self, trainer, *args):
        deadline = time.monotonic() + 120
        while trainer.global_step == self.at and not self.event.is_set() and time.monotonic() < deadline:
            if not self.viewer.scheduler.step(0.05):
                time.sleep(0.02)


def test_live_training_pause_and_resume(browser, image_run: Path, small_scene: Path, tmp_path: Path):
    """``image_run`` first: its fit builds any CPU kernel, so this run's steps come quickly."""
    import threading

    import pytorch_lightning as pl

    from fields.apps.viewer import Viewer, ViewerCallback
    from fields.engine.scene import load_scene
    from fields.engine.run import fit

    scene = load_scene(small_scene, ["train.steps=400", "train.batch_size=1024", "train.log_every=5"])
    viewer = Viewer(port=free_port(), resolution=128)
    gate = Gate(viewer, at=10)
    gate_callback = type("GateCallback", (pl.Callback,), {"on_train_batch_end": gate.on_train_batch_end})()
    results: list = []
    thread = threading.Thread(target=lambda: results.append(
        fit(scene, tmp_path / "live", callbacks=[ViewerCallback(viewer, refresh_s=0.2), gate_callback])))
    started = time.monotonic()
    thread.start()
    page = None
    try:
        page = open_page(browser, viewer.url)
        # rendered while training is under way (the first step may compile a CPU kernel: be patient)
        frame = wait_for_frame(page, "reconstruction", timeout_s=300)
        assert screenshot(page, CANVAS).std() > 10.0
        gate.event.set()
        page.get_by_role("button", name="Pause").click()
        page.wait_for_function("document.body.innerText.includes('paused')", timeout=30000)
        paused_at = viewer.training.step
        assert 10 <= paused_at < 400
        time.sleep(1.0)
        assert viewer.training.step == paused_at and thread.is_alive()
        # paused, the viewer still renders: the mode can change
        page.get_by_role("combobox", name="Mode").click()
        page.get_by_role("option", name="error").click()
        wait_for_frame(page, "error", after=frame)
        assert f"step {paused_at} / 400" in page.evaluate("document.body.innerText")

        page.get_by_role("button", name="Resume").click()
        thread.join(timeout=300)
        assert not thread.is_alive()
        page.wait_for_function("document.body.innerText.includes('finished')", timeout=30000)
        assert "step 400 / 400" in page.evaluate("document.body.innerText")
    finally:
        gate.event.set()
        viewer.training and viewer.training.resume()
        thread.join(timeout=300)
        if page is not None:
            page.close()
        viewer.close()
    run_dir, metrics = results[0]
    assert metrics["steps"] == 400 and metrics["psnr"] > 20.0
    # the second the run stood paused is not training time
    assert metrics["train_seconds"] < time.monotonic() - started - 1.0
