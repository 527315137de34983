"""Registry contracts, iterated over what is registered: a member's ``Config.type`` names it, and every
task declares its scene sections as data that validation reads without changing the scene."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel

from fields.config.base import ComponentConfig, StrictModel
from fields.config.tasks import schema
from fields.decoders import DECODERS
from fields.encoders import ENCODERS
from fields.engine.scene import SceneConfig, scene_from_dict, with_task_defaults
from fields.heads import BACKBONES, MIXERS
from fields.models.registry import MODELS
from fields.registry import Registry
from fields.tasks import TASKS

COMPONENTS = [(registry, name) for registry in (ENCODERS, DECODERS, BACKBONES, MIXERS) for name in registry.names()]


@pytest.mark.parametrize("registry,name", COMPONENTS, ids=[f"{r.kind}-{n}" for r, n in COMPONENTS])
def test_config_type_names_the_member(registry, name):
    config = registry.validate({"type": name})
    assert config.type == name and registry.get(config.type) is registry.get(name)


def test_register_refuses_a_config_type_that_names_another_member():
    registry: Registry = Registry("widget")

    class Good:
        class Config(ComponentConfig):
            type: Literal["good"] = "good"

    class Bad:
        class Config(ComponentConfig):
            type: Literal["good"] = "good"

    registry.register("good")(Good)
    with pytest.raises(TypeError, match="widget 'bad': Bad.Config.type must be Literal\\['bad'\\]"):
        registry.register("bad")(Bad)
    assert registry.names() == ["good"]


def test_declared_members_build_their_classes():
    """Every name declared torch-free resolves to a class that registered itself under it with the same config."""
    from fields.render.splat_settings import STRATEGIES

    for registry in (ENCODERS, DECODERS, MODELS, STRATEGIES, MIXERS, BACKBONES):
        for name in registry.names():
            assert registry.get(name).Config is registry.config(name), (registry.kind, name)
    for name in TASKS.names():
        assert TASKS.get(name).__name__.endswith("Task")


@pytest.mark.parametrize("name", TASKS.names())
def test_task_declares_its_sections_as_data(name):
    task = schema(name)
    assert issubclass(task.data_config(), StrictModel)
    assert task.render is None or issubclass(task.render_config(), StrictModel)
    if task.head is not None:
        assert isinstance(task.validate_head(None), ComponentConfig)  # the default head
    for section, defaults in task.scene_defaults.items():
        model = SceneConfig.model_fields[section].annotation
        if section == "model":  # typed by the task: the encoder + decoder field, or a MODELS member
            model = MODELS.config(task.model_type)
        assert isinstance(model, type) and issubclass(model, BaseModel), section
        assert set(defaults) <= set(model.model_fields), (section, defaults)
    filled = with_task_defaults({"task": name, "data": {}})
    for section, defaults in task.scene_defaults.items():
        assert {k: filled[section][k] for k in defaults} == defaults
    assert ("render" in filled) == (task.render is not None)
    assert ("head" in filled) == (task.head is not None)
    # a file's own value wins over a declared default
    for section, defaults in task.scene_defaults.items():
        for key in defaults:
            assert with_task_defaults({"task": name, section: {key: "mine"}})[section][key] == "mine"


def test_validation_does_not_change_the_scene():
    scene = scene_from_dict({"task": "sdf", "data": {"mesh": "shape:sphere"}})
    assert scene.model.output_activation == "none" and scene.train.loss == "mape"  # the task's declared defaults
    before = scene.model_dump()
    schema("sdf").check(scene)
    assert scene.model_dump() == before
    # an explicit value the task cannot use is an error, not a silent rewrite
    with pytest.raises(Exception, match="output_activation"):
        scene_from_dict({"task": "sdf", "data": {"mesh": "shape:sphere"}, "model": {"output_activation": "sigmoid"}})


def test_the_field_is_described_under_model_and_old_render_keys_still_load():
    old = {"task": "radiance", "data": {"path": "synthetic:objects"},
           "render": {"geo_feat_dim": 7, "density_neurons": 16, "sampler": "uniform"}}
    scene = scene_from_dict(old)
    assert scene.model.type == "radiance" and (scene.model.geo_feat_dim, scene.model.density_neurons) == (7, 16)
    assert "geo_feat_dim" not in scene.render.model_dump() and scene.render.sampler == "uniform"
    new = {**old, "render": {}, "model": {"geo_feat_dim": 7, "density_neurons": 16}}
    assert scene_from_dict(new).model == scene.model
    neus = scene_from_dict({"task": "surface", "data": {"path": "synthetic:sphere"}, "render": {"sdf_neurons": 32}})
    assert neus.model.type == "neus" and neus.model.sdf_neurons == 32
    with pytest.raises(Exception, match="model.type: task radiance builds a 'radiance' field"):
        scene_from_dict({"task": "radiance", "data": {"path": "synthetic:objects"}, "model": {"type": "field"}})
