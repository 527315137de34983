"""Tri-plane field classification: shapes, the batched fit, the set model's invariance, real training."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import torch

from fields.engine.scene import load_scene, scene_from_dict
from fields.datasets.shapes_collection import CLASSES, sample_shapes
from fields.errors import UserError
from fields.heads import BACKBONES
from fields.heads.channel_set import permute_channels
from fields.datasets.triplane_dataset import TriplaneDatasetConfig, cached_triplane_dataset, load_triplane_dataset
from fields.datasets.triplane_fit import (
    BatchedTriplaneField,
    TriplaneFitConfig,
    field_iou,
    fit_fields,
    sample_planes,
    training_pool,
)
from fields.heads.triplane_symmetry import transform_planes, transform_points
from tests.conftest import ROOT

TINY_FIT = dict(resolution=16, channels=8, pe_frequencies=4, hidden=16, hidden_layers=2, points_per_step=512,
                pool_points=8192, iou_points=8192, batch_shapes=64)


def test_shape_collection_is_varied_and_inside_the_cube():
    g = torch.Generator().manual_seed(0)
    shapes = sample_shapes(2 * len(CLASSES), g)
    assert len(CLASSES) >= 10 and shapes.labels.tolist() == list(range(len(CLASSES))) * 2
    x = torch.rand(len(shapes), 8192, 3, generator=g) * 2 - 1
    fraction = shapes.occupancy(x).float().mean(1)
    assert (fraction > 0.005).all() and (fraction < 0.5).all(), fraction
    # the same class twice differs (pose, scale, parameters)
    assert (shapes.occupancy(x)[: len(CLASSES)] != shapes.occupancy(x)[len(CLASSES):]).float().mean() > 0.01
    surface = shapes.surface_points(256, g)
    assert shapes.sdf(surface).abs().median() < 1e-3


def test_symmetries_map_planes_and_points_consistently():
    planes, x = torch.randn(2, 3, 4, 8, 8), torch.rand(2, 50, 3) * 2 - 1
    ref = sample_planes(planes, x)
    for perm in itertools.permutations(range(3)):
        for flips in itertools.product([False, True], repeat=3):
            moved = sample_planes(transform_planes(planes, perm, flips), transform_points(x, perm, flips))
            assert torch.allclose(moved, ref, atol=1e-5), (perm, flips)


@pytest.mark.parametrize("tokens", ["channel", "channel_triplet"])
def test_channel_set_is_invariant_to_channel_order(tokens):
    config = BACKBONES.validate({"type": "channel_set", "tokens": tokens, "dim": 32, "depth": 2, "heads": 2})
    model = BACKBONES.build(config, 3 * 6, 5, 8).eval()
    planes = torch.randn(4, 18, 8, 8)
    shared = permute_channels(planes, torch.randperm(6))  # the symmetry of independent fits
    arbitrary = planes[:, torch.randperm(18)]  # mixes channels across planes
    with torch.no_grad():
        out = model(planes)
        assert torch.allclose(model(shared), out, atol=1e-5)
        if tokens == "channel":
            assert torch.allclose(model(arbitrary), out, atol=1e-5)
        else:  # triplet tokens keep a channel's three maps together: an arbitrary shuffle changes them
            assert not torch.allclose(model(arbitrary), out, atol=1e-3)
        # and it does look at the content: a spatial flip of one plane changes the output
        assert not torch.allclose(model(torch.cat([planes[:, :6].flip(-1), planes[:, 6:]], 1)), out, atol=1e-3)


def test_batched_fit_matches_single_shape_fits():
    g = torch.Generator().manual_seed(1)
    shapes = sample_shapes(3, g)
    config = TriplaneFitConfig(**TINY_FIT)
    points, labels = training_pool(shapes, config, g)
    batched = BatchedTriplaneField(3, config, torch.Generator().manual_seed(2))
    single = batched.subset(slice(1, 2))
    fit_fields(batched, points, labels, 15, torch.Generator().manual_seed(3))
    fit_fields(single, points[1:2], labels[1:2], 15, torch.Generator().manual_seed(3))
    assert torch.allclose(batched.planes[1:2], single.planes, atol=1e-5)
    assert (batched.planes[1:2] - single.subset(slice(0, 1)).planes).abs().max() < 1e-5
    assert not torch.allclose(batched.planes[0], batched.subset(slice(1, 2)).planes[0], atol=1e-3)


def test_fits_share_their_initialisation_unless_told_otherwise():
    shared = BatchedTriplaneField(3, TriplaneFitConfig(**TINY_FIT), torch.Generator().manual_seed(0))
    apart = BatchedTriplaneField(3, TriplaneFitConfig(**TINY_FIT, shared_init=False), torch.Generator().manual_seed(0))
    for a, b in zip(shared.parameters(), apart.parameters()):
        assert torch.equal(a[0], a[2]) and not torch.allclose(b[0], b[2])
        assert a.shape == b.shape and a[0].abs().max() > 0


def test_batched_fit_reaches_a_decent_iou_from_the_planes():
    g = torch.Generator().manual_seed(0)
    shapes = sample_shapes(4, g, classes=("sphere", "torus", "cross", "box_with_hole"))
    config = TriplaneFitConfig(**{**TINY_FIT, "steps": 120})
    points, labels = training_pool(shapes, config, g)
    field = BatchedTriplaneField(4, config, g)
    losses = fit_fields(field, points, labels, config.steps, g)
    iou = field_iou(field, shapes, 8192, g)
    assert losses[-1] < 0.3 * losses[0] and iou.min() > 0.5 and iou.mean() > 0.7, iou  # empty or full: IoU ~0-0.1
    with torch.no_grad():
        field.planes.zero_()  # the shape is written in the planes, not memorised by the MLP
    assert field_iou(field, shapes, 8192, g).mean() < 0.5


@pytest.fixture(scope="module")
def small_collection(tmp_path_factory) -> Path:
    config = TriplaneDatasetConfig(classes=["sphere", "torus", "cross", "box_with_hole"], train_per_class=8,
                                   test_per_class=5, fit=TriplaneFitConfig(**{**TINY_FIT, "steps": 50}))
    return cached_triplane_dataset(config, tmp_path_factory.mktemp("triplanes"))


def test_dataset_file_holds_planes_labels_and_fit_quality(small_collection: Path, tmp_path: Path):
    data, classes = load_triplane_dataset(small_collection)
    assert classes == ["sphere", "torus", "cross", "box_with_hole"]
    assert data["planes"].shape == (52, 3, 8, 16, 16) and data["points"].shape == (52, 1024, 3)
    assert int(data["test"].sum()) == 20 and data["iou"].mean() > 0.6
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(UserError, match="not a readable tri-plane dataset"):
        load_triplane_dataset(bad)


def test_classify_trains_well_above_chance(small_collection: Path, tmp_path: Path):
    from fields.engine.run import fit

    scene = scene_from_dict({
        "task": "classify",
        "data": {"dataset": str(small_collection)},
        "head": {"type": "channel_set", "dim": 64, "depth": 2, "heads": 2},
        "train": {"steps": 120, "batch_size": 16, "progress": False, "threads": 1, "checkpoint_every": 1000,
                  "optimizer": {"type": "adamw", "lr": 1e-3, "weight_decay": 0.05, "eps": 1e-8}},
    })
    run_dir, metrics = fit(scene, tmp_path / "run")
    # chance is 0.25 on 4 balanced classes (20 held-out shapes)
    assert metrics["accuracy"] >= 0.6 and metrics["chance"] == 0.25, metrics
    confusion = json.loads((run_dir / "confusion.json").read_text())["confusion"]
    assert sum(map(sum, confusion)) == 20
    assert load_scene(run_dir / "config.resolved.yaml").head.type == "channel_set"


def test_pyramid_reads_planes_fitted_from_a_shared_start(small_collection: Path, tmp_path: Path):
    """The MetaFormer pyramid over the stacked planes (no channel-order invariance): well above chance
    because every fit starts from the same planes and MLP (``shared_init``)."""
    from fields.engine.run import fit

    scene = scene_from_dict({
        "task": "classify",
        "data": {"dataset": str(small_collection)},
        "head": {"type": "pyramid", "dims": [32, 64], "depths": [1, 1], "mixer": "ms_mlp"},
        "train": {"steps": 150, "batch_size": 16, "progress": False, "threads": 1, "checkpoint_every": 1000,
                  "optimizer": {"type": "adamw", "lr": 1e-3, "weight_decay": 0.05, "eps": 1e-8}},
    })
    _, metrics = fit(scene, tmp_path / "run")
    assert metrics["accuracy"] >= 0.55, metrics  # chance 0.25, 20 held-out shapes


def test_classify_scenes_validate_their_head():
    for name in ("channel_set", "channel_triplet", "pyramid", "pointnet"):
        scene = load_scene(ROOT / f"configs/heads/triplane_{name}.yaml")
        assert scene.task == "classify" and scene.head.type in ("channel_set", "pyramid", "pointnet")
    with pytest.raises(UserError, match="classifier head"):
        scene_from_dict({"task": "classify", "data": {}, "head": {"type": "unet"}})
    with pytest.raises(UserError, match="unknown shape classes"):
        scene_from_dict({"task": "classify", "data": {"shapes": {"classes": ["sphere", "teapot"]}}})
