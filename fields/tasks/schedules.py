"""Learning-rate schedules as step -> factor functions (for ``torch.optim.lr_scheduler.LambdaLR``)."""

from __future__ import annotations

import bisect
import math
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from fields.config.train import ScheduleConfig


def lr_factor(schedule: "ScheduleConfig", total_steps: int) -> Callable[[int], float]:
    total = max(total_steps, 1)
    milestones = sorted(int(m * total) for m in schedule.milestones)

    def factor(step: int) -> float:
        warm = min(1.0, (step + 1) / schedule.warmup_steps) if schedule.warmup_steps else 1.0
        t = min(step / total, 1.0)
        if schedule.type == "constant":
            value = 1.0
        elif schedule.type == "exponential":
            value = schedule.final_ratio**t
        elif schedule.type == "cosine":
            value = schedule.final_ratio + (1 - schedule.final_ratio) * 0.5 * (1 + math.cos(math.pi * t))
        else:  # step
            value = schedule.gamma ** bisect.bisect_right(milestones, step)
        return warm * value

    return factor
