"""The ``triton`` grid backend against the torch reference: values, table and input gradients, for the
hash grid and the dense grid, 2-4 input dimensions, 1/2/4/8 features, float32 and float16 tables, sizes
that are not multiples of the block, points on cell boundaries and outside the unit cube. On the CPU
they run under Triton's interpreter at tiny sizes (a subset of the cases); on CUDA every case."""

from __future__ import annotations

import itertools
import logging
import subprocess
import sys

import pytest
import torch
from triton_setup import DEVICE, ON_CUDA, needs_triton, rel_err

from fields.encoders import ENCODERS

pytestmark = needs_triton
TOL = {torch.float32: 1e-3, torch.float16: 1e-2}

ALL_CASES = list(itertools.product(("hashgrid", "densegrid"), (2, 3, 4), (1, 2, 4, 8), (torch.float32, torch.float16)))
CPU_CASES = [  # each dimension, feature count, dtype and grid at least once; the interpreter is slow
    ("hashgrid", 2, 1, torch.float32), ("hashgrid", 3, 2, torch.float32), ("hashgrid", 3, 8, torch.float16),
    ("hashgrid", 4, 4, torch.float32), ("densegrid", 2, 2, torch.float16), ("densegrid", 3, 4, torch.float32),
    ("densegrid", 4, 1, torch.float32),
]  # fmt: skip


def make(kind: str, d: int, f: int, backend: str, interpolation: str = "linear"):
    if kind == "hashgrid":  # coarse levels dense, fine levels hashed (small table)
        cfg = {"type": "hashgrid", "n_levels": 4, "n_features_per_level": f, "log2_hashmap_size": 9,
               "base_resolution": 3, "per_level_scale": 1.7}  # fmt: skip
    else:
        cfg = {
            "type": "densegrid",
            "n_levels": 3,
            "n_features_per_level": f,
            "base_resolution": 3,
            "per_level_scale": 1.6,
        }
    cfg.update(backend=backend, interpolation=interpolation)
    grid = ENCODERS.build(ENCODERS.validate(cfg), d).to(DEVICE)
    with torch.no_grad():
        grid.params.uniform_(-1, 1)
    return grid


def points(grid, n: int) -> torch.Tensor:
    """Random points, points on the cell boundaries of every level, cube corners and points outside."""
    d = grid.in_dim
    x = torch.rand(n, d)
    if hasattr(grid, "n_dense_levels"):  # x * scale + 0.5 integral
        edges = [(k - 0.5) / s for s in grid.level_scales for k in range(1, 4)]
    else:  # x * (res - 1) integral
        edges = [k / (r - 1) for r in grid.level_resolutions for k in range(0, r)]
    edges = torch.tensor(edges + [0.0, 1.0])
    pick = torch.randint(len(edges), (n // 3, d))
    x[: n // 3] = edges[pick]
    x[n // 3 : n // 3 + 8] = torch.rand(8, d) * 3 - 1  # outside the unit cube
    return x.to(DEVICE)


@pytest.mark.parametrize("kind,d,f,dtype", ALL_CASES if ON_CUDA else CPU_CASES)
def test_values_and_gradients_match_torch(kind, d, f, dtype, monkeypatch):
    from fields.kernels import triton_grid

    monkeypatch.setitem(triton_grid.LAUNCH, "BLOCK", 128 if ON_CUDA else 32)
    grid = make(kind, d, f, "torch")
    n = 5000 if ON_CUDA else 75  # not a multiple of the block
    x = points(grid, n).clamp(0, 1)
    table = grid.params.detach().to(dtype).requires_grad_(True)
    reference_table = table.detach().float().requires_grad_(True)
    x_fast, x_ref = x.clone().requires_grad_(True), x.clone().requires_grad_(True)

    out = triton_grid.grid_lookup(table, x_fast, grid.layout(), grid.torch_lookup, required=True)
    ref = grid.torch_lookup(reference_table, x_ref)
    assert out is not None and out.dtype == dtype and out.shape == ref.shape
    grad_out = torch.randn_like(ref)
    grad_table, grad_x = torch.autograd.grad(out, (table, x_fast), grad_out.to(dtype))
    ref_table, ref_x = torch.autograd.grad(ref, (reference_table, x_ref), grad_out)
    tol = TOL[dtype]
    assert rel_err(out, ref) < tol
    assert grad_table.dtype == dtype and rel_err(grad_table, ref_table) < tol
    assert rel_err(grad_x, ref_x) < tol


@pytest.mark.parametrize("kind", ["hashgrid", "densegrid"])
def test_module_backend_smoothstep_and_clamp(kind, caplog):
    fast, reference = make(kind, 3, 2, "triton", "smoothstep"), make(kind, 3, 2, "torch", "smoothstep")
    reference.load_state_dict(fast.state_dict())
    x = points(fast, 60)  # includes points outside the cube: clamped, zero input gradient there
    x_fast, x_ref = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    with caplog.at_level(logging.INFO, logger="fields"):
        out, ref = fast(x_fast), reference(x_ref)
        fast(x_fast)
    assert fast.backend_in_use == "triton"
    assert sum("backend: triton" in r.getMessage() for r in caplog.records) == 1
    assert rel_err(out, ref) < 1e-3
    g = torch.randn_like(ref)
    for a, b in zip(
        torch.autograd.grad(out, (fast.params, x_fast), g), torch.autograd.grad(ref, (reference.params, x_ref), g)
    ):
        assert rel_err(a, b) < 1e-3


def test_double_backward_falls_back_to_the_reference():
    """Eikonal-style: the gradient of ``|d out / d x|^2`` with respect to the table."""
    fast, reference = make("hashgrid", 3, 2, "triton"), make("hashgrid", 3, 2, "torch")
    reference.load_state_dict(fast.state_dict())
    x = torch.rand(40, 3, device=DEVICE)
    grads = []
    for grid in (fast, reference):
        xi = x.clone().requires_grad_(True)
        (dx,) = torch.autograd.grad(grid(xi).sum(), xi, create_graph=True)
        grads.append(torch.autograd.grad(dx.pow(2).sum(), grid.params)[0])
    assert fast.backend_in_use == "triton"
    assert grads[1].abs().sum() > 0 and rel_err(grads[0], grads[1]) < 1e-3


def test_failing_kernel_falls_back_with_one_logged_line(monkeypatch, caplog):
    from fields.kernels import triton_grid, triton_runtime

    def broken(*args, **kwargs):
        raise RuntimeError("simulated compile error\nsecond line")

    monkeypatch.setattr(triton_grid, "_launch", broken)
    triton_runtime.reset(triton_grid.NAME)
    grid, reference = make("hashgrid", 2, 2, "triton"), make("hashgrid", 2, 2, "torch")
    reference.load_state_dict(grid.state_dict())
    x = torch.rand(30, 2, device=DEVICE)
    try:
        with caplog.at_level(logging.INFO, logger="fields"):
            out, again = grid(x), grid(x)
        lines = [r.getMessage() for r in caplog.records if "simulated compile error" in r.getMessage()]
        assert len(lines) == 1 and "using torch" in lines[0]
        assert torch.equal(out, reference(x)) and torch.equal(again, out)
        assert grid.backend_in_use == "torch"
    finally:
        triton_runtime.reset(triton_grid.NAME)


def test_cpu_auto_path_imports_no_triton():
    code = (  # torch itself may import triton where it is installed; fields must add no import of its own
        "import sys, torch; from fields.encoders import ENCODERS; from fields.kernels import grid_cpu\n"
        "from fields.render.volume_rendering import render_weights_from_density as w\n"
        "before = 'triton' in sys.modules\n"
        "grid_cpu.load = lambda required=False: None  # the cpp build is not under test here\n"
        "for t in ('hashgrid', 'densegrid'):\n"
        "    g = ENCODERS.build(ENCODERS.validate({'type': t, 'backend': 'auto'}), 3)\n"
        "    g(torch.rand(10, 3, requires_grad=True)).sum().backward()\n"
        "w(torch.zeros(4), torch.ones(4), torch.rand(4), torch.tensor([0, 0, 1, 1]))\n"
        "kernels = [m for m in sys.modules if m.endswith('_kernels') and 'triton' in m]\n"
        "assert not kernels and ('triton' in sys.modules) == before, (kernels, before)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "TRITON_INTERPRET"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
