"""Every encoder: shapes, dtypes, closed-form parameter counts, first and second derivatives (float64
gradcheck / gradgradcheck on tiny sizes), and inputs at and beyond the unit cube."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from fields.encoders import ENCODERS

# (name, config, in_dim): tiny sizes so that float64 finite differences stay cheap
TINY = [
    (
        "hashgrid",
        {
            "n_levels": 3,
            "n_features_per_level": 2,
            "log2_hashmap_size": 5,
            "base_resolution": 2,
            "per_level_scale": 2.0,
        },
        2,
    ),
    (
        "hashgrid",
        {
            "n_levels": 2,
            "n_features_per_level": 1,
            "log2_hashmap_size": 4,
            "base_resolution": 2,
            "interpolation": "smoothstep",
        },
        3,
    ),
    (
        "hashgrid",
        {"n_levels": 2, "n_features_per_level": 2, "log2_hashmap_size": 4, "base_resolution": 3, "backend": "torch"},
        3,
    ),
    ("densegrid", {"n_levels": 2, "n_features_per_level": 2, "base_resolution": 3, "per_level_scale": 1.5}, 2),
    ("densegrid", {"n_levels": 2, "n_features_per_level": 1, "base_resolution": 2, "interpolation": "smoothstep"}, 3),
    ("densegrid", {"n_levels": 1, "n_features_per_level": 1, "base_resolution": 3}, 1),
    ("densegrid", {"n_levels": 1, "n_features_per_level": 1, "base_resolution": 2}, 4),
    ("triplane", {"resolution": 3, "n_features": 2, "aggregation": "sum"}, 3),
    (
        "triplane",
        {"resolution": 3, "n_features": 2, "aggregation": "product", "n_levels": 2, "per_level_scale": 1.5},
        3,
    ),
    ("triplane", {"resolution": 3, "n_features": 1, "aggregation": "concat", "sampler": "grid_sample"}, 3),
    ("kplanes", {"resolution": 3, "n_features": 2, "n_levels": 2}, 2),
    ("kplanes", {"resolution": 2, "time_resolution": 3, "n_features": 1, "n_levels": 1}, 4),
    ("kplanes", {"resolution": 3, "n_features": 2, "n_levels": 1, "sampler": "grid_sample"}, 3),
    ("frequency", {"n_frequencies": 3}, 2),
    ("frequency", {"n_frequencies": 2, "include_input": False}, 3),
    ("fourier", {"n_features": 4, "sigma": 2.0}, 2),
    ("fourier", {"n_features": 3, "sigma": 1.0, "trainable": True}, 3),
    ("sh", {"degree": 5}, 3),
    ("sh", {"degree": 2, "normalize": True}, 3),
    ("identity", {"scale": 2.0, "offset": -1.0}, 3),
    ("gnf_grid", {"channels": [2, 1], "resolutions": [3, 5]}, 2),
    # the normalising denominator is detached on purpose (the paper's), so only the plain kernel sum gradchecks
    ("neurbf", {"n_kernels": 6, "n_frequencies": 2, "n_neighbours": 2, "normalise": False}, 2),
]


def default_cases(name: str) -> list[tuple[str, dict, int]]:
    """A registered encoder with no tiny case above: its default config, in the first dimension it builds
    for. A new encoder is tested with no edit here (add a tiny case when its defaults are large)."""
    for d in (3, 2, 1, 4):
        try:
            ENCODERS.build(ENCODERS.validate({"type": name}), d)
        except (ValueError, TypeError):
            continue
        return [(name, {}, d)]
    raise AssertionError(f"encoder '{name}' builds with its default config for none of 1 to 4 input dimensions")


# every registered encoder (the registry is the list; TINY only picks small sizes)
COVERED = {name for name, _, _ in TINY}
CASES = TINY + [case for name in ENCODERS.names() if name not in COVERED for case in default_cases(name)]
IDS = [f"{name}-{d}d-{i}" for i, (name, _, d) in enumerate(CASES)]


def build(name: str, config: dict, in_dim: int, dtype=torch.float32):
    return ENCODERS.build(ENCODERS.validate({"type": name, **config}), in_dim).to(dtype)


def points(n: int, d: int, seed: int = 0) -> torch.Tensor:
    """Random points away from the cube's faces (finite differences must not cross the clamp)."""
    g = torch.Generator().manual_seed(seed)
    return 0.1 + 0.8 * torch.rand(n, d, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("name,config,in_dim", CASES, ids=IDS)
def test_shapes_and_dtypes(name, config, in_dim):
    enc = build(name, config, in_dim)
    assert enc.in_dim == in_dim
    for dtype in (torch.float32, torch.float64):
        enc = enc.to(dtype)
        x = torch.rand(2, 5, in_dim, dtype=dtype)
        y = enc(x)
        assert y.shape == (2, 5, enc.out_dim) and y.dtype == dtype
        assert torch.isfinite(y).all()
        assert torch.allclose(enc(x.reshape(-1, in_dim)).reshape(2, 5, -1), y)
    assert enc(torch.rand(0, in_dim, dtype=torch.float64)).shape == (0, enc.out_dim)


@pytest.mark.parametrize("name,config,in_dim", CASES, ids=IDS)
def test_gradcheck_input_and_parameters(name, config, in_dim):
    enc = build(name, config, in_dim, torch.float64)
    x = points(4, in_dim).requires_grad_()
    params = [p for p in enc.parameters() if p.requires_grad]

    def f(x, *ps):
        return enc(x)

    assert torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("name,config,in_dim", CASES, ids=IDS)
def test_gradgradcheck_input_and_parameters(name, config, in_dim):
    """Second derivatives: what the eikonal loss of SDF training needs (d/dx, then d/dparams of it)."""
    enc = build(name, config, in_dim, torch.float64)
    with torch.no_grad():  # grid tables start near zero; give them values so products are non-trivial
        for p in enc.parameters():
            p.copy_(torch.randn_like(p))
    x = points(3, in_dim, seed=1).requires_grad_()
    params = [p for p in enc.parameters() if p.requires_grad]

    def f(x, *ps):
        return enc(x)

    assert torch.autograd.gradgradcheck(f, (x, *params), eps=1e-6, atol=1e-5)


def test_eikonal_style_double_backward_reaches_grid_tables():
    """d/dtable of |d out / dx|^2 is non-zero for every grid family (the path the eikonal loss uses)."""
    for name, config, in_dim in CASES:
        enc = build(name, config, in_dim, torch.float64)
        params = [p for p in enc.parameters() if p.requires_grad]
        if not params or name == "fourier":
            continue
        with torch.no_grad():
            for p in params:
                p.copy_(torch.randn_like(p))
        x = points(8, in_dim).requires_grad_()
        (grad_x,) = torch.autograd.grad(enc(x).sum(), x, create_graph=True)
        grads = torch.autograd.grad(grad_x.pow(2).sum(), params)
        assert all(g.abs().sum() > 0 for g in grads), name


def test_every_registered_encoder_is_in_the_contract_tests():
    assert {name for name, _, _ in CASES} == set(ENCODERS.names())


# --- parameter counts: closed-form formulas written here independently of the implementations -----

def tcnn_hashgrid_params(n_levels, f, log2_t, base, b, d):
    """tiny-cuda-nn's GridEncoding: float32 scale, ceil + 1, rounded up to a multiple of 8, capped at T."""
    total = 0
    for level in range(n_levels):
        scale = np.float32(np.exp2(np.float32(level) * np.log2(np.float32(b)))) * np.float32(base) - np.float32(1.0)
        res = int(math.ceil(float(scale))) + 1
        size = (res**d + 7) // 8 * 8
        total += min(size, 2**log2_t)
    return total * f


@pytest.mark.parametrize("d", [1, 2, 3, 4, 7])
@pytest.mark.parametrize(
    "levels,f,log2_t,base,b", [(16, 2, 19, 16, 2.0), (8, 4, 12, 4, 1.5), (12, 2, 14, 16, 1.3819), (2, 1, 3, 3, 2.0)]
)
def test_hashgrid_param_count(d, levels, f, log2_t, base, b):
    config = {
        "n_levels": levels,
        "n_features_per_level": f,
        "log2_hashmap_size": log2_t,
        "base_resolution": base,
        "per_level_scale": b,
    }
    expected = tcnn_hashgrid_params(levels, f, log2_t, base, b, d)
    cfg = ENCODERS.validate({"type": "hashgrid", **config})
    assert type(ENCODERS.build(cfg, d)).expected_params(cfg, d) == expected
    if expected < 5_000_000:
        assert ENCODERS.build(cfg, d).n_params() == expected


def test_hashgrid_param_count_from_max_resolution():
    # Instant-NGP: b = exp((ln N_max - ln N_min) / (L - 1)); 16 levels from 16 to 2048 gives b = 1.3819
    cfg = ENCODERS.validate(
        {"type": "hashgrid", "n_levels": 16, "base_resolution": 16, "max_resolution": 2048, "log2_hashmap_size": 15}
    )
    b = math.exp((math.log(2048) - math.log(16)) / 15)
    assert ENCODERS.build(cfg, 3).n_params() == tcnn_hashgrid_params(16, 2, 15, 16, b, 3)


@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_densegrid_param_count(d):
    cfg = ENCODERS.validate(
        {"type": "densegrid", "n_levels": 3, "n_features_per_level": 3, "base_resolution": 5, "per_level_scale": 1.5}
    )
    # vertices per axis: 5, round(7.5) = 8 (round half to even), round(11.25) = 11
    assert ENCODERS.build(cfg, d).n_params() == 3 * (5**d + 8**d + 11**d)
    cfg = ENCODERS.validate({"type": "densegrid", "n_levels": 3, "base_resolution": 4, "max_resolution": 16})
    assert ENCODERS.build(cfg, d).n_params() == 2 * (4**d + 8**d + 16**d)


def test_plane_param_counts():
    cfg = ENCODERS.validate({"type": "triplane", "resolution": 8, "n_features": 5, "n_levels": 2})
    assert ENCODERS.build(cfg, 3).n_params() == 5 * 3 * (8**2 + 16**2)
    cfg = ENCODERS.validate({"type": "kplanes", "resolution": 8, "time_resolution": 3, "n_features": 4, "n_levels": 2})
    # 4D: three space planes (r x r) and three space-time planes (r x time), per level
    assert ENCODERS.build(cfg, 4).n_params() == 4 * sum(3 * r * r + 3 * r * 3 for r in (8, 16))
    assert ENCODERS.build(cfg, 3).n_params() == 4 * sum(3 * r * r for r in (8, 16))
    assert ENCODERS.build(cfg, 2).n_params() == 4 * sum(r * r for r in (8, 16))


def test_parameter_free_encoders():
    assert build("frequency", {"n_frequencies": 4}, 3).out_dim == 3 * 9
    assert build("frequency", {"n_frequencies": 4, "include_input": False}, 3).out_dim == 24
    assert build("fourier", {"n_features": 7}, 2).n_params() == 0
    assert build("fourier", {"n_features": 7, "trainable": True}, 2).n_params() == 14
    for degree in range(1, 6):
        assert build("sh", {"degree": degree}, 3).out_dim == degree**2
    for name, config, d in TINY:
        if name in ("frequency", "sh", "identity") or (name == "fourier" and not config.get("trainable")):
            assert build(name, config, d).n_params() == 0


# --- the unit cube's boundary -----------------------------------------------------------------------

CLAMPING = [(name, config, d) for name, config, d in TINY if name in ("hashgrid", "densegrid", "triplane", "kplanes")]


@pytest.mark.parametrize("name,config,in_dim", CLAMPING, ids=[f"{n}-{d}d" for n, _, d in CLAMPING])
def test_grids_clamp_inputs_outside_the_cube(name, config, in_dim):
    enc = build(name, config, in_dim, torch.float64)
    with torch.no_grad():
        for p in enc.parameters():
            p.copy_(torch.randn_like(p))
    corners = torch.tensor(list(itertools.product([0.0, 1.0], repeat=in_dim)), dtype=torch.float64)
    far = torch.cat(
        [corners * 3.0 - 1.0, corners * 1e6 - 5e5, torch.full((1, in_dim), -1e30), torch.full((1, in_dim), 1e30)]
    )
    out = enc(far)
    assert torch.isfinite(out).all()
    assert torch.equal(out, enc(far.clamp(0.0, 1.0)))
    edge = torch.rand(64, in_dim, dtype=torch.float64)
    edge[:, 0] = torch.tensor([0.0, 1.0]).repeat(32)  # on the faces
    assert torch.isfinite(enc(edge)).all()
    x = far.clone().requires_grad_()
    (grad,) = torch.autograd.grad(enc(x).sum(), x)
    assert torch.all(grad == 0), "outside the cube the field is constant"


def test_parameter_free_encoders_accept_any_input():
    x = torch.tensor([[-3.0, 0.5, 7.0], [1e3, -1e3, 0.0]], dtype=torch.float64)
    for name, config in (("frequency", {"n_frequencies": 3}), ("fourier", {}), ("sh", {"degree": 4}), ("identity", {})):
        assert torch.isfinite(build(name, config, 3, torch.float64)(x)).all(), name


def test_wrong_input_width_is_an_error():
    for name, config, d in TINY:
        enc = build(name, config, d)
        if name in ("frequency", "fourier", "identity"):
            continue  # no fixed width check beyond the matmul / broadcasting
        with pytest.raises(ValueError):
            enc(torch.rand(4, d + 1))


def test_dimension_limits():
    with pytest.raises(ValueError):
        build("densegrid", {}, 5)
    with pytest.raises(ValueError):
        build("triplane", {}, 2)
    with pytest.raises(ValueError):
        build("kplanes", {}, 5)
    with pytest.raises(ValueError):
        build("sh", {}, 2)
