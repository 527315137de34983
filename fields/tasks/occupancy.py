"""``task: occupancy``: a field of inside/outside logits (Occupancy Networks), trained with binary
cross-entropy on the labels of the sample pool (inside = negative signed distance). Surface samples get
the soft label 0.5, which puts the decision boundary on the surface. A point cloud is first turned into
a watertight mesh (screened Poisson). The surface is the zero level set of the logit; marching cubes
refines only near sign changes (logits have no distance bound).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fields.datasets.sdf_sampling import SURFACE
from fields.tasks.geometry import GeometryTask
from fields.tasks.registry import TASKS


@TASKS.register("occupancy")
class OccupancyTask(GeometryTask):
    needs_oriented_cloud = False
    lipschitz = None

    def surface_value(self, x: torch.Tensor) -> torch.Tensor:
        return -self.field(x)[..., 0]

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        logit = self.field(batch["points"])[..., 0]
        label = (batch["sdf"] < 0).to(logit.dtype)
        label = torch.where(batch["kind"] == SURFACE, torch.full_like(label, 0.5), label)
        loss = F.binary_cross_entropy_with_logits(logit, label)
        with torch.no_grad():
            accuracy = ((logit > 0) == (label > 0.5))[batch["kind"] != SURFACE].float().mean()
        return loss, {"loss": loss.detach(), "accuracy": accuracy}
