"""The nerfacc backend against the torch reference (skips unless nerfacc's CUDA extension works here)."""

from __future__ import annotations

import logging

import pytest
import torch

from fields.render.backends import nerfacc as adapter
from fields.render.volume_rendering import render_weights_from_density


def test_fallback_is_torch_with_one_logged_line(caplog):
    with caplog.at_level(logging.INFO, logger="fields"):
        backend = adapter.resolve_backend("auto", torch.device("cpu"))
    assert backend == "torch"
    assert adapter.resolve_backend("torch", torch.device("cuda")) == "torch"


@pytest.mark.gpu
def test_packed_weights_match_nerfacc():
    if adapter.load_nerfacc() is None:
        pytest.skip(f"nerfacc unusable here: {adapter._STATE.get('reason')}")
    counts = torch.tensor([5, 0, 3])
    ray_indices = torch.repeat_interleave(torch.arange(3), counts).cuda()
    t0 = torch.rand(8, device="cuda").sort().values
    t1 = t0 + 0.05
    sigmas = torch.rand(8, device="cuda") * 5
    ours = render_weights_from_density(t0, t1, sigmas, ray_indices)[0]
    theirs = adapter.render_weights_from_density(t0, t1, sigmas, ray_indices, 3)[0]
    assert torch.allclose(ours, theirs, atol=1e-5)
