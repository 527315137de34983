"""The Triton packed volume-rendering kernels against the torch reference: transmittance, alphas,
weights and the gradients to sigmas and sample bounds, for rays of 1 sample, of exactly a block, of
several blocks and not a multiple of the block (interpreter on CPU, tiny sizes; full sizes on CUDA)."""

from __future__ import annotations

import logging

import pytest
import torch
from triton_setup import DEVICE, ON_CUDA, needs_triton, rel_err

from fields.render import volume_rendering as vr

pytestmark = needs_triton


def packed_rays(counts: list[int]):
    ray_indices = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts)).to(DEVICE)
    n = ray_indices.shape[0]
    delta = torch.rand(n, device=DEVICE) * 0.05 + 1e-3
    t_starts = torch.rand(n, device=DEVICE)  # order does not matter to the quadrature
    sigmas = torch.randn(n, device=DEVICE).mul(2).exp()  # a wide range of densities
    sigmas[: n // 7] = 0.0  # empty space
    return t_starts, t_starts + delta, sigmas, ray_indices


def reference(t_starts, t_ends, sigmas, ray_indices):
    transmittance, alphas = vr.render_transmittance_from_density(t_starts, t_ends, sigmas, ray_indices)
    return transmittance * alphas, transmittance, alphas


@pytest.mark.parametrize("used", ["all", "weights"])
def test_weights_and_gradients_match_torch(used, monkeypatch):
    from fields.kernels import triton_volume

    block = 128 if ON_CUDA else 16
    monkeypatch.setitem(triton_volume.LAUNCH, "BLOCK", block)
    counts = [1, block, block + 1, 3 * block + 5, 2, block - 1] + ([7] * 3000 + [500] * 100 if ON_CUDA else [5, 40])
    t_starts, t_ends, sigmas, ray_indices = packed_rays(counts)
    inputs = [t.clone().requires_grad_(True) for t in (t_starts, t_ends, sigmas)]
    fast = triton_volume.weights_from_density(*inputs[:2], inputs[2], ray_indices)
    assert fast is not None
    ref_inputs = [t.clone().requires_grad_(True) for t in (t_starts, t_ends, sigmas)]
    ref = reference(*ref_inputs, ray_indices)
    for a, b in zip(fast, ref):
        assert a.shape == b.shape and rel_err(a, b) < 1e-4
    grads_out = [torch.randn_like(r) for r in ref] if used == "all" else [torch.randn_like(ref[0])]
    n_out = len(grads_out)
    got = torch.autograd.grad(fast[:n_out], inputs, grads_out)
    want = torch.autograd.grad(ref[:n_out], ref_inputs, grads_out)
    for a, b in zip(got, want):
        assert rel_err(a, b) < 1e-4


def test_double_backward_matches_torch():
    from fields.kernels import triton_volume

    t_starts, t_ends, sigmas, ray_indices = packed_rays([3, 20, 1])
    results = []
    for fn in (lambda *a: triton_volume.weights_from_density(*a), reference):
        s = sigmas.clone().requires_grad_(True)
        w = fn(t_starts, t_ends, s, ray_indices)[0]
        (g,) = torch.autograd.grad(w.pow(2).sum(), s, create_graph=True)
        results.append(torch.autograd.grad(g.sum(), s)[0])
    assert results[1].abs().sum() > 0 and rel_err(results[0], results[1]) < 1e-4


def test_render_uses_the_kernel_on_cuda_only(monkeypatch):
    from fields.kernels import triton_volume

    calls = []
    original = triton_volume.weights_from_density
    monkeypatch.setattr(triton_volume, "weights_from_density", lambda *a: calls.append(1) or original(*a))
    t_starts, t_ends, sigmas, ray_indices = packed_rays([4, 9])
    w, _, _ = vr.render_weights_from_density(t_starts, t_ends, sigmas, ray_indices)
    assert len(calls) == (1 if ON_CUDA else 0)
    assert rel_err(w, reference(t_starts, t_ends, sigmas, ray_indices)[0]) < 1e-5


def test_failing_kernel_falls_back_with_one_logged_line(monkeypatch, caplog):
    from fields.kernels import triton_runtime, triton_volume

    def broken(*args):
        raise RuntimeError("simulated launch failure")

    monkeypatch.setattr(triton_volume, "packed_info", broken)
    triton_runtime.reset(triton_volume.NAME)
    t_starts, t_ends, sigmas, ray_indices = packed_rays([4, 9])
    try:
        with caplog.at_level(logging.INFO, logger="fields"):
            first = triton_volume.weights_from_density(t_starts, t_ends, sigmas, ray_indices)
            second = triton_volume.weights_from_density(t_starts, t_ends, sigmas, ray_indices)
        assert first is None and second is None
        assert sum("simulated launch failure" in r.getMessage() for r in caplog.records) == 1
    finally:
        triton_runtime.reset(triton_volume.NAME)
