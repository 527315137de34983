"""The mechanism that defines each paper's mixer, checked directly where it can be isolated."""

from __future__ import annotations

import pytest
import torch

from fields.heads import MetaFormerBlock, build_mixer


def test_maxim_grid_is_dilated_and_blocks_are_local():
    from fields.heads.mixers.maxim import from_blocks, from_grid, to_blocks, to_grid

    h, w = 8, 12
    index = torch.arange(h * w, dtype=torch.float32).reshape(1, h, w, 1)
    grid = to_grid(index, 4)  # (1, 2, 3, 16, 1): 16 tokens, H/4 = 2 rows apart
    rows, cols = grid[0, 1, 2, :, 0] // w, grid[0, 1, 2, :, 0] % w
    assert set(rows.tolist()) == {1, 3, 5, 7} and set(cols.tolist()) == {2, 5, 8, 11}
    blocks = to_blocks(index, 4)  # (1, 2, 3, 16, 1): a contiguous 4x4 block
    rows, cols = blocks[0, 1, 2, :, 0] // w, blocks[0, 1, 2, :, 0] % w
    assert set(rows.tolist()) == {4, 5, 6, 7} and set(cols.tolist()) == {8, 9, 10, 11}
    assert torch.equal(from_grid(grid, 4, h, w), index) and torch.equal(from_blocks(blocks, 4, h, w), index)


def test_maxim_cross_gating_exchanges_gates():
    from fields.heads.mixers.maxim import CrossGatingBlock

    block = CrossGatingBlock(16, (8, 8))
    x, y = torch.randn(2, 8, 8, 16), torch.randn(2, 8, 8, 16)
    x1, y1 = block(x, y)
    x2, _ = block(x, y + torch.randn_like(y))
    assert x1.shape == x.shape and y1.shape == y.shape
    assert (x1 - x2).abs().max() > 1e-4  # x's output depends on y through y's gate
    with pytest.raises(ValueError, match="cross-gating block needs H and W divisible by 4"):
        CrossGatingBlock(16, (6, 6))


def test_ms_mlp_shifts_each_channel_group_by_its_own_offset():
    from fields.heads.mixers.ms_mlp import group_shift

    x = torch.zeros(1, 1, 8, 5)
    x[0, 0, 4, :] = 1.0  # one token, all 5 groups of one channel
    y = group_shift(x, 5, dim=2)
    assert [int(y[0, 0, :, g].argmax()) for g in range(5)] == [2, 3, 4, 5, 6]  # shifts -2..2


def test_gnconv_channel_rule_and_widths():
    mixer = build_mixer({"type": "gnconv", "order": 3}, 32, (8, 8))
    assert mixer.dims == [8, 16, 32]
    with pytest.raises(ValueError, match="'gnconv' of order 4 needs dim divisible by 8"):
        build_mixer({"type": "gnconv", "order": 4}, 20, (8, 8))


def test_spectrum_dct_is_orthonormal_and_unit_filters_are_identity():
    from fields.heads.mixers.spectrum import dct_matrix

    d = dct_matrix(8)
    torch.testing.assert_close(d @ d.t(), torch.eye(8), atol=1e-5, rtol=0)
    mixer = build_mixer("spectrum", 8, (8, 8))
    with torch.no_grad():
        mixer.filters.fill_(1.0)
        mixer.proj.weight.copy_(torch.eye(8))
        mixer.proj.bias.zero_()
    x = torch.randn(2, 8, 8, 8)
    torch.testing.assert_close(mixer(x), x, atol=1e-5, rtol=1e-5)


def test_strip_mlp_needs_a_square_map():
    with pytest.raises(ValueError, match="'strip_mlp' needs a square resolution, got 8x16"):
        build_mixer("strip_mlp", 16, (8, 16))


def test_gam_local_path_is_causal_over_the_raster_scan():
    mixer = build_mixer("gam", 16, (4, 4)).eval()
    x = torch.randn(1, 4, 4, 16)
    x2 = x.clone()
    x2[0, 2, 1] += torch.randn(16)  # token 9 of the scan
    with torch.no_grad():
        d = (mixer(x2) - mixer(x)).abs().sum(-1).flatten()
    assert d[:9].max() == 0 and d[9:12].min() > 0 and d[12:].max() == 0  # kernel 3: tokens 9, 10, 11


def test_hyperzzw_kernel_is_generated_not_stored():
    small = build_mixer({"type": "hyperzzw", "kernel_size": 3}, 16, (8, 8))
    large = build_mixer({"type": "hyperzzw", "kernel_size": 15}, 16, (8, 8))
    assert sum(p.numel() for p in small.parameters()) == sum(p.numel() for p in large.parameters())
    assert large.kernel().shape == (16, 1, 15, 15)


def test_pat_brings_its_own_norm_and_self_attention_variant():
    block = MetaFormerBlock(16, "pat", (8, 8))
    assert isinstance(block.norm1, torch.nn.Identity)
    mixer = build_mixer({"type": "pat", "attention": "self"}, 16, (8, 8))
    assert mixer(torch.randn(2, 8, 8, 16)).shape == (2, 8, 8, 16)


def test_gated_attention_gate_closed_silences_the_mixer():
    mixer = build_mixer({"type": "gated_attention", "head_dim": 8}, 16, (4, 4))
    with torch.no_grad():
        mixer.gate.weight.zero_()
        mixer.gate.bias.fill_(-50.0)  # sigmoid ~ 0
    out = mixer(torch.randn(2, 4, 4, 16))
    torch.testing.assert_close(out, mixer.proj.bias.expand_as(out), atol=1e-6, rtol=0)
