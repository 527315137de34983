"""The scene file: ``task``, ``data``, ``model``, ``train``, ``output``.

Components (encoder, decoder, task) are picked by name from their registries; each one's parameters are
validated by its own typed config. ``data`` is validated by the chosen task's ``DataConfig``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Optional

from pydantic import Field, SerializeAsAny, ValidationInfo, field_validator, model_serializer, model_validator

from fields.config.base import ComponentConfig, StrictModel
from fields.decoders import DECODERS
from fields.encoders import ENCODERS

Activation = Literal["none", "sigmoid", "relu", "softplus", "exp", "tanh"]


class ModelConfig(StrictModel):
    """A field: encoder -> decoder -> output activation."""

    encoder: SerializeAsAny[ComponentConfig] = Field(default_factory=lambda: ENCODERS.validate("hashgrid"))
    decoder: SerializeAsAny[ComponentConfig] = Field(default_factory=lambda: DECODERS.validate("mlp"))
    output_activation: Activation = "sigmoid"

    @field_validator("encoder", mode="before")
    @classmethod
    def _encoder(cls, value: Any) -> Any:
        return ENCODERS.validate(value, default="hashgrid")

    @field_validator("decoder", mode="before")
    @classmethod
    def _decoder(cls, value: Any) -> Any:
        return DECODERS.validate(value, default="mlp")


class OptimizerConfig(StrictModel):
    type: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(1e-2, gt=0)
    encoder_lr: Optional[float] = Field(None, gt=0, description="learning rate of the encoder; default lr")
    decoder_lr: Optional[float] = Field(None, gt=0, description="learning rate of the decoder; default lr")
    betas: tuple[Annotated[float, Field(ge=0, lt=1)], Annotated[float, Field(ge=0, lt=1)]] = (0.9, 0.99)
    eps: float = Field(1e-15, ge=0)
    weight_decay: float = Field(0.0, ge=0)


class ScheduleConfig(StrictModel):
    """Learning-rate schedule over ``train.steps``: factor applied to every group's lr."""

    type: Literal["constant", "exponential", "cosine", "step"] = "constant"
    final_ratio: float = Field(0.01, gt=0, le=1, description="lr factor at the last step (exponential, cosine)")
    milestones: list[Annotated[float, Field(gt=0, lt=1)]] = Field(
        default_factory=lambda: [0.5, 0.75], description="step: fractions of steps")
    gamma: float = Field(0.1, gt=0, description="step: factor at each milestone")
    warmup_steps: int = Field(0, ge=0)


class TrainConfig(StrictModel):
    steps: int = Field(2000, ge=1, le=10**9)
    max_time: Optional[float] = Field(None, gt=0, description="stop after this many seconds of training")
    batch_size: int = Field(65536, ge=1, le=2**26, description="samples (rays) a step; at most 2^26")
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    seed: int = Field(0, ge=0, le=2**32 - 1)
    precision: Literal["32", "64", "16-mixed", "bf16-mixed"] = "32"
    device: Literal["auto", "cpu", "gpu"] = "auto"
    devices: int = Field(1, ge=1)
    threads: Optional[int] = Field(None, ge=1, le=4096, description="CPU threads for torch; default: all cores")
    checkpoint_every: int = Field(500, ge=1)
    log_every: int = Field(50, ge=1)
    eval_chunk: int = Field(262144, ge=1, le=2**26, description="points per chunk in full evaluation")
    loss: Literal["l2", "l1", "huber", "mape"] = "l2"
    progress: bool = True

    @field_validator("precision", mode="before")
    @classmethod
    def _precision(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class OutputConfig(StrictModel):
    dir: str = Field("runs", min_length=1)
    name: Optional[str] = Field(None, description="run folder name; default <scene>-<date>-<time>")

    @field_validator("name")
    @classmethod
    def _one_folder(cls, value: Optional[str]) -> Optional[str]:
        # a name is one folder inside output.dir: never a path that leaves it
        if value is not None and (value in ("", ".", "..") or re.search(r"[/\\\x00]", value)):
            raise ValueError(f"must be a folder name inside output.dir, without / or \\ (got {value[:80]!r})")
        return value


class SceneConfig(StrictModel):
    task: str = "image"
    data: SerializeAsAny[StrictModel]
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    render: Optional[SerializeAsAny[StrictModel]] = Field(
        None, description="rendering settings of tasks that render (radiance, surface): the task's RenderConfig")
    head: Optional[SerializeAsAny[ComponentConfig]] = Field(
        None, description="the network of tasks that train a head (classify, restore): a backbone of fields.heads")

    @field_validator("task", mode="before")
    @classmethod
    def _task(cls, value: Any) -> Any:
        from fields.tasks import TASKS  # the tasks import this module

        return TASKS.canonical(value)

    @field_validator("data", mode="before")
    @classmethod
    def _data(cls, value: Any, info: ValidationInfo) -> Any:
        from fields.tasks import TASKS

        task = info.data.get("task")
        if task is None:  # the task itself failed and is reported; skip its data
            return StrictModel.model_construct()
        return TASKS.get(task).DataConfig.model_validate(value, context=info.context)

    @field_validator("render", mode="before")
    @classmethod
    def _render(cls, value: Any, info: ValidationInfo) -> Any:
        from fields.tasks import TASKS

        task = info.data.get("task")
        if task is None or value is None:
            return None
        config = getattr(TASKS.get(task), "RenderConfig", None)
        if config is None:
            raise ValueError(f"task '{task}' takes no render settings")
        return config.model_validate(value, context=info.context)

    @field_validator("head", mode="before")
    @classmethod
    def _head(cls, value: Any, info: ValidationInfo) -> Any:
        from fields.tasks import TASKS

        task = info.data.get("task")
        if task is None or value is None:
            return None
        validate = getattr(TASKS.get(task), "validate_head", None)
        if validate is None:
            raise ValueError(f"task '{task}' takes no head")
        return validate(value)

    @model_validator(mode="after")
    def _model_fits_task(self) -> "SceneConfig":
        from fields.tasks import TASKS

        validate_head = getattr(TASKS.get(self.task), "validate_head", None)
        if self.head is None and validate_head is not None:
            object.__setattr__(self, "head", validate_head(None))  # the task's default head

        config = getattr(TASKS.get(self.task), "RenderConfig", None)
        if self.render is None and config is not None:
            object.__setattr__(self, "render", config())  # the task's defaults, written to the resolved config
        TASKS.get(self.task).check_scene(self)
        return self

    @model_serializer(mode="wrap")
    def _omit_empty_render(self, handler: Any) -> Any:
        data = handler(self)
        for key in ("render", "head"):
            if isinstance(data, dict) and key in data and data[key] is None:
                data.pop(key)
        return data
