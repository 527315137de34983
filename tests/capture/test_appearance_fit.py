"""Appearance codes in a fit: a small generated walk (POV-Ray) whose training frames were shot at three
exposures (gains 0.7, 1 and 1.4, clipped as a camera clips), the held-out frames at gain 1. The capture
recipe's codes must explain the exposures away; a field without them blurs the three into one and
floats colour into the air."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fields.engine.run import fit
from fields.engine.scene import load_scene

pytestmark = pytest.mark.skipif(shutil.which("povray") is None, reason="needs POV-Ray (apt-get install povray)")
CONFIG = Path(__file__).resolve().parents[2] / "configs" / "radiance" / "capture.yaml"
SMALL = ["train.batch_size=256", "train.progress=false", "model.encoder.log2_hashmap_size=15",
         "model.encoder.max_resolution=512", "render.proposal_samples=[64, 32]", "render.n_samples=24",
         "train.steps=300", "train.max_time=null"]
GAINS = (0.7, 1.0, 1.4)


@pytest.fixture(scope="module")
def exposed(tmp_path_factory) -> Path:
    import imageio.v3 as iio
    import numpy as np

    from fields.datasets.capture.povray import render_capture, write_truth_transforms

    folder = render_capture(tmp_path_factory.mktemp("exposures"), "garden", n_frames=32, width=80, height=60,
                            arc=200, video=False)
    write_truth_transforms(folder)
    for i, path in enumerate(sorted((folder / "images").glob("*.png"))):
        if i % 8:  # held-out views (every 8th) keep gain 1
            image = iio.imread(path).astype(np.float64) * GAINS[i % 3]
            iio.imwrite(path, np.clip(np.round(image), 0, 255).astype(np.uint8))
    return folder


def test_appearance_codes_explain_exposure_changes(exposed, tmp_path):
    psnr = {}
    for name, dim in (("codes", 32), ("none", 0)):
        scene = load_scene(str(CONFIG), [f"data.path={exposed}", f"output.dir={tmp_path}", f"output.name={name}",
                                         f"render.appearance_dim={dim}", *SMALL])
        psnr[name] = fit(scene, scene_name="exposures")[1]["psnr"]
    # measured 2026-12-06 (codes at the recipe's 1e-3): 24.40 dB with codes, 18.31 without
    assert psnr["codes"] > psnr["none"] + 3.0, psnr
