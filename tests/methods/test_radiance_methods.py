"""CAM over the view direction and Gaussian RBFNet's density decoder in the radiance field."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from fields.engine.scene import load_scene, scene_from_dict
from fields.datasets.synthetic_scene import generate_scene
from fields.decoders.cam import CAMMLP
from fields.decoders.gaussian_rbf import GaussianRBF
from fields.engine.run import fit
from fields.models.radiance import RadianceField
from fields.tasks import TASKS
from tests.conftest import ROOT
from tests.radiance.test_training import constant_colour_psnr

SMALL_ENCODER = {"type": "hashgrid", "n_levels": 4, "log2_hashmap_size": 10, "base_resolution": 4, "max_resolution": 32}
CAM = {"type": "cam_mlp", "n_neurons": 16, "n_hidden_layers": 2, "cam_coords": [0, 1, 2], "grid_resolution": [3]}


def cam_field(**decoder) -> RadianceField:
    scene = scene_from_dict(
        {
            "task": "radiance",
            "data": {"path": "synthetic:objects"},
            "model": {"encoder": SMALL_ENCODER, "decoder": {**CAM, **decoder}, "output_activation": "sigmoid",
                      "density_neurons": 16, "density_hidden_layers": 1, "geo_feat_dim": 7},
        }
    )
    return RadianceField(scene.model)


def test_untrained_cam_is_the_plain_normalised_mlp():
    field = cam_field()
    assert isinstance(field.decoder, CAMMLP)
    x, d = torch.rand(50, 3), F.normalize(torch.randn(50, 3), dim=-1)
    rgb, sigma = field(x, d)
    # the same colour path by hand: LayerNorm without affine, no modulation
    _, geo = field.features(x)
    h = torch.cat((field.direction_encoder((d + 1) / 2), geo), dim=-1)
    for layer in field.decoder.linears[:-1]:
        h = torch.relu(F.layer_norm(layer(h), (layer.out_features,)))
    expected = torch.sigmoid(field.decoder.linears[-1](h))
    torch.testing.assert_close(rgb, expected)
    assert sigma.shape == (50,)


def test_the_view_direction_reaches_the_cam_grids():
    field = cam_field()
    x = torch.rand(64, 3)
    d = F.normalize(torch.randn(64, 3), dim=-1)
    rgb, _ = field(x, d)
    rgb.sum().backward()
    assert field.decoder.gamma.grad.abs().sum() > 0 and field.decoder.beta.grad.abs().sum() > 0
    # the grids are read at the direction: a modulated field changes with d at fixed x
    with torch.no_grad():
        field.decoder.beta.normal_(0, 1.0)
        a, _ = field(x, d)
        b, _ = field(x, -d)
    assert (a - b).abs().max() > 1e-3
    # CAM's grids get their own learning rate group (10x)
    groups = {
        g["name"]: g for g in field.param_groups(type("O", (), {"lr": 0.01, "decoder_lr": None, "encoder_lr": None})())
    }
    assert groups["decoder.cam_grids"]["lr"] == pytest.approx(0.1)
    assert sum(len(g["params"]) for g in groups.values()) == len(list(field.parameters()))


@pytest.fixture(scope="module")
def objects_scene(tmp_path_factory) -> Path:
    return generate_scene(tmp_path_factory.mktemp("objects"), "objects", n_train=24, n_test=2, size=32, seed=0)


@pytest.mark.parametrize("name", ["synthetic_cam", "synthetic_gnf"])
def test_method_configs_validate_and_build(objects_scene, name):
    # the shipped config on the tiny generated scene (the task loads its views)
    scene = load_scene(ROOT / "configs/radiance" / f"{name}.yaml", [f"data.path={objects_scene}"])
    field = TASKS.get(scene.task)(scene).field
    if name == "synthetic_cam":
        assert isinstance(field.decoder, CAMMLP) and field.decoder.config.cam_coords == [0, 1, 2]
    else:
        assert isinstance(field.density_decoder, GaussianRBF) and field.density_decoder.config.n_units == 32
        assert field.density_decoder.out_dim == 1 + scene.model.geo_feat_dim
    rgb, sigma = field(torch.rand(8, 3), F.normalize(torch.randn(8, 3), dim=-1))
    assert rgb.shape == (8, 3) and sigma.shape == (8,) and torch.isfinite(rgb).all()


def test_default_density_decoder_is_still_the_mlp(objects_scene):
    from fields.decoders.mlp import MLP

    scene = load_scene(ROOT / "configs/radiance/synthetic.yaml", [f"data.path={objects_scene}"])
    assert scene.model.type == "radiance" and scene.model.density_decoder is None
    field = TASKS.get(scene.task)(scene).field
    assert isinstance(field.density_decoder, MLP) and field.density_decoder.out_dim == 16


@pytest.mark.slow  # about 30-60 s on the shared 2-core machine
def test_cam_radiance_field_trains(objects_scene, tmp_path):
    config = {
        "task": "radiance",
        "data": {"path": str(objects_scene)},
        "model": {
            "encoder": {
                "type": "hashgrid",
                "n_levels": 6,
                "log2_hashmap_size": 14,
                "base_resolution": 8,
                "max_resolution": 96,
            },
            "decoder": {**CAM, "n_neurons": 32},
            "output_activation": "sigmoid",
        },
        "train": {"steps": 150, "batch_size": 512, "progress": False, "threads": 1, "checkpoint_every": 1000},
        "render": {
            "grid_resolution": 16,
            "max_steps": 96,
            "grid_warmup_steps": 32,
            "grid_update_every": 8,
            "mesh_resolution": 0,
            "n_frames": 3,
            "save_test_views": 0,
        },
        "output": {"dir": str(tmp_path)},
    }
    _, metrics = fit(scene_from_dict(config), tmp_path / "cam")
    assert metrics["psnr"] > constant_colour_psnr(objects_scene) + 8.0, metrics["psnr"]
