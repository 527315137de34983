"""Every decoder: shapes, dtypes, parameter counts, first and second derivatives (float64 gradcheck /
gradgradcheck on tiny sizes, in the features and in the parameters)."""

from __future__ import annotations

import pytest
import torch

from fields.decoders import DECODERS

TINY = [
    ("mlp", {"n_neurons": 5, "n_hidden_layers": 2, "activation": "softplus"}),
    ("mlp", {"n_neurons": 5, "n_hidden_layers": 1, "init": "siren"}),
    ("mlp", {"n_neurons": 6, "n_hidden_layers": 2, "init": "geometric", "activation": "softplus100"}),
    ("mlp", {"n_neurons": 4, "n_hidden_layers": 1, "activation": "tanh", "weight_norm": True}),
    ("hourglass", {"skip_width": 4, "bottleneck_width": 2, "n_blocks": 2, "activation": "silu"}),
    (
        "hourglass",
        {
            "skip_width": 6,
            "bottleneck_width": 2,
            "n_blocks": 1,
            "activation": "tanh",
            "norm": "none",
            "train_input_projection": True,
        },
    ),
    ("gr_kan", {"n_neurons": 6, "n_hidden_layers": 1, "n_groups": 2}),
    ("gr_kan", {"n_neurons": 4, "n_hidden_layers": 2, "n_groups": 4, "q_form": "abs_sum", "hidden_init": "gelu"}),
    ("s_kan", {"n_neurons": 2, "n_hidden_layers": 1, "n_basis": 2, "families": ["silu", "rbf", "fourier"]}),
    (
        "s_kan",
        {"n_neurons": 2, "n_hidden_layers": 1, "n_basis": 3, "selection": "hard", "families": ["chebyshev", "wavelet"]},
    ),
    ("cam_mlp", {"n_neurons": 4, "n_hidden_layers": 1, "grid_resolution": [3], "norm": "none"}),
    ("cam_mlp", {"n_neurons": 4, "n_hidden_layers": 1, "cam_coords": [2], "grid_resolution": [4], "per_channel": True}),
    ("gaussian_rbf", {"n_units": 5}),
    ("neurbf_mlp", {"n_neurons": 4, "n_hidden_layers": 1}),
]
IN_DIM, OUT_DIM, COORD_DIM = 3, 2, 3


def default_cases(name: str) -> list[tuple[str, dict]]:
    """A registered decoder with no tiny case above is tested with its default config: a new decoder
    needs no edit here (add a tiny case when its defaults are large)."""
    return [(name, {})]


# every registered decoder (the registry is the list; TINY only picks small sizes)
CASES = TINY + [case for name in DECODERS.names() if name not in {n for n, _ in TINY} for case in default_cases(name)]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]


def coords_for(x: torch.Tensor) -> torch.Tensor:
    """Input coordinates in [0.1, 0.9] beside features ``x (..., IN_DIM)`` (CAM's grids read them)."""
    g = torch.Generator().manual_seed(x.numel())
    return (0.1 + 0.8 * torch.rand(*x.shape[:-1], COORD_DIM, generator=g)).to(x.dtype)


def build(name: str, config: dict, in_dim: int = IN_DIM, out_dim: int = OUT_DIM, dtype=torch.float32):
    return DECODERS.build(DECODERS.validate({"type": name, **config}), in_dim, out_dim).to(dtype)


@pytest.mark.parametrize("name,config", CASES, ids=IDS)
def test_shapes_and_dtypes(name, config):
    dec = build(name, config)
    assert (dec.in_dim, dec.out_dim) == (IN_DIM, OUT_DIM)
    for dtype in (torch.float32, torch.float64):
        dec = dec.to(dtype)
        x = torch.randn(3, 5, IN_DIM, dtype=dtype)
        c = coords_for(x)
        y = dec(x, c)
        assert y.shape == (3, 5, OUT_DIM) and y.dtype == dtype and torch.isfinite(y).all()
        assert torch.allclose(dec(x.reshape(-1, IN_DIM), c.reshape(-1, COORD_DIM)).reshape(3, 5, -1), y)
        assert dec(torch.zeros(0, IN_DIM, dtype=dtype), torch.zeros(0, COORD_DIM, dtype=dtype)).shape == (0, OUT_DIM)


@pytest.mark.parametrize("name,config", CASES, ids=IDS)
def test_gradcheck_and_gradgradcheck(name, config):
    dec = build(name, config, dtype=torch.float64)
    checked = []
    with torch.no_grad():
        for pname, p in dec.named_parameters():
            if pname.endswith("rational.b"):
                p.add_(0.1 * torch.sign(p))  # |b| has a kink at 0, where the init keeps the odd terms (1e-6)
            if pname.endswith("logits"):
                p.copy_(torch.randn_like(p))  # distinct logits: a finite difference must not flip the arg-max
                if dec.config.selection == "hard":
                    continue  # straight-through: the backward is a deliberate surrogate, not the derivative
            if p.requires_grad:
                checked.append(p)
    x = torch.randn(3, IN_DIM, dtype=torch.float64, requires_grad=True)
    c = coords_for(x)

    def f(x, *ps):
        return dec(x, c)

    assert torch.autograd.gradcheck(f, (x, *checked), eps=1e-6, atol=1e-5)
    # fast mode checks random projections of the second-order Jacobians: the same test, far cheaper
    assert torch.autograd.gradgradcheck(f, (x, *checked), eps=1e-6, atol=1e-5, fast_mode=True)
    assert torch.autograd.gradgradcheck(f, (x,), eps=1e-6, atol=1e-5)


def test_every_registered_decoder_is_in_the_contract_tests():
    assert {name for name, _ in CASES} == set(DECODERS.names())


def test_param_counts():
    def linear(a, b):
        return a * b + b

    mlp = build("mlp", {"n_neurons": 7, "n_hidden_layers": 2}, 5, 3)
    assert mlp.n_params() == linear(5, 7) + linear(7, 7) + linear(7, 3)
    # hourglass: the random lift is a buffer, not a parameter; each block LN(W) + W->B + B->W
    w, b, n = 16, 4, 3
    hg = build("hourglass", {"skip_width": w, "bottleneck_width": b, "n_blocks": n}, 5, 3)
    assert hg.n_params() == n * (2 * w + linear(w, b) + linear(b, w)) + linear(w, 3)
    assert "w_in" in hg.state_dict() and all(p is not hg.w_in for p in hg.parameters())
    hg = build(
        "hourglass",
        {"skip_width": w, "bottleneck_width": b, "n_blocks": n, "norm": "none", "train_input_projection": True},
        5,
        3,
    )
    assert hg.n_params() == 5 * w + n * (linear(w, b) + linear(b, w)) + linear(w, 3)
    # GR-KAN: per layer 6 + 4 coefficients per group, then a linear map; gcd(8, 5) = 1 group on the input
    kan = build("gr_kan", {"n_neurons": 16, "n_hidden_layers": 1, "n_groups": 8}, 5, 3)
    assert kan.n_params() == (10 * 1 + linear(5, 16)) + (10 * 8 + linear(16, 3))
    # S-KAN: per family a (out, in * basis) map, (out, families) logits, a bias
    fams = {"silu": 1, "chebyshev": 4, "rbf": 4, "fourier": 4, "wavelet": 4}
    skan = build("s_kan", {"n_neurons": 6, "n_hidden_layers": 1, "n_basis": 4}, 5, 3)
    per_layer = lambda a, o: sum(o * a * k for k in fams.values()) + o * len(fams) + o  # noqa: E731
    assert skan.n_params() == per_layer(5, 6) + per_layer(6, 3)


def test_unknown_names_are_errors():
    from pydantic import ValidationError

    with pytest.raises((ValueError, ValidationError)):
        DECODERS.validate({"type": "s_kan", "families": ["spline9"]})
    with pytest.raises((ValueError, ValidationError)):
        DECODERS.validate({"type": "hourglass", "activation": "nope"})
    with pytest.raises((ValueError, ValidationError)):
        DECODERS.validate({"type": "gr_kan", "hidden_init": "relu"})
