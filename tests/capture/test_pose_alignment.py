"""The test-time pose alignment of held-out views (render.eval_pose_align)."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from fields.models.camera_optimizer import correct_c2w, so3_exp, so3_log
from fields.render.cameras import Cameras, generate_rays
from fields.render.rays import SceneTransform
from fields.render.volume_rendering import RenderOutput
from fields.tasks.held_out_align import align_views, aligned_cameras


class _PlaneTask(nn.Module):
    """Just what ``align_views`` uses of a multi-view task: a textured plane ``z = 0.5`` (unit frame) seen by
    cameras 3 units away; the images are rendered from the true poses, ``cameras`` are moved ones."""

    def __init__(self, true: Cameras, given: Cameras):
        super().__init__()
        self.device = torch.device("cpu")
        self.transform = SceneTransform(torch.zeros(3), 1.0)
        self.eval_background = torch.zeros(3)
        self.cameras = true
        v, u = torch.meshgrid(torch.arange(true.height) + 0.5, torch.arange(true.width) + 0.5, indexing="ij")
        images = []
        for i in range(len(true)):
            rays = self.transform.rays_to_unit(generate_rays(true, torch.full((u.numel(),), i), u.reshape(-1),
                                                             v.reshape(-1)))
            images.append(self.render_rays(rays, None).rgb.reshape(true.height, true.width, 3))
        self.images = (torch.stack(images) * 255).round().to(torch.uint8)
        self.cameras = given

    def render_rays(self, rays, background) -> RenderOutput:
        t = (0.5 - rays.origins[:, 2]) / rays.directions[:, 2]
        p = rays.origins + t[:, None] * rays.directions
        rgb = 0.5 + 0.4 * torch.stack((torch.sin(9 * p[:, 0]) * torch.cos(7 * p[:, 1]), torch.sin(5 * p[:, 1] + 1),
                                        torch.cos(6 * p[:, 0] - 4 * p[:, 1])), -1)
        return RenderOutput(rgb, torch.ones_like(t)[:, None], t[:, None], rgb.new_zeros(0), {})

    def target_rgb(self, pixels, background):
        return pixels.float()[:, :3] / 255.0


def test_alignment_recovers_the_held_out_views_true_poses():
    g = torch.Generator().manual_seed(0)
    c2w = torch.zeros(3, 3, 4)
    c2w[:, :, :3] = torch.diag(torch.tensor([1.0, -1.0, -1.0]))  # looking down -z at the plane (opencv axes)
    c2w[:, :, 3] = torch.tensor([[0.5, 0.5, 3.5], [0.7, 0.4, 3.4], [0.3, 0.6, 3.6]])
    n = len(c2w)
    true = Cameras(c2w, torch.full((n,), 60.0), torch.full((n,), 60.0), torch.full((n,), 32.0),
                   torch.full((n,), 24.0), 64, 48, "opencv")
    error = torch.cat((torch.randn(n, 3, generator=g) * 0.006, torch.randn(n, 3, generator=g) * 0.01), -1)
    given = replace(true, c2w=correct_c2w(c2w.double(), error.double(), 1.0).float())
    task = _PlaneTask(true, given)
    views = [0, 2]
    corrections = align_views(task, views, steps=150, rays_per_view=512, lr=2e-3)
    aligned = aligned_cameras(task, views, corrections).c2w
    before = so3_log(given.c2w[views, :, :3] @ c2w[views, :, :3].transpose(1, 2)).norm(dim=-1)
    after = so3_log(aligned[views, :, :3] @ c2w[views, :, :3].transpose(1, 2)).norm(dim=-1)
    assert (after < 0.25 * before).all(), (before, after)
    assert torch.equal(aligned[1], given.c2w[1])  # a view not asked for stays
    assert torch.allclose(so3_exp(corrections[:, :3]).det(), torch.ones(2))
