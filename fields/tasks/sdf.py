"""``task: sdf``: a signed distance field (negative inside) of a mesh or of an oriented point cloud.

From a mesh (exact distances from ``MeshDistance``): ``train.loss`` (``l1`` or ``mape``, Instant-NGP's
relative L1, the default) on the distances of all samples, plus ``losses.eikonal * (|grad f| - 1)^2``
and optionally ``losses.normal * (1 - cos(grad f, n))`` on the surface samples, both on
``losses.gradient_fraction`` of the batch (their second derivatives cost about as much as the rest).

From an oriented point cloud with no mesh (IGR, Gropp et al. 2020; SIREN's off-surface term):
``surface * |f(p)| + normal * |grad f(p) - n| + eikonal * (|grad f| - 1)^2 + off_surface * exp(-alpha |f(u)|)``
with ``p`` cloud points, ``u`` uniform samples; eikonal on all samples. Grid encoders have no global
smoothness to carry the sign away from the points (IGR relies on an MLP's), so off-surface samples also
get ``pseudo_distance * |f - (q - p) . n_p|``, Hoppe's signed distance to the nearest oriented point.
"""

from __future__ import annotations


import torch

from fields.datasets.sdf_sampling import SURFACE, UNIFORM
from fields.tasks.geometry import GeometryTask
from fields.tasks.losses import regression_loss
from fields.tasks.registry import TASKS


def gradient(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``d y / d x`` with the graph kept (for losses on the gradient): ``(N, 3)``."""
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    return g


@TASKS.register("sdf")
class SDFTask(GeometryTask):
    needs_oriented_cloud = True
    lipschitz = 2.0  # coarse-to-fine marching cubes: a neural SDF's slope can exceed 1

    def surface_value(self, x: torch.Tensor) -> torch.Tensor:
        return self.field(x)[..., 0]

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if self.mesh is None:
            return self._cloud_loss(batch)
        w = self.scene.data.losses
        x, target, kind = batch["points"], batch["sdf"], batch["kind"]
        with_grad = w.eikonal > 0 or w.normal > 0
        stride = max(1, round(1.0 / w.gradient_fraction)) if with_grad else 0
        if stride:
            sel = torch.zeros(len(x), dtype=torch.bool, device=x.device)
            sel[::stride] = True
            xg = x[sel].detach().requires_grad_(True)
            pred_g = self.field(xg)[..., 0]
            pred = torch.empty(len(x), dtype=pred_g.dtype, device=x.device)
            pred = pred.masked_scatter(sel, pred_g)
            if (~sel).any():
                pred = pred.masked_scatter(~sel, self.field(x[~sel])[..., 0])
        else:
            pred = self.field(x)[..., 0]
        distance = regression_loss(self.scene.train.loss, pred, target)
        loss, logs = distance, {"distance": distance.detach()}
        if stride:
            g = gradient(pred_g, xg)
            if w.eikonal > 0:
                eikonal = ((g.norm(dim=-1) - 1.0) ** 2).mean()
                loss = loss + w.eikonal * eikonal
                logs["eikonal"] = eikonal.detach()
            on_surface = kind[sel] == SURFACE
            if w.normal > 0 and on_surface.any():
                cos = torch.nn.functional.cosine_similarity(g[on_surface], batch["normals"][sel][on_surface], dim=-1)
                normal = (1.0 - cos).mean()
                loss = loss + w.normal * normal
                logs["normal"] = normal.detach()
        logs["loss"] = loss.detach()
        return loss, logs

    def _cloud_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        w = self.scene.data.losses
        x = batch["points"].detach().requires_grad_(True)
        kind = batch["kind"]
        f = self.field(x)[..., 0]
        g = gradient(f, x)
        on = kind == SURFACE
        surface = f[on].abs().mean()
        normal = (g[on] - batch["normals"][on]).norm(dim=-1).mean()
        eikonal = ((g.norm(dim=-1) - 1.0) ** 2).mean()
        loss = w.surface * surface + w.normal * normal + w.eikonal * eikonal
        logs = {"surface": surface.detach(), "normal": normal.detach(), "eikonal": eikonal.detach()}
        if w.pseudo_distance > 0 and (~on).any():
            # Hoppe's estimate ties down the sign far from the points, where IGR's terms leave it free
            pseudo = (f[~on] - batch["sdf"][~on]).abs().mean()
            loss = loss + w.pseudo_distance * pseudo
            logs["pseudo_distance"] = pseudo.detach()
        uniform = kind == UNIFORM
        if w.off_surface > 0 and uniform.any():
            off = torch.exp(-w.off_surface_alpha * f[uniform].abs()).mean()
            loss = loss + w.off_surface * off
            logs["off_surface"] = off.detach()
        logs["loss"] = loss.detach()
        return loss, logs
