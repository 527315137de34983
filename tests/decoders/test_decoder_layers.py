"""Decoder building blocks: rational fits, group sharing and variance-preserving init (GR-KAN),
family selection (S-KAN), the Hourglass lift, and the MLP's SIREN and geometric initialisations."""

from __future__ import annotations

import math

import pytest
import torch

from fields.decoders import DECODERS
from fields.decoders.hourglass import HourglassMLP
from fields.decoders.kan import GRKAN, GRKANLayer
from fields.decoders.rational import INITIAL_FITS, TARGETS, GroupRational, fit_rational, rational
from fields.decoders.selectable import FAMILIES, SelectableKANLayer, basis
from fields.encoders import ENCODERS


# --- GR-KAN -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("q_form", ["sum_abs", "abs_sum"])
@pytest.mark.parametrize("init,tol", [("identity", 1e-5), ("swish", 5e-5), ("gelu", 6e-3)])
def test_initial_rational_fits(q_form, init, tol):
    a, b = INITIAL_FITS[q_form][init]
    x = torch.linspace(-4, 4, 4001, dtype=torch.float64)[None, None, :]
    f = rational(x, torch.tensor([a], dtype=torch.float64), torch.tensor([b], dtype=torch.float64), q_form)
    assert (f - TARGETS[init](x)).abs().max() < tol
    assert all(abs(v) > 0 for v in b), "a zero |b| has a zero gradient and could never move"


@pytest.mark.slow  # about 10 s of LBFGS
def test_fit_rational_reproduces_the_swish_coefficients():
    a, b = fit_rational(TARGETS["swish"], "sum_abs", restarts=1)
    x = torch.linspace(-4, 4, 801, dtype=torch.float64)[None, None, :]
    f = rational(x, torch.tensor([a], dtype=torch.float64), torch.tensor([b], dtype=torch.float64))
    assert (f - TARGETS["swish"](x)).abs().max() < 1e-4


def test_rational_denominator_never_vanishes():
    g = torch.Generator().manual_seed(0)
    for q_form in ("sum_abs", "abs_sum"):
        a, b = torch.randn(3, 6, generator=g), torch.randn(3, 4, generator=g) * 5
        x = torch.linspace(-50, 50, 10001)[None, None, :].expand(3, 1, -1)
        assert torch.isfinite(rational(x, a, b, q_form)).all()


def test_coefficients_are_shared_within_groups():
    act = GroupRational(12, n_groups=3, init="swish")
    assert act.a.shape == (3, 6) and act.b.shape == (3, 4)
    with torch.no_grad():
        act.a[1] += torch.tensor([0.3, 0.0, 0.2, 0.0, 0.0, 0.0])
    x = torch.linspace(-2, 2, 7)[:, None].expand(7, 12)
    y = act(x)
    for group in range(3):
        block = y[:, 4 * group : 4 * group + 4]
        assert torch.equal(block, block[:, :1].expand_as(block))  # one function per group
    assert not torch.allclose(y[:, 0], y[:, 4]) and torch.allclose(y[:, 0], y[:, 8])
    assert torch.allclose(y[:, 0], torch.nn.functional.silu(x[:, 0]), atol=1e-4)
    assert GroupRational(10, n_groups=8).n_groups == 2  # gcd when the groups do not divide the width


@pytest.mark.parametrize("init", ["identity", "swish", "gelu"])
def test_variance_preserving_init(init):
    torch.manual_seed(0)
    layer = GRKANLayer(512, 512, n_groups=8, init=init)
    x = torch.randn(4096, 512)
    with torch.no_grad():
        var = layer(x).var().item()
    assert 0.85 < var < 1.15, var


def test_grkan_channel_mlp_is_kat_block():
    block = GRKAN(16, hidden_dim=32)
    assert block.fc1.rational.init == "identity" and block.fc2.rational.init == "swish"
    x = torch.randn(2, 5, 7, 16)
    assert block(x).shape == x.shape
    assert GRKAN(16, out_dim=4)(x).shape == (2, 5, 7, 4)
    with torch.no_grad():  # F1 starts as the identity: fc2(F2(fc1(x)))
        expected = block.fc2(block.fc1.linear(x))
    assert torch.allclose(block(x), expected, atol=1e-4)


# --- S-KAN --------------------------------------------------------------------------------------------

def test_soft_selection_mixes_all_families():
    layer = SelectableKANLayer(3, 4, n_basis=4)
    p = layer.selection_weights()
    assert p.shape == (4, len(FAMILIES)) and torch.allclose(p.sum(-1), torch.ones(4))
    assert torch.allclose(p, torch.full_like(p, 1 / len(FAMILIES)))  # uniform at start


def branch(layer: SelectableKANLayer, k: int, x: torch.Tensor) -> torch.Tensor:
    return basis(layer.families[k], x, layer.n_basis).flatten(-2) @ layer.weights[k].T


def test_hard_selection_uses_one_family_per_node_and_harden_commits():
    torch.manual_seed(0)
    layer = SelectableKANLayer(3, 4, n_basis=4, selection="hard")
    with torch.no_grad():
        layer.logits.copy_(torch.randn_like(layer.logits) * 3)
    best = layer.logits.argmax(-1)
    x = torch.randn(10, 3)
    y = layer(x)
    for j in range(4):
        assert torch.allclose(y[:, j], branch(layer, int(best[j]), x)[:, j] + layer.bias[j], atol=1e-6)
    # the straight-through backward still reaches every family's logits
    y.sum().backward()
    assert (layer.logits.grad != 0).sum() > 4
    n_before = sum(p.numel() for p in layer.parameters() if p.requires_grad)
    layer.harden()
    assert layer.hardened and torch.equal(layer.selected, best)
    assert not layer.logits.requires_grad
    assert sum(p.numel() for p in layer.parameters() if p.requires_grad) == n_before - layer.logits.numel()
    assert torch.allclose(layer(x), y, atol=1e-6)
    fresh = SelectableKANLayer(3, 4, n_basis=4)
    fresh.load_state_dict(layer.state_dict())  # the choice travels with checkpoints
    assert fresh.hardened and torch.allclose(fresh(x), y, atol=1e-6)


def fit_1d(families) -> float:
    torch.manual_seed(0)
    layer = SelectableKANLayer(1, 1, families=families, n_basis=8)
    x = torch.linspace(-2, 2, 256)[:, None]
    y = torch.sin(2 * x) + 0.3 * x**2
    opt = torch.optim.Adam(layer.parameters(), lr=3e-2)
    for _ in range(300):
        opt.zero_grad()
        loss = (layer(x) - y).pow(2).mean()
        loss.backward()
        opt.step()
    return loss.item() / y.var().item()


def test_skan_layer_learns_a_one_dimensional_function():
    """A 1 -> 1 layer fits sin(2x) + 0.3 x^2 on [-2, 2]: a learned edge function, where a fixed
    activation (the silu family alone: a * silu(x) + c) cannot."""
    assert fit_1d(list(FAMILIES)) < 1e-2
    assert fit_1d(["silu"]) > 0.1


# --- Hourglass ----------------------------------------------------------------------------------------

def test_hourglass_lift_is_frozen_and_reproducible():
    cfg = DECODERS.validate({"type": "hourglass", "skip_width": 32, "bottleneck_width": 4, "n_blocks": 2})
    a, b = HourglassMLP(cfg, 6, 3), HourglassMLP(cfg, 6, 3)
    assert torch.equal(a.w_in, b.w_in) and a.w_in.shape == (32, 6)
    x = torch.randn(8, 6)
    a(x).sum().backward()
    assert a.w_in.grad is None
    assert all(blk.down.out_features == 4 and blk.up.out_features == 32 for blk in a.blocks)
    # a block is z + W_up act(W_down LN(z))
    blk, z = a.blocks[0], torch.randn(5, 32)
    assert torch.allclose(
        blk(z), z + blk.up(blk.act(blk.down(torch.nn.functional.layer_norm(z, (32,), blk.norm.weight, blk.norm.bias))))
    )


# --- MLP initialisations ------------------------------------------------------------------------------

def test_siren_init_keeps_activations_arcsine_distributed():
    """SIREN's init: every hidden sine layer's output has the arcsine law on [-1, 1] (std 1/sqrt 2),
    layer after layer; a default init collapses or saturates instead."""
    torch.manual_seed(0)
    cfg = DECODERS.validate({"type": "mlp", "init": "siren", "n_neurons": 256, "n_hidden_layers": 5})
    mlp = DECODERS.build(cfg, 2, 1)
    first = mlp.linears[0].weight
    assert first.abs().max() <= 1.0 / 2 and mlp.linears[1].weight.abs().max() <= math.sqrt(6 / 256)
    h = torch.rand(8192, 2) * 2 - 1
    for layer, act in zip(mlp.linears[:-1], mlp.acts):
        h = act(layer(h))
        assert 0.6 < h.std().item() < 0.8, h.std().item()


def sphere_error(enc, dec, centre: float, radius: float) -> float:
    x = torch.rand(4000, 3)
    with torch.no_grad():
        f = dec(enc(x))[:, 0]
    return (f - ((x - centre).norm(dim=-1) - radius)).abs().mean().item()


@pytest.mark.parametrize("seed", [0, 1])
def test_geometric_init_starts_as_a_sphere_sdf(seed):
    torch.manual_seed(seed)
    mlp = {
        "type": "mlp",
        "init": "geometric",
        "activation": "relu",
        "n_neurons": 512,
        "n_hidden_layers": 2,
        "geometric_radius": 0.3,
    }
    # identity encoding to [-1, 1]: the sphere |2x - 1| = 0.3, i.e. |x - 0.5| = 0.15 in the cube
    enc = ENCODERS.build(ENCODERS.validate({"type": "identity", "scale": 2.0, "offset": -1.0}), 3)
    dec = DECODERS.build(DECODERS.validate(mlp), 3, 1)
    x = torch.rand(4000, 3)
    with torch.no_grad():
        f = dec(enc(x))[:, 0]
    assert (f - ((2 * x - 1).norm(dim=-1) - 0.3)).abs().mean() < 0.08
    # frequency encoding with the input first: NeuS-style zero weights on the sines, centred cube
    enc = ENCODERS.build(ENCODERS.validate({"type": "frequency", "n_frequencies": 6}), 3)
    dec = DECODERS.build(DECODERS.validate({**mlp, "geometric_inputs": 3, "geometric_center": 0.5}), enc.out_dim, 1)
    assert sphere_error(enc, dec, 0.5, 0.3) < 0.06
    assert dec.linears[0].weight[:, 3:].abs().max() == 0
    # without geometric_inputs the sines scramble it: far from any sphere
    dec = DECODERS.build(DECODERS.validate(mlp), enc.out_dim, 1)
    assert sphere_error(enc, dec, 0.5, 0.3) > 0.5
