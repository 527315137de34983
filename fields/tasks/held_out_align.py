"""Test-time pose alignment of held-out views (BARF's evaluation protocol, ``render.eval_pose_align``).

Why: once the training cameras are refined, the field lives in the frame of the refined cameras. That frame
differs from the frame of the given poses by a similarity transform the images cannot fix (the gauge) and,
where the given poses were noisy, so do the held-out views' own poses. Rendering a held-out view at its
given pose then measures that misalignment as much as the field. BARF (Lin et al. 2021) and the pose-free
NeRFs after it therefore fit each held-out view's pose to its image with the field frozen before scoring
it; the metrics keep the score at the given poses too.

Each view gets an SO3xR3 correction (``CameraOptimizer``'s parametrisation: a turn about the camera's own
centre and a move, in the unit frame), fitted by Adam on the photometric error of ``rays_per_view`` random
pixels of every view a step. No coarse-to-fine window here: the trained field's decoder only knows all
levels together (zeroing the finer ones made the fit diverge), and the errors left are a pixel or two.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from fields.models.camera_optimizer import correct_c2w, correct_rays
from fields.modules import eval_mode
from fields.render.cameras import Cameras, generate_rays
from fields.render.rays import Rays


def align_views(task: Any, views: list[int], steps: int, rays_per_view: int = 256, lr: float = 1e-3,
                seed: int = 0, progress=lambda steps: steps) -> torch.Tensor:
    """Corrections ``(len(views), 6)`` (rotation vector, unit-frame translation) of ``task``'s cameras
    ``views`` that best fit their images, the field frozen. ``task``: a multi-view task with ``render_rays``.
    The lr decays exponentially to a tenth over the steps; ``progress`` wraps the list of steps."""
    cameras, device = task.cameras, task.device
    index = torch.tensor(views, dtype=torch.long)
    adj = torch.zeros(len(views), 6, requires_grad=True)
    optimizer = torch.optim.Adam([adj], lr=lr)
    generator = torch.Generator().manual_seed(seed)
    which = torch.arange(len(views)).repeat_interleave(rays_per_view)
    n = len(which)
    background = task.eval_background.expand(n, 3)
    with eval_mode(task), torch.enable_grad():
        for step in progress(list(range(steps))):
            for group in optimizer.param_groups:
                group["lr"] = lr * 0.1 ** (step / max(steps - 1, 1))
            x = torch.randint(cameras.width, (n,), generator=generator)
            y = torch.randint(cameras.height, (n,), generator=generator)
            camera = index[which]
            unit = task.transform.rays_to_unit(generate_rays(cameras, camera, x.float() + 0.5, y.float() + 0.5))
            origins, directions = correct_rays(unit.origins, unit.directions, adj[which])
            out = task.render_rays(Rays(origins.to(device), directions.to(device), None), background)
            target = task.target_rgb(task.images[camera, y, x], background)
            loss = ((out.rgb.float() - target) ** 2).mean(-1).sum() / rays_per_view  # a mean per view, summed
            (adj.grad,) = torch.autograd.grad(loss, [adj])
            optimizer.step()
    return adj.detach()


def aligned_cameras(task: Any, views: list[int], corrections: torch.Tensor) -> Cameras:
    """``task.cameras`` with ``corrections (len(views), 6)`` applied to ``views`` (world poses)."""
    c2w = task.cameras.c2w.clone()
    index = torch.tensor(views, dtype=torch.long)
    c2w[index] = correct_c2w(c2w[index].double(), corrections.double(), task.transform.scale).to(c2w)
    return replace(task.cameras, c2w=c2w)
