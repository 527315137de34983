"""3D Gaussians as a field (3DGS, Kerbl et al. 2023): ``model: {type: gaussians, ...}``.

Parameters, for ``N`` Gaussians (``N`` changes during training: densification replaces the tensors):

- ``means (N, 3)`` world positions;
- ``log_scales (N, 3)``: the axis lengths are ``exp(log_scales)``;
- ``quats (N, 4)`` rotations ``(w, x, y, z)``, normalised when used;
- ``opacity_logits (N,)``: opacity ``sigmoid(opacity_logits)``;
- ``sh_dc (N, 1, 3)`` and ``sh_rest (N, 15, 3)``: spherical-harmonic colour (3DGS constants), degree
  ``sh_degree`` at most, one band more every ``sh_increase_every`` steps.

Initialisation (``init``): SfM points (COLMAP ``points3D``), a point-cloud ``.ply`` (a 3DGS ``.ply`` is
loaded whole, so a saved scene can be fine-tuned), or random points in the scene box. The readers sit
in the task layer (``fields.tasks.splat_init``); this module builds from arrays.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from fields.config.models import GaussiansConfig
from fields.models.gaussians_sh import eval_sh, rgb_to_sh
from fields.models.registry import MODELS

PARAMS = ("means", "log_scales", "quats", "opacity_logits", "sh_dc", "sh_rest")


def knn_mean_distance(points: torch.Tensor, k: int = 3, chunk: int = 2048) -> torch.Tensor:
    """``points (N, 3)`` -> ``(N,)`` mean distance to the ``k`` nearest other points (3DGS's initial scale)."""
    n = len(points)
    if n <= 1:
        return torch.ones(n)
    k = min(k, n - 1)
    out = []
    for i in range(0, n, chunk):
        d = torch.cdist(points[i : i + chunk], points)
        d[torch.arange(d.shape[0]), torch.arange(i, i + d.shape[0])] = float("inf")
        out.append(d.topk(k, largest=False).values.mean(1))
    return torch.cat(out)


def quat_to_rotmat(quats: torch.Tensor) -> torch.Tensor:
    """``(N, 4)`` quaternions ``(w, x, y, z)`` (any length) -> ``(N, 3, 3)`` rotation matrices."""
    w, x, y, z = (quats / quats.norm(dim=-1, keepdim=True).clamp_min(1e-12)).unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z),
            2 * (x * y - w * z),
            2 * (x * z + w * y),
            2 * (x * y + w * z),
            1 - 2 * (x * x + z * z),
            2 * (y * z - w * x),
            2 * (x * z - w * y),
            2 * (y * z + w * x),
            1 - 2 * (x * x + y * y),
        ],
        -1,
    ).reshape(-1, 3, 3)


class Gaussians(nn.Module):
    Config = GaussiansConfig

    def __init__(
        self,
        config: Gaussians.Config,
        means: torch.Tensor,
        rgb: torch.Tensor | None = None,
        log_scales: torch.Tensor | None = None,
    ):
        """``means (N, 3)``, ``rgb (N, 3)`` in [0, 1] (default grey), ``log_scales (N, 3)`` (default from the
        distance to the 3 nearest neighbours)."""
        super().__init__()
        self.config = config
        n = len(means)
        means = means.float()
        if rgb is None:
            rgb = torch.full((n, 3), 0.5)
        if log_scales is None:
            dist = knn_mean_distance(means).clamp_min(1e-7) * config.init_scale
            log_scales = dist.log()[:, None].repeat(1, 3)
        quats = torch.zeros(n, 4)
        quats[:, 0] = 1.0
        k = (config.sh_degree + 1) ** 2
        self.means = nn.Parameter(means)
        self.log_scales = nn.Parameter(log_scales.float())
        self.quats = nn.Parameter(quats)
        self.opacity_logits = nn.Parameter(torch.full((n,), math.log(config.init_opacity / (1 - config.init_opacity))))
        self.sh_dc = nn.Parameter(rgb_to_sh(rgb.float())[:, None, :].contiguous())
        self.sh_rest = nn.Parameter(torch.zeros(n, k - 1, 3))

    # --- activated values ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.means.shape[0]

    @property
    def scales(self) -> torch.Tensor:
        return self.log_scales.exp()

    @property
    def opacities(self) -> torch.Tensor:
        return torch.sigmoid(self.opacity_logits)

    @property
    def rotations(self) -> torch.Tensor:
        return self.quats / self.quats.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    @property
    def sh(self) -> torch.Tensor:
        """``(N, (sh_degree + 1)**2, 3)``."""
        return torch.cat((self.sh_dc, self.sh_rest), 1)

    def degree_at(self, step: int) -> int:
        return min(self.config.sh_degree, step // self.config.sh_increase_every)

    def colors(self, camera_center: torch.Tensor, degree: int) -> torch.Tensor:
        """RGB ``(N, 3)`` seen from ``camera_center (3,)`` with SH bands up to ``degree``."""
        if degree == 0:
            return eval_sh(self.sh_dc, self.means.detach(), 0)  # constant basis: the direction is unused
        return eval_sh(self.sh, self.means.detach() - camera_center, degree)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # --- changing the set of Gaussians ---------------------------------------------------------------
    def tensors(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name) for name in PARAMS}

    def replace(self, tensors: dict[str, torch.Tensor]) -> None:
        """Swap every parameter for the given tensors (all with one new ``N``)."""
        for name in PARAMS:
            setattr(self, name, nn.Parameter(tensors[name].detach().contiguous()))

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        # a checkpoint holds however many Gaussians there were when it was written
        for name in PARAMS:
            value = state_dict.get(prefix + name)
            if value is not None and value.shape != getattr(self, name).shape:
                setattr(self, name, nn.Parameter(torch.empty(value.shape, dtype=value.dtype, device=self.means.device)))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def param_groups(self, lrs: dict[str, float]) -> list[dict[str, Any]]:
        """One optimiser group per parameter, named as the parameter, each with ``lrs[name]``."""
        return [{"name": name, "params": [getattr(self, name)], "lr": lrs[name]} for name in PARAMS]


MODELS.register("gaussians", aliases=("3dgs", "splats"))(Gaussians)
