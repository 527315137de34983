"""Changing the number of Gaussians under a running Adam: parameters and their moments move together.

Each Gaussian parameter sits alone in an optimiser group named as the parameter (``Gaussians.param_groups``).
``rebuild`` keeps the rows ``keep`` of every parameter and appends new rows; the optimiser's moments
(``exp_avg``, ``exp_avg_sq``) follow the kept rows and start at zero for the new ones, as in 3DGS.
"""

from __future__ import annotations

import torch

from fields.models.gaussians import PARAMS, Gaussians

_MOMENTS = ("exp_avg", "exp_avg_sq")


def _groups(optimizer: torch.optim.Optimizer | None) -> dict[str, dict]:
    if optimizer is None:
        return {}
    return {group["name"]: group for group in optimizer.param_groups if group.get("name") in PARAMS}


@torch.no_grad()
def rebuild(
    gaussians: Gaussians,
    optimizer: torch.optim.Optimizer | None,
    keep: torch.Tensor,
    new: dict[str, torch.Tensor] | None = None,
) -> None:
    """Keep rows ``keep`` (bool mask or indices) and append ``new`` (parameter name -> rows, all with the
    same count) to the Gaussians, updating the optimiser's groups and state in place."""
    groups = _groups(optimizer)
    old = gaussians.tensors()
    n_new = 0 if new is None else len(new["means"])
    tensors = {}
    for name in PARAMS:
        parts = [old[name][keep]] + ([new[name].to(old[name])] if n_new else [])
        tensors[name] = torch.cat(parts)
    gaussians.replace(tensors)
    for name in PARAMS:
        group = groups.get(name)
        if group is None:
            continue
        param = getattr(gaussians, name)
        state = optimizer.state.pop(group["params"][0], None)
        group["params"][0] = param
        if state:
            for key in _MOMENTS:
                if key in state:
                    value = state[key][keep]
                    state[key] = torch.cat((value, value.new_zeros((n_new, *value.shape[1:])))) if n_new else value
            optimizer.state[param] = state


@torch.no_grad()
def reset_moments(optimizer: torch.optim.Optimizer | None, name: str, rows: torch.Tensor | None = None) -> None:
    """Zero the Adam moments of parameter ``name`` (only ``rows`` if given)."""
    group = _groups(optimizer).get(name)
    if group is None:
        return
    state = optimizer.state.get(group["params"][0], {})
    for key in _MOMENTS:
        if key in state:
            if rows is None:
                state[key].zero_()
            else:
                state[key][rows] = 0


def current_lr(optimizer: torch.optim.Optimizer | None, name: str) -> float:
    group = _groups(optimizer).get(name)
    return float(group["lr"]) if group is not None else 0.0
