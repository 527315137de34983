"""Viewer test setup: a small fitted image run, free ports, and headless Chromium through playwright."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import SMALL_IMAGE_SCENE

CHROMIUM = os.environ.get("FIELDS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


@pytest.fixture(scope="session")
def image_run(tmp_path_factory) -> Path:
    """A run folder of a small image field, fitted once for all viewer tests."""
    from fields.engine.scene import load_scene
    from fields.engine.run import fit

    folder = tmp_path_factory.mktemp("viewer")
    scene_path = folder / "small.yaml"
    scene_path.write_text(
        SMALL_IMAGE_SCENE.replace("skimage:camera", "skimage:astronaut").replace("max_size: 64", "max_size: 48")
    )
    run_dir, metrics = fit(load_scene(scene_path, ["train.steps=100", "train.log_every=5"]), folder / "run")
    assert metrics["psnr"] > 25.0, metrics
    return run_dir


@pytest.fixture(scope="session")
def browser():
    pytest.importorskip("viser")
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
