"""Camera pose refinement settings and schedule, shared by the radiance and splat tasks.

Why the defaults: Adam normalises each parameter's gradient by its running magnitude, so a pose whose
photometric gradient is mostly noise (the field is still a blur in the first steps, and each camera sees a
few hundred rays of a batch) still moves by about ``lr`` per step, a random walk of ``lr sqrt(steps)``:
at nerfstudio's 6e-4 that is 0.6 degrees after 300 steps, the drift measured from the true poses. The
corrections therefore wait ``camera_opt_delay`` steps (the field first learns the scene from the given
poses), ramp up over as many steps again, and decay to ``camera_opt_lr_final`` by the end of the run, so
the walk stays bounded while a real error (1 degree) is still corrected in the first few hundred steps.
The L2 penalties are a weak pull towards the given poses; the gauge is projected out (``CameraOptimizer``).

BARF's coarse-to-fine for hash grids (``render.coarse_to_fine``, ``fields.tasks.coarse_to_fine``) goes
with it: with only the coarse levels in, the field is smooth and a pose error of a degree gives every ray
of the camera a gradient of the same sign, instead of the noise of fine detail.

``PoseGradientAverage`` (``render.camera_opt_accumulate`` K): the corrections' gradients are summed over K
steps and applied as one averaged update, the field still updating every step. A camera's gradient then
comes from K times the rays, so Adam's normalised step follows the pose error rather than the noise.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import torch

from fields.render.view_settings import CameraRefineSettings  # noqa: F401  (render.camera_opt*)
from fields.models.camera_optimizer import CameraOptimizer


def build_camera_optimizer(settings: CameraRefineSettings, n_views: int, train: list[int],
                           centres: torch.Tensor) -> Optional[CameraOptimizer]:
    """``centres (n_views, 3)`` in the frame of the corrections (unit frame, or world / extent)."""
    if settings.camera_opt == "off":
        return None
    return CameraOptimizer(n_views, settings.camera_opt_rot_l2, settings.camera_opt_trans_l2, train, centres)


def camera_lr_factor(settings: CameraRefineSettings, progress: Callable[[int], float]) -> Callable[[int], float]:
    """step -> factor on ``camera_opt_lr``: 0 for ``delay`` steps, a linear ramp over ``delay`` more, then
    the exponential decay to ``camera_opt_lr_final`` over the run (``progress(step)`` in [0, 1])."""
    delay = settings.camera_opt_delay
    ratio = math.log(settings.camera_opt_lr_final / settings.camera_opt_lr)

    def factor(step: int) -> float:
        if step < delay:
            return 0.0
        ramp = min(1.0, (step - delay + 1) / delay) if delay else 1.0
        return ramp * math.exp(ratio * min(max(progress(step), 0.0), 1.0))

    return factor


def with_camera_schedule(setup: dict[str, Any], settings: CameraRefineSettings,
                         progress: Callable[[int], float]) -> dict[str, Any]:
    """Give the optimiser group named ``camera_opt`` of a ``configure_optimizers`` result its own schedule;
    the other groups keep theirs."""
    optimizer = setup["optimizer"]
    names = [group.get("name") for group in optimizer.param_groups]
    if "camera_opt" not in names:
        return setup
    old = setup["lr_scheduler"]["scheduler"]
    lambdas = list(getattr(old, "lr_lambdas", [lambda step: 1.0] * len(names)))
    lambdas[names.index("camera_opt")] = camera_lr_factor(settings, progress)
    for group in optimizer.param_groups:
        group["lr"] = group.get("initial_lr", group["lr"])
    setup["lr_scheduler"]["scheduler"] = torch.optim.lr_scheduler.LambdaLR(optimizer, lambdas)
    return setup


class PoseGradientAverage:
    """Called before each optimiser step with the corrections' parameters: every ``k``-th step (by ``step``,
    0-based) their gradients become the mean of the last ``k`` steps'; on the others they are cleared to
    ``None``, so Adam skips them (no step, no moment update). ``k`` 1: nothing changes."""

    def __init__(self) -> None:
        self.sums: dict[torch.Tensor, torch.Tensor] = {}

    def __call__(self, params, step: int, k: int) -> None:
        if k <= 1:
            return
        params = [p for p in params if p.grad is not None]
        for p in params:
            total = self.sums.get(p)
            if total is None:
                self.sums[p] = p.grad.detach().clone()
            else:
                total.add_(p.grad)
        due = (step + 1) % k == 0
        for p in params:
            p.grad = self.sums.pop(p) / k if due else None
