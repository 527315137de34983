"""Parity of the compiled CPU grid kernel (backend ``cpp``) with the torch reference.

The kernel is compiled once per test session (``TORCH_EXTENSIONS_DIR`` is a fresh temporary folder,
see conftest): about 10 s of CPU on this machine. Everything here skips when it cannot be built.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from fields.encoders import HashGrid
from fields.kernels import grid_cpu
from fields.kernels.grid_layout import GridLayout
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def kernel():
    if grid_cpu.load() is None:
        pytest.skip(f"cpp grid kernel unavailable: {grid_cpu.unavailable_reason()}")
    return grid_cpu


def make_grids(d: int, features: int = 2, interpolation: str = "linear", dtype=torch.float64, levels: int = 4):
    """A cpp grid and a torch grid with the same table; both dense and hashed levels."""
    config = dict(n_levels=levels, n_features_per_level=features, log2_hashmap_size=min(3 * d, 12),
                  base_resolution=2, per_level_scale=2.0, interpolation=interpolation)
    fast = HashGrid(HashGrid.Config(backend="cpp", **config), d).to(dtype)
    ref = HashGrid(HashGrid.Config(backend="torch", **config), d).to(dtype)
    with torch.no_grad():
        fast.params.uniform_(-1, 1)
        ref.params.copy_(fast.params)
    assert 0 < fast.n_dense_levels < levels, "the test grid must mix dense and hashed levels"
    return fast, ref


def sample_points(grid: HashGrid, n: int, dtype) -> torch.Tensor:
    """Random points in [-0.2, 1.2]^d plus points exactly on each level's cell boundaries, 0 and 1."""
    d = grid.in_dim
    x = torch.rand(n, d, dtype=torch.float64) * 1.4 - 0.2
    boundary = []
    for scale in grid.level_scales:
        m = torch.randint(0, int(scale) + 1, (8, d)).double()
        boundary.append(((m - 0.5) / scale).clamp(0, 1))  # x * scale + 0.5 = m exactly (up to rounding)
    corners = torch.tensor([[0.0] * d, [1.0] * d, [0.0] * (d - 1) + [1.0]], dtype=torch.float64)
    return torch.cat([x, *boundary, corners]).to(dtype)


def compare(fast: HashGrid, ref: HashGrid, x: torch.Tensor, tol: float) -> None:
    xa = x.clone().requires_grad_()
    xb = x.clone().requires_grad_()
    out_fast, out_ref = fast(xa), ref(xb)
    assert fast.backend_in_use == "cpp"
    grad_out = torch.randn_like(out_ref)
    table_fast, x_fast = torch.autograd.grad(out_fast, [fast.params, xa], grad_out)
    table_ref, x_ref = torch.autograd.grad(out_ref, [ref.params, xb], grad_out)

    def close(a, b, what):
        scale = b.abs().max().clamp_min(1.0)
        assert (a - b).abs().max() <= tol * scale, f"{what}: max error {(a - b).abs().max():.3g} (scale {scale:.3g})"

    close(out_fast, out_ref, "values")
    close(table_fast, table_ref, "table gradient")
    close(x_fast, x_ref, "input gradient")
    outside = (x < 0) | (x > 1)
    assert (x_fast[outside] == 0).all(), "clamped coordinates get no gradient"


@pytest.mark.parametrize("d", [1, 2, 3, 4, 5, 6, 7])
@pytest.mark.parametrize("features", [1, 2, 4, 8])
def test_parity_float64(kernel, d, features):
    for interpolation in ("linear", "smoothstep"):
        fast, ref = make_grids(d, features, interpolation)
        compare(fast, ref, sample_points(fast, 300, torch.float64), 1e-10)


@pytest.mark.parametrize(
    "d,features,interpolation",
    [(2, 2, "linear"), (3, 2, "smoothstep"), (3, 4, "linear"), (4, 1, "linear"), (7, 8, "smoothstep")],
)
def test_parity_float32(kernel, d, features, interpolation):
    fast, ref = make_grids(d, features, interpolation, torch.float32)
    compare(fast, ref, sample_points(fast, 2000, torch.float32), 2e-5)


def test_parity_default_grid_many_points(kernel):
    """The default 16-level grid (3 dense, 13 hashed levels) on enough points to use several threads."""
    fast = HashGrid(HashGrid.Config(backend="cpp"), 3)
    ref = HashGrid(HashGrid.Config(backend="torch"), 3)
    with torch.no_grad():
        ref.params.copy_(fast.params.uniform_(-1, 1))
    compare(fast, ref, torch.rand(8000, 3), 2e-5)


def test_gradcheck_first_order(kernel):
    for interpolation in ("linear", "smoothstep"):
        fast, _ = make_grids(2, 2, interpolation)
        x = (torch.rand(6, 2, dtype=torch.float64) * 0.9 + 0.05).requires_grad_()
        table = fast.params.detach().clone().requires_grad_()

        def fn(x, t, fast=fast):
            return grid_cpu.grid_lookup(t, x, fast.layout(), fast.torch_lookup)

        assert torch.autograd.gradcheck(fn, (x, table), eps=1e-7, atol=1e-6)


def test_double_backward_falls_back_to_torch(kernel):
    """create_graph backward (eikonal loss) differentiates the torch reference; plain backward never does."""
    fast, ref = make_grids(2, 1, "smoothstep")
    calls = []

    def counting_reference(table, x):
        calls.append(1)
        return fast.torch_lookup(table, x)

    x = (torch.rand(4, 2, dtype=torch.float64) * 0.9 + 0.05).requires_grad_()
    table = fast.params.detach().clone().requires_grad_()

    def fn(x, t):
        return grid_cpu.grid_lookup(t, x, fast.layout(), counting_reference)

    fn(x, table).sum().backward()
    assert calls == [], "first-order backward must use the kernel"
    assert torch.autograd.gradgradcheck(fn, (x, table), eps=1e-7, atol=1e-6)
    assert calls, "double backward must go through the reference"

    # an eikonal-style loss gives the same table gradient on both backends
    xs = torch.rand(200, 2, dtype=torch.float64)
    grads = []
    for grid in (fast, ref):
        xg = xs.clone().requires_grad_()
        (dx,) = torch.autograd.grad(grid(xg).pow(2).sum(), xg, create_graph=True)
        loss = (dx.norm(dim=-1) - 1).pow(2).mean()
        grads.append(torch.autograd.grad(loss, grid.params)[0])
    assert torch.allclose(grads[0], grads[1], rtol=1e-9, atol=1e-12) and grads[0].abs().max() > 0


def test_out_of_range_and_nan_inputs_stay_in_bounds(kernel):
    """Called without clamping, the kernel still reads only the level's own rows (no crash)."""
    fast, _ = make_grids(3, 2)
    x = torch.tensor([[float("nan"), 0.5, 0.5], [-3.0, 7.0, 1e6], [-1e9, 0.2, 2.5]], dtype=torch.float64)
    out = grid_cpu.grid_lookup(fast.params, x, fast.layout(), fast.torch_lookup)
    assert out.shape == (3, fast.out_dim) and torch.isfinite(out[1:]).all()


@pytest.mark.parametrize("interpolation", ["linear", "smoothstep"])
def test_vector_lanes_match_the_scalar_loop_bit_for_bit(kernel, interpolation):
    """3D float32 with 2 features runs 16 points per AVX-512 vector where the CPU has it; the tail of a call
    (under 16 points) and blocks holding an input the lanes cannot take (NaN, far outside) run the scalar
    loop. Both must give the same bits, and the out-of-range points stay in their levels' rows."""
    fast, _ = make_grids(3, 2, interpolation, torch.float32, levels=6)
    fast_layout = fast.layout()
    x = sample_points(fast, 200, torch.float32)[:160]
    lookup = lambda pts: grid_cpu.grid_lookup(fast.params, pts, fast_layout, fast.torch_lookup)  # noqa: E731
    whole = lookup(x)
    for start in range(0, 160, 15):  # 15 points: all tail, the scalar loop
        assert torch.equal(lookup(x[start : start + 15]), whole[start : start + 15])
    odd = x.clone()
    odd[[5, 70]] = torch.tensor([[float("nan"), 0.5, 0.5], [-1e9, 7.0, 1e9]])
    with_odd = lookup(odd)
    clean = torch.ones(160, dtype=torch.bool)
    clean[[5, 70]] = False
    assert torch.equal(with_odd[clean], whole[clean])
    assert torch.isfinite(with_odd[70]).all() and torch.isnan(with_odd[5]).all()
    assert torch.equal(with_odd[70], lookup(odd[70:71])[0])


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_inference_lookup_into_a_buffer(kernel, dtype):
    """``lookup_into`` (a radiance field's inference: the box's to_field in the kernel, the features written in
    the MLP's dtype) gives the bits of ``clamp((x - lo) / size, 0, 1)``, the lookup and torch's cast."""
    fast, _ = make_grids(3, 2, "linear", torch.float32, levels=6)
    layout = fast.layout()
    x = torch.rand(203, 3) * 3.0 - 1.5  # a third of the points outside the box: clamped
    lo, size = -1.0, 2.0
    expected = grid_cpu.grid_lookup(fast.params, ((x - lo) / size).clamp(0.0, 1.0), layout, fast.torch_lookup)
    out = torch.full((256, fast.out_dim), 7.0, dtype=dtype)
    box = torch.tensor([lo] * 3 + [size] * 3)
    if not grid_cpu.lookup_into(fast.params, x, layout, out, box):
        pytest.skip("no vector kernel on this CPU")
    assert torch.equal(out[:203], expected.to(dtype))
    assert (out[203:] == 7.0).all()  # rows past n untouched
    assert not grid_cpu.lookup_into(fast.params.double(), x.double(), layout, out.double(), box)


def test_auto_picks_cpp_on_cpu_and_falls_back(kernel, monkeypatch, caplog):
    grid = HashGrid(HashGrid.Config(n_levels=4, log2_hashmap_size=10), 2)
    grid(torch.rand(10, 2))
    assert grid.backend_in_use == "cpp"
    # mixed dtypes are not compiled: the torch path serves them
    grid64 = HashGrid(HashGrid.Config(n_levels=4, log2_hashmap_size=10), 2).double()
    grid64(torch.rand(10, 2))
    assert grid64.backend_in_use == "torch"

    monkeypatch.setattr(grid_cpu._Build, "module", None)
    monkeypatch.setattr(grid_cpu._Build, "error", "RuntimeError: no compiler")
    fallback = HashGrid(HashGrid.Config(n_levels=4, log2_hashmap_size=10), 2)
    assert fallback(torch.rand(10, 2)).shape == (10, 8) and fallback.backend_in_use == "torch"
    with pytest.raises(RuntimeError, match="backend cpp requested"):
        HashGrid(HashGrid.Config(n_levels=4, log2_hashmap_size=10, backend="cpp"), 2)(torch.rand(10, 2))


def test_broken_compiler_logs_one_line_and_uses_torch(tmp_path):
    """A fresh process whose compiler fails: one warning line, then the torch path works."""
    code = (
        "import logging, torch; logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')\n"
        "from fields.encoders import HashGrid\n"
        "g = HashGrid(HashGrid.Config(n_levels=2, log2_hashmap_size=8), 2)\n"
        "g(torch.rand(5, 2)); g(torch.rand(5, 2))\n"
        "print('backend', g.backend_in_use)\n"
    )
    env = {**os.environ, "CXX": "/bin/false", "TORCH_EXTENSIONS_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "backend torch" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if "cpp grid kernel unavailable" in line]
    assert len(warnings) == 1, result.stderr


@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_vertex_aligned_dense_grid_layout(kernel, d):
    """The kernel serves a vertex-aligned dense grid too (shift 0, scale res - 1, cell capped at res - 2)."""
    from fields.encoders.densegrid import DenseGrid

    for interpolation in ("linear", "smoothstep"):
        config = DenseGrid.Config(n_levels=3, base_resolution=3, n_features_per_level=2, interpolation=interpolation)
        grid = DenseGrid(config, d).double()
        with torch.no_grad():
            grid.params.uniform_(-1, 1)
        res = torch.tensor(grid.level_resolutions)
        levels = GridLayout(scale=(res - 1).float(), stride=grid._stride, size=torch.tensor(grid.level_sizes),
                                     offset=grid._offset, hashed=torch.zeros(len(res), dtype=torch.bool), shift=0.0,
                                     smoothstep=interpolation == "smoothstep", max_cell=res - 2)
        x = torch.cat([torch.rand(200, d), torch.ones(1, d), torch.zeros(1, d)]).double()
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        out = grid_cpu.grid_lookup(grid.params, xa, levels, lambda t, v: grid(v))
        ref = grid(xb)
        assert torch.allclose(out, ref, atol=1e-12)
        g = torch.randn_like(ref)
        for a, b in zip(torch.autograd.grad(out, [grid.params, xa], g), torch.autograd.grad(ref, [grid.params, xb], g)):
            assert torch.allclose(a, b, atol=1e-10)
