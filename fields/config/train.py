"""The scene file's ``train`` and ``output`` sections: optimiser, learning-rate schedule, run settings."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Optional

from pydantic import Field, field_validator

from fields.config.base import StrictModel


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
    name: Optional[str] = Field(None, description="run folder name; default <scene>-<task>-<date>-<time>")

    @field_validator("name")
    @classmethod
    def _one_folder(cls, value: Optional[str]) -> Optional[str]:
        # a name is one folder inside output.dir: never a path that leaves it
        if value is not None and (value in ("", ".", "..") or re.search(r"[/\\\x00]", value)):
            raise ValueError(f"must be a folder name inside output.dir, without / or \\ (got {value[:80]!r})")
        return value
