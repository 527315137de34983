"""The tiny-cuda-nn backend: parity with the torch reference where tinycudann and CUDA exist, and a
logged fallback where they do not."""

from __future__ import annotations

import importlib.util
import logging

import pytest
import torch

from fields.encoders import ENCODERS
from fields.kernels.tcnn import tcnn_hashgrid

HAS_TCNN = importlib.util.find_spec("tinycudann") is not None


def make_grid(backend: str, d: int = 3):
    cfg = ENCODERS.validate({"type": "hashgrid", "n_levels": 8, "log2_hashmap_size": 14, "backend": backend})
    return ENCODERS.build(cfg, d)


@pytest.mark.gpu
@pytest.mark.skipif(not (HAS_TCNN and torch.cuda.is_available()), reason="needs tinycudann and a CUDA device")
@pytest.mark.parametrize("d", [2, 3])
def test_tcnn_matches_torch(d: int):
    reference = make_grid("torch", d).cuda()
    fast = make_grid("tcnn", d).cuda()
    fast.load_state_dict(reference.state_dict())
    with torch.no_grad():
        reference.params.uniform_(-1, 1)
        fast.params.copy_(reference.params)
    x = torch.rand(4096, d, device="cuda")
    assert torch.allclose(fast(x), reference(x), atol=1e-2, rtol=1e-2)  # fp16 tolerance
    assert fast.backend_in_use == "tcnn"


@pytest.mark.skipif(HAS_TCNN, reason="tinycudann is installed here")
def test_missing_tinycudann_falls_back_with_one_logged_line(caplog):
    grid = make_grid("auto")
    with caplog.at_level(logging.INFO, logger="fields"):
        assert tcnn_hashgrid(grid) is False
    lines = [r.getMessage() for r in caplog.records if "tinycudann" in r.getMessage()]
    assert len(lines) == 1 and "torch" in lines[0]
    with pytest.raises(RuntimeError, match="backend tcnn requested but unusable"):
        tcnn_hashgrid(grid, required=True)


def test_cpu_inputs_never_use_tcnn(caplog):
    grid = make_grid("tcnn")
    with caplog.at_level(logging.INFO, logger="fields"):
        out = grid(torch.rand(64, 3))
        grid(torch.rand(64, 3))
    assert out.shape == (64, grid.out_dim) and grid.lookup_backend._tcnn is None and grid.backend_in_use != "tcnn"
    # never silent: one line says tcnn cannot run here and what runs instead
    fallback = [r.getMessage() for r in caplog.records if "tcnn needs CUDA inputs" in r.getMessage()]
    assert len(fallback) == 1, caplog.text
    assert any(r.getMessage() == f"hashgrid backend: {grid.backend_in_use}" for r in caplog.records)
