"""The scene file: ``task``, ``data``, ``model``, ``train``, ``output`` (and ``render``/``head`` for the
tasks that declare them), validated into a typed ``SceneConfig`` with one-line errors.

Each task declares its sections as data (``fields.config.tasks.TaskSchema``: the data and render configs,
the head validator, defaults), torch-free like every config the scene names, so a scene is validated before
torch loads (the CLI reports a bad one at once). Loading is two explicit steps:
``with_task_defaults`` fills the keys a scene file leaves out from the task's declared defaults, then
validation reads the sections without changing the scene.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any, Optional

import yaml
from pydantic import (
    Field,
    SerializeAsAny,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from fields.config.base import ComponentConfig, StrictModel
from fields.config.load import apply_overrides, format_validation_error, read_yaml
from fields.config.train import OutputConfig, TrainConfig
from fields.errors import UserError
from fields.config.models import MODELS, ModelConfig
from fields.config.tasks import TASKS, schema

log = logging.getLogger("fields")


class SceneConfig(StrictModel):
    task: str = "image"
    data: SerializeAsAny[StrictModel]
    model: SerializeAsAny[ComponentConfig] = Field(default_factory=ModelConfig)  # a MODELS member's config
    train: TrainConfig = Field(default_factory=TrainConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    render: Optional[SerializeAsAny[StrictModel]] = Field(
        None, description="rendering settings of the tasks that render (radiance, surface, splat): their render config")
    head: Optional[SerializeAsAny[ComponentConfig]] = Field(
        None, description="the network of tasks that train a head (classify, restore): a backbone of fields.heads")

    @field_validator("task", mode="before")
    @classmethod
    def _task(cls, value: Any) -> Any:
        return TASKS.canonical(value)

    @field_validator("model", mode="before")
    @classmethod
    def _model(cls, value: Any) -> Any:
        return MODELS.validate(value if value is not None else {}, default="field")

    @field_validator("data", mode="before")
    @classmethod
    def _data(cls, value: Any, info: ValidationInfo) -> Any:
        task = info.data.get("task")
        if task is None:  # the task itself failed and is reported; skip its data
            return StrictModel.model_construct()
        return schema(task).data_config().model_validate(value, context=info.context)

    @field_validator("render", mode="before")
    @classmethod
    def _render(cls, value: Any, info: ValidationInfo) -> Any:
        task = info.data.get("task")
        if task is None or value is None:
            return None
        config = schema(task).render_config()
        if config is None:
            raise ValueError(f"task '{task}' takes no render settings")
        return config.model_validate(value, context=info.context)

    @field_validator("head", mode="before")
    @classmethod
    def _head(cls, value: Any, info: ValidationInfo) -> Any:
        task = info.data.get("task")
        if task is None or value is None:
            return None
        if schema(task).head is None:
            raise ValueError(f"task '{task}' takes no head")
        return schema(task).validate_head(value)

    @model_validator(mode="after")
    def _model_fits_task(self) -> "SceneConfig":
        task = schema(self.task)
        if self.model.type != task.model_type:
            raise ValueError(
                f"model.type: task {self.task} builds a '{task.model_type}' field (got '{self.model.type}')")
        if task.check is not None:
            task.check(self)
        return self

    @model_serializer(mode="wrap")
    def _omit_empty_sections(self, handler: Any) -> Any:
        data = handler(self)
        for key in ("render", "head"):
            if isinstance(data, dict) and key in data and data[key] is None:
                data.pop(key)
        return data


def with_task_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of the raw scene with the task's declared defaults where the file leaves a key out: its
    ``model_type`` as ``model.type``, keys of the field an older file put under ``render:`` moved to
    ``model:``, ``scene_defaults`` (``{section: {key: value}}``), an empty ``render:`` for a task with a
    render config and the default head for a task with a head (``fields.config.tasks.TaskSchema``).
    An unknown task is left for validation to report."""
    data = copy.deepcopy(data)
    try:
        task = schema(data.get("task", SceneConfig.model_fields["task"].default))
    except Exception:  # reported by validation, with the valid names
        return data
    if data.get("model") is None:
        data["model"] = {}
    render, model = data.get("render"), data["model"]
    if isinstance(render, dict) and isinstance(model, dict):
        moved = [key for key in task.model_keys_in_render if key in render]
        for key in moved:  # older scene files described part of the field under render:
            model.setdefault(key, render.pop(key))
        if moved:
            log.info("scene: render.%s moved to model.%s (the field is described under model:)", moved[0], moved[0])
    if isinstance(model, dict):
        model.setdefault("type", task.model_type)
    for section, defaults in task.scene_defaults.items():
        node = data.setdefault(section, {})
        if isinstance(node, dict):
            for key, value in defaults.items():
                node.setdefault(key, copy.deepcopy(value))
    if task.render is not None and data.get("render") is None:
        data["render"] = {}
    if task.head is not None and data.get("head") is None:
        data["head"] = task.validate_head(None).model_dump()
    return data


def scene_from_dict(data: dict[str, Any], base_dir: str | Path = ".", source: str = "scene") -> SceneConfig:
    """Validate a raw scene mapping (task defaults filled first). Relative data paths resolve against the
    working directory, then against ``base_dir`` (the scene file's folder)."""
    try:
        return SceneConfig.model_validate(with_task_defaults(data), context={"base_dir": Path(base_dir)})
    except ValidationError as exc:
        errors = exc.errors()
        first = format_validation_error(errors[0])
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise UserError(f"{source}: {first}{more}") from None


def load_scene(path: str | Path, overrides: list[str] | None = None) -> SceneConfig:
    path = Path(path)
    data = apply_overrides(read_yaml(path), overrides or [])
    return scene_from_dict(data, base_dir=path.parent, source=str(path))


def dump_scene(scene: SceneConfig) -> str:
    return yaml.safe_dump(scene.model_dump(mode="json"), sort_keys=False)
