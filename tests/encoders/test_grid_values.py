"""Values of the dense grid, tri-plane / k-planes and spherical harmonics at chosen points."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from fields.encoders import ENCODERS


def build(name: str, in_dim: int, **config):
    return ENCODERS.build(ENCODERS.validate({"type": name, **config}), in_dim).double()


# --- dense grid -------------------------------------------------------------------------------------

@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_densegrid_reproduces_linear_functions_exactly(d):
    """d-linear interpolation of a table holding a linear function of the vertex is that function."""
    g = build("densegrid", d, n_levels=2, n_features_per_level=1, base_resolution=3, per_level_scale=2.0)
    a = torch.tensor([0.7, -1.3, 2.1, 0.4][:d], dtype=torch.float64)
    with torch.no_grad():
        for level, res in enumerate(g.level_resolutions):
            vertex = torch.stack(torch.meshgrid(*[torch.arange(res, dtype=torch.float64)] * d, indexing="ij"), -1)
            # level_table is indexed [v_{d-1}, ..., v_0]
            values = (vertex * a.flip(0)).sum(-1) + 0.5 * level
            g.level_table(level).copy_(values[..., None])
    x = torch.rand(50, d, dtype=torch.float64)
    x[0] = 1.0
    x[1] = 0.0
    out = g(x)
    for level, res in enumerate(g.level_resolutions):
        expected = (x * (res - 1) * a).sum(-1) + 0.5 * level
        assert torch.allclose(out[:, level], expected, atol=1e-12)


def test_densegrid_vertices_are_exact_and_level_major():
    g = build("densegrid", 2, n_levels=2, n_features_per_level=2, base_resolution=3, per_level_scale=2.0)
    with torch.no_grad():
        g.params.normal_()
    assert g.level_resolutions == [3, 6]
    # vertex (v0, v1) = (2, 1) of level 0 is x = (1.0, 0.5)
    out = g(torch.tensor([[1.0, 0.5]], dtype=torch.float64))[0]
    assert torch.allclose(out[:2], g.level_table(0)[1, 2])
    assert torch.allclose(out[2:], _bilinear(g.level_table(1), 5.0, 2.5))  # level 1: 6 vertices per axis


def _bilinear(table: torch.Tensor, u: float, v: float) -> torch.Tensor:
    """Bilinear read of an image ``table [v, u, F]`` at column ``u``, row ``v``."""
    u0, v0 = min(int(u), table.shape[1] - 2), min(int(v), table.shape[0] - 2)
    fu, fv = u - u0, v - v0
    return ((1 - fu) * (1 - fv) * table[v0, u0] + fu * (1 - fv) * table[v0, u0 + 1]
            + (1 - fu) * fv * table[v0 + 1, u0] + fu * fv * table[v0 + 1, u0 + 1])


# --- planes -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("aggregation", ["sum", "product", "concat"])
def test_triplane_aggregates_bilinear_plane_reads(aggregation):
    enc = build("triplane", 3, resolution=4, n_features=3, n_levels=2, per_level_scale=1.5, aggregation=aggregation)
    with torch.no_grad():
        enc.params.normal_()
    x = torch.rand(20, 3, dtype=torch.float64)
    x[0] = torch.tensor([1.0, 0.0, 1.0])
    out = enc(x)
    per_level = []
    for level in range(2):
        reads = []
        for p, (a, b) in enumerate([(0, 1), (0, 2), (1, 2)]):
            table = enc.plane(level, p)
            r_b, r_a = table.shape[:2]
            reads.append(
                torch.stack([_bilinear(table, float(xi[a]) * (r_a - 1), float(xi[b]) * (r_b - 1)) for xi in x])
            )
        reads = torch.stack(reads, 1)  # (N, 3, F)
        per_level.append({"sum": reads.sum(1), "product": reads.prod(1), "concat": reads.flatten(1)}[aggregation])
    assert torch.allclose(out, torch.cat(per_level, -1), atol=1e-12)


@pytest.mark.parametrize("name,in_dim", [("triplane", 3), ("kplanes", 2), ("kplanes", 3), ("kplanes", 4)])
def test_grid_sample_and_gather_samplers_agree(name, in_dim):
    a = build(name, in_dim, resolution=5, n_features=3, n_levels=2, sampler="gather")
    b = build(name, in_dim, resolution=5, n_features=3, n_levels=2, sampler="grid_sample")
    with torch.no_grad():
        a.params.normal_()
        b.params.copy_(a.params)
    x = torch.cat(
        [torch.rand(100, in_dim, dtype=torch.float64) * 1.4 - 0.2, torch.ones(1, in_dim, dtype=torch.float64)]
    )
    assert torch.allclose(a(x), b(x), atol=1e-12)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    (ga,) = torch.autograd.grad(a(xa).pow(2).sum(), xa)
    (gb,) = torch.autograd.grad(b(xb).pow(2).sum(), xb)
    # exactly on the top face the derivative is one-sided: gather takes the inner cell's, grid_sample not
    assert torch.allclose(ga[:-1], gb[:-1], atol=1e-10)


def test_kplanes_starts_static_in_time_and_uses_all_pairs():
    enc = build("kplanes", 4, resolution=6, time_resolution=4, n_features=4, n_levels=2)
    assert enc.pairs == list(itertools.combinations(range(4), 2))
    time_planes = [q for q, (a, b) in enumerate(enc.pairs) if b == 3]
    assert len(time_planes) == 3
    for level in range(2):
        for q in time_planes:
            assert torch.all(enc.plane(level, q) == 1.0)
        for q in set(range(6)) - set(time_planes):
            values = enc.plane(level, q)
            assert values.min() >= 0.1 and values.max() <= 0.5
        assert enc.plane(level, 2).shape == (4, 6 * 2**level, 4)  # (time, x, features)
    x = torch.rand(30, 4, dtype=torch.float64)
    y = x.clone()
    y[:, 3] = torch.rand(30, dtype=torch.float64)
    assert torch.allclose(enc(x), enc(y))  # no time dependence before training
    assert enc.out_dim == 2 * 4


# --- spherical harmonics ------------------------------------------------------------------------------

def fibonacci_sphere(n: int) -> torch.Tensor:
    i = torch.arange(n, dtype=torch.float64) + 0.5
    z = 1.0 - 2.0 * i / n
    phi = math.pi * (1.0 + 5.0**0.5) * i
    r = (1.0 - z * z).sqrt()
    return torch.stack((r * phi.cos(), r * phi.sin(), z), -1)


def test_sh_is_orthonormal_on_the_sphere():
    d = fibonacci_sphere(200_000)
    enc = build("sh", 3, degree=5)
    y = enc((d + 1.0) / 2.0)
    gram = 4.0 * math.pi * (y.T @ y) / d.shape[0]  # quadrature of the integral of Y_i Y_j
    assert torch.allclose(gram, torch.eye(25, dtype=torch.float64), atol=1e-3)


def test_sh_matches_tiny_cuda_nn_order_and_signs():
    """Reference values from tiny-cuda-nn's generated polynomials (``kernel_sh``) at one direction."""
    v = torch.tensor([2.0, -3.0, 6.0], dtype=torch.float64) / 7.0
    x, y, z = v.tolist()
    enc = build("sh", 3, degree=5)
    out = enc(((v + 1) / 2)[None])[0]
    reference = {
        0: 0.28209479177387814,
        1: -0.48860251190291987 * y,
        2: 0.48860251190291987 * z,
        3: -0.48860251190291987 * x,
        4: 1.0925484305920792 * x * y,
        6: 0.94617469575755997 * z * z - 0.31539156525251999,
        8: 0.54627421529603959 * (x * x - y * y),
        9: 0.59004358992664352 * y * (-3 * x * x + y * y),
        12: 0.3731763325901154 * z * (5 * z * z - 3),
        15: 0.59004358992664352 * x * (-x * x + 3 * y * y),
        17: 1.7701307697799304 * y * z * (-3 * x * x + y * y),
        20: -3.1735664074561294 * z**2 + 3.7024941420321507 * z**4 + 0.31735664074561293,
        24: -3.7550144126950569 * x * x * y * y + 0.62583573544917614 * (x**4 + y**4),
    }
    for index, value in reference.items():
        assert out[index].item() == pytest.approx(value, rel=1e-12, abs=1e-14), index


def test_sh_bands_nest_and_normalize_option():
    x = torch.rand(10, 3, dtype=torch.float64)
    full = build("sh", 3, degree=5)(x)
    for degree in range(1, 5):
        assert torch.equal(build("sh", 3, degree=degree)(x), full[:, : degree**2])
    d = torch.randn(10, 3, dtype=torch.float64)
    unit = d / d.norm(dim=-1, keepdim=True)
    raw = build("sh", 3, degree=3, normalize=True)((d * 0.3 + 1) / 2)
    assert torch.allclose(raw, build("sh", 3, degree=3)((unit + 1) / 2))
