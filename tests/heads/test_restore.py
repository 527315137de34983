"""Image restoration: pairs, the restore task, a real (small) training with a positive held-out gain."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fields.engine.scene import load_scene, scene_from_dict
from fields.errors import UserError
from fields.datasets.restore_pairs import PairsConfig, gaussian_blur, restore_pairs, square_image
from tests.conftest import ROOT

SMALL_UNET = {"type": "unet", "dims": [16, 32], "depths": [1, 1], "skip": "cross_gating",
              "mixer": {"type": "maxim", "grid_size": 4, "block_size": 4}}


def small_scene(tmp_path: Path, pairs: dict, steps: int, images: list[str]) -> dict:
    return {
        "task": "restore",
        "data": {
            "images": images,
            "test_images": ["camera"],
            "pairs": {"size": 32, **pairs},
            "patch": 32,
            "cache_dir": str(tmp_path / "cache"),
        },
        "head": SMALL_UNET,
        "train": {
            "steps": steps,
            "batch_size": 8,
            "progress": False,
            "threads": 1,
            "checkpoint_every": 1000,
            "loss": "l1",
            "optimizer": {"type": "adamw", "lr": 2e-3, "eps": 1e-8},
        },
    }


def test_pairs_are_degraded_copies():
    clean = square_image("astronaut", 32)
    assert clean.shape == (3, 32, 32) and 0 <= clean.min() and clean.max() <= 1
    degraded, target = restore_pairs(["astronaut", "camera"], PairsConfig(size=32, noise_std=0.1))
    assert degraded.shape == target.shape == (2, 3, 32, 32)
    assert abs(float((degraded - target).std()) - 0.1) < 0.02
    blurred = gaussian_blur(target, 1.5)
    assert (
        torch.allclose(blurred.mean(), target.mean(), atol=0.02)
        and blurred.diff(dim=-1).abs().mean() < target.diff(dim=-1).abs().mean()
    )


def test_denoising_gain_is_positive_on_held_out_images(tmp_path: Path):
    from fields.engine.run import fit

    scene = scene_from_dict(small_scene(tmp_path, {"source": "synthetic", "noise_std": 0.1}, 80,
                                        ["astronaut", "coffee", "chelsea", "brick"]))
    run_dir, metrics = fit(scene, tmp_path / "run")
    # the identity (an untrained global-residual UNet) gains 0 dB; a broken head loses dBs
    assert metrics["psnr_gain"] > 0.5 and metrics["psnr_gain_min"] > 0, metrics
    assert (run_dir / "restored.png").is_file()


def test_render_pairs_restoration_gains(tmp_path: Path):
    """Early-stopped (20 steps) against converged (150 steps) renders of image fields."""
    from fields.engine.run import fit

    pairs = {"source": "renders", "early_steps": 20, "converged_steps": 150}
    scene = scene_from_dict(small_scene(tmp_path, pairs, 100, ["astronaut", "coffee", "chelsea", "brick"]))
    _, metrics = fit(scene, tmp_path / "run")
    assert metrics["psnr_degraded"] < 25 and metrics["psnr_gain"] > 0.2, metrics
    assert len(list((tmp_path / "cache").glob("render-pairs-*.safetensors"))) == 2  # train and held-out pairs cached


def test_restore_scenes_validate():
    for name in ("restore_maxim", "restore_renders"):
        scene = load_scene(ROOT / f"configs/heads/{name}.yaml")
        assert scene.task == "restore" and scene.head.type == "unet"
    assert scene_from_dict({"task": "restore", "data": {}}).head.skip == "cross_gating"  # the MAXIM default
    with pytest.raises(UserError, match="image-to-image head"):
        scene_from_dict({"task": "restore", "data": {}, "head": {"type": "channel_set"}})
    with pytest.raises(UserError, match="no scikit-image image 'nope'"):
        scene_from_dict({"task": "restore", "data": {"images": ["nope"]}})
    with pytest.raises(UserError, match="patch 64 is larger"):
        scene_from_dict({"task": "restore", "data": {"patch": 64, "pairs": {"size": 32}}})
