"""Densification strategies change the count as they say, and Adam's moments follow the Gaussians."""

from __future__ import annotations

import math

import pytest
import torch

from fields.models.gaussians import Gaussians
from fields.models.registry import MODELS
from fields.tasks.splat_mcmc import MCMCStrategy, relocation
from fields.tasks.splat_optim import rebuild
from fields.tasks.splat_strategy import STRATEGIES, DefaultStrategy


def make(n: int, scale: float = 0.001, opacity: float = 0.5) -> Gaussians:
    g = Gaussians(MODELS.validate({"type": "gaussians", "sh_degree": 1}), torch.rand(n, 3), torch.rand(n, 3))
    with torch.no_grad():
        g.log_scales.fill_(math.log(scale))
        g.opacity_logits.fill_(math.log(opacity / (1 - opacity)))
    return g


def adam(g: Gaussians) -> torch.optim.Adam:
    lrs = dict.fromkeys(("means", "log_scales", "quats", "opacity_logits", "sh_dc", "sh_rest"), 0.01)
    opt = torch.optim.Adam(g.param_groups(lrs))
    loss = sum((p * torch.randn_like(p)).sum() for p in g.parameters())
    loss.backward()
    opt.step()
    return opt


def test_rebuild_keeps_moments_of_kept_rows_and_zeros_for_new_ones():
    g = make(10)
    opt = adam(g)
    before = opt.state[g.means]["exp_avg_sq"].clone()
    keep = torch.tensor([0, 2, 5])
    rebuild(g, opt, keep, {k: v[:2].detach() for k, v in g.tensors().items()})
    assert len(g) == 5
    state = opt.state[g.means]
    assert torch.equal(state["exp_avg_sq"][:3], before[keep])
    assert state["exp_avg_sq"][3:].abs().max() == 0
    assert opt.param_groups[0]["params"][0] is g.means
    assert len(opt.state) == 6  # no moments left on the replaced tensors
    loss = sum(p.sum() for p in g.parameters())
    loss.backward()
    opt.step()  # shapes agree


def strategy(**overrides) -> DefaultStrategy:
    config = STRATEGIES.validate(
        {"type": "default", "refine_start": 0, "refine_stop": 1000, "refine_every": 10, "reset_every": 500, **overrides}
    )
    return STRATEGIES.build(config, 1.0, 0)


def test_default_strategy_clones_small_splits_large_and_prunes_transparent():
    g = make(10, scale=0.001)
    with torch.no_grad():
        g.log_scales[5:] = math.log(0.5)  # large: above grow_scale3d * extent = 0.01
        g.opacity_logits[9] = -10.0  # transparent: pruned
    s = strategy()
    s.resized(torch.zeros(0, dtype=torch.long), 10)
    s.grad2d[:] = torch.tensor([1, 1, 1, 0, 0, 1, 1, 0, 0, 0], dtype=torch.float32) * 1e-3
    s.count[:] = 1.0
    opt = adam(g)
    before = g.scales.detach().clone()
    s.post_step(g, opt, 9, torch.Generator().manual_seed(0))  # the 10th step refines
    assert s.last_refine == {"step": 10, "cloned": 3, "split": 2, "pruned": 1, "count": 10 + 3 + 2 - 1}
    assert len(g) == 14 and len(s.grad2d) == 14 and s.count.sum() == 0
    # the split halves have the parent's scale / 1.6; the clones the parent's
    assert torch.allclose(g.scales[-4:], before[[5, 6, 5, 6]] / 1.6)
    assert torch.allclose(g.scales[-7:-4], before[:3])
    assert opt.state[g.means]["exp_avg"].shape == (14, 3)


def test_default_strategy_resets_opacity_and_caps_growth():
    g = make(6, opacity=0.9)
    s = strategy(reset_every=20, max_gaussians=8)
    s.resized(torch.zeros(0, dtype=torch.long), 6)
    s.grad2d[:] = torch.tensor([5, 4, 3, 2, 1, 0.5]) * 1e-3
    s.count[:] = 1.0
    s.post_step(g, None, 9, torch.Generator())
    assert len(g) == 8 and s.last_refine["cloned"] == 2
    s.post_step(g, None, 19, torch.Generator())
    assert float(g.opacities.detach().max()) == pytest.approx(0.01, rel=1e-4)


def test_observe_accumulates_ndc_gradients_of_visible_gaussians():
    g = make(3)
    s = strategy()
    s.resized(torch.zeros(0, dtype=torch.long), 3)
    means2d = torch.zeros(3, 2, requires_grad=True)
    (means2d * torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])).sum().backward()
    s.observe(g, means2d, torch.tensor([1, 1, 0]), 100, 50)
    assert torch.allclose(s.grad2d, torch.tensor([50.0, 50.0, 0.0]))
    assert s.count.tolist() == [1.0, 1.0, 0.0]


def test_mcmc_relocation_preserves_the_composited_opacity():
    opacity = torch.tensor([0.9, 0.5, 0.05], dtype=torch.float64)
    ratios = torch.tensor([2, 5, 1])
    new_o, new_s = relocation(opacity, torch.ones(3, 3, dtype=torch.float64), ratios)
    assert torch.allclose(1 - (1 - new_o) ** ratios, opacity)
    assert torch.allclose(new_s[2], torch.ones(3, dtype=torch.float64))  # one copy: unchanged


def test_mcmc_relocates_dead_gaussians_and_grows_to_the_cap():
    g = make(100, opacity=0.5)
    with torch.no_grad():
        g.opacity_logits[:10] = -10.0
    config = STRATEGIES.validate({"type": "mcmc", "cap": 104, "refine_start": 0, "refine_every": 10, "noise_lr": 0})
    s: MCMCStrategy = STRATEGIES.build(config, 1.0, 100)
    opt = adam(g)
    s.post_step(g, opt, 9, torch.Generator().manual_seed(0))
    assert s.last_refine == {"step": 10, "relocated": 10, "added": 4, "count": 104}
    assert float(g.opacities.min()) > 0.005
    s.post_step(g, opt, 19, torch.Generator().manual_seed(1))
    assert len(g) == 104  # at the cap
    with torch.no_grad():
        g.opacity_logits.fill_(-5.0)  # nearly transparent Gaussians explore; opaque ones barely move
    means = g.means.detach().clone()
    s.config.noise_lr = 5e5
    s.post_step(g, opt, 20, torch.Generator().manual_seed(2))
    assert not torch.equal(means, g.means)
