"""The base every field shares (nerfstudio's split): ``get_outputs`` evaluates the field, ``get_density``
the density of the fields rendered by volume; ``initialise`` places signal-dependent parameters once
before training and ``param_groups`` builds the optimiser groups. The task base calls both, once."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fields.config.train import OptimizerConfig
from fields.modules import n_params


class FieldBase(nn.Module):
    """A field with an ``encoder`` (position features) and a ``decoder`` (the signal)."""

    encoder: nn.Module
    decoder: nn.Module

    def get_outputs(self, *args: Any, **kwargs: Any) -> Any:
        """The field's outputs (``forward``)."""
        return self(*args, **kwargs)

    def get_density(self, x: torch.Tensor) -> torch.Tensor:
        """Unit-frame points ``(..., 3)`` -> density ``(...)``; fields rendered by volume override it."""
        raise NotImplementedError(f"{type(self).__name__} has no volume density")

    @property
    def needs_initialise(self) -> bool:
        """True while an encoder placed from the signal (NeuRBF) waits for ``initialise``."""
        return bool(getattr(self.encoder, "needs_initialise", False))

    def initialise(self, samples: torch.Tensor, weights: torch.Tensor) -> None:
        """Place signal-dependent parameters from ``samples (N, in_dim)`` weighted by ``weights (N,)``."""
        if self.needs_initialise:
            self.encoder.initialise(samples, weights)

    def n_params(self) -> int:
        return n_params(self)

    def lr_parts(self, optimizer: OptimizerConfig) -> list[tuple[str, nn.Module, float]]:
        """``(name, module, lr)`` of the parts with their own learning rate, in order; the parameters of
        no part train at ``rest_lr``."""
        return [("encoder", self.encoder, optimizer.encoder_lr or optimizer.lr),
                ("decoder", self.decoder, optimizer.decoder_lr or optimizer.lr)]

    def rest_lr(self, optimizer: OptimizerConfig) -> tuple[str, float]:
        return "decoder", optimizer.decoder_lr or optimizer.lr

    def param_groups(self, optimizer: OptimizerConfig) -> list[dict[str, Any]]:
        """Optimiser groups: each part at its learning rate, a part's own ``param_groups(lr)`` honoured
        (CAM's grids at a multiple of it), then every other trainable parameter at ``rest_lr``."""
        groups, taken = [], set()
        for name, module, lr in self.lr_parts(optimizer):
            own = (
                module.param_groups(lr)
                if hasattr(module, "param_groups")
                else [{"params": list(module.parameters()), "lr": lr}]
            )
            for group in own:
                params = [p for p in group["params"] if p.requires_grad and id(p) not in taken]
                taken.update(id(p) for p in params)
                sub = group.get("name")
                if params:
                    groups.append({**group, "name": f"{name}.{sub}" if sub else name, "params": params})
        rest = [p for p in self.parameters() if p.requires_grad and id(p) not in taken]
        if rest:
            name, lr = self.rest_lr(optimizer)
            groups.append(
                {"name": name if name not in {g["name"] for g in groups} else f"{name}.rest", "params": rest, "lr": lr}
            )
        return groups
