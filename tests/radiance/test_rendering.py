"""Volume rendering against the direct formula, in both layouts, with gradients; scans; losses; samplers."""

from __future__ import annotations

import torch

from fields.kernels.packing import exclusive_sum, packed_info_from_ray_indices, ray_indices_from_packed_info
from fields.render.proposal import ProposalSampler, interlevel_loss, outer, proposal_update_due
from fields.render.samplers import sample_pdf, uniform_bins
from fields.render.volume_rendering import (accumulate_along_rays, distortion_loss, render, render_weights_from_alpha,
                                            render_weights_from_density)


def direct_weights(t0, t1, sigma):
    """w_i = exp(-sum_{j<i} sigma_j delta_j) (1 - exp(-sigma_i delta_i)), one ray at a time, by loops."""
    out = []
    for r in range(t0.shape[0]):
        acc, row = torch.zeros((), dtype=t0.dtype), []
        for i in range(t0.shape[1]):
            delta = t1[r, i] - t0[r, i]
            row.append(torch.exp(-acc) * (1 - torch.exp(-sigma[r, i] * delta)))
            acc = acc + sigma[r, i] * delta
        out.append(torch.stack(row))
    return torch.stack(out)


def random_rays(n_rays=5, n=7, dtype=torch.float64):
    edges = torch.sort(torch.rand(n_rays, n + 1, dtype=dtype) * 3, dim=-1).values
    sigma = (torch.rand(n_rays, n, dtype=dtype) * 4).requires_grad_(True)
    return edges[:, :-1], edges[:, 1:], sigma


def to_packed(x, counts):
    return torch.cat([x[r, :c] for r, c in enumerate(counts)])


def test_batched_weights_match_the_formula_and_gradients():
    t0, t1, sigma = random_rays()
    weights, trans, alphas = render_weights_from_density(t0, t1, sigma)
    assert torch.allclose(weights, direct_weights(t0, t1, sigma), atol=1e-12)
    assert torch.allclose(alphas, 1 - torch.exp(-sigma * (t1 - t0)))
    assert torch.allclose(trans[:, 0], torch.ones(5, dtype=torch.float64))
    g1 = torch.autograd.grad(weights.sum(), sigma)[0]
    g2 = torch.autograd.grad(direct_weights(t0, t1, sigma).sum(), sigma)[0]
    assert torch.allclose(g1, g2, atol=1e-10)
    assert torch.autograd.gradcheck(lambda s: render_weights_from_density(t0, t1, s)[0], (sigma,))


def test_packed_layout_matches_batched_with_uneven_rays():
    t0, t1, sigma = random_rays()
    counts = [7, 0, 3, 1, 5]  # a ray without samples too
    ray_indices = torch.repeat_interleave(torch.arange(5), torch.tensor(counts))
    p0, p1, ps = to_packed(t0, counts), to_packed(t1, counts), to_packed(sigma, counts)
    weights, _, _ = render_weights_from_density(p0, p1, ps, ray_indices)
    for r, c in enumerate(counts):
        if c:
            expected = direct_weights(t0[r : r + 1, :c], t1[r : r + 1, :c], sigma[r : r + 1, :c])[0]
            assert torch.allclose(weights[ray_indices == r], expected, atol=1e-12)
    assert torch.autograd.gradcheck(lambda s: render_weights_from_density(p0, p1, s, ray_indices)[0], (ps,))
    values = torch.rand(len(ps), 3, dtype=torch.float64)
    acc = accumulate_along_rays(weights, values, ray_indices, 5)
    assert acc.shape == (5, 3) and torch.all(acc[1] == 0)
    assert torch.allclose(acc[2], (weights[ray_indices == 2, None] * values[ray_indices == 2]).sum(0))
    info = packed_info_from_ray_indices(ray_indices, 5)
    assert info.tolist() == [[0, 7], [7, 0], [7, 3], [10, 1], [11, 5]]
    assert torch.equal(ray_indices_from_packed_info(info), ray_indices)


def test_exclusive_sum_keeps_precision_over_long_packs():
    x = torch.full((200_000,), 0.37)
    ray_indices = torch.arange(200_000) // 100
    scan = exclusive_sum(x, ray_indices)
    assert torch.allclose(scan[100:200], torch.arange(100) * 0.37, atol=1e-4)
    assert torch.allclose(scan[-100:], torch.arange(100) * 0.37, atol=1e-4)


def test_alpha_weights_and_render_with_background():
    alphas = torch.tensor([[0.5, 0.5, 1.0, 0.3]])
    weights, trans = render_weights_from_alpha(alphas)
    assert torch.allclose(weights, torch.tensor([[0.5, 0.25, 0.25, 0.0]]), atol=1e-6)
    packed, _ = render_weights_from_alpha(alphas[0], torch.zeros(4, dtype=torch.long))
    assert torch.allclose(packed, weights[0], atol=1e-6)
    # an empty ray shows the background; a saturated one its colour
    t0 = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    fn = lambda a, b, ri: (torch.tensor([[[1.0, 0, 0]] * 2, [[1.0, 0, 0]] * 2]), torch.tensor([[0.0, 0.0], [1e4, 0.0]]))  # noqa
    out = render(t0, t0 + 1, None, 2, fn, background=torch.tensor([0.0, 0.0, 1.0]))
    assert torch.allclose(out.rgb, torch.tensor([[0.0, 0, 1], [1, 0, 0]]), atol=1e-5)
    assert torch.allclose(out.opacity[:, 0], torch.tensor([0.0, 1.0]), atol=1e-5)
    assert torch.allclose(out.depth[1], torch.tensor([0.5]), atol=1e-4)


def test_distortion_loss_matches_the_double_sum_in_both_layouts():
    t0, t1, sigma = random_rays()
    w = torch.rand(5, 7, dtype=torch.float64)
    mid = (t0 + t1) / 2
    brute = (w[:, :, None] * w[:, None, :] * (mid[:, :, None] - mid[:, None, :]).abs()).sum((1, 2)) + (
        w**2 * (t1 - t0)
    ).sum(-1) / 3
    assert torch.allclose(distortion_loss(w, t0, t1), brute)
    ray_indices = torch.arange(5).repeat_interleave(7)
    assert torch.allclose(distortion_loss(w.reshape(-1), t0.reshape(-1), t1.reshape(-1), ray_indices, 5), brute)


def test_pdf_sampling_follows_the_weights():
    bins = uniform_bins(torch.zeros(1000), torch.ones(1000), 10)
    weights = torch.zeros(1000, 10)
    weights[:, 3] = 1.0  # all mass in [0.3, 0.4)
    edges = sample_pdf(bins, weights, 64, stratified=True, generator=torch.Generator().manual_seed(0), padding=0.0)
    inner = edges[:, 1:-1]
    assert edges.shape == (1000, 65) and torch.all(edges[:, 1:] >= edges[:, :-1])
    assert ((inner >= 0.3 - 1e-6) & (inner <= 0.4 + 1e-6)).float().mean() > 0.95


def test_interlevel_loss_is_zero_for_an_envelope_and_positive_otherwise():
    t = torch.linspace(0, 1, 9)[None]
    w = torch.tensor([[0, 0, 0.2, 0.6, 0.2, 0, 0, 0]])
    t_env = torch.tensor([[0.0, 0.26, 0.51, 0.76, 1.0]])  # edges that do not coincide with t's
    expected = torch.tensor([[0, 0, 0.8, 0.8, 1.0, 0.2, 0.2, 0]])
    assert torch.allclose(outer(t, t_env, torch.tensor([[0.0, 0.8, 0.2, 0.0]])), expected)
    assert float(interlevel_loss(t, w, t_env, torch.tensor([[0.0, 0.8, 0.2, 0.0]]))) == 0.0
    w_env = torch.tensor([[0.5, 0.0, 0.0, 0.5]], requires_grad=True)
    loss = interlevel_loss(t, w, t_env, w_env)
    assert loss > 0.1
    loss.backward()
    assert w_env.grad[0, 1] < 0  # raising the envelope where the scene is lowers the loss


def test_proposal_fields_train_on_nerfacto_schedule_and_only_propose_in_between():
    due = [step for step in range(12000) if proposal_update_due(step, 5, 5000)]
    assert all(s in due for s in range(1000))  # every step at first
    late = [s for s in due if s >= 6000]
    assert set(b - a for a, b in zip(late, late[1:])) == {5}  # then every 5th
    assert 1000 < len(due) < 4500
    assert proposal_update_due(7, 5, 0) and not proposal_update_due(11, 5, 0)

    weight = torch.ones((), requires_grad=True)
    sampler = ProposalSampler((8,), 4)
    near, far = torch.zeros(3), torch.ones(3)
    for update in (True, False):
        _, rounds = sampler.sampling([lambda t0, t1: weight * (t0 + t1)], near, far, update=update)
        assert rounds[0][1].requires_grad == update


def test_an_overflowing_density_gives_an_opaque_sample_not_nan():
    """A density of inf (trunc-exp overflow) made ``cumsum(x) - x`` give ``inf - inf``: NaN weights and loss."""
    sigmas = torch.tensor([[0.5, float("inf"), 2.0, 1.0], [0.1, 0.2, 0.3, 0.4]], requires_grad=True)
    t = torch.linspace(0.0, 4.0, 5).expand(2, 5)
    weights, transmittance, _ = render_weights_from_density(t[:, :-1], t[:, 1:], sigmas)
    assert torch.isfinite(weights).all() and torch.isfinite(transmittance).all()
    assert torch.allclose(weights[0, 1], torch.exp(torch.tensor(-0.5)))  # it takes all the light left
    assert weights[0, 2:].abs().max() == 0
    weights.sum().backward()
    assert torch.isfinite(sigmas.grad[1]).all()
