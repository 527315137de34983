"""Scene validation: every kind of user error names the path and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from fields.config.load import apply_overrides

from fields.engine.scene import load_scene, scene_from_dict
from fields.errors import UserError


def check_error(data: dict, *needles: str) -> str:
    with pytest.raises(UserError) as info:
        scene_from_dict(data)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message
    return message


def test_defaults_are_valid():
    scene = scene_from_dict({"task": "image", "data": {}})
    assert scene.model.encoder.type == "hashgrid"
    assert scene.model.decoder.type == "mlp"
    assert scene.data.image == "skimage:astronaut"


def test_unknown_key_suggests_closest():
    message = check_error(
        {"data": {}, "model": {"encoder": {"type": "hashgrid", "n_level": 8}}}, "model.encoder.n_level"
    )
    assert "unknown key; did you mean n_levels?" in message


def test_unknown_top_level_key_lists_valid_keys():
    check_error({"data": {}, "trian": {}}, "trian: unknown key", "did you mean train?")


def test_wrong_type():
    check_error({"data": {}, "train": {"steps": "many"}}, "train.steps", "integer", "'many'")


def test_unknown_component_lists_choices():
    message = check_error({"data": {}, "model": {"encoder": {"type": "hashgird"}}}, "model.encoder.type", "hashgird")
    assert "did you mean hashgrid?" in message and "frequency" in message and "fourier" in message


def test_unknown_task():
    check_error({"task": "imag", "data": {}}, "unknown task 'imag'", "image")


def test_missing_file(tmp_path):
    check_error({"data": {"image": str(tmp_path / "nope.png")}}, "data.image", "file not found")


def test_unknown_skimage_image():
    check_error({"data": {"image": "skimage:astronot"}}, "data.image", "astronaut")


def test_tcnn_otype_alias():
    scene = scene_from_dict({"data": {}, "model": {"encoder": {"otype": "HashGrid", "n_levels": 4}}})
    assert scene.model.encoder.type == "hashgrid" and scene.model.encoder.n_levels == 4


def test_scale_given_twice():
    check_error(
        {"data": {}, "model": {"encoder": {"per_level_scale": 1.5, "max_resolution": 64}}},
        "per_level_scale or max_resolution",
    )


def test_overrides_are_typed_and_nested():
    data = apply_overrides({"data": {}}, ["train.steps=500", "model.encoder.n_levels=8", "train.optimizer.lr=1e-3"])
    scene = scene_from_dict(data)
    assert scene.train.steps == 500 and scene.model.encoder.n_levels == 8 and scene.train.optimizer.lr == 1e-3


def test_override_of_component_type_resets_its_keys():
    data = apply_overrides(
        {"data": {}, "model": {"encoder": {"type": "hashgrid", "n_levels": 4}}}, ["model.encoder.type=frequency"]
    )
    assert scene_from_dict(data).model.encoder.type == "frequency"


def test_bad_override_syntax():
    with pytest.raises(UserError, match="expected key.path=value"):
        apply_overrides({}, ["train.steps"])


def test_malformed_yaml(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("task: image\ndata: [unclosed\n")
    with pytest.raises(UserError, match="malformed YAML"):
        load_scene(path)


def test_scene_not_a_mapping(tmp_path: Path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(UserError, match="mapping"):
        load_scene(path)


def test_relative_path_resolves_against_scene_folder(tmp_path: Path):
    import imageio.v3 as iio
    import numpy as np

    iio.imwrite(tmp_path / "pic.png", np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "scene.yaml").write_text("data: {image: pic.png}\n")
    scene = load_scene(tmp_path / "scene.yaml")
    assert Path(scene.data.image) == (tmp_path / "pic.png").resolve()


def test_every_shipped_config_validates():
    root = Path(__file__).resolve().parents[1] / "configs"
    paths = sorted(root.rglob("*.yaml"))
    assert paths
    for path in paths:
        load_scene(path)
