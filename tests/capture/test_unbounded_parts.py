"""Scene contraction, disparity spacing, SO3 exponential, camera corrections, appearance codes."""

from __future__ import annotations

import math

import pytest
import torch

from fields.models.appearance import AppearanceEmbedding
from fields.models.camera_optimizer import CameraOptimizer, so3_exp
from fields.models.contraction import SceneContraction, contract, uncontract
from fields.render.spacing import lindisp_piecewise_bins, normalized_spacing


@pytest.mark.parametrize("kind", ["linf", "l2"])
def test_contraction_keeps_the_foreground_and_squeezes_the_rest(kind):
    g = torch.Generator().manual_seed(0)
    inner = torch.rand(1000, 3, generator=g) * 1.8 - 0.9  # |x|_inf < 1
    if kind == "l2":
        inner = inner / inner.norm(dim=-1, keepdim=True).clamp_min(1.0)
    assert torch.equal(contract(inner, kind), inner)
    far = torch.randn(1000, 3, generator=g) * 1e4
    y = contract(far, kind)
    norm = y.abs().amax(-1) if kind == "linf" else y.norm(dim=-1)
    assert (norm < 2).all() and (norm > 1.99).all()  # far points land at the outer shell
    x = torch.randn(2000, 3, generator=g, dtype=torch.float64) * 5
    assert torch.allclose(uncontract(contract(x, kind), kind), x, rtol=1e-6, atol=1e-9)
    # monotone along a ray leaving the foreground, continuous at the boundary
    f64 = torch.float64
    t = torch.linspace(0.5, 50, 500, dtype=f64)[:, None] * torch.tensor([[0.6, 0.8, 0.0]], dtype=f64)
    n = contract(t, kind).norm(dim=-1)
    assert (n[1:] > n[:-1]).all()
    c = SceneContraction(kind)
    u = c.to_field(torch.tensor([[0.5, 0.5, 0.5], [1.0, 0.5, 0.5], [1e6, 0.5, 0.5]]))
    assert torch.allclose(u[:, 0], torch.tensor([0.5, 0.75, 1.0]), atol=1e-6)


def test_lindisp_bins_are_linear_inside_and_reach_the_far_plane():
    near, far = torch.tensor([0.0, 0.1]), torch.tensor([1000.0, 1000.0])
    bins = lindisp_piecewise_bins(near, far, 64, unit=0.5)
    assert bins.shape == (2, 65) and (bins[:, 1:] >= bins[:, :-1]).all()
    assert torch.allclose(bins[:, 0], near) and torch.allclose(bins[:, -1], far, rtol=1e-4)
    inside = bins[0][bins[0] < 0.5]
    assert len(inside) >= 30 and torch.allclose(inside[1:] - inside[:-1], inside[1] - inside[0], atol=1e-5)
    stratified = lindisp_piecewise_bins(near, far, 64, 0.5, True, torch.Generator().manual_seed(0))
    assert (stratified[:, 1:] >= stratified[:, :-1]).all() and not torch.allclose(stratified, bins)
    s = normalized_spacing(bins[0], 0.5)  # the bins are even in normalised spacing, far plane at s < 1
    assert torch.allclose(s[1:] - s[:-1], s[1] - s[0], atol=1e-4) and 0.99 < float(s[-1]) < 1.0


def test_so3_exp_is_a_rotation_matching_axis_angle():
    omega = torch.tensor([[0.0, 0.0, math.pi / 2], [1e-9, 0, 0], [0.3, -0.2, 0.5]], dtype=torch.float64)
    r = so3_exp(omega)
    x, y = torch.tensor([1.0, 0, 0], dtype=torch.float64), torch.tensor([0.0, 1, 0], dtype=torch.float64)
    assert torch.allclose(r[0] @ x, y, atol=1e-12)
    assert torch.allclose(r @ r.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(3, 3, 3), atol=1e-12)
    assert torch.allclose(torch.linalg.det(r), torch.ones(3, dtype=torch.float64))
    assert torch.allclose(r[1], torch.eye(3, dtype=torch.float64), atol=1e-8)


def test_camera_corrections_recover_a_known_perturbation():
    """Directions of 2 cameras rotated by a known small rotation: gradient descent on the corrections finds it."""
    g = torch.Generator().manual_seed(0)
    d = torch.nn.functional.normalize(torch.randn(256, 3, generator=g), dim=-1)
    cams = torch.arange(256) % 2
    truth = torch.tensor([[0.02, -0.01, 0.015], [-0.02, 0.01, -0.015]])  # zero mean: no common motion
    target = (so3_exp(truth)[cams] @ d[:, :, None])[:, :, 0]
    opt = CameraOptimizer(2, rot_l2=0.0, trans_l2=0.0)
    adam = torch.optim.Adam(opt.parameters(), lr=3e-3)
    for _ in range(300):
        _, d2 = opt.apply(torch.zeros_like(d), d, cams)
        loss = ((d2 - target) ** 2).sum(-1).mean()
        adam.zero_grad()
        loss.backward()
        adam.step()
    assert torch.allclose(opt.corrections()[:, :3].detach(), truth, atol=1e-3)
    assert opt.errors()[0] > 1.0  # degrees


def test_appearance_codes_of_held_out_views_are_the_training_mean():
    emb = AppearanceEmbedding(5, 8, train_indices=[1, 2, 4])
    codes = emb(torch.tensor([0, 1, 3]), 3)
    mean = emb.embedding.weight[[1, 2, 4]].mean(0)
    assert torch.allclose(codes[0], mean) and torch.allclose(codes[2], mean)
    assert torch.allclose(codes[1], emb.embedding.weight[1])
    assert torch.allclose(emb(None, 4), mean.expand(4, -1))


def test_appearance_spread_pulls_codes_to_their_mean_and_leaves_the_mean_free():
    emb = AppearanceEmbedding(6, 4, train_indices=[0, 1, 2, 4, 5])
    with torch.no_grad():
        emb.embedding.weight.copy_(torch.arange(24.0).reshape(6, 4) / 10)
    mean = emb.mean().detach().clone()
    codes = emb.embedding.weight.detach()[[0, 1, 2, 4, 5]]
    assert torch.isclose(emb.spread(), ((codes - mean) ** 2).sum(-1).mean())
    emb.spread().backward()
    grad = emb.embedding.weight.grad
    assert grad[3].abs().max() == 0  # the held-out view's code takes no part
    assert torch.allclose(grad[[0, 1, 2, 4, 5]].sum(0), torch.zeros(4), atol=1e-6)  # the mean does not move
    assert (grad[0] < 0).all() and (grad[5] > 0).all()  # the outer codes move inwards


def test_contracted_grid_marches_to_the_far_plane_through_occupied_cells_only():
    from fields.render.contracted_grid import ContractedOccupancyGrid

    contraction = SceneContraction("linf")
    grid = ContractedOccupancyGrid(contraction.to_field, contraction.to_unit, resolution=32, far_plane=500.0)
    target = torch.tensor([[0.5, 0.5, 2.0]])  # beyond the box, in the contracted shell: cell 29 holds z in [1.83, 2.5]
    grid.binaries.zero_()
    cell = (contraction.to_field(target) * 32).floor().long()[0]
    grid.binaries[0, cell[0], cell[1], cell[2]] = True
    origins = torch.tensor([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]])
    directions = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    ri, t0, t1 = grid.sampling(origins, directions, None, render_step_size=1e-2, near_plane=0.0, cone_angle=0.01)
    assert len(ri) > 0 and (ri == 0).all()  # only the ray towards the occupied cell gets samples
    mid = (t0 + t1) / 2
    hit = contraction.to_field(origins[0] + directions[0] * mid[:, None])
    assert ((hit * 32).floor().long() == cell).all()
    assert (t0[1:] >= t0[:-1]).all() and 1.3 < float(mid.min()) and float(mid.max()) < 2.1
    # updates evaluate the field at the unit-frame points of the (contracted) cells
    seen = []
    grid.update_every_n_steps(0, lambda x: seen.append(x) or torch.zeros(len(x)), warmup_steps=1)
    points = torch.cat(seen)
    assert points.abs().max() > 100 and len(points) == 32**3


def test_camera_opt_takes_yaml_bare_off_and_on():
    from fields.tasks.radiance import RadianceRender

    assert RadianceRender(camera_opt=False).camera_opt == "off"
    assert RadianceRender(camera_opt=True).camera_opt == "SO3xR3"
