"""Densification strategies of ``task: splat`` (``render.strategy``), and the default one of 3DGS.

A strategy sees every step: ``observe`` after the backward pass (gradient statistics), ``regularization``
adds to the loss, ``post_step`` after the optimiser step (adds, removes or moves Gaussians through
``splat_optim.rebuild``). Its statistics are buffers, so checkpoints hold them and a resumed run
densifies exactly as an uninterrupted one.

The default strategy (Kerbl et al. 2023; gsplat's ``DefaultStrategy``): the mean norm of the view-space
positional gradient (in NDC units: pixel gradient times half the image size) over the views where a
Gaussian was visible; above ``grad_threshold``, small Gaussians (largest axis at most
``grow_scale3d * extent``) are cloned and large ones split in two (positions drawn from the Gaussian,
scales divided by 1.6); Gaussians with opacity under ``prune_opacity`` or larger than
``prune_scale3d * extent`` are pruned; every ``reset_every`` steps opacities are clamped to
``2 * prune_opacity``. Refinement runs every ``refine_every`` steps from ``refine_start`` to ``refine_stop``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from fields.render.splat_settings import STRATEGIES, DefaultStrategyConfig
from fields.models.gaussians import Gaussians, quat_to_rotmat
from fields.tasks.splat_optim import rebuild, reset_moments



class Strategy(nn.Module):
    """Per-Gaussian statistics are buffers of length ``N``; they follow ``rebuild`` through ``resized``."""

    PER_GAUSSIAN: tuple[str, ...] = ()

    def __init__(self, config: Any, extent: float, n: int):
        super().__init__()
        self.config = config
        self.extent = extent
        for name in self.PER_GAUSSIAN:
            self.register_buffer(name, torch.zeros(n))

    def observe(
        self, gaussians: Gaussians, means2d: torch.Tensor, radii: torch.Tensor, width: int, height: int
    ) -> None:
        """After the backward pass: ``means2d (N, 2)`` with its gradient, ``radii (N,)`` (0: not drawn)."""

    def regularization(self, gaussians: Gaussians) -> torch.Tensor | float:
        return 0.0

    def post_step(
        self, gaussians: Gaussians, optimizer: torch.optim.Optimizer | None, step: int, generator: torch.Generator
    ) -> None:
        """After the optimiser step ``step`` (0-based)."""

    def resized(self, keep: torch.Tensor, n_new: int) -> None:
        for name in self.PER_GAUSSIAN:
            value = getattr(self, name)[keep]
            setattr(self, name, torch.cat((value, value.new_zeros(n_new))))

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        for name in self.PER_GAUSSIAN:
            value = state_dict.get(prefix + name)
            if value is not None and value.shape != getattr(self, name).shape:
                setattr(self, name, torch.zeros_like(value))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


@STRATEGIES.register("default", aliases=("3dgs", "adaptive"))
class DefaultStrategy(Strategy):
    PER_GAUSSIAN = ("grad2d", "count")

    Config = DefaultStrategyConfig

    def observe(
        self, gaussians: Gaussians, means2d: torch.Tensor, radii: torch.Tensor, width: int, height: int
    ) -> None:
        if means2d.grad is None or len(self.count) != len(radii):
            return
        grad = means2d.grad.detach() * torch.tensor([width / 2.0, height / 2.0], device=means2d.device)
        visible = radii > 0
        self.grad2d += torch.where(visible, grad.norm(dim=-1), torch.zeros_like(self.grad2d))
        self.count += visible.to(self.count.dtype)

    @torch.no_grad()
    def post_step(
        self, gaussians: Gaussians, optimizer: torch.optim.Optimizer | None, step: int, generator: torch.Generator
    ) -> None:
        cfg, done = self.config, step + 1  # steps completed
        if cfg.refine_start < done < cfg.refine_stop and done % cfg.refine_every == 0:
            self.refine(gaussians, optimizer, done, generator)
        if done < cfg.refine_stop and done % cfg.reset_every == 0:
            value = _logit(2.0 * cfg.prune_opacity)
            gaussians.opacity_logits.clamp_(max=value)
            reset_moments(optimizer, "opacity_logits")

    def refine(
        self, gaussians: Gaussians, optimizer: torch.optim.Optimizer | None, done: int, generator: torch.Generator
    ) -> None:
        cfg = self.config
        n = len(gaussians)
        avg = self.grad2d / self.count.clamp_min(1)
        high = avg > cfg.grad_threshold
        if cfg.max_gaussians is not None and int(high.sum()) > cfg.max_gaussians - n:
            room = max(cfg.max_gaussians - n, 0)
            top = avg.masked_fill(~high, -1).topk(room).indices if room else avg.new_zeros(0, dtype=torch.long)
            high = torch.zeros_like(high)
            high[top] = True
        big = gaussians.scales.amax(-1) > cfg.grow_scale3d * self.extent
        clone, split = high & ~big, high & big
        # prune on the state before growing: new Gaussians are not judged on statistics they never had
        prune = gaussians.opacities < cfg.prune_opacity
        if done > cfg.reset_every:
            prune |= gaussians.scales.amax(-1) > cfg.prune_scale3d * self.extent
        t = gaussians.tensors()
        new = {k: v[clone] for k, v in t.items()}
        s = split.nonzero().flatten()
        if len(s):
            scales = gaussians.scales[s]
            rot = quat_to_rotmat(gaussians.quats[s])
            noise = torch.randn((2, len(s), 3), generator=generator).to(scales)
            offsets = (rot[None] @ (noise * scales[None])[..., None])[..., 0]
            halves = {k: v[s].repeat(2, *[1] * (v.dim() - 1)) for k, v in t.items()}
            halves["means"] = (t["means"][s][None] + offsets).reshape(-1, 3)
            halves["log_scales"] = (scales / 1.6).log().repeat(2, 1)
            new = {k: torch.cat((new[k], halves[k])) for k in new}
        keep = ~(split | prune)
        rebuild(gaussians, optimizer, keep, new)
        self.resized(keep, len(new["means"]))
        self.grad2d.zero_()
        self.count.zero_()
        self.last_refine = {
            "step": done,
            "cloned": int(clone.sum()),
            "split": len(s),
            "pruned": int((prune & ~split).sum()),
            "count": len(gaussians),
        }
