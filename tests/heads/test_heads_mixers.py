"""Every registered token mixer: shapes, gradients to every parameter, the flags it declares, its errors."""

from __future__ import annotations

import pytest
import torch

from fields.heads import MIXERS, build_mixer

DIM, RES = 16, (8, 8)
# small options so every mixer fits a 16-channel 8x8 map (defaults are sized for 32x32 images)
OPTIONS: dict[str, dict] = {
    "swin": {"window_size": 4, "head_dim": 8},
    "gated_attention": {"head_dim": 8},
}


def make(name: str, resolution=RES, dim: int = DIM, **extra):
    return build_mixer({"type": name, **OPTIONS.get(name, {}), **extra}, dim, resolution)


@pytest.mark.parametrize("name", MIXERS.names())
def test_shape_and_gradients(name):
    torch.manual_seed(0)
    mixer = make(name).train()
    x = torch.randn(2, *RES, DIM, requires_grad=True)
    y = mixer(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for pname, p in mixer.named_parameters():
        assert p.grad is not None, f"{name}: no gradient reaches {pname}"
        assert p.grad.abs().sum() > 0, f"{name}: zero gradient at {pname}"


@pytest.mark.parametrize("name", MIXERS.names())
def test_resolution_rules(name):
    cls = MIXERS.get(name)
    mixer = make(name)
    d = mixer.divisibility
    if d > 1:
        bad = (d * 2 + 1, d * 2 + 1)
        with pytest.raises(ValueError, match=f"'{name}'.*divisible by {d}"):
            make(name, resolution=bad)
    if cls.needs_fixed_resolution:
        with pytest.raises(ValueError, match=f"'{name}'.*fixed input resolution"):
            make(name, resolution=None)
        with pytest.raises(ValueError, match=f"'{name}'.*built for 8x8"):
            mixer(torch.randn(1, 16, 16, DIM))
    else:  # mixers without a fixed resolution run on other sizes than the one they were built for
        other = (max(d, 4) * 3, max(d, 4) * 2)
        assert mixer(torch.randn(1, *other, DIM)).shape == (1, *other, DIM)
    with pytest.raises(ValueError, match=f"'{name}'.*expects"):
        mixer(torch.randn(1, *RES, DIM + 1))


@pytest.mark.parametrize("name", MIXERS.names())
def test_token_mixing_flags(name):
    """``mixes_tokens``: a change at one token reaches others (or not); ``order_invariant``: permuting tokens
    permutes the output the same way."""
    torch.manual_seed(0)
    cls = MIXERS.get(name)
    mixer = make(name).eval()
    x = torch.randn(1, *RES, DIM)
    x2 = x.clone()
    x2[0, 3, 4] += torch.randn(DIM)  # not a constant: a LayerNorm would erase it
    with torch.no_grad():
        delta = (mixer(x2) - mixer(x)).abs().sum(-1)[0]
    delta[3, 4] = 0
    if cls.mixes_tokens:
        assert delta.max() > 1e-6, f"{name} claims to mix tokens but token (3, 4) reached no other token"
    else:
        assert delta.max() == 0, f"{name} claims not to mix tokens but token (3, 4) changed others"
    if cls.order_invariant:
        perm = torch.randperm(RES[0] * RES[1])
        flat = x.reshape(1, -1, DIM)
        with torch.no_grad():
            y_perm = mixer(flat[:, perm].reshape(x.shape)).reshape(1, -1, DIM)
            y = mixer(x).reshape(1, -1, DIM)[:, perm]
        torch.testing.assert_close(y_perm, y, atol=1e-5, rtol=1e-5)


def test_unknown_mixer_and_option_are_clear_errors():
    with pytest.raises(Exception, match="unknown token mixer 'poool'.*did you mean pool"):
        build_mixer("poool", DIM, RES)
    with pytest.raises(Exception, match="pool_sise"):
        build_mixer({"type": "pool", "pool_sise": 3}, DIM, RES)
